//! PLACEHOLDER for lost-wakeup: being written; replace this whole file.

use crate::{Params, RunContext, Scenario, ScenarioError};

pub static SCENARIO: Scenario = Scenario {
    name: "lost-wakeup",
    title: "lost-wakeup",
    topic: "",
    summary: "",
    description: "",
    source: include_str!("lost_wakeup.rs"),
    file: "scenarios/src/lost_wakeup.rs",
    params: &[],
    run,
};

fn run(_ctx: &RunContext, _params: &Params) -> Result<(), ScenarioError> {
    Err(ScenarioError::Failed("not written yet".into()))
}

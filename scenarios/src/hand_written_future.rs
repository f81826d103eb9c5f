//! PLACEHOLDER for hand-written-future: being written; replace this whole file.

use crate::{Params, RunContext, Scenario, ScenarioError};

pub static SCENARIO: Scenario = Scenario {
    name: "hand-written-future",
    title: "hand-written-future",
    topic: "",
    summary: "",
    description: "",
    source: include_str!("hand_written_future.rs"),
    file: "scenarios/src/hand_written_future.rs",
    params: &[],
    run,
};

fn run(_ctx: &RunContext, _params: &Params) -> Result<(), ScenarioError> {
    Err(ScenarioError::Failed("not written yet".into()))
}

//! PLACEHOLDER for join-vs-select: being written; replace this whole file.

use crate::{Params, RunContext, Scenario, ScenarioError};

pub static SCENARIO: Scenario = Scenario {
    name: "join-vs-select",
    title: "join-vs-select",
    topic: "",
    summary: "",
    description: "",
    source: include_str!("join_vs_select.rs"),
    file: "scenarios/src/join_vs_select.rs",
    params: &[],
    run,
};

fn run(_ctx: &RunContext, _params: &Params) -> Result<(), ScenarioError> {
    Err(ScenarioError::Failed("not written yet".into()))
}

//! PLACEHOLDER for spawn-local-not-send: being written; replace this whole file.

use crate::{Params, RunContext, Scenario, ScenarioError};

pub static SCENARIO: Scenario = Scenario {
    name: "spawn-local-not-send",
    title: "spawn-local-not-send",
    topic: "",
    summary: "",
    description: "",
    source: include_str!("spawn_local_not_send.rs"),
    file: "scenarios/src/spawn_local_not_send.rs",
    params: &[],
    run,
};

fn run(_ctx: &RunContext, _params: &Params) -> Result<(), ScenarioError> {
    Err(ScenarioError::Failed("not written yet".into()))
}

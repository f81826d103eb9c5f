//! PLACEHOLDER for spawn-many: being written; replace this whole file.

use crate::{Params, RunContext, Scenario, ScenarioError};

pub static SCENARIO: Scenario = Scenario {
    name: "spawn-many",
    title: "spawn-many",
    topic: "",
    summary: "",
    description: "",
    source: include_str!("spawn_many.rs"),
    file: "scenarios/src/spawn_many.rs",
    params: &[],
    run,
};

fn run(_ctx: &RunContext, _params: &Params) -> Result<(), ScenarioError> {
    Err(ScenarioError::Failed("not written yet".into()))
}

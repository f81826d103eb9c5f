//! PLACEHOLDER for block-on-pollster: being written; replace this whole file.

use crate::{Params, RunContext, Scenario, ScenarioError};

pub static SCENARIO: Scenario = Scenario {
    name: "block-on-pollster",
    title: "block-on-pollster",
    topic: "",
    summary: "",
    description: "",
    source: include_str!("block_on_pollster.rs"),
    file: "scenarios/src/block_on_pollster.rs",
    params: &[],
    run,
};

fn run(_ctx: &RunContext, _params: &Params) -> Result<(), ScenarioError> {
    Err(ScenarioError::Failed("not written yet".into()))
}

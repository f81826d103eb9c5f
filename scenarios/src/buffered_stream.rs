//! PLACEHOLDER for buffered-stream: being written; replace this whole file.

use crate::{Params, RunContext, Scenario, ScenarioError};

pub static SCENARIO: Scenario = Scenario {
    name: "buffered-stream",
    title: "buffered-stream",
    topic: "",
    summary: "",
    description: "",
    source: include_str!("buffered_stream.rs"),
    file: "scenarios/src/buffered_stream.rs",
    params: &[],
    run,
};

fn run(_ctx: &RunContext, _params: &Params) -> Result<(), ScenarioError> {
    Err(ScenarioError::Failed("not written yet".into()))
}

//! PLACEHOLDER for timeout-cancellation: being written; replace this whole file.

use crate::{Params, RunContext, Scenario, ScenarioError};

pub static SCENARIO: Scenario = Scenario {
    name: "timeout-cancellation",
    title: "timeout-cancellation",
    topic: "",
    summary: "",
    description: "",
    source: include_str!("timeout_cancellation.rs"),
    file: "scenarios/src/timeout_cancellation.rs",
    params: &[],
    run,
};

fn run(_ctx: &RunContext, _params: &Params) -> Result<(), ScenarioError> {
    Err(ScenarioError::Failed("not written yet".into()))
}

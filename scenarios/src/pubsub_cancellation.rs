//! PLACEHOLDER for pubsub-cancellation: being written; replace this whole file.

use crate::{Params, RunContext, Scenario, ScenarioError};

pub static SCENARIO: Scenario = Scenario {
    name: "pubsub-cancellation",
    title: "pubsub-cancellation",
    topic: "",
    summary: "",
    description: "",
    source: include_str!("pubsub_cancellation.rs"),
    file: "scenarios/src/pubsub_cancellation.rs",
    params: &[],
    run,
};

fn run(_ctx: &RunContext, _params: &Params) -> Result<(), ScenarioError> {
    Err(ScenarioError::Failed("not written yet".into()))
}

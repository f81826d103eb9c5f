//! PLACEHOLDER for blocking-in-async: being written; replace this whole file.

use crate::{Params, RunContext, Scenario, ScenarioError};

pub static SCENARIO: Scenario = Scenario {
    name: "blocking-in-async",
    title: "blocking-in-async",
    topic: "",
    summary: "",
    description: "",
    source: include_str!("blocking_in_async.rs"),
    file: "scenarios/src/blocking_in_async.rs",
    params: &[],
    run,
};

fn run(_ctx: &RunContext, _params: &Params) -> Result<(), ScenarioError> {
    Err(ScenarioError::Failed("not written yet".into()))
}

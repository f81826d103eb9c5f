//! PLACEHOLDER for current-thread-vs-multi-thread: being written; replace this whole file.

use crate::{Params, RunContext, Scenario, ScenarioError};

pub static SCENARIO: Scenario = Scenario {
    name: "current-thread-vs-multi-thread",
    title: "current-thread-vs-multi-thread",
    topic: "",
    summary: "",
    description: "",
    source: include_str!("current_thread_vs_multi_thread.rs"),
    file: "scenarios/src/current_thread_vs_multi_thread.rs",
    params: &[],
    run,
};

fn run(_ctx: &RunContext, _params: &Params) -> Result<(), ScenarioError> {
    Err(ScenarioError::Failed("not written yet".into()))
}

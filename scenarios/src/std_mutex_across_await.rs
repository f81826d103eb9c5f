//! PLACEHOLDER for std-mutex-across-await: being written; replace this whole file.

use crate::{Params, RunContext, Scenario, ScenarioError};

pub static SCENARIO: Scenario = Scenario {
    name: "std-mutex-across-await",
    title: "std-mutex-across-await",
    topic: "",
    summary: "",
    description: "",
    source: include_str!("std_mutex_across_await.rs"),
    file: "scenarios/src/std_mutex_across_await.rs",
    params: &[],
    run,
};

fn run(_ctx: &RunContext, _params: &Params) -> Result<(), ScenarioError> {
    Err(ScenarioError::Failed("not written yet".into()))
}

//! PLACEHOLDER for coop-budget: being written; replace this whole file.

use crate::{Params, RunContext, Scenario, ScenarioError};

pub static SCENARIO: Scenario = Scenario {
    name: "coop-budget",
    title: "coop-budget",
    topic: "",
    summary: "",
    description: "",
    source: include_str!("coop_budget.rs"),
    file: "scenarios/src/coop_budget.rs",
    params: &[],
    run,
};

fn run(_ctx: &RunContext, _params: &Params) -> Result<(), ScenarioError> {
    Err(ScenarioError::Failed("not written yet".into()))
}

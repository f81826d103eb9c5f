//! PLACEHOLDER for actors-mpsc: being written; replace this whole file.

use crate::{Params, RunContext, Scenario, ScenarioError};

pub static SCENARIO: Scenario = Scenario {
    name: "actors-mpsc",
    title: "actors-mpsc",
    topic: "",
    summary: "",
    description: "",
    source: include_str!("actors_mpsc.rs"),
    file: "scenarios/src/actors_mpsc.rs",
    params: &[],
    run,
};

fn run(_ctx: &RunContext, _params: &Params) -> Result<(), ScenarioError> {
    Err(ScenarioError::Failed("not written yet".into()))
}

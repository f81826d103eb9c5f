//! PLACEHOLDER for io-echo-server: being written; replace this whole file.

use crate::{Params, RunContext, Scenario, ScenarioError};

pub static SCENARIO: Scenario = Scenario {
    name: "io-echo-server",
    title: "io-echo-server",
    topic: "",
    summary: "",
    description: "",
    source: include_str!("io_echo_server.rs"),
    file: "scenarios/src/io_echo_server.rs",
    params: &[],
    run,
};

fn run(_ctx: &RunContext, _params: &Params) -> Result<(), ScenarioError> {
    Err(ScenarioError::Failed("not written yet".into()))
}

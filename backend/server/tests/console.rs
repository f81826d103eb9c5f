//! tokio-console pairing: a real gRPC client (console-api's `InstrumentClient`) attached to the
//! dashboard's console port sees every task of a run with the same id and name as the
//! dashboard recorded, and none of the dashboard's own tasks.

mod support;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use console_api::field::{Name, Value as FieldValue};
use console_api::instrument::InstrumentRequest;
use console_api::instrument::instrument_client::InstrumentClient;
use futurescope::runs::RunManagerConfig;
use serde_json::json;

#[tokio::test]
async fn console_sees_the_runs_tasks_with_the_same_ids_and_names() {
    // This test's own client is not part of any run: keep it out of the recording, as the
    // dashboard does with its server threads.
    futurescope::observe::quiet_thread();
    let server = support::start(true, RunManagerConfig::default());
    let console = server.state.console.clone().expect("console is on");
    let mut client =
        InstrumentClient::connect(format!("http://{console}")).await.expect("connecting to console-subscriber");
    let mut updates = client.watch_updates(InstrumentRequest {}).await.expect("watching").into_inner();

    let run = server.state.runs.start("lazy-future", &json!({"delay_ms": 50})).unwrap();
    support::wait_over(&server.state, run.id, Duration::from_secs(20));
    let dashboard: HashMap<u64, String> = run
        .log
        .to_json_values()
        .iter()
        .filter(|e| e["k"] == "spawn")
        .map(|e| (e["task"].as_u64().unwrap(), e["name"].as_str().unwrap().to_owned()))
        .collect();
    assert!(dashboard.len() >= 2);

    // Read console updates (published about once a second) until every task is seen.
    let mut field_names: HashMap<u64, Vec<String>> = HashMap::new();
    let mut seen: HashMap<u64, String> = HashMap::new();
    let mut locations: HashMap<u64, String> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline && !dashboard.keys().all(|id| seen.contains_key(id)) {
        let Ok(Some(update)) =
            tokio::time::timeout(Duration::from_secs(3), updates.message()).await.map(|r| r.unwrap())
        else {
            continue;
        };
        if let Some(meta) = &update.new_metadata {
            for m in &meta.metadata {
                if let (Some(id), Some(md)) = (&m.id, &m.metadata) {
                    field_names.insert(id.id, md.field_names.clone());
                }
            }
        }
        let Some(tasks) = update.task_update else { continue };
        for task in tasks.new_tasks {
            let meta_id = task.metadata.as_ref().map(|m| m.id).unwrap_or(0);
            let mut tokio_id = None;
            let mut name = String::new();
            let mut kind = String::new();
            for f in &task.fields {
                let fname = match &f.name {
                    Some(Name::StrName(s)) => s.clone(),
                    Some(Name::NameIdx(i)) => field_names
                        .get(&meta_id)
                        .and_then(|n| n.get(usize::try_from(*i).unwrap_or(usize::MAX)))
                        .cloned()
                        .unwrap_or_default(),
                    None => String::new(),
                };
                match (fname.as_str(), &f.value) {
                    ("task.id", Some(FieldValue::U64Val(v))) => tokio_id = Some(*v),
                    ("task.name", Some(FieldValue::DebugVal(s) | FieldValue::StrVal(s))) => {
                        name = s.trim_matches('"').to_owned()
                    }
                    ("kind", Some(FieldValue::DebugVal(s) | FieldValue::StrVal(s))) => {
                        kind = s.trim_matches('"').to_owned()
                    }
                    _ => {}
                }
            }
            if let Some(id) = tokio_id {
                let loc = task.location.as_ref().and_then(|l| l.file.clone()).unwrap_or_default();
                locations.insert(id, format!("{kind} at {loc}"));
                seen.insert(id, name);
            }
        }
    }
    for (id, name) in &dashboard {
        assert_eq!(seen.get(id), Some(name), "task {id} ({name}) as tokio-console shows it; console saw {seen:?}");
    }
    // Nothing of the dashboard's own: every task console saw in this process belongs to a run.
    let all_run_tasks: HashSet<u64> = server
        .state
        .runs
        .list()
        .iter()
        .flat_map(|r| r.log.to_json_values())
        .filter(|e| e["k"] == "spawn")
        .map(|e| e["task"].as_u64().unwrap())
        .collect();
    // tokio runs each worker thread of a multi-thread runtime as a blocking task spawned from
    // its own sources, and wraps each block_on in a task-like span; console lists those, the
    // dashboard draws workers as lanes and runs the scenario's main future as a real task.
    let foreign: Vec<_> = seen
        .keys()
        .filter(|id| !all_run_tasks.contains(id))
        .map(|id| (id, &locations[id]))
        .filter(|(_, loc)| !loc.contains("/tokio-") && !loc.starts_with("block_on "))
        .collect();
    assert!(foreign.is_empty(), "console saw tasks that belong to no run (the dashboard's own?): {foreign:?}");
}

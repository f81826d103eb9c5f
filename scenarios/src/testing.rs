//! Recording a scenario in-process, for tests: the same path the server's run manager takes
//! (global recorder, `RunContext`, `finish_run`), without the server.

use std::sync::{Arc, Once};
use std::time::Duration;

use futurescope_recorder::{Recorder, RunLog, WireEvent};
use serde_json::Value;

use crate::{Params, RunContext, ScenarioError};

/// Installs the recorder as this process's tracing subscriber (once).
pub fn install_recorder() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // A test binary may have installed its own subscriber first; then it must include the recorder.
        let _ = tracing::subscriber::set_global_default(futurescope_recorder::RecorderSubscriber::new());
    });
}

/// A finished recording.
pub struct Recording {
    pub log: Arc<RunLog>,
    pub result: Result<(), ScenarioError>,
    /// The run's events, typed.
    pub wire: Vec<WireEvent<'static>>,
    /// The same events as JSON values, as a client reads them (what the signatures index).
    pub events: Vec<Value>,
}

/// Runs scenario `name` with `params` (JSON object; missing ones take their defaults), cancelling
/// it after `limit`, and returns its events.
pub fn record(name: &str, params: Value, limit: Duration) -> Recording {
    install_recorder();
    let scenario = crate::find(name).unwrap_or_else(|| panic!("no scenario named {name}"));
    let params = Params::validate(scenario.params, &params).expect("test parameters are valid");
    let recorder = Recorder::global();
    let log = recorder.begin_run();
    let (ctx, cancel) = RunContext::for_log(&log);
    let watchdog = std::thread::spawn({
        let cancel = cancel.clone();
        move || {
            let deadline = std::time::Instant::now() + limit;
            while std::time::Instant::now() < deadline && !cancel.is_cancelled() {
                std::thread::sleep(Duration::from_millis(5));
            }
            cancel.cancel();
        }
    });
    let result = (scenario.run)(&ctx, &params);
    cancel.cancel();
    watchdog.join().expect("watchdog thread does not panic");
    recorder.finish_run(&log);
    let wire = log.events();
    let events = wire.iter().map(wire_json).collect();
    Recording { log, result, wire, events }
}

/// `ev` as a client reads it, after checking that the JSON parses back into the same event
/// (so every scenario test also checks the wire model on a real run).
fn wire_json(ev: &WireEvent<'static>) -> Value {
    let text = ev.to_json();
    let back: WireEvent<'_> = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text} does not parse back: {e}"));
    assert_eq!(&back, ev, "{text} does not round-trip");
    serde_json::from_str(&text).expect("a wire event is JSON")
}

/// Helpers for asserting a signature over wire events.
pub mod query {
    use serde_json::Value;

    pub fn of_kind<'a>(events: &'a [Value], k: &str) -> Vec<&'a Value> {
        events.iter().filter(|e| e["k"] == k).collect()
    }

    /// The id of the (first) task spawned with `name`.
    pub fn task_named(events: &[Value], name: &str) -> u64 {
        tasks_named(events, name).first().copied().unwrap_or_else(|| panic!("no task named {name}"))
    }

    pub fn tasks_named(events: &[Value], name: &str) -> Vec<u64> {
        events
            .iter()
            .filter(|e| e["k"] == "spawn" && e["name"] == name)
            .map(|e| e["task"].as_u64().expect("spawn has a task id"))
            .collect()
    }

    pub fn tasks_with_prefix(events: &[Value], prefix: &str) -> Vec<u64> {
        events
            .iter()
            .filter(|e| e["k"] == "spawn" && e["name"].as_str().is_some_and(|n| n.starts_with(prefix)))
            .map(|e| e["task"].as_u64().expect("spawn has a task id"))
            .collect()
    }

    pub fn for_task(events: &[Value], task: u64) -> Vec<&Value> {
        events.iter().filter(|e| e["task"].as_u64() == Some(task)).collect()
    }

    /// (start, end, worker) of every completed poll of `task`.
    pub fn polls(events: &[Value], task: u64) -> Vec<(u64, u64, u64)> {
        let mut out = Vec::new();
        let mut open = None;
        for e in for_task(events, task) {
            match e["k"].as_str() {
                Some("poll_start") => open = Some((e["t"].as_u64().unwrap(), e["worker"].as_u64().unwrap())),
                Some("poll_end") => {
                    if let Some((s, w)) = open.take() {
                        out.push((s, e["t"].as_u64().unwrap(), w));
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// The first `t` of an event matching `pred`.
    pub fn first_t(events: &[Value], pred: impl Fn(&Value) -> bool) -> Option<u64> {
        events.iter().find(|e| pred(e)).and_then(|e| e["t"].as_u64())
    }

    /// Labels of the `state` events of future `future`, in order.
    pub fn states_of(events: &[Value], future: u64) -> Vec<String> {
        events
            .iter()
            .filter(|e| e["k"] == "state" && e["future"].as_u64() == Some(future))
            .map(|e| e["label"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// The future id of the probe started with display name `name` (the `name` of its start).
    pub fn futures_named(events: &[Value], name: &str) -> Vec<u64> {
        events
            .iter()
            .filter(|e| e["k"] == "state" && e["label"] == "start" && e["name"] == name)
            .map(|e| e["future"].as_u64().unwrap())
            .collect()
    }

    /// Every event of the run is ordered by time, and every poll_end closes an open poll of the
    /// same task on the same worker.
    pub fn assert_well_formed(events: &[Value]) {
        use std::collections::HashMap;
        let mut last_t = 0;
        let mut open: HashMap<u64, u64> = HashMap::new();
        for e in events {
            let t = e["t"].as_u64().expect("every event has t");
            // The collector holds back 50 ms to merge threads in order; a thread descheduled
            // for longer between reading the clock and publishing can still arrive late.
            assert!(t + 25_000_000 >= last_t, "events out of order by more than 25 ms at {e}");
            last_t = last_t.max(t);
            match e["k"].as_str().unwrap() {
                "poll_start" => {
                    let task = e["task"].as_u64().unwrap();
                    let prev = open.insert(task, e["worker"].as_u64().unwrap());
                    assert!(prev.is_none(), "poll_start while a poll of the task is open: {e}");
                }
                "poll_end" => {
                    let task = e["task"].as_u64().unwrap();
                    let w = open.remove(&task).unwrap_or_else(|| panic!("poll_end without poll_start: {e}"));
                    assert_eq!(Some(w), e["worker"].as_u64(), "poll ended on another worker: {e}");
                }
                _ => {}
            }
        }
    }
}

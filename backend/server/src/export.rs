//! Chrome trace JSON (the Trace Event Format that Perfetto UI and chrome://tracing open).
//!
//! Process 1 holds one thread per worker lane, process 2 one track per task. Each poll is a
//! complete slice (`ph: "X"`) on both its worker and its task; each wake that is followed by a
//! poll of the woken task is a flow (`ph: "s"` at the wake on the waker's track, `ph: "f"` at
//! that poll's start), so Perfetto draws who woke whom. Times are microseconds.

use std::collections::HashMap;

use futurescope_recorder::RunLog;
use serde_json::{Value, json};

const WORKERS_PID: u64 = 1;
const TASKS_PID: u64 = 2;

fn us(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

/// The run's events as a Chrome trace JSON document.
pub fn chrome_trace(log: &RunLog, scenario: &str) -> String {
    let events = log.to_json_values();
    let mut out: Vec<Value> = vec![
        json!({"ph": "M", "pid": WORKERS_PID, "tid": 0, "name": "process_name", "args": {"name": format!("{scenario}: worker threads")}}),
        json!({"ph": "M", "pid": TASKS_PID, "tid": 0, "name": "process_name", "args": {"name": format!("{scenario}: tasks")}}),
    ];
    let mut names: HashMap<u64, String> = HashMap::new();
    let mut open: HashMap<u64, (u64, u64)> = HashMap::new();
    // Wakes not yet followed by a poll: task -> (t, waker track).
    let mut pending_wake: HashMap<u64, (u64, u64, u64)> = HashMap::new();
    let mut flow_id = 0u64;
    for e in &events {
        let t = e["t"].as_u64().unwrap_or(0);
        let task = e["task"].as_u64().unwrap_or(0);
        match e["k"].as_str().unwrap_or("") {
            "worker" => {
                let lane = e["worker"].as_u64().unwrap_or(0);
                out.push(json!({"ph": "M", "pid": WORKERS_PID, "tid": lane, "name": "thread_name",
                    "args": {"name": format!("{} ({})", e["name"].as_str().unwrap_or(""), e["kind"].as_str().unwrap_or(""))}}));
            }
            "spawn" => {
                let name = match e["name"].as_str() {
                    Some(n) if !n.is_empty() => format!("{n} #{task}"),
                    _ => format!("task #{task}"),
                };
                out.push(
                    json!({"ph": "M", "pid": TASKS_PID, "tid": task, "name": "thread_name", "args": {"name": name}}),
                );
                names.insert(task, name);
            }
            "poll_start" => {
                open.insert(task, (t, e["worker"].as_u64().unwrap_or(0)));
                if let Some((wt, wpid, wtid)) = pending_wake.remove(&task) {
                    flow_id += 1;
                    out.push(json!({"ph": "s", "id": flow_id, "pid": wpid, "tid": wtid, "ts": us(wt), "name": "wake", "cat": "wake"}));
                    out.push(json!({"ph": "f", "bp": "e", "id": flow_id, "pid": TASKS_PID, "tid": task, "ts": us(t), "name": "wake", "cat": "wake"}));
                }
            }
            "poll_end" => {
                if let Some((start, lane)) = open.remove(&task) {
                    let name = names.get(&task).cloned().unwrap_or_else(|| format!("task #{task}"));
                    let args = json!({"task": task, "worker": lane, "ready": e["ready"]});
                    for (pid, tid) in [(WORKERS_PID, lane), (TASKS_PID, task)] {
                        out.push(json!({"ph": "X", "pid": pid, "tid": tid, "ts": us(start), "dur": us(t - start),
                            "name": name, "cat": "poll", "args": args}));
                    }
                }
            }
            "wake" => {
                let (pid, tid) = match (e["by"].as_u64(), e["worker"].as_u64()) {
                    (Some(by), _) => (TASKS_PID, by),
                    (None, Some(lane)) => (WORKERS_PID, lane),
                    (None, None) => (TASKS_PID, task),
                };
                pending_wake.entry(task).or_insert((t, pid, tid));
            }
            "done" => {
                out.push(json!({"ph": "i", "s": "t", "pid": TASKS_PID, "tid": task, "ts": us(t),
                    "name": format!("done: {}", e["outcome"].as_str().unwrap_or(""))}));
            }
            "lint" | "mark" => {
                let label = e["rule"].as_str().or(e["label"].as_str()).unwrap_or("").to_owned();
                out.push(json!({"ph": "i", "s": "g", "pid": WORKERS_PID, "tid": 0, "ts": us(t), "name": label,
                    "args": {"detail": e["detail"], "task": e["task"]}}));
            }
            _ => {}
        }
    }
    json!({"traceEvents": out, "displayTimeUnit": "ns", "otherData": {"generator": "futurescope", "scenario": scenario}})
        .to_string()
}

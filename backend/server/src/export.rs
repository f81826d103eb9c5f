//! Chrome trace JSON (the Trace Event Format that Perfetto UI and chrome://tracing open).
//!
//! Process 1 holds one thread per worker lane, process 2 one track per task. Each poll is a
//! complete slice (`ph: "X"`) on both its worker and its task; each wake that is followed by a
//! poll of the woken task is a flow (`ph: "s"` at the wake on the waker's track, `ph: "f"` at
//! that poll's start), so Perfetto draws who woke whom. Lints and marks are global instants;
//! a snapshot is an instant on the tasks process with its tasks and their frames as args; a
//! long poll's cause (`poll_cause`) is in its slices' args (`cause`, with its stack samples and
//! hot frame), and its summary (`on CPU`, `blocked in clock_nanosleep`, `waiting for a CPU`,
//! then the hot frame's function) in the slices' names.
//! Times are microseconds.

use std::collections::HashMap;

use futurescope_recorder::{RunLog, WireEvent};
use serde_json::{Value, json};

const WORKERS_PID: u64 = 1;
const TASKS_PID: u64 = 2;

fn us(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

/// The run's events as a Chrome trace JSON document.
pub fn chrome_trace(log: &RunLog, scenario: &str) -> String {
    let events = log.events();
    let mut out: Vec<Value> = vec![
        json!({"ph": "M", "pid": WORKERS_PID, "tid": 0, "name": "process_name", "args": {"name": format!("{scenario}: worker threads")}}),
        json!({"ph": "M", "pid": TASKS_PID, "tid": 0, "name": "process_name", "args": {"name": format!("{scenario}: tasks")}}),
    ];
    let mut names: HashMap<u64, String> = HashMap::new();
    // Polls begun and not yet ended: task -> (start, lane).
    let mut open: HashMap<u64, (u64, u32)> = HashMap::new();
    // Wakes not yet followed by a poll: task -> (t, waker's pid, waker's tid).
    let mut pending_wake: HashMap<u64, (u64, u64, u64)> = HashMap::new();
    let mut flow_id = 0u64;
    // Each task's last poll: (start, indexes of its two slices in `out`), for its cause.
    let mut last_poll: HashMap<u64, (u64, [usize; 2])> = HashMap::new();
    for e in &events {
        match e {
            WireEvent::Lane { lane, name, kind, .. } => {
                out.push(json!({"ph": "M", "pid": WORKERS_PID, "tid": lane, "name": "thread_name",
                    "args": {"name": format!("{name} ({})", kind.as_str())}}));
            }
            WireEvent::Spawn { task, name, .. } => {
                let name = if name.is_empty() { format!("task #{task}") } else { format!("{name} #{task}") };
                out.push(
                    json!({"ph": "M", "pid": TASKS_PID, "tid": task, "name": "thread_name", "args": {"name": name}}),
                );
                names.insert(*task, name);
            }
            &WireEvent::PollStart { t, task, lane } => {
                open.insert(task, (t, lane));
                if let Some((wt, wpid, wtid)) = pending_wake.remove(&task) {
                    flow_id += 1;
                    out.push(json!({"ph": "s", "id": flow_id, "pid": wpid, "tid": wtid, "ts": us(wt), "name": "wake", "cat": "wake"}));
                    out.push(json!({"ph": "f", "bp": "e", "id": flow_id, "pid": TASKS_PID, "tid": task, "ts": us(t), "name": "wake", "cat": "wake"}));
                }
            }
            &WireEvent::PollEnd { t, task, ready, .. } => {
                if let Some((start, lane)) = open.remove(&task) {
                    let name = names.get(&task).cloned().unwrap_or_else(|| format!("task #{task}"));
                    let args = json!({"task": task, "worker": lane, "ready": ready});
                    for (pid, tid) in [(WORKERS_PID, u64::from(lane)), (TASKS_PID, task)] {
                        out.push(json!({"ph": "X", "pid": pid, "tid": tid, "ts": us(start), "dur": us(t - start),
                            "name": name, "cat": "poll", "args": args}));
                    }
                    last_poll.insert(task, (start, [out.len() - 2, out.len() - 1]));
                }
            }
            &WireEvent::Wake { t, task, by, lane, .. } => {
                let (pid, tid) = match (by, lane) {
                    (Some(by), _) => (TASKS_PID, by),
                    (None, Some(lane)) => (WORKERS_PID, u64::from(lane)),
                    (None, None) => (TASKS_PID, task),
                };
                pending_wake.entry(task).or_insert((t, pid, tid));
            }
            WireEvent::Done { t, task, outcome } => {
                out.push(json!({"ph": "i", "s": "t", "pid": TASKS_PID, "tid": task, "ts": us(*t),
                    "name": format!("done: {}", outcome.as_str())}));
            }
            WireEvent::Lint { t, task, rule, detail, .. } => {
                out.push(
                    json!({"ph": "i", "s": "g", "pid": WORKERS_PID, "tid": 0, "ts": us(*t), "name": rule.as_str(),
                    "args": {"detail": detail, "task": task}}),
                );
            }
            WireEvent::Mark { t, task, label } => {
                out.push(json!({"ph": "i", "s": "g", "pid": WORKERS_PID, "tid": 0, "ts": us(*t), "name": label,
                    "args": {"detail": null, "task": task}}));
            }
            WireEvent::Snapshot { t, reason, tasks } => {
                let reason = json!(reason);
                let name = format!("snapshot: {}", reason.as_str().unwrap_or_default());
                out.push(json!({"ph": "i", "s": "g", "pid": TASKS_PID, "tid": 0, "ts": us(*t), "name": name,
                    "args": {"reason": reason, "tasks": tasks}}));
            }
            WireEvent::Evicted { t, before, events, tasks } => {
                out.push(json!({"ph": "i", "s": "g", "pid": WORKERS_PID, "tid": 0, "ts": us(*t), "name": "evicted",
                    "args": {"before_us": *before as f64 / 1000.0, "events": events, "tasks": tasks}}));
            }

            WireEvent::PollCause { task, cause, .. } => {
                let Some(&(start, slices)) = last_poll.get(task) else { continue };
                if start != cause.since {
                    continue;
                }
                let summary = match (cause.cause, &cause.syscall) {
                    (futurescope_recorder::Cause::OnCpu, _) => "on CPU".to_owned(),
                    (futurescope_recorder::Cause::Blocked, Some(call)) => format!("blocked in {call}"),
                    (futurescope_recorder::Cause::Blocked, None) => "blocked".to_owned(),
                    (futurescope_recorder::Cause::Runnable, _) => "waiting for a CPU".to_owned(),
                };
                let summary = match &cause.hot {
                    Some(hot) => format!("{summary}, in {}", hot.function),
                    None => summary,
                };
                for i in slices {
                    let slice = &mut out[i];
                    slice["args"]["cause"] = json!(cause);
                    let name = format!("{} ({summary})", slice["name"].as_str().unwrap_or_default());
                    slice["name"] = json!(name);
                }
            }
            WireEvent::WakerClone { .. }
            | WireEvent::WakerDrop { .. }
            | WireEvent::State { .. }
            | WireEvent::Dropped { .. } => {}
        }
    }
    json!({"traceEvents": out, "displayTimeUnit": "ns", "otherData": {"generator": "futurescope", "scenario": scenario}})
        .to_string()
}

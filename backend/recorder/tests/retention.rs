//! Retention of a long-lived run (`retain.rs`): a run that goes on for ever keeps a bounded
//! window. Its oldest events go in chunks, by bytes and by age; what went is counted, the
//! stream says so (`evicted`), and what is served still makes sense on its own: every lane is
//! announced and every task polled in it has its spawn (carried over when it is older than
//! the window), in time order.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use futurescope_recorder::{Recorder, RecorderSubscriber, Retention, RunContextGuard, RunLog};
use serde_json::Value;

fn install() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| tracing::subscriber::set_global_default(RecorderSubscriber::new()).unwrap());
}

fn runtime(log: &RunLog) -> tokio::runtime::Runtime {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.worker_threads(2).enable_all();
    futurescope_recorder::instrument(&mut builder, log.id);
    builder.build().unwrap()
}

/// `n` short tasks from one spawn site (one poll each); their ids.
async fn short_tasks(n: usize) -> Vec<u64> {
    let handles: Vec<_> = (0..n).map(|_| tokio::spawn(async { tokio::task::id() })).collect();
    let mut ids = Vec::with_capacity(n);
    for h in handles {
        ids.push(futurescope_recorder::task_id_u64(h.await.unwrap()));
    }
    ids
}

/// What any reader of the served stream relies on, whatever was evicted.
fn check_self_contained(events: &[Value]) {
    let mut lanes = HashSet::new();
    let mut spawned = HashSet::new();
    let mut last_t = 0;
    for e in events {
        let t = e["t"].as_u64().unwrap();
        assert!(t >= last_t, "served in time order: {e} after t={last_t}");
        last_t = t;
        match e["k"].as_str().unwrap() {
            "worker" => {
                lanes.insert(e["worker"].as_u64().unwrap());
            }
            "spawn" => {
                spawned.insert(e["task"].as_u64().unwrap());
            }
            "poll_start" | "poll_end" => {
                assert!(lanes.contains(&e["worker"].as_u64().unwrap()), "lane of {e} announced");
                assert!(spawned.contains(&e["task"].as_u64().unwrap()), "task of {e} has its spawn");
            }
            "done" => assert!(spawned.contains(&e["task"].as_u64().unwrap()), "task of {e} has its spawn"),
            _ => {}
        }
    }
}

/// The counts are honest: what is served plus what was evicted is what was recorded.
fn check_counts(log: &RunLog, events: &[Value]) {
    let counts = log.counts();
    assert!(counts.evicted > 0, "something was evicted: {counts:?}");
    let notices: Vec<_> = events.iter().filter(|e| e["k"] == "evicted").collect();
    let last = notices.last().expect("the stream says what was evicted");
    assert_eq!(last["events"], counts.evicted, "{last}");
    assert_eq!(last["tasks"], counts.evicted_tasks, "{last}");
    // The notice a reader gets for the evicted head is made up, not recorded: it is one more.
    assert_eq!(events.len() as u64 - 1 + counts.evicted, counts.events, "served + evicted = recorded");
    assert_eq!(log.window_start(), notices[0]["before"].as_u64().unwrap());
}

#[test]
fn a_run_over_its_byte_budget_evicts_its_oldest_events_and_keeps_what_readers_need() {
    install();
    let recorder = Recorder::global();
    let log = recorder.begin_run();
    let budget = 4 << 20;
    log.set_retention(Retention { max_age: Duration::from_secs(3600), max_bytes: budget });
    let rt = runtime(&log);
    let ctx = RunContextGuard::enter(log.id);
    let (long_lived, first_ids) = rt.block_on(async {
        // Spawned first, alive to the end: its spawn is far older than the window.
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let long_lived = tokio::spawn(async move {
            let _ = rx.await;
        });
        let long_id = futurescope_recorder::task_id_u64(long_lived.id());
        let first_ids = short_tasks(1000).await;
        // About 4 events per task: 60,000 tasks are several times the budget.
        for _ in 0..60 {
            short_tasks(1000).await;
        }
        let _ = tx.send(());
        long_lived.await.unwrap();
        (long_id, first_ids)
    });
    drop(rt);
    drop(ctx);
    recorder.finish_run(&log);

    // The collector evicts after storing a drain: a drain's events (and their tasks) of slack.
    assert!(log.approx_bytes() <= budget + (1 << 20), "{} bytes kept of a {budget} budget", log.approx_bytes());
    let events = log.to_json_values();
    check_self_contained(&events);
    check_counts(&log, &events);
    let counts = log.counts();
    assert!(counts.evicted_tasks >= 1000, "finished tasks left with their events: {counts:?}");
    assert!(counts.tasks >= 61_001, "spawns are counted, evicted or not: {counts:?}");
    let spawn_of = |task: u64| events.iter().find(|e| e["k"] == "spawn" && e["task"] == task).cloned();
    let long = spawn_of(long_lived).unwrap_or_else(|| {
        let mine: Vec<_> = events.iter().filter(|e| e["task"] == long_lived).collect();
        panic!("the long-lived task {long_lived} keeps its spawn: {mine:?} {:?}", &events[..5])
    });
    assert!(long["t"].as_u64().unwrap() < log.window_start(), "and it is older than the window");
    assert!(first_ids.iter().all(|&t| spawn_of(t).is_none()), "the first tasks, finished long ago, are gone");
    assert!(events.iter().any(|e| e["k"] == "done" && e["task"] == long_lived), "its end is kept");
}

#[test]
fn a_run_evicts_what_is_older_than_its_window() {
    install();
    let recorder = Recorder::global();
    let log = recorder.begin_run();
    let window = Duration::from_millis(200);
    log.set_retention(Retention { max_age: window, max_bytes: 1 << 30 });
    let rt = runtime(&log);
    let ctx = RunContextGuard::enter(log.id);
    let early = rt.block_on(short_tasks(200));
    let early_end = Instant::now();
    // Goes on until the early tasks are evicted (their window passed), however slow the
    // machine: the assertions are about what is served then, not about when.
    let deadline = Instant::now() + Duration::from_secs(60);
    rt.block_on(async {
        while log.counts().evicted_tasks < 200 && Instant::now() < deadline {
            short_tasks(5).await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    let waited = early_end.elapsed();
    drop(rt);
    drop(ctx);
    recorder.finish_run(&log);

    assert!(log.counts().evicted_tasks >= 200, "the early tasks left within {waited:?}: {:?}", log.counts());
    let events = log.to_json_values();
    check_self_contained(&events);
    check_counts(&log, &events);
    let served: HashSet<u64> = events.iter().filter(|e| e["k"] == "spawn").filter_map(|e| e["task"].as_u64()).collect();
    assert!(early.iter().all(|t| !served.contains(t)), "no early task is served");
    let kept_from = log.window_start();
    assert!(events.iter().filter(|e| e["k"] == "poll_start").all(|e| e["t"].as_u64().unwrap() >= kept_from));
}

#[test]
fn a_reader_behind_an_eviction_gets_the_carried_events_it_missed_then_the_window() {
    install();
    let recorder = Recorder::global();
    let log = recorder.begin_run();
    log.set_retention(Retention { max_age: Duration::from_secs(3600), max_bytes: 4 << 20 });
    let rt = runtime(&log);
    let ctx = RunContextGuard::enter(log.id);
    // A reader that read the start of the run, then fell behind.
    rt.block_on(short_tasks(10));
    recorder.flush();
    let mut read = String::new();
    let cursor = log.encode_range(0, usize::MAX, "\n", &mut read);
    rt.block_on(async {
        for _ in 0..60 {
            short_tasks(1000).await;
        }
    });
    drop(rt);
    drop(ctx);
    recorder.finish_run(&log);
    let mut rest = String::new();
    let end = log.encode_range(cursor, usize::MAX, "\n", &mut rest);
    assert_eq!(end, log.len());
    let events: Vec<Value> = read.lines().chain(rest.lines()).map(|l| serde_json::from_str(l).unwrap()).collect();
    check_self_contained(&events);
    assert!(events.iter().any(|e| e["k"] == "evicted"), "it is told what it missed");
    // What it read before plus what it got after: no lane or spawn twice.
    let mut seen = HashSet::new();
    for e in events.iter().filter(|e| e["k"] == "spawn" || e["k"] == "worker") {
        assert!(seen.insert((e["k"].to_string(), e["task"].to_string(), e["worker"].to_string())), "{e} served twice");
    }
}

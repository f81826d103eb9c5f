//! Recording runtimes the way a program builds them: the end of a run is never lost at
//! shutdown (`record` drops the runtime before finishing), hooks of the program's own are
//! chained with the recorder's (`Hooks`), and a hook set after the recorder's still leaves the
//! recording complete.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futurescope_recorder::{Hooks, Recorder, RecorderSubscriber, RunContextGuard};
use serde_json::Value;

fn install() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| tracing::subscriber::set_global_default(RecorderSubscriber::new()).unwrap());
}

fn of_task(events: &[Value], task: u64, kind: &str) -> Vec<Value> {
    events.iter().filter(|e| e["k"] == kind && e["task"] == task).cloned().collect()
}

#[test]
fn the_last_tasks_poll_end_and_done_are_never_lost_at_shutdown() {
    install();
    for round in 0..1000 {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(2);
        let (task, log) = futurescope_recorder::record(&mut builder, async {
            let handle = tokio::spawn(async {
                tokio::task::yield_now().await;
                tokio::task::id()
            });
            handle.await.unwrap()
        })
        .unwrap();
        let task = futurescope_recorder::task_id_u64(task);
        let events = log.to_json_values();
        let ends = of_task(&events, task, "poll_end");
        assert_eq!(ends.len(), 2, "round {round}: both polls of task {task} end: {events:?}");
        assert_eq!(ends[1]["ready"], true, "round {round}");
        let done = of_task(&events, task, "done");
        assert_eq!(done.len(), 1, "round {round}: task {task} is done once: {events:?}");
        assert_eq!(done[0]["outcome"], "completed");
    }
}

#[test]
fn the_programs_own_hooks_are_chained_with_the_recorders() {
    install();
    let started = Arc::new(AtomicUsize::new(0));
    let polled = Arc::new(AtomicUsize::new(0));
    let (s, p) = (started.clone(), polled.clone());
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.worker_threads(2).enable_all();
    let recorder = Recorder::global();
    let log = recorder.begin_run();
    Hooks::new(log.id)
        .on_thread_start(move || {
            s.fetch_add(1, Ordering::Relaxed);
        })
        .on_after_task_poll(move |_| {
            p.fetch_add(1, Ordering::Relaxed);
        })
        .install(&mut builder);
    let rt = builder.build().unwrap();
    let ctx = RunContextGuard::enter(log.id);
    let ids = rt.block_on(workload(20));
    drop(rt);
    drop(ctx);
    recorder.finish_run(&log);
    assert!(started.load(Ordering::Relaxed) >= 2, "the program's on_thread_start ran on each worker");
    check_complete(&log.to_json_values(), &ids);
    // Three polls per task (two yields), all seen by the program's own after-poll hook too.
    assert!(polled.load(Ordering::Relaxed) >= 3 * ids.len(), "{} polls", polled.load(Ordering::Relaxed));
}

#[test]
fn a_hook_set_after_the_recorders_still_leaves_the_recording_complete() {
    install();
    let polled = Arc::new(AtomicUsize::new(0));
    let p = polled.clone();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.worker_threads(2).enable_all();
    let recorder = Recorder::global();
    let log = recorder.begin_run();
    futurescope_recorder::instrument(&mut builder, log.id);
    // Replaces the recorder's after-poll hook (tokio keeps one): recording falls back to tracing.
    builder.on_after_task_poll(move |_| {
        p.fetch_add(1, Ordering::Relaxed);
    });
    let rt = builder.build().unwrap();
    let ctx = RunContextGuard::enter(log.id);
    let ids = rt.block_on(workload(20));
    drop(rt);
    drop(ctx);
    recorder.finish_run(&log);
    assert!(polled.load(Ordering::Relaxed) >= 3 * ids.len());
    check_complete(&log.to_json_values(), &ids);
}

/// `n` tasks from one spawn site, each yielding twice; their tokio ids.
async fn workload(n: usize) -> Vec<u64> {
    let handles: Vec<_> = (0..n)
        .map(|_| {
            tokio::spawn(async {
                // Pending exactly twice whatever the machine's load: a sleep can already be over when
                // it is first polled if the thread was descheduled in between; yield_now never is.
                tokio::task::yield_now().await;
                tokio::task::yield_now().await;
                tokio::task::id()
            })
        })
        .collect();
    let mut ids = Vec::new();
    for h in handles {
        ids.push(futurescope_recorder::task_id_u64(h.await.unwrap()));
    }
    ids
}

/// Every task was spawned, polled three times (the last one ready) and completed once.
fn check_complete(events: &[Value], ids: &[u64]) {
    for &task in ids {
        assert_eq!(of_task(events, task, "spawn").len(), 1, "task {task} spawned");
        let starts = of_task(events, task, "poll_start");
        let ends = of_task(events, task, "poll_end");
        let mine: Vec<_> = events.iter().filter(|e| e["task"] == task).collect();
        assert_eq!(starts.len(), 3, "task {task}: three polls: {mine:?}");
        assert_eq!(ends.len(), 3, "task {task}: three poll ends: {mine:?}");
        assert_eq!(ends.iter().filter(|e| e["ready"] == true).count(), 1, "task {task}: one ready poll: {mine:?}");
        assert_eq!(ends[2]["ready"], true);
        let done = of_task(events, task, "done");
        assert_eq!(done.len(), 1, "task {task} done once");
        assert_eq!(done[0]["outcome"], "completed");
    }
}

#[test]
fn a_runtime_without_hooks_is_recorded_from_tracing_alone() {
    install();
    futurescope_recorder::set_tracing_polls(true);
    let recorder = Recorder::global();
    let log = recorder.begin_run();
    recorder.set_default_run(log.id);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let ids = rt.block_on(workload(20));
    drop(rt);
    recorder.finish_run(&log);
    check_complete(&log.to_json_values(), &ids);
}

//! # spawn-many: ten thousand tasks, and what as many OS threads would cost
//!
//! Seed topics: "When do you need async? ... for MASSIVE CONCURRENCY. Little concurrency you
//! can do with os threads", "each thread gets a separate stack" and "50k OS threads are not
//! really an issue on modern server hardware". A task is its future's state machine plus a
//! small header, allocated once; a thread is a kernel thread with its own stack mapping. This
//! scenario measures both in the same process, in the same run, instead of quoting numbers.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, watch};

use crate::{Flavor, ParamSpec, Params, RunContext, Scenario, ScenarioError, StepTime, mark, spawn_named};

pub static SCENARIO: Scenario = Scenario {
    name: "spawn-many",
    title: "Ten thousand tasks versus OS threads",
    topic: "Massive concurrency vs OS threads (50k threads, stack memory)",
    summary: "10,000 sleeping tasks on two workers, their memory measured against parked OS threads in the same run.",
    description: "\
Part 1 spawns `tasks` tasks named `sleeper` on a runtime with two worker threads. Each one \
waits at a gate, then sleeps twice for about `nap_ms` (staggered a little so the wakes spread \
out) and ends. Every `spawn` event carries the size of the task's future in bytes: that state \
machine, plus a small fixed header that tokio keeps per task, is all a parked task costs. Before the \
gate opens, with every task alive and parked, the scenario reads the process's resident memory \
(`VmRSS` in /proc/self/status) and marks the cost per task. Then `main` opens the gate: one \
`watch` send wakes every sleeper (each `wake` has `by` = main; waking ten thousand tasks is \
work too, and that poll of main may be flagged `long_poll`), the two workers chew through \
them, timers wake them again, and they finish. The whole crowd runs on two threads; zoom into \
the worker lanes to see the polls packed side by side.

Part 2 starts `threads` plain OS threads that do nothing but park, reads `VmRSS` and `VmSize` \
again, and marks the cost per thread: resident memory (the stack pages a thread actually \
touched, its thread-local storage and bookkeeping) and reserved address space (its stack \
mapping, 2 MiB by default for Rust threads). The last mark extrapolates the threads to the same \
count as the tasks. Kernel memory per thread (its kernel stack and scheduler entry) is not in \
`VmRSS`, so threads are cheaper here than they really are; and the per-task figure includes \
futurescope's own record of every task (its events and names), so tasks are dearer here than \
without the dashboard. Even so, a parked task costs a small fraction of a parked thread, and \
spawning and switching tasks needs no system call. Threads are not the wrong answer for 50 \
or 5,000 connections; they become it when the count is large and each one mostly waits.",
    source: include_str!("spawn_many.rs"),
    file: "scenarios/src/spawn_many.rs",
    params: &[
        ParamSpec::int("tasks", 10_000, 100, 20_000, "how many tasks to spawn"),
        ParamSpec::int(
            "threads",
            1000,
            10,
            2000,
            "how many parked OS threads to measure (extrapolated to the task count)",
        ),
        ParamSpec::int("nap_ms", 300, 1, 2000, "how long each task sleeps, twice"),
    ],
    step_time: StepTime::Real(
        "the lesson is two workers sharing 10,000 tasks, so it keeps its multi-thread runtime and \
         the real clock; every worker stops before its next poll",
    ),
    run,
};

/// Reads a `kB` field (`VmRSS`, `VmSize`) of /proc/self/status, in bytes. None off Linux.
fn proc_status_bytes(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))?;
    let kb: u64 = line[field.len() + 1..].trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb * 1024)
}

/// Bytes per item of the growth of `field` from `before` to now.
fn per_item(field: &str, before: Option<u64>, count: usize) -> Option<u64> {
    let now = proc_status_bytes(field)?;
    Some(now.saturating_sub(before?) / count.max(1) as u64)
}

/// What part 1 measured.
struct TaskFigures {
    spawned: usize,
    future_bytes: usize,
    rss_per_task: Option<u64>,
}

async fn many_tasks(count: usize, nap: Duration) -> TaskFigures {
    // Every sleeper waits for this gate, so all of them are alive and parked when we measure.
    let (gate, gate_rx) = watch::channel(false);
    let parked = Arc::new(AtomicUsize::new(0));
    let all_parked = Arc::new(Notify::new());
    let finished = Arc::new(AtomicUsize::new(0));
    let all_finished = Arc::new(Notify::new());

    let rss_before = proc_status_bytes("VmRSS");
    mark(format!("part 1: spawning {count} tasks"));
    let mut future_bytes = 0;
    for i in 0..count {
        let (mut gate_rx, parked, all_parked) = (gate_rx.clone(), parked.clone(), all_parked.clone());
        let (finished, all_finished) = (finished.clone(), all_finished.clone());
        // Stagger the naps over 64 ms so the wakes spread along the timeline.
        let my_nap = nap + Duration::from_millis((i % 64) as u64);
        let sleeper = async move {
            let mut at_gate = std::pin::pin!(gate_rx.changed());
            let mut counted = false;
            let _ = std::future::poll_fn(|cx| {
                let poll = at_gate.as_mut().poll(cx);
                // Counted once its waker is stored in the channel: the gate's send will wake it.
                let first_pending = poll.is_pending() && !std::mem::replace(&mut counted, true);
                if first_pending && parked.fetch_add(1, Ordering::AcqRel) + 1 == count {
                    all_parked.notify_one();
                }
                poll
            })
            .await;
            tokio::time::sleep(my_nap).await;
            tokio::time::sleep(my_nap).await;
            if finished.fetch_add(1, Ordering::AcqRel) + 1 == count {
                all_finished.notify_one();
            }
        };
        future_bytes = std::mem::size_of_val(&sleeper);
        // The JoinHandle is dropped at once: the task runs detached, like a thread nobody joins.
        spawn_named("sleeper", sleeper);
        if i % 256 == 255 {
            // Spawning thousands in one poll would hog this worker: give others a turn.
            tokio::task::yield_now().await;
        }
    }
    all_parked.notified().await;
    let rss_per_task = per_item("VmRSS", rss_before, count);
    match rss_per_task {
        Some(b) => mark(format!(
            "tasks: {count} tasks alive and parked, {b} bytes/task (VmRSS), {future_bytes} bytes (future)"
        )),
        None => mark("tasks: memory not measured (/proc/self/status is Linux-only)"),
    }

    mark(format!("opening the gate: one send wakes {count} tasks"));
    let _ = gate.send(true);
    all_finished.notified().await;
    mark(format!("all {count} tasks finished"));
    TaskFigures { spawned: count, future_bytes, rss_per_task }
}

/// What part 2 measured.
struct ThreadFigures {
    started: usize,
    rss_per_thread: Option<u64>,
    vm_per_thread: Option<u64>,
}

/// Starts up to `count` plain threads that park until released, measures, releases them.
fn parked_threads(count: usize) -> ThreadFigures {
    let rss_before = proc_status_bytes("VmRSS");
    let vm_before = proc_status_bytes("VmSize");
    // (threads parked so far, released?) behind one lock; one condvar for each direction.
    let state = Arc::new((Mutex::new((0usize, false)), Condvar::new(), Condvar::new()));
    let mut handles = Vec::with_capacity(count);
    for i in 0..count {
        let state = state.clone();
        let spawned = std::thread::Builder::new().name(format!("parked {i}")).spawn(move || {
            let (lock, parked, release) = &*state;
            let mut st = lock.lock().unwrap_or_else(|e| e.into_inner());
            st.0 += 1;
            parked.notify_one();
            let _st = release.wait_while(st, |s| !s.1).unwrap_or_else(|e| e.into_inner());
        });
        match spawned {
            Ok(h) => handles.push(h),
            Err(_) => break, // the OS refused: measure what we have
        }
    }
    let started = handles.len();
    let (lock, parked, release) = &*state;
    {
        let st = lock.lock().unwrap_or_else(|e| e.into_inner());
        let _st = parked.wait_while(st, |s| s.0 < started).unwrap_or_else(|e| e.into_inner());
    }
    let rss_per_thread = per_item("VmRSS", rss_before, started);
    let vm_per_thread = per_item("VmSize", vm_before, started);
    lock.lock().unwrap_or_else(|e| e.into_inner()).1 = true;
    release.notify_all();
    for h in handles {
        let _ = h.join();
    }
    ThreadFigures { started, rss_per_thread, vm_per_thread }
}

/// `bytes` in MiB, or GiB once that reads better.
fn in_units(bytes: u64) -> String {
    let mib = bytes as f64 / (1u64 << 20) as f64;
    if mib >= 1024.0 { format!("{:.1} GiB", mib / 1024.0) } else { format!("{mib:.1} MiB") }
}

fn run(ctx: &RunContext, params: &Params) -> Result<(), ScenarioError> {
    let tasks = params.usize("tasks");
    let threads = params.usize("threads");
    let nap = Duration::from_millis(params.int("nap_ms") as u64);

    let t = ctx.block_on(Flavor::MultiThread { workers: 2 }, "many", many_tasks(tasks, nap))?;
    if ctx.is_cancelled() {
        return Err(ScenarioError::Cancelled);
    }

    ctx.mark(format!("part 2: starting {threads} OS threads that only park"));
    let th = parked_threads(threads);
    match (th.rss_per_thread, th.vm_per_thread) {
        (Some(rss), Some(vm)) => ctx.mark(format!(
            "threads: {} threads parked, {rss} bytes/thread (VmRSS), {vm} bytes/thread of address space (VmSize)",
            th.started
        )),
        _ => ctx.mark("threads: memory not measured (/proc/self/status is Linux-only)"),
    }
    if let (Some(task), Some(thread), Some(vm)) = (t.rss_per_task, th.rss_per_thread, th.vm_per_thread) {
        let n = t.spawned as u64;
        ctx.mark(format!(
            "{n} tasks took {} resident ({} bytes of future each); {n} threads would take about {} resident \
             and {} of address space",
            in_units(task * n),
            t.future_bytes,
            in_units(thread * n),
            in_units(vm * n)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::{Value, json};

    use crate::testing::{query::*, record};

    const TASKS: usize = 3000;

    /// The number right before `unit` in the mark that starts with `prefix`.
    fn figure(ev: &[Value], prefix: &str, unit: &str) -> u64 {
        let label = of_kind(ev, "mark")
            .into_iter()
            .filter_map(|m| m["label"].as_str())
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no mark starting with {prefix:?}"));
        let before = label.split(unit).next().unwrap();
        before.rsplit(' ').find(|w| !w.is_empty()).unwrap().parse().unwrap_or_else(|_| panic!("a number in {label:?}"))
    }

    #[test]
    fn thousands_of_tasks_have_sizes_wake_twice_and_cost_less_memory_than_threads() {
        let rec = record("spawn-many", json!({"tasks": TASKS, "threads": 500, "nap_ms": 30}), Duration::from_secs(60));
        rec.result.as_ref().expect("the scenario completes");
        let ev = &rec.events;
        assert!(of_kind(ev, "dropped").is_empty(), "the recorder kept every event");

        // Every task was recorded with its future's size, was woken by main's gate, then by its
        // timers, and finished.
        let spawns: Vec<&Value> = of_kind(ev, "spawn").into_iter().filter(|e| e["name"] == "sleeper").collect();
        assert_eq!(spawns.len(), TASKS);
        let size = spawns[0]["size"].as_u64().expect("spawn events carry the future's size");
        assert!(size > 0);
        assert!(spawns.iter().all(|s| s["size"] == size), "every sleeper is the same future type");
        let main = task_named(ev, "main");
        let sleepers: std::collections::HashSet<u64> = spawns.iter().map(|s| s["task"].as_u64().unwrap()).collect();
        let mut by_main = 0;
        let mut by_timer = 0;
        for w in of_kind(ev, "wake").into_iter().filter(|w| sleepers.contains(&w["task"].as_u64().unwrap())) {
            if w["by"] == main {
                by_main += 1;
            } else if w["by"].is_null() {
                by_timer += 1;
            }
        }
        assert_eq!(by_main, TASKS, "one send from main woke every sleeper");
        // Each nap normally ends with a wake from the timer driver (by null). On a starved
        // machine a few naps are already over when first polled and need no wake at all.
        assert!(by_timer >= TASKS, "the naps ended with timer wakes ({by_timer})");
        let completed = of_kind(ev, "done")
            .into_iter()
            .filter(|d| d["outcome"] == "completed" && sleepers.contains(&d["task"].as_u64().unwrap()))
            .count();
        assert_eq!(completed, TASKS);

        // Measured in this run: a parked task costs less memory than a parked thread reserves.
        // (Resident bytes per parked thread vary with the allocator and the kernel, down to a
        // page or less when glibc reuses cached stacks; the reserved stack does not.)
        let per_task = figure(ev, "tasks:", " bytes/task");
        let per_thread_rss = figure(ev, "threads:", " bytes/thread (VmRSS)");
        let per_thread_vm = figure(ev, "threads:", " bytes/thread of address space");
        assert!(per_thread_rss > 0, "threads cost resident memory");
        assert!(per_thread_vm >= 64 * 1024, "a thread reserves at least a small stack: {per_thread_vm} B");
        assert!(
            per_task < per_thread_vm,
            "a task ({per_task} B) costs less than a thread reserves ({per_thread_vm} B)"
        );
        assert_eq!(figure(ev, "tasks:", " bytes (future)"), size, "the mark's future size is the spawn events'");
    }
}

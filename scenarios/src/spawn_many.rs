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

use futurescope_recorder::{LockUnpoisoned, Unpoisoned};

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
machine, inside one heap allocation with tokio's task header and trailer, is all a parked task \
costs. Before the gate opens, with every task alive and parked, `main` opens the gate: one \
`watch` send wakes every sleeper (each `wake` has `by` = main; waking ten thousand tasks is \
work too, and that poll of main may be flagged `long_poll`), the two workers chew through \
them, timers wake them again, and they finish. The whole crowd runs on two threads; zoom into \
the worker lanes to see the polls packed side by side.

How a task's cost is measured: recording a task costs the dashboard memory too (its events, \
the tracing span tokio opens for it, console-subscriber's statistics), so the process's \
resident memory while the recorded crowd is parked says more about the recording than about \
tokio. Instead the scenario spawns the same `tasks` sleepers again on a runtime nobody records \
(no tracing subscriber on that thread, no hooks: not on the timeline, a gap between the marks), \
waits until all are parked, and reads the heap bytes in use from the allocator \
(glibc's `mallinfo2`) before and after: the difference per task is the task's allocation (its \
future plus tokio's header and trailer, as the allocator rounds it), the only memory a parked \
task holds. Three rounds, the median is marked.

Part 2 starts `threads` plain OS threads that do nothing but park and marks what each costs, \
from the kernel's own counts before and after: resident user memory (`VmRSS` in \
/proc/self/status: the stack pages a thread actually touched, its thread-local storage, the C \
library's thread descriptor), kernel memory (the growth of `KernelStack` in /proc/meminfo, a \
kernel stack per thread, plus one `task_struct`, whose size /sys/kernel/slab/task_struct reports; \
`KernelStack` counts every process's threads, so programs starting or ending threads meanwhile \
blur it) \
and reserved address space (`VmSize`: its stack mapping, 2 MiB by default for Rust threads). \
The last mark puts both side by side for the same count as the tasks (the threads \
extrapolated). A parked task costs a small fraction of a parked thread, and spawning and \
switching tasks needs no system call. Threads are not the wrong answer for 50 or 5,000 \
connections; they become it when the count is large and each one mostly waits.",
    source: include_str!("spawn_many.rs"),
    file: "scenarios/src/spawn_many.rs",
    open_futures: &[],
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

/// The kernel's stacks of all threads (`KernelStack` in /proc/meminfo), in bytes.
fn kernel_stack_bytes() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("KernelStack:"))?;
    let kb: u64 = line["KernelStack:".len()..].trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb * 1024)
}

/// The size of the kernel's per-thread `task_struct`, when the kernel says.
fn task_struct_bytes() -> Option<u64> {
    std::fs::read_to_string("/sys/kernel/slab/task_struct/object_size").ok()?.trim().parse().ok()
}

/// Heap bytes in use in the C allocator's arenas (glibc's `mallinfo2().uordblks`), exact to
/// the byte, unlike resident memory, which moves by pages. Blocks the allocator maps on their
/// own (large ones, such as the dashboard's 2 MB chunks of stored events, which the recorder's
/// collector may still be appending for part 1 meanwhile) are not counted: a task's allocation
/// is far below that size.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn heap_in_use() -> Option<u64> {
    // SAFETY: mallinfo2 has no preconditions; it only reads the allocator's statistics.
    let info = unsafe { libc::mallinfo2() };
    Some(info.uordblks as u64)
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn heap_in_use() -> Option<u64> {
    None
}

/// Shared by the sleepers of one crowd: the gate they wait at and the counts of how many
/// are parked at it and how many finished, with a notification when all have.
#[derive(Clone)]
struct Crowd {
    count: usize,
    gate: watch::Receiver<bool>,
    parked: Arc<AtomicUsize>,
    all_parked: Arc<Notify>,
    finished: Arc<AtomicUsize>,
    all_finished: Arc<Notify>,
}

impl Crowd {
    fn new(count: usize) -> (watch::Sender<bool>, Crowd) {
        let (gate, rx) = watch::channel(false);
        let crowd = Crowd {
            count,
            gate: rx,
            parked: Arc::default(),
            all_parked: Arc::default(),
            finished: Arc::default(),
            all_finished: Arc::default(),
        };
        (gate, crowd)
    }
}

/// One task of the crowd: waits at the gate, then naps twice and ends.
async fn sleeper(mut crowd: Crowd, nap: Duration) {
    let count = crowd.count;
    let mut at_gate = std::pin::pin!(crowd.gate.changed());
    let mut counted = false;
    let _ = std::future::poll_fn(|cx| {
        let poll = at_gate.as_mut().poll(cx);
        // Counted once its waker is stored in the channel: the gate's send will wake it.
        let first_pending = poll.is_pending() && !std::mem::replace(&mut counted, true);
        if first_pending && crowd.parked.fetch_add(1, Ordering::AcqRel) + 1 == count {
            crowd.all_parked.notify_one();
        }
        poll
    })
    .await;
    tokio::time::sleep(nap).await;
    tokio::time::sleep(nap).await;
    if crowd.finished.fetch_add(1, Ordering::AcqRel) + 1 == count {
        crowd.all_finished.notify_one();
    }
}

/// The heap bytes one parked sleeper holds: `count` sleepers spawned on a runtime nobody
/// records (no tracing subscriber on this thread, no poll hooks), measured once all are parked
/// at their gate; the median of three rounds. None without `mallinfo2`.
fn unrecorded_task_bytes(count: usize, nap: Duration) -> Option<u64> {
    let mut rounds = Vec::new();
    tracing::subscriber::with_default(tracing::subscriber::NoSubscriber::default(), || {
        for _ in 0..3 {
            let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().ok()?;
            let per_task = rt.block_on(async {
                let (gate, crowd) = Crowd::new(count);
                let before = heap_in_use()?;
                for _ in 0..count {
                    drop(tokio::task::spawn(sleeper(crowd.clone(), nap)));
                }
                crowd.all_parked.notified().await;
                let after = heap_in_use()?;
                drop(gate);
                Some(after.saturating_sub(before) / count.max(1) as u64)
            })?;
            rounds.push(per_task);
        }
        Some(())
    })?;
    rounds.sort_unstable();
    rounds.get(rounds.len() / 2).copied()
}

/// What part 1 measured.
struct TaskFigures {
    spawned: usize,
    future_bytes: usize,
}

async fn many_tasks(count: usize, nap: Duration) -> TaskFigures {
    // Every sleeper waits for this gate, so all of them are alive and parked before it opens.
    let (gate, crowd) = Crowd::new(count);
    mark(format!("part 1: spawning {count} tasks"));
    let mut future_bytes = 0;
    for i in 0..count {
        // Stagger the naps over 64 ms so the wakes spread along the timeline.
        let task = sleeper(crowd.clone(), nap + Duration::from_millis((i % 64) as u64));
        future_bytes = std::mem::size_of_val(&task);
        // The JoinHandle is dropped at once: the task runs detached, like a thread nobody joins.
        spawn_named("sleeper", task);
        if i % 256 == 255 {
            // Spawning thousands in one poll would hog this worker: give others a turn.
            tokio::task::yield_now().await;
        }
    }
    crowd.all_parked.notified().await;
    mark(format!("tasks: {count} tasks alive and parked, {future_bytes} bytes (future) each"));

    mark(format!("opening the gate: one send wakes {count} tasks"));
    let _ = gate.send(true);
    crowd.all_finished.notified().await;
    mark(format!("all {count} tasks finished"));
    TaskFigures { spawned: count, future_bytes }
}

/// What part 2 measured.
struct ThreadFigures {
    started: usize,
    rss_per_thread: Option<u64>,
    vm_per_thread: Option<u64>,
    /// Kernel stack per thread (growth of `KernelStack`).
    kernel_stack_per_thread: Option<u64>,
}

/// Starts up to `count` plain threads that park until released, measures, releases them.
fn parked_threads(count: usize) -> ThreadFigures {
    let rss_before = proc_status_bytes("VmRSS");
    let vm_before = proc_status_bytes("VmSize");
    let kstack_before = kernel_stack_bytes();
    // (threads parked so far, released?) behind one lock; one condvar for each direction.
    let state = Arc::new((Mutex::new((0usize, false)), Condvar::new(), Condvar::new()));
    let mut handles = Vec::with_capacity(count);
    for i in 0..count {
        let state = state.clone();
        let spawned = std::thread::Builder::new().name(format!("parked {i}")).spawn(move || {
            let (lock, parked, release) = &*state;
            let mut st = lock.lock_unpoisoned();
            st.0 += 1;
            parked.notify_one();
            let _st = release.wait_while(st, |s| !s.1).unpoisoned();
        });
        match spawned {
            Ok(h) => handles.push(h),
            Err(_) => break, // the OS refused: measure what we have
        }
    }
    let started = handles.len();
    let (lock, parked, release) = &*state;
    {
        let st = lock.lock_unpoisoned();
        let _st = parked.wait_while(st, |s| s.0 < started).unpoisoned();
    }
    let rss_per_thread = per_item("VmRSS", rss_before, started);
    let vm_per_thread = per_item("VmSize", vm_before, started);
    let kernel_stack_per_thread =
        kernel_stack_bytes().zip(kstack_before).map(|(now, before)| now.saturating_sub(before) / started.max(1) as u64);
    lock.lock_unpoisoned().1 = true;
    release.notify_all();
    for h in handles {
        let _ = h.join();
    }
    ThreadFigures { started, rss_per_thread, vm_per_thread, kernel_stack_per_thread }
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

    ctx.mark(format!("part 1b: the same {tasks} sleepers on a runtime nobody records, to measure them"));
    let per_task = unrecorded_task_bytes(tasks, nap);
    match per_task {
        Some(b) => ctx.mark(format!(
            "tasks: {b} bytes/task of heap while parked (mallinfo2, median of 3 rounds of {tasks}, unrecorded), \
             of which {} bytes are the future",
            t.future_bytes
        )),
        None => ctx.mark("tasks: heap not measured (mallinfo2 is glibc's)"),
    }
    if ctx.is_cancelled() {
        return Err(ScenarioError::Cancelled);
    }

    ctx.mark(format!("part 2: starting {threads} OS threads that only park"));
    let th = parked_threads(threads);
    let task_struct = task_struct_bytes();
    let kernel = th.kernel_stack_per_thread.map(|k| k + task_struct.unwrap_or(0));
    match (th.rss_per_thread, th.vm_per_thread) {
        (Some(rss), Some(vm)) => ctx.mark(format!(
            "threads: {} threads parked, {rss} bytes/thread resident (VmRSS), {} bytes/thread of kernel memory \
             ({} kernel stack from KernelStack{}), {vm} bytes/thread of address space (VmSize)",
            th.started,
            kernel.map_or("?".to_owned(), |k| k.to_string()),
            th.kernel_stack_per_thread.map_or("?".to_owned(), |k| k.to_string()),
            task_struct.map_or(String::new(), |b| format!(" + {b} task_struct")),
        )),
        _ => ctx.mark("threads: memory not measured (/proc/self/status is Linux-only)"),
    }
    if let (Some(task), Some(rss), Some(vm)) = (per_task, th.rss_per_thread, th.vm_per_thread) {
        let n = t.spawned as u64;
        let thread = rss + kernel.unwrap_or(0);
        ctx.mark(format!(
            "{n} parked tasks: {} of heap; {n} parked threads: about {} ({} resident + {} kernel) and {} of \
             address space",
            in_units(task * n),
            in_units(thread * n),
            in_units(rss * n),
            in_units(kernel.unwrap_or(0) * n),
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

    /// The number right before `unit` in the mark that starts with `prefix` and has `unit`.
    fn figure(ev: &[Value], prefix: &str, unit: &str) -> u64 {
        let label = of_kind(ev, "mark")
            .into_iter()
            .filter_map(|m| m["label"].as_str())
            .find(|l| l.starts_with(prefix) && l.contains(unit))
            .unwrap_or_else(|| panic!("no mark starting with {prefix:?} with {unit:?}"));
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
        // The heap a parked task holds, measured without the recording: at least its future, and
        // not the kilobytes per task the recording itself costs (tokio's header and trailer and
        // the allocator's rounding come to a few hundred bytes).
        let per_task = figure(ev, "tasks:", " bytes/task of heap");
        assert!(per_task >= size, "a task ({per_task} B) holds at least its future ({size} B)");
        assert!(
            per_task <= size + 1024,
            "a task ({per_task} B) holds its future ({size} B) and a header, nothing more"
        );
        let per_thread_rss = figure(ev, "threads:", " bytes/thread resident");
        let per_thread_vm = figure(ev, "threads:", " bytes/thread of address space");
        let per_thread_kernel = figure(ev, "threads:", " bytes/thread of kernel memory");
        assert!(per_thread_rss > 0, "threads cost resident memory");
        // (The kernel figure is read from a system-wide count, which other processes' threads
        // move too: it is reported, not asserted.)
        assert!(per_thread_vm >= 64 * 1024, "a thread reserves at least a small stack: {per_thread_vm} B");
        assert!(
            per_task < per_thread_rss + per_thread_kernel,
            "a task ({per_task} B) costs less than a thread ({per_thread_rss} B resident + {per_thread_kernel} B kernel)"
        );
        assert_eq!(figure(ev, "tasks:", " bytes (future) each"), size, "the mark's future size is the spawn events'");
    }
}

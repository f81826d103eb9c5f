//! Task dumps: where every task of a run is waiting, with no annotations.
//!
//! tokio (`--cfg tokio_unstable`, cargo feature `taskdump`, Linux) can trace a runtime's tasks:
//! `Handle::dump()` pauses every worker at a barrier, and one of them re-polls each idle or
//! queued task in a tracing mode in which tokio's leaf futures (`Sleep`, channel receives,
//! locks, I/O readiness, `JoinHandle`, `yield_now`) capture a backtrace up to the task's root
//! and return `Pending` instead of doing their work (deferring a wake, so the task is polled
//! again for real afterwards). The backtraces of one task form its await tree: the async fn
//! frames from the task's future down to the leaf it waits on.
//!
//! This module takes such snapshots for a run, from outside its runtimes (the dumper thread
//! below is not recorded, and its requests are not tasks of the run), resolves their symbols
//! on that thread, never on a recording thread, and shapes them into `Snapshot`s.
//!
//! - Runtimes are registered per run (`register_runtime`): `RunContext` does it for scenarios,
//!   `futurescope::init()` for a user's program.
//! - A multi-thread runtime is dumped from the dumper thread directly. A current-thread
//!   runtime can only be dumped from inside (tokio's rule): the dumper spawns one task on it
//!   from a thread whose tracing dispatcher is a no-op, so the task has no span and the
//!   recorder drops its hook records (tasks never spawned in the run are not stored).
//! - What tokio cannot trace: a future that returns `Pending` without reaching a tokio leaf (a
//!   hand-written future like lost-wakeup's `FlagFuture`) leaves no backtrace. If it sits under
//!   an await-point probe, the probe notices the traced poll and records a leaf of its own (the
//!   inner future's type at the probe's site); otherwise the task is listed with its frames
//!   empty. Tasks of a `LocalSet` and blocking-pool tasks are not traced by tokio either.
//! - A dump needs every worker to reach the barrier: if one is blocked for more than 250 ms
//!   tokio gives up on that dump and it never completes. The dumper waits `DUMP_TIMEOUT`, then
//!   answers an error, and sends no new request to that runtime until the old one is over.

//!
//! Task dumps need tokio's `taskdump` feature, which this crate's `taskdump` feature (on by
//! default) turns on; without it every snapshot is refused with `DumpError::NotBuilt`.

// Without task dumps, the machinery that shapes them is never called.
#![cfg_attr(not(feature = "taskdump"), allow(dead_code, unused_imports, unused_variables))]

use crate::sync::LockUnpoisoned;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::sync::{mpsc, oneshot};

use crate::log::RunLog;
use crate::probe::ProbeSite;

/// How long a snapshot waits for a runtime's workers to stop.
pub const DUMP_TIMEOUT: Duration = Duration::from_secs(3);

/// How long a multi-thread worker waits at the start of a dump for the others before it gives
/// up on that attempt (tokio's `trace_core`, a constant there). A dump that took less cannot
/// have left a worker behind at tokio's barriers.
const TOKIO_BARRIER_TIMEOUT: Duration = Duration::from_millis(250);

/// Dumps after a slow one, at most, to free a worker stuck at tokio's end barrier.
const MAX_REPAIRS: usize = 8;

/// At most this many tasks in the workers' run queues when a dump is requested. tokio's
/// `steal_all` hangs the runtime when they hold more than about 130 (half its 256-slot local
/// queue, README "Two tokio bugs"); the margin is for tasks woken between this check and the
/// workers' stop (the timer wakes a worker finds when it wakes up to stop, say).
const MAX_QUEUED: usize = 32;

/// Samples of the run queues in a row that must hold at most `MAX_QUEUED` (see `settle`).
const QUIET_SAMPLES: usize = 10;

/// How long a snapshot waits for the run queues to empty before it is refused.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(1);

pub use crate::event::{Frame, SnapshotReason as Reason, SnapshotTask as TaskTrace, TaskState};

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Manual => "manual",
            Reason::LostWake => "lost_wake",
            Reason::Cancelled => "cancelled",
            Reason::TimeLimit => "time_limit",
            Reason::Interval => "interval",
        }
    }
}

/// A snapshot of a run's tasks, as `POST /api/runs/{id}/snapshot` answers it (the `snapshot`
/// event in the run's stream has the same `t`, `reason` and `tasks`).
#[derive(Clone, Debug, Serialize)]
pub struct Snapshot {
    /// When the dump was requested, ns since the run started (the stored event's `t` is this,
    /// or the run's last stored event's if that is later: see `RunLog::push_snapshot`).
    pub t: u64,
    pub reason: Reason,
    pub tasks: Vec<TaskTrace>,
    /// How long the run's workers were held (from the request until tokio answered), ns.
    pub pause_ns: u64,
    /// How long resolving the symbols took afterwards (on the dumper thread), ns.
    pub resolve_ns: u64,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum DumpError {
    #[error("this run has no runtime that can be traced (it has ended, or it never built one)")]
    NoRuntime,
    #[error(
        "the runtime did not answer within {0:?}: a worker is probably blocked (tokio needs every worker to pause)"
    )]
    Timeout(Duration),
    #[error("a snapshot of this run is still waiting for a blocked worker")]
    Busy,
    #[error(
        "the runtime's workers did not rest for a second ({0} tasks queued last): tokio's dump can hang a runtime whose run queues fill while it stops (a tokio bug), so it is only taken while no worker is running tasks"
    )]
    Queued(usize),
    #[error("the snapshot thread is gone")]
    Gone,
    #[error(
        "this build has no task dumps: futurescope-recorder was built without its `taskdump` feature (tokio's taskdump)"
    )]
    NotBuilt,
}

// ---- runtimes ------------------------------------------------------------------------------

struct Registered {
    id: u64,
    run: u16,
    handle: Handle,
    /// Set while a dump request to this runtime is outstanding.
    busy: Arc<AtomicBool>,
}

static RUNTIMES: Mutex<Vec<Registered>> = Mutex::new(Vec::new());
static NEXT_REGISTRATION: AtomicU64 = AtomicU64::new(1);

/// Keeps a runtime registered for snapshots of its run until dropped (drop it before the
/// runtime shuts down: a dump of a runtime that is shutting down never completes).
#[must_use = "the runtime is only registered while the registration lives"]
pub struct RuntimeRegistration {
    id: u64,
}

impl Drop for RuntimeRegistration {
    fn drop(&mut self) {
        lock(&RUNTIMES).retain(|r| r.id != self.id);
    }
}

/// Registers `handle`'s runtime as one of run `run`'s (snapshots of the run dump it).
pub fn register_runtime(run: u16, handle: &Handle) -> RuntimeRegistration {
    dumper();
    let id = NEXT_REGISTRATION.fetch_add(1, Ordering::Relaxed);
    lock(&RUNTIMES).push(Registered { id, run, handle: handle.clone(), busy: Arc::default() });
    RuntimeRegistration { id }
}

// ---- runtimes a program built itself ------------------------------------------------------

/// The run that runtimes found on threads working for no run are registered for (0: none).
static ADOPTING_RUN: AtomicU16 = AtomicU16::new(0);

/// Runtimes registered by `thread_saw_runtime`, by runtime id; each registration lives while a
/// thread that saw its runtime holds it (in `HELD`).
static ADOPTED: Mutex<Vec<(tokio::runtime::Id, Weak<RuntimeRegistration>)>> = Mutex::new(Vec::new());

thread_local! {
    static HELD: std::cell::RefCell<Option<Arc<RuntimeRegistration>>> = const { std::cell::RefCell::new(None) };
}

/// Registers every runtime a thread working for no run is later seen polling in (`capture`
/// tells, once per thread) as one of run `run`'s (0: stops). `futurescope::init()` does this
/// for a program's own run: its `#[tokio::main]` runtime is built after `init` returns, by code
/// that knows nothing of futurescope.
pub fn adopt_runtimes(run: u16) {
    ADOPTING_RUN.store(run, Ordering::Relaxed);
}

/// Called once per runtime thread that records for no run (see `capture::name_thread`), inside
/// its runtime. The registration is shared by the runtime's threads and dropped with the last of
/// them (at thread exit), so a runtime that shut down is not dumped; a current-thread runtime
/// dropped on a thread that lives on stays registered, and a dump of it finds nothing to trace
/// (the spawn onto a shut-down runtime fails at once).
pub(crate) fn thread_saw_runtime(handle: &Handle) {
    let run = ADOPTING_RUN.load(Ordering::Relaxed);
    if run == 0 {
        return;
    }
    let id = handle.id();
    let registration = {
        let mut adopted = lock(&ADOPTED);
        adopted.retain(|(_, w)| w.strong_count() > 0);
        match adopted.iter().find(|(i, _)| *i == id).and_then(|(_, w)| w.upgrade()) {
            Some(r) => r,
            None => {
                let r = Arc::new(register_runtime(run, handle));
                adopted.push((id, Arc::downgrade(&r)));
                r
            }
        }
    };
    let _ = HELD.try_with(|h| *h.borrow_mut() = Some(registration));
}

/// Whether run `run` has a runtime registered right now.
pub fn has_runtime(run: u16) -> bool {
    lock(&RUNTIMES).iter().any(|r| r.run == run)
}

fn runtimes_of(run: u16) -> Vec<(Handle, Arc<AtomicBool>)> {
    lock(&RUNTIMES).iter().filter(|r| r.run == run).map(|r| (r.handle.clone(), r.busy.clone())).collect()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock_unpoisoned()
}

// ---- traced polls seen from inside (probes) ------------------------------------------------

/// Dumps in progress: while 0, `tracing()` costs one relaxed load.
static DUMPING: AtomicU32 = AtomicU32::new(0);

/// Whether this build can take task dumps (the `taskdump` feature).
pub const AVAILABLE: bool = cfg!(feature = "taskdump");

/// Whether the current poll is one of tokio's traced polls (a dump in progress).
#[inline]
pub(crate) fn tracing() -> bool {
    DUMPING.load(Ordering::Relaxed) != 0 && is_tracing()
}

/// Whether the current poll is one of tokio's traced polls, for a hand-written future that must
/// not do its work then (tokio's own leaves return `Pending` in such a poll): tokio's
/// `Handle::is_tracing`, or false in a build without task dumps.
#[inline]
pub fn is_tracing() -> bool {
    #[cfg(feature = "taskdump")]
    return Handle::is_tracing();
    #[cfg(not(feature = "taskdump"))]
    return false;
}

/// A leaf recorded by a probe whose inner future returned `Pending` in a traced poll.
struct ProbeLeaf {
    backtrace: backtrace::Backtrace,
    future: &'static str,
    site: &'static ProbeSite,
}

static PROBE_LEAVES: Mutex<Vec<(u64, ProbeLeaf)>> = Mutex::new(Vec::new());

/// Called by an await-point probe when the future it wraps returned `Pending` in a traced
/// poll: for a future that reached no tokio leaf, this is the only trace there is.
#[inline(never)]
pub(crate) fn probe_leaf<F>(site: &'static ProbeSite) {
    let Some(task) = tokio::task::try_id().map(crate::runtime::task_id_u64) else { return };
    let mut leaves = lock(&PROBE_LEAVES);
    // The innermost probe returns first; the enclosing ones add nothing.
    if leaves.iter().any(|(t, _)| *t == task) {
        return;
    }
    let leaf =
        ProbeLeaf { backtrace: backtrace::Backtrace::new_unresolved(), future: std::any::type_name::<F>(), site };
    leaves.push((task, leaf));
}

// ---- the dumper thread ---------------------------------------------------------------------

struct Job {
    log: Arc<RunLog>,
    reason: Reason,
    reply: Option<oneshot::Sender<Result<Arc<Snapshot>, DumpError>>>,
}

enum Msg {
    Job(Job),
    Every { log: Weak<RunLog>, period: Duration, stop: Arc<AtomicBool> },
}

fn dumper() -> &'static mpsc::UnboundedSender<Msg> {
    static TX: OnceLock<mpsc::UnboundedSender<Msg>> = OnceLock::new();
    TX.get_or_init(|| {
        let (tx, rx) = mpsc::unbounded_channel();
        std::thread::Builder::new()
            .name("futurescope-snapshots".into())
            .spawn(move || dumper_main(rx))
            .expect("the OS refused the snapshot thread");
        tx
    })
}

/// Requests a snapshot of `log`'s run; the answer comes on the receiver (and the snapshot is a
/// `snapshot` event in the run).
pub fn request(log: Arc<RunLog>, reason: Reason) -> oneshot::Receiver<Result<Arc<Snapshot>, DumpError>> {
    let (tx, rx) = oneshot::channel();
    let _ = dumper().send(Msg::Job(Job { log, reason, reply: Some(tx) }));
    rx
}

/// Requests a snapshot without waiting for it (from the collector, say).
pub fn request_detached(log: Arc<RunLog>, reason: Reason) {
    let _ = dumper().send(Msg::Job(Job { log, reason, reply: None }));
}

/// Takes a snapshot of `log`'s run and waits for it, from a plain thread (not inside a runtime).
pub fn take_blocking(log: Arc<RunLog>, reason: Reason) -> Result<Arc<Snapshot>, DumpError> {
    request(log, reason).blocking_recv().unwrap_or(Err(DumpError::Gone))
}

/// Takes a snapshot of `log`'s run every `period` until the guard is dropped or the run is gone.
pub fn every(log: &Arc<RunLog>, period: Duration) -> IntervalGuard {
    let stop = Arc::new(AtomicBool::new(false));
    let period = period.max(Duration::from_millis(10));
    let _ = dumper().send(Msg::Every { log: Arc::downgrade(log), period, stop: stop.clone() });
    IntervalGuard { stop }
}

/// Stops interval snapshots when dropped.
#[must_use = "interval snapshots stop when the guard is dropped"]
pub struct IntervalGuard {
    stop: Arc<AtomicBool>,
}

impl Drop for IntervalGuard {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

struct Interval {
    log: Weak<RunLog>,
    period: Duration,
    next: tokio::time::Instant,
    stop: Arc<AtomicBool>,
}

fn dumper_main(mut rx: mpsc::UnboundedReceiver<Msg>) {
    // Spawns from this thread (of a current-thread runtime's dump task) must not be recorded.
    let _quiet = tracing::subscriber::set_default(tracing::subscriber::NoSubscriber::default());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("building the snapshot thread's runtime");
    // The first symbol lookup reads the binary's debug info (seconds, in a debug build): do it
    // now, not inside the first snapshot.
    backtrace::resolve(dumper_main as *mut std::ffi::c_void, |_| {});
    rt.block_on(async move {
        let mut intervals: Vec<Interval> = Vec::new();
        let mut states = TaskStates::default();
        loop {
            intervals.retain(|i| !i.stop.load(Ordering::Relaxed) && i.log.strong_count() > 0);
            let next = intervals.iter().map(|i| i.next).min();
            let msg = match next {
                Some(at) => match tokio::time::timeout_at(at, rx.recv()).await {
                    Ok(m) => m,
                    Err(_) => {
                        let now = tokio::time::Instant::now();
                        for i in intervals.iter_mut().filter(|i| i.next <= now) {
                            i.next = now + i.period;
                            if let Some(log) = i.log.upgrade()
                                && !log.lock().finished
                                && has_runtime(log.id)
                            {
                                let _ = run_job(Job { log, reason: Reason::Interval, reply: None }, &mut states).await;
                            }
                        }
                        continue;
                    }
                },
                None => rx.recv().await,
            };
            match msg {
                None => return,
                Some(Msg::Every { log, period, stop }) => {
                    intervals.push(Interval { log, period, next: tokio::time::Instant::now() + period, stop })
                }
                Some(Msg::Job(job)) => {
                    let _ = run_job(job, &mut states).await;
                }
            }
        }
    });
}

async fn run_job(job: Job, states: &mut TaskStates) -> Option<()> {
    let result = take(&job.log, job.reason, states).await.map(Arc::new);
    if let Ok(snap) = &result {
        // A run that is being stopped gets a snapshot only if some task is still pending.
        let stopping = matches!(job.reason, Reason::Cancelled | Reason::TimeLimit);
        if !(stopping && snap.tasks.is_empty()) {
            let event = crate::event::Snapshot { reason: snap.reason, tasks: snap.tasks.clone() };
            job.log.push_snapshot(snap.t, event);
        }
    }
    if let Some(reply) = job.reply {
        let _ = reply.send(result);
    }
    Some(())
}

#[cfg(not(feature = "taskdump"))]
async fn take(_log: &RunLog, _reason: Reason, _states: &mut TaskStates) -> Result<Snapshot, DumpError> {
    Err(DumpError::NotBuilt)
}

#[cfg(feature = "taskdump")]
async fn take(log: &RunLog, reason: Reason, states: &mut TaskStates) -> Result<Snapshot, DumpError> {
    let runtimes = runtimes_of(log.id);
    if runtimes.is_empty() {
        return Err(DumpError::NoRuntime);
    }
    let t = crate::clock::now().saturating_sub(log.start);
    lock(&PROBE_LEAVES).clear();
    let mut dumps = Vec::new();
    let mut error = None;
    let mut pause_ns = 0;
    for (handle, busy) in runtimes {
        // The previous dump's repairs (or a dump waiting for a blocked worker) first.
        let waited = Instant::now();
        while busy.load(Ordering::Acquire) && waited.elapsed() < DUMP_TIMEOUT {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if busy.load(Ordering::Acquire) {
            error = Some(DumpError::Busy);
            continue;
        }
        let multi_thread = !matches!(handle.runtime_flavor(), RuntimeFlavor::CurrentThread);
        if multi_thread && let Err(queued) = settle(&handle).await {
            error = Some(DumpError::Queued(queued));
            continue;
        }
        busy.store(true, Ordering::Release);
        DUMPING.fetch_add(1, Ordering::SeqCst);
        let started = Instant::now();
        let (first_tx, first) = oneshot::channel();
        let dumping = async move {
            let first_took = Instant::now();
            let dump = match multi_thread {
                true => handle.dump().await,
                // A current-thread runtime is dumped from inside (tokio's rule).
                false => handle.spawn(async { Handle::current().dump().await }).await?,
            };
            let mut slow = multi_thread && first_took.elapsed() >= TOKIO_BARRIER_TIMEOUT;
            let _ = first_tx.send(dump);
            // A worker stuck at the end barrier is freed by the next dump's workers (README,
            // "Two tokio bugs"): dump again until one completes without a barrier timeout.
            let mut repairs = 0;
            while slow && repairs < MAX_REPAIRS {
                repairs += 1;
                if settle(&handle).await.is_err() {
                    continue;
                }
                let again = Instant::now();
                handle.dump().await;
                slow = again.elapsed() >= TOKIO_BARRIER_TIMEOUT;
            }
            Ok::<_, tokio::task::JoinError>(())
        };
        let busy_until_done = busy.clone();
        // On the snapshot thread's runtime, so a dump left waiting for a blocked worker, and
        // the repairs after a slow one, go on after this snapshot has answered.
        tokio::spawn(async move {
            let _ = dumping.await;
            DUMPING.fetch_sub(1, Ordering::SeqCst);
            busy_until_done.store(false, Ordering::Release);
        });
        match tokio::time::timeout(DUMP_TIMEOUT, first).await {
            Ok(Ok(dump)) => dumps.push(dump),
            // The runtime shut down under the dump.
            Ok(Err(_)) => {}
            // Left waiting; the runtime gets no new request until it answers.
            Err(_) => error = Some(DumpError::Timeout(DUMP_TIMEOUT)),
        }
        pause_ns += started.elapsed().as_nanos() as u64;
    }
    if dumps.is_empty() {
        return Err(error.unwrap_or(DumpError::NoRuntime));
    }
    let probe_leaves: HashMap<u64, ProbeLeaf> = std::mem::take(&mut *lock(&PROBE_LEAVES)).into_iter().collect();

    let resolving = Instant::now();
    let mut symbols = Symbols::default();
    let mut tasks = Vec::new();
    let mut traced = std::collections::HashSet::new();
    for dump in &dumps {
        for task in dump.tasks().iter() {
            let id = crate::runtime::task_id_u64(task.id());
            let mut paths: Vec<Vec<(String, Option<String>)>> = task
                .trace()
                .resolve_backtraces()
                .iter()
                .map(|bt| symbols.path_of(bt))
                .filter(|p| !p.is_empty())
                .collect();
            if paths.is_empty()
                && let Some(leaf) = probe_leaves.get(&id)
            {
                paths.push(symbols.probe_path(leaf));
            }
            traced.insert(id);
            tasks.push(TaskTrace { task: id, state: TaskState::Idle, frames: tree(paths) });
        }
    }
    let resolve_ns = resolving.elapsed().as_nanos() as u64;

    // States from the run's own events (tokio's dump does not say which tasks were queued).
    states.update(log);
    for task in &mut tasks {
        task.state = states.state_of(task.task);
    }
    for (&id, st) in &states.tasks {
        if !traced.contains(&id) && st.in_poll {
            tasks.push(TaskTrace { task: id, state: TaskState::Running, frames: Vec::new() });
        }
    }
    tasks.sort_by_key(|t| t.task);
    Ok(Snapshot { t, reason, tasks, pause_ns, resolve_ns })
}

/// Waits until the runtime has rested in `QUIET_SAMPLES` samples in a row, 1 ms apart: every
/// worker either parked or still in the same poll (tokio's park and poll counts unchanged since
/// the sample before), and at most `MAX_QUEUED` tasks in their run queues; for up to
/// `SETTLE_TIMEOUT`, else answers how many tasks were queued last. Resting, because a worker
/// that notices the dump while running polls one more task before it stops, and that task may
/// spawn or wake hundreds (a spawning loop, a broadcast) into its queue; a parked worker goes
/// from its park straight to the barrier, with only the timers and I/O that became ready
/// meanwhile. (A worker blocked in a poll stays a risk: once its poll returns it may run
/// others before it notices the dump.)
#[cfg(feature = "taskdump")]
async fn settle(handle: &Handle) -> Result<(), usize> {
    let metrics = handle.metrics();
    let workers = metrics.num_workers();
    let queued = || (0..workers).map(|w| metrics.worker_local_queue_depth(w)).sum::<usize>();
    // The park count is odd while a worker is parked; both counts are published when a worker
    // parks and at its periodic maintenance, so a running worker changes them.
    let counts = || {
        (0..workers).map(|w| (metrics.worker_park_unpark_count(w), metrics.worker_poll_count(w))).collect::<Vec<_>>()
    };
    let deadline = tokio::time::Instant::now() + SETTLE_TIMEOUT;
    let mut quiet = 0;
    let mut last = counts();
    loop {
        tokio::time::sleep(Duration::from_millis(1)).await;
        let n = queued();
        let now = counts();
        let resting = now == last;
        last = now;
        quiet = if n <= MAX_QUEUED && resting { quiet + 1 } else { 0 };
        if quiet >= QUIET_SAMPLES {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(n);
        }
    }
}

// ---- task states from the run's events -----------------------------------------------------

#[derive(Default)]
struct TaskStatus {
    in_poll: bool,
    woken: bool,
}

/// Each task's status as the run's stored events tell it, read incrementally.
#[derive(Default)]
struct TaskStates {
    run: u16,
    start: u64,
    pos: usize,
    tasks: HashMap<u64, TaskStatus>,
}

impl TaskStates {
    fn update(&mut self, log: &RunLog) {
        use crate::event::Stored;
        if self.run != log.id || self.start != log.start {
            *self = TaskStates { run: log.id, start: log.start, ..TaskStates::default() };
        }
        let inner = log.lock();
        for ev in inner.events.iter_from(self.pos) {
            match ev.get() {
                Stored::Spawn { task, .. } => {
                    self.tasks.insert(task, TaskStatus::default());
                }
                Stored::PollStart { task, .. } => {
                    let st = self.tasks.entry(task).or_default();
                    st.in_poll = true;
                    st.woken = false;
                }
                Stored::PollEnd { task, .. } => self.tasks.entry(task).or_default().in_poll = false,
                Stored::Wake { task, .. } => self.tasks.entry(task).or_default().woken = true,
                Stored::Done { task, .. } => {
                    self.tasks.remove(&task);
                }
                _ => {}
            }
        }
        self.pos = inner.events.len();
    }

    fn state_of(&self, task: u64) -> TaskState {
        match self.tasks.get(&task) {
            Some(st) if st.woken => TaskState::Scheduled,
            _ => TaskState::Idle,
        }
    }
}

// ---- symbols -------------------------------------------------------------------------------

/// Names and places of resolved symbols, shortened once per distinct string.
#[derive(Default)]
struct Symbols {
    names: HashMap<String, String>,
    files: HashMap<std::path::PathBuf, String>,
}

impl Symbols {
    fn name(&mut self, raw: &str) -> String {
        if let Some(n) = self.names.get(raw) {
            return n.clone();
        }
        let n = clean_name(raw);
        self.names.insert(raw.to_owned(), n.clone());
        n
    }

    fn loc(&mut self, file: Option<&Path>, line: Option<u32>) -> Option<String> {
        let file = file?;
        let short = match self.files.get(file) {
            Some(s) => s.clone(),
            None => {
                let s = short_path(file);
                self.files.insert(file.to_owned(), s.clone());
                s
            }
        };
        Some(match line {
            Some(l) => format!("{short}:{l}"),
            None => short,
        })
    }

    /// One of tokio's backtraces (frames innermost first, each frame's inlined symbols innermost
    /// first) as a path of (fn, loc), outermost first.
    #[cfg(feature = "taskdump")]
    fn path_of(&mut self, bt: &tokio::runtime::dump::Backtrace) -> Vec<(String, Option<String>)> {
        let mut path = Vec::new();
        let frames: Vec<_> = bt.frames().collect();
        for frame in frames.into_iter().rev() {
            let syms: Vec<_> = frame.symbols().collect();
            for sym in syms.into_iter().rev() {
                let name = sym.name_demangled().map(|n| self.name(n)).unwrap_or_else(|| "?".to_owned());
                let loc = self.loc(sym.filename(), sym.lineno());
                path.push((name, loc));
            }
        }
        path
    }

    /// A probe's backtrace, from the task's root to the probe, then the probed future as the leaf.
    fn probe_path(&mut self, leaf: &ProbeLeaf) -> Vec<(String, Option<String>)> {
        // Frames innermost first, resolved one by one up to the task's root only: the frames
        // above it (scheduler, thread start, libc) would cost the most to resolve.
        let mut inner_first = Vec::new();
        'frames: for frame in leaf.backtrace.frames() {
            let mut syms = Vec::new();
            // A return address: look up the call instruction before it.
            let ip = (frame.ip() as usize).saturating_sub(1) as *mut std::ffi::c_void;
            backtrace::resolve(ip, |sym| {
                let raw = sym.name().map(|n| format!("{n:#}")).unwrap_or_else(|| "?".to_owned());
                syms.push((raw, sym.filename().map(Path::to_owned), sym.lineno()));
            });
            // `resolve` lists inlined symbols innermost first too.
            for (raw, file, line) in syms {
                let name = self.name(&raw);
                if name.contains("tokio::runtime::task::trace::Root") {
                    break 'frames;
                }
                if name.starts_with("backtrace::") || name.contains("futurescope_recorder::dump::") {
                    continue;
                }
                let loc = self.loc(file.as_deref(), line);
                inner_first.push((name, loc));
            }
        }
        inner_first.reverse();
        inner_first.push((clean_name(leaf.future), Some(format!("{}:{}", leaf.site.file, leaf.site.line))));
        inner_first
    }
}

/// Drops a legacy-mangled name's `::h0123456789abcdef` hash.
fn clean_name(raw: &str) -> String {
    match raw.rsplit_once("::h") {
        Some((head, hash)) if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => head.to_owned(),
        _ => raw.to_owned(),
    }
}

/// The workspace this crate was built in (scenario files are named relative to it).
fn workspace_root() -> &'static Path {
    static ROOT: OnceLock<std::path::PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        manifest.parent().and_then(Path::parent).unwrap_or(manifest).to_owned()
    })
}

/// A source path as the page shows it: relative to the workspace or the current directory, a
/// registry crate's path from its `name-version/` directory, the standard library's from
/// `library/`.
pub fn short_path(file: &Path) -> String {
    if let Ok(rel) = file.strip_prefix(workspace_root()) {
        return rel.display().to_string();
    }
    if let Ok(cwd) = std::env::current_dir()
        && let Ok(rel) = file.strip_prefix(&cwd)
    {
        return rel.display().to_string();
    }
    let s = file.display().to_string();
    if let Some(i) = s.find("/registry/src/") {
        let rest = &s[i + "/registry/src/".len()..];
        if let Some(j) = rest.find('/') {
            return rest[j + 1..].to_owned();
        }
    }
    if let Some(i) = s.find("/library/")
        && s.starts_with("/rustc/")
    {
        return s[i + 1..].to_owned();
    }
    s
}

/// Merges paths (outermost first) into one tree, listed in pre-order with depths. Paths that
/// share their first frames share those nodes: a `select!` over two futures is one task frame
/// with two branches.
pub fn tree(paths: Vec<Vec<(String, Option<String>)>>) -> Vec<Frame> {
    struct Node {
        key: (String, Option<String>),
        children: Vec<usize>,
    }
    let mut nodes: Vec<Node> = Vec::new();
    let mut roots: Vec<usize> = Vec::new();
    for path in paths {
        let mut level: Option<usize> = None;
        for key in path {
            let siblings = match level {
                None => &roots,
                Some(p) => &nodes[p].children,
            };
            let found = siblings.iter().copied().find(|&i| nodes[i].key == key);
            let idx = match found {
                Some(i) => i,
                None => {
                    nodes.push(Node { key, children: Vec::new() });
                    let i = nodes.len() - 1;
                    match level {
                        None => roots.push(i),
                        Some(p) => nodes[p].children.push(i),
                    }
                    i
                }
            };
            level = Some(idx);
        }
    }
    let mut out = Vec::with_capacity(nodes.len());
    let mut stack: Vec<(usize, u32)> = roots.iter().rev().map(|&i| (i, 0)).collect();
    while let Some((i, depth)) = stack.pop() {
        let (func, loc) = nodes[i].key.clone();
        out.push(Frame { function: func, loc: loc.unwrap_or_default(), depth });
        stack.extend(nodes[i].children.iter().rev().map(|&c| (c, depth + 1)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(items: &[(&str, &str)]) -> Vec<(String, Option<String>)> {
        items.iter().map(|(f, l)| (f.to_string(), Some(l.to_string()))).collect()
    }

    #[test]
    fn paths_sharing_a_prefix_become_one_tree_in_pre_order() {
        let frames = tree(vec![
            p(&[("task", "a.rs:1"), ("select", "a.rs:2"), ("child_a", "a.rs:10"), ("Sleep::poll", "sleep.rs:1")]),
            p(&[("task", "a.rs:1"), ("select", "a.rs:2"), ("child_b", "a.rs:20"), ("Sleep::poll", "sleep.rs:1")]),
        ]);
        let got: Vec<(&str, u32)> = frames.iter().map(|f| (f.function.as_str(), f.depth)).collect();
        assert_eq!(
            got,
            [("task", 0), ("select", 1), ("child_a", 2), ("Sleep::poll", 3), ("child_b", 2), ("Sleep::poll", 3)]
        );
    }

    #[test]
    fn names_lose_their_hash_and_paths_their_machine_prefix() {
        assert_eq!(clean_name("foo::bar::h0123456789abcdef"), "foo::bar");
        assert_eq!(clean_name("foo::hello"), "foo::hello");
        let root = workspace_root().join("scenarios/src/x.rs");
        assert_eq!(short_path(&root), "scenarios/src/x.rs");
        assert_eq!(
            short_path(Path::new(
                "/home/u/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/tokio-1.54.1/src/time/sleep.rs"
            )),
            "tokio-1.54.1/src/time/sleep.rs"
        );
        assert_eq!(
            short_path(Path::new("/rustc/abc123/library/core/src/future/future.rs")),
            "library/core/src/future/future.rs"
        );
    }
}

//! The collector: one thread that drains every thread's buffer, orders the records by time,
//! routes them to their runs and turns them into stored events.
//!
//! It owns all the state that would be shared if the hot path kept it: which run a task
//! belongs to, which lane a thread is in a run, spawn metadata, probe ids, lint state. It runs
//! on a plain thread outside any runtime and emits no tracing, so it never records itself.
//!
//! Ordering: each thread's records are in time order, but threads publish independently, so
//! a drain keeps back the records of the last `HOLD_NS` (they may still be joined by earlier
//! records from a thread that was preempted between reading the clock and publishing) unless
//! a flush asks for everything.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::buffer::{self, SideEntry, SpawnInfo, ThreadShared};
use crate::capture::SPAN_ID_FLAG;
use crate::clock;
use crate::event::{LaneKind, PollCause, Snapshot, Stored, StoredEvent, WakeOp};
use crate::idmap::IdMap;
use crate::lint::{Finding, LintThresholds};
use crate::log::{RunLog, RunLogInner, TaskFlags, ThreadLane};
use crate::record::{
    FLAG_BY_REF, FLAG_DROP, FLAG_PANICKED, FLAG_READY, FLAG_TENTATIVE, Outcome, ProbeState, Record, RecordKind,
};
use crate::sync::{LockUnpoisoned, Unpoisoned};

/// How far behind "now" a regular drain stops: longer than a thread is likely to be
/// descheduled between reading the clock and publishing its record on a loaded machine (10 ms
/// was seen to be too short on two busy cores); it is also the live view's extra latency.
const HOLD_NS: u64 = 50_000_000;
/// How often the collector drains when nobody asks it to.
const TICK: Duration = Duration::from_millis(5);
/// How long the collector thread whose turn it is not waits between looks (see `Role`).
const IDLE_WAIT: Duration = Duration::from_millis(100);
/// How long a drain may wait for a core to be free (see `collector_thread`).
const MAX_DEFER: Duration = Duration::from_millis(200);
/// How long past the horizon a tentative poll's end waits for what follows it on its thread
/// (see `classify`): the drop of a future follows its last poll at once, so this only matters
/// for a thread preempted right there; a thread that parked after a poll is not waited for
/// longer than this.
const TENTATIVE_GRACE_NS: u64 = 20_000_000;

/// Recorder settings, fixed when it starts.
#[derive(Clone, Debug)]
pub struct RecorderConfig {
    /// Memory for records not yet read by the collector, in bytes (threads take 2 MiB chunks
    /// of it). When it is all in use, further records are dropped and counted.
    pub buffer_bytes: usize,
    /// How much of `buffer_bytes` the recorder faults in when it starts (in the background) and
    /// keeps mapped while idle, so that a burst of records is written to warm memory: the
    /// first write to a fresh page costs a page clear in the kernel, on the recording thread.
    pub warm_bytes: usize,
    pub lints: LintThresholds,
    /// Whether a thread of its own watches open polls and says why a long one was long
    /// (`poll_cause` events; Linux only, see `causes.rs`). On unless the environment variable
    /// `FUTURESCOPE_POLL_WATCHER` is `0`.
    pub watch_polls: bool,
}

impl Default for RecorderConfig {
    fn default() -> Self {
        RecorderConfig {
            buffer_bytes: 256 << 20,
            warm_bytes: 128 << 20,
            lints: LintThresholds::default(),
            watch_polls: std::env::var_os("FUTURESCOPE_POLL_WATCHER").is_none_or(|v| v != "0"),
        }
    }
}

/// The process's recorder: owns the collector thread. Get it with `Recorder::global`.
pub struct Recorder {
    shared: Arc<Shared>,
    /// The collector's state; one of its two threads drains at a time (see `collector_thread`).
    collector: Arc<Mutex<Collector>>,
    /// The live collector thread, started by the first `watch_live`.
    live_thread: std::sync::Once,
}

struct Shared {
    runs: Mutex<HashMap<u16, Arc<RunLog>>>,
    /// Runs being finished: a flush hands over all their records at once (their threads are
    /// done), while other runs' recent records are still held back to keep their order.
    finishing: Mutex<Vec<u16>>,
    next_run: AtomicU16,
    /// The run that records from threads working for no run go to (0: none; they are dropped).
    default_run: AtomicU16,
    flush: Mutex<FlushState>,
    flushed: Condvar,
    wake: Condvar,
    stop: AtomicBool,
    /// Set once the collector has faulted in the warm part of the buffers.
    warm: AtomicBool,
    /// Snapshots handed over by `Recorder::push_snapshot`: (run, clock::now() when taken, it).
    snapshots: Mutex<Vec<(u16, u64, Snapshot)>>,
    /// Clients following a running run live (`Recorder::watch_live`): while there are any, the
    /// live collector thread drains instead of the background one.
    live_viewers: AtomicUsize,
    /// Set once the live collector thread runs (until then the background one drains for all).
    live_thread_up: AtomicBool,
    config: RecorderConfig,
}

#[derive(Default)]
struct FlushState {
    requested: u64,
    completed: u64,
}

static GLOBAL: OnceLock<Recorder> = OnceLock::new();

impl Recorder {
    /// The process-wide recorder, started with `config` on first call (later configs are ignored).
    pub fn global_with(config: RecorderConfig) -> &'static Recorder {
        GLOBAL.get_or_init(|| Recorder::start(config))
    }

    pub fn global() -> &'static Recorder {
        Recorder::global_with(RecorderConfig::default())
    }

    fn start(config: RecorderConfig) -> Recorder {
        clock::init();
        buffer::set_limits(config.buffer_bytes / buffer::CHUNK_BYTES, config.warm_bytes / buffer::CHUNK_BYTES);
        let shared = Arc::new(Shared {
            runs: Mutex::new(HashMap::new()),
            finishing: Mutex::new(Vec::new()),
            next_run: AtomicU16::new(1),
            default_run: AtomicU16::new(0),
            flush: Mutex::new(FlushState::default()),
            flushed: Condvar::new(),
            wake: Condvar::new(),
            stop: AtomicBool::new(false),
            warm: AtomicBool::new(false),
            snapshots: Mutex::new(Vec::new()),
            live_viewers: AtomicUsize::new(0),
            live_thread_up: AtomicBool::new(false),
            config,
        });
        if shared.config.watch_polls {
            crate::causes::start(shared.config.lints.long_poll_ns);
        } else {
            crate::causes::mark_started();
        }
        let collector = Arc::new(Mutex::new(Collector::new(shared.clone())));
        let (for_thread, state) = (shared.clone(), collector.clone());
        std::thread::Builder::new()
            .name("futurescope-collector".into())
            .spawn(move || collector_thread(for_thread, state, Role::Background))
            .expect("spawning the collector thread failed: the OS refused a thread");
        Recorder { shared, collector, live_thread: std::sync::Once::new() }
    }

    /// Somebody follows a running run live (a WebSocket client): until the returned guard is
    /// dropped, records are drained by a collector thread at normal priority that does not wait
    /// for a free core, so the live view keeps up on a saturated machine. Without live viewers
    /// the background thread drains, at the lowest priority, and the recording costs a busy
    /// program the least. The live thread is started on the first call, from the caller's thread.
    pub fn watch_live(&self) -> LiveViewer {
        self.live_thread.call_once(|| {
            let (shared, state) = (self.shared.clone(), self.collector.clone());
            let spawned = std::thread::Builder::new()
                .name("futurescope-collector-live".into())
                .spawn(move || collector_thread(shared, state, Role::Live));
            if let Err(e) = spawned {
                // The background thread still drains everything, only later.
                eprintln!("futurescope: no live collector thread ({e}); the live view may lag");
            }
        });
        self.shared.live_viewers.fetch_add(1, Ordering::Relaxed);
        self.shared.wake.notify_all();
        LiveViewer { shared: self.shared.clone() }
    }

    /// Whether the recorder's start-up work is over: the collector has faulted in the warm part
    /// of the buffers (`RecorderConfig::warm_bytes`) and the poll watcher's symbolizer has read
    /// the binary's debug info (about a core's quarter second, beside the program's threads).
    /// Recording works before that; a benchmark waits for it.
    pub fn is_warm(&self) -> bool {
        self.shared.warm.load(Ordering::Acquire) && crate::causes::started()
    }

    /// When the lint rules fire for the runs this recorder starts (the `long_poll` threshold is
    /// also the dashboard's default stall highlight).
    pub fn lint_thresholds(&self) -> LintThresholds {
        self.shared.config.lints
    }

    /// Starts recording a run; threads put in its context (see `runtime::instrument`) record into it.
    pub fn begin_run(&self) -> Arc<RunLog> {
        let mut runs = self.shared.runs.lock_unpoisoned();
        let id = loop {
            let id = self.shared.next_run.fetch_add(1, Ordering::Relaxed);
            if id != 0 && !runs.contains_key(&id) {
                break id;
            }
        };
        let log = Arc::new(RunLog::new(id, clock::now()));
        {
            let mut inner = log.lock();
            inner.lints.thresholds = self.shared.config.lints;
            inner.lints.await_causes = crate::causes::watching();
        }
        runs.insert(id, log.clone());
        crate::causes::run_begun();
        log
    }

    /// Makes `run` the run of every thread that works for no run (a program recording itself:
    /// its runtimes have no hooks that would say which run they work for). 0 undoes it.
    pub fn set_default_run(&self, run: u16) {
        self.shared.default_run.store(run, Ordering::Relaxed);
    }

    /// Records `snapshot` (what every live task of run `run` is doing now) as a `snapshot`
    /// event of that run. It takes its place among the run's other events by time, like a
    /// thread's record. Returns its `t` (ns since the run began), or `None` when `run` is not
    /// being recorded (never begun, or finished).
    pub fn push_snapshot(&self, run: u16, snapshot: Snapshot) -> Option<u64> {
        let start = self.shared.runs.lock_unpoisoned().get(&run)?.start;
        let now = clock::now();
        self.shared.snapshots.lock_unpoisoned().push((run, now, snapshot));
        self.shared.wake.notify_all();
        Some(now.saturating_sub(start))
    }

    /// Waits for a drain that hands over every record of the runs being finished (see
    /// `finish_run`); other runs' most recent records may still be held back for ordering.
    pub fn flush(&self) {
        let mut st = self.shared.flush.lock_unpoisoned();
        st.requested += 1;
        let want = st.requested;
        self.shared.wake.notify_all();
        while st.completed < want {
            st = self.shared.flushed.wait(st).unpoisoned();
        }
    }

    /// Ends a run: flushes, applies end-of-run lints, marks the log finished and stops routing
    /// records to it (records arriving later for it are discarded).
    pub fn finish_run(&self, log: &RunLog) {
        // The causes of the run's last polls are handed over before the final flush.
        crate::causes::settle();
        self.shared.finishing.lock_unpoisoned().push(log.id);
        self.flush();
        self.shared.finishing.lock_unpoisoned().retain(|&r| r != log.id);
        let now = clock::now().saturating_sub(log.start);
        {
            let mut inner = log.lock();
            let mut findings = Vec::new();
            inner.lints.finish(now, &mut findings);
            store_findings(&mut inner, findings);
            inner.store_due_snapshots(None);
            inner.finished = true;
        }
        if self.shared.runs.lock_unpoisoned().remove(&log.id).is_some() {
            crate::causes::run_finished();
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        self.shared.wake.notify_all();
    }
}

/// A client following a run live; see `Recorder::watch_live`.
pub struct LiveViewer {
    shared: Arc<Shared>,
}

impl Drop for LiveViewer {
    fn drop(&mut self) {
        self.shared.live_viewers.fetch_sub(1, Ordering::Relaxed);
        self.shared.wake.notify_all();
    }
}

impl std::fmt::Debug for LiveViewer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LiveViewer")
    }
}

/// Stores lint findings; true if one was a `lost_wake` (a snapshot shows where that task is stuck).
fn store_findings(inner: &mut RunLogInner, findings: Vec<Finding>) -> bool {
    let mut lost_wake = false;
    for f in findings {
        lost_wake |= f.rule == crate::lint::LintRule::LostWake;
        let idx = inner.push_string(f.detail);
        let task = (f.task != 0).then_some(f.task);
        inner.events.push(StoredEvent::new(f.t, Stored::Lint { task, since: f.since, detail: idx, rule: f.rule }));
        inner.counts.events += 1;
    }
    lost_wake
}

/// The collector's CPU priority. It is background work: while the buffers have room it runs
/// under Linux's `SCHED_IDLE` policy, so it takes a core only when that core would otherwise
/// idle, and a program that keeps every core busy is barely slowed by its own recording: the
/// per-thread buffers absorb the backlog. (At `nice` 19 instead, a core running only the
/// collector counts as busy, and the kernel was seen to leave both workers of a 2-worker
/// runtime on the other core for 80 ms.) When the backlog passes three quarters of the buffer
/// budget the collector asks to compete at normal priority, so records are not dropped; leaving
/// `SCHED_IDLE` needs `CAP_SYS_NICE` (or a permissive `RLIMIT_NICE`), and without it the
/// collector stays in the background and any records that do not fit are counted as dropped.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Priority {
    Background,
    Normal,
}

/// Applies `p` to the calling thread; false if the system refused.
fn set_priority(p: Priority) -> bool {
    #[cfg(target_os = "linux")]
    // SAFETY: plain system calls on the calling thread (pid 0); the parameter outlives the call.
    unsafe {
        let param = libc::sched_param { sched_priority: 0 };
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        match p {
            Priority::Background => {
                libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) == 0
                    // No SCHED_IDLE (an unusual kernel): the lowest normal priority is next best.
                    || libc::setpriority(libc::PRIO_PROCESS, tid, 19) == 0
            }
            Priority::Normal => {
                libc::sched_setscheduler(0, libc::SCHED_OTHER, &param) == 0
                    && libc::setpriority(libc::PRIO_PROCESS, tid, 0) == 0
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = p;
        false
    }
}

/// Whether other threads keep every core busy, from the kernel's count of runnable threads
/// (`/proc/loadavg`, system-wide, the reader included). Where that is not available, never.
struct Saturation {
    cores: usize,
    text: String,
}

impl Saturation {
    fn new() -> Saturation {
        Saturation { cores: std::thread::available_parallelism().map_or(1, usize::from), text: String::new() }
    }

    fn check(&mut self) -> bool {
        use std::io::Read;
        self.text.clear();
        let read = std::fs::File::open("/proc/loadavg").and_then(|mut f| f.read_to_string(&mut self.text));
        if read.is_err() {
            return false;
        }
        // "0.52 0.58 0.59 3/345 12345": the fourth field is runnable/total.
        let running = self.text.split_whitespace().nth(3).and_then(|f| f.split('/').next()?.parse::<usize>().ok());
        running.is_some_and(|r| r > self.cores)
    }
}

/// Which of the collector's two threads.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Role {
    /// Always there, at the lowest priority; drains while nobody watches a run live.
    Background,
    /// At normal priority, started by the first `Recorder::watch_live`; drains while somebody does.
    Live,
}

/// A collector thread's loop. Both threads share the collector's state and take turns by the
/// number of live viewers, so one drains at a time and neither waits for the other (except
/// for the drain in progress when a viewer arrives or leaves).
fn collector_thread(shared: Arc<Shared>, collector: Arc<Mutex<Collector>>, role: Role) {
    let mut priority = match role {
        Role::Background => Priority::Background,
        Role::Live => Priority::Normal,
    };
    match role {
        Role::Background => {
            // Still at the priority of the thread that started the recorder: faulting the pool
            // in holds the process's memory-map lock for each chunk, and a `SCHED_IDLE` thread
            // preempted by busy threads while it holds it stalls every thread that maps memory
            // (the live collector thread growing a buffer, an allocator asking for pages) for as
            // long as the machine stays busy. With a CPU hog on both cores a prefill took 0.9 s
            // instead of 60 ms and the live view stalled 0.7 to 5 s behind it.
            buffer::prefill_pool();
            shared.warm.store(true, Ordering::Release);
            set_priority(priority);
        }
        Role::Live => {
            set_priority(priority);
            shared.live_thread_up.store(true, Ordering::Release);
        }
    }
    let mut saturated = Saturation::new();
    let mut deferred_since: Option<Instant> = None;
    loop {
        let mine = |shared: &Shared| {
            let live = shared.live_viewers.load(Ordering::Relaxed) > 0 && shared.live_thread_up.load(Ordering::Acquire);
            live == (role == Role::Live)
        };
        let target = {
            let st = shared.flush.lock_unpoisoned();
            // The thread whose turn it is not waits longer: a new viewer or a flush wakes it.
            let wait = if mine(&shared) { TICK } else { IDLE_WAIT };
            let st = if st.requested == st.completed || !mine(&shared) {
                shared.wake.wait_timeout(st, wait).unpoisoned().0
            } else {
                st
            };
            st.requested
        };
        if shared.stop.load(Ordering::Relaxed) {
            return;
        }
        if !mine(&shared) {
            deferred_since = None;
            continue;
        }
        let mut state = collector.lock_unpoisoned();
        let forced = {
            let st = shared.flush.lock_unpoisoned();
            st.completed < target
        };
        // While every core is busy the background drain waits, up to `MAX_DEFER` (unless asked
        // for, or the backlog grows): a core that runs only the collector still looks busy to
        // the kernel's periodic balancer, which was seen to leave both workers of a 2-worker
        // runtime sharing the other core for most of a 90 ms burst. Waiting leaves that core
        // idle, so the kernel moves a worker to it at once; the buffers hold the records
        // meanwhile. The live thread never waits: somebody is watching.
        let defer = role == Role::Background && !forced && buffer::budget_used() < 0.5 && saturated.check();
        match (defer, deferred_since) {
            (true, None) => deferred_since = Some(Instant::now()),
            (true, Some(since)) if since.elapsed() < MAX_DEFER => {}
            _ => {
                deferred_since = None;
                state.drain(forced);
            }
        }
        drop(state);
        if role == Role::Background {
            let wanted = match buffer::budget_used() {
                u if u > 0.75 => Priority::Normal,
                u if u < 0.4 => Priority::Background,
                _ => priority,
            };
            if wanted != priority && set_priority(wanted) {
                priority = wanted;
            }
        }
        if forced {
            let mut st = shared.flush.lock_unpoisoned();
            st.completed = st.completed.max(target);
            shared.flushed.notify_all();
        }
    }
}

/// Per-thread reading position: the chunk last read as "current", and how far.
#[derive(Default)]
struct Cursor {
    chunk: usize,
    read: usize,
}

struct Collector {
    shared: Arc<Shared>,
    threads: Vec<Arc<ThreadShared>>,
    cursors: HashMap<u32, Cursor>,
    /// Lane name and role of each thread seen (refreshed every drain: a run may label a thread).
    thread_info: IdMap<u32, (String, u8)>,
    side: HashMap<(u32, u64), SideEntry>,
    /// Snapshots taken over from `Shared::snapshots`, by the sequence number their record carries.
    snapshots: IdMap<u64, Snapshot>,
    next_snapshot: u64,
    /// Long polls' causes taken over from the watcher (`causes::take_found`), by the sequence
    /// number their record carries.
    causes: IdMap<u64, PollCause>,
    next_cause: u64,
    task_run: IdMap<u64, u16>,
    /// A `lost_wake` was found while storing the current run's records (it gets a snapshot).
    lost_wake: bool,
    /// Registry span id -> task id, from spawn records (layer mode only).
    span_task: IdMap<u64, u64>,
    batch: Vec<Record>,
    held: Vec<Record>,
    /// Records past the horizon handed over early because their run is being finished.
    released: Vec<Record>,
    /// This drain's records per run (few runs: a vector beats a map).
    per_run: Vec<(u16, Vec<Record>)>,
    /// Dropped counts per run, found this drain.
    dropped: HashMap<u16, u64>,
    /// How many runs were live at the last drain.
    live_runs: usize,
}

impl Collector {
    fn new(shared: Arc<Shared>) -> Collector {
        Collector {
            shared,
            threads: Vec::new(),
            cursors: HashMap::new(),
            thread_info: IdMap::default(),
            side: HashMap::new(),
            snapshots: IdMap::default(),
            next_snapshot: 0,
            causes: IdMap::default(),
            next_cause: 0,
            task_run: IdMap::default(),
            lost_wake: false,
            span_task: IdMap::default(),
            batch: Vec::new(),
            held: Vec::new(),
            released: Vec::new(),
            per_run: Vec::new(),
            dropped: HashMap::new(),
            live_runs: 0,
        }
    }

    /// Reads every thread's new records into `self.batch`; returns the earliest time of a
    /// record some thread has taken but not yet published (`u64::MAX`: none).
    fn read_threads(&mut self) -> u64 {
        buffer::registered_threads(&mut self.threads);
        let mut pending = u64::MAX;
        for thread in &self.threads {
            // Before the chunks: a record published before `pending_since` was reset is then
            // visible below.
            for p in [thread.pending_since.load(Ordering::Acquire), thread.handing_off_since.load(Ordering::Acquire)] {
                if p != u64::MAX {
                    pending = pending.min(clock::ticks_to_ns(p));
                }
            }
            let closed = thread.closed.load(Ordering::Acquire);
            let (full, current) = {
                let mut hand_off = thread.lock();
                (std::mem::take(&mut hand_off.full), hand_off.current.clone())
            };
            let cursor = self.cursors.entry(thread.index).or_default();
            for chunk in full {
                let ptr = Arc::as_ptr(&chunk) as usize;
                let from = if ptr == cursor.chunk { cursor.read } else { 0 };
                chunk.published_from(from, thread.index, &mut self.batch);
                if ptr == cursor.chunk {
                    *cursor = Cursor::default();
                }
                buffer::recycle(chunk);
            }
            if let Some(chunk) = current {
                let ptr = Arc::as_ptr(&chunk) as usize;
                let from = if ptr == cursor.chunk { cursor.read } else { 0 };
                let read = chunk.published_from(from, thread.index, &mut self.batch);
                *cursor = Cursor { chunk: ptr, read };
            }
            let side = std::mem::take(&mut *thread.side.lock_unpoisoned());
            for (seq, entry) in side {
                self.side.insert((thread.index, u64::from(seq)), entry);
            }
            let dropped = thread.dropped.swap(0, Ordering::Relaxed);
            if dropped > 0 {
                *self.dropped.entry(thread.last_run.load(Ordering::Relaxed)).or_default() += dropped;
            }
            let name = thread.name.lock_unpoisoned().clone();
            self.thread_info.insert(thread.index, (name, thread.role.load(Ordering::Relaxed)));
            if closed {
                // Its last records were read above; it will write no more.
                self.cursors.remove(&thread.index);
                if let Some(chunk) = thread.lock().current.take() {
                    buffer::recycle(chunk);
                }
                buffer::forget_thread(thread.index);
            }
        }
        pending
    }

    fn drain(&mut self, forced: bool) {
        let now = clock::now();
        self.batch.clear();
        self.batch.append(&mut self.held);
        let first_new = self.batch.len();
        let pending = self.read_threads();
        for rec in &mut self.batch[first_new..] {
            rec.t = clock::ticks_to_ns(rec.t);
        }
        for (run, t, snapshot) in std::mem::take(&mut *self.shared.snapshots.lock_unpoisoned()) {
            self.next_snapshot += 1;
            self.snapshots.insert(self.next_snapshot, snapshot);
            self.batch.push(Record { t, run, kind: RecordKind::Snapshot, c: self.next_snapshot, ..Record::default() });
        }
        // Before the causes found are taken (see `causes::held_since`).
        let held_since = crate::causes::held_since();
        for found in crate::causes::take_found() {
            self.next_cause += 1;
            self.causes.insert(self.next_cause, found.cause);
            let (t, task, a, b, c) = (found.t, found.task, found.since, found.thread, self.next_cause);
            self.batch.push(Record { t, task, a, b, c, kind: RecordKind::PollCause, ..Record::default() });
        }
        self.batch.sort_by_key(|r| r.t);
        // Everything up to `horizon` is final: no thread can still publish an earlier record.
        // Later records wait for the next drain, except, in a flush, those of the runs being
        // finished (their threads have stopped, so nothing earlier can come).
        let mut horizon = now.saturating_sub(HOLD_NS).min(pending.saturating_sub(1));
        // Nor can a long poll's cause whose stacks are being symbolized.
        horizon = horizon.min(held_since.saturating_sub(1));
        if let Some(waiting) = classify(&mut self.batch, now.saturating_sub(HOLD_NS + TENTATIVE_GRACE_NS)) {
            horizon = horizon.min(waiting.saturating_sub(1));
        }
        let keep_from = self.batch.partition_point(|r| r.t <= horizon);
        let finishing: Vec<u16> = if forced { self.shared.finishing.lock_unpoisoned().clone() } else { Vec::new() };
        let default_run = self.shared.default_run.load(Ordering::Relaxed);
        let runs: HashMap<u16, Arc<RunLog>> = self.shared.runs.lock_unpoisoned().clone();
        // The tasks spawned in this batch, before any record is routed: a record without a run
        // (a probe dropped outside any poll, at a runtime's shutdown) goes to its task's run, and
        // in a flush it is released with the finishing run's records only if that run is known
        // now, even when the task's spawn is in this same batch.
        for rec in &self.batch {
            if rec.kind != RecordKind::Spawn {
                continue;
            }
            let run = if rec.run != 0 { rec.run } else { default_run };
            // A task of the default run needs no entry: the lookups fall back to it anyway. (A
            // program's run is the default run and lasts as long as the program: an entry per
            // task would grow with every task it ever spawned.)
            if run != 0 && run != default_run && runs.contains_key(&run) {
                self.task_run.insert(rec.task, run);
            }
            if let Some(SideEntry::Spawn(SpawnInfo { span: Some(span), .. })) = self.side.get(&(rec.b, rec.c)) {
                self.span_task.insert(*span, rec.task);
            }
        }
        for rec in self.batch.drain(keep_from..).collect::<Vec<_>>() {
            let run = if rec.run != 0 { rec.run } else { self.task_run.get(&rec.task).copied().unwrap_or(default_run) };
            if finishing.contains(&run) { self.released.push(rec) } else { self.held.push(rec) }
        }
        self.batch.append(&mut self.released);
        let mut last: Option<usize> = None;
        for mut rec in self.batch.drain(..) {
            if rec.task & SPAN_ID_FLAG != 0 {
                match self.span_task.get(&(rec.task & !SPAN_ID_FLAG)) {
                    Some(&task) => rec.task = task,
                    None => continue,
                }
            }
            let run = if rec.run != 0 { rec.run } else { self.task_run.get(&rec.task).copied().unwrap_or(default_run) };
            let live = match last {
                Some(i) if self.per_run[i].0 == run => true,
                _ => run != 0 && runs.contains_key(&run),
            };
            if !live {
                // Not for any live run: its side data (spawn metadata, mark text) goes too.
                if matches!(rec.kind, RecordKind::Spawn | RecordKind::Mark) {
                    self.side.remove(&(rec.b, rec.c));
                }
                if rec.kind == RecordKind::Snapshot {
                    self.snapshots.remove(&rec.c);
                }
                if rec.kind == RecordKind::PollCause {
                    self.causes.remove(&rec.c);
                }
                continue;
            }
            let slot = match last {
                Some(i) if self.per_run[i].0 == run => i,
                _ => match self.per_run.iter().position(|(r, _)| *r == run) {
                    Some(i) => i,
                    None => {
                        self.per_run.push((run, Vec::new()));
                        self.per_run.len() - 1
                    }
                },
            };
            last = Some(slot);
            self.per_run[slot].1.push(rec);
        }
        for (run, log) in &runs {
            let slot = self.per_run.iter().position(|(r, _)| r == run);
            // Taken out for `store(&mut self)`, put back (cleared, capacity kept) below.
            let mut records = slot.map(|i| std::mem::take(&mut self.per_run[i].1)).unwrap_or_default();
            let dropped = self.dropped.remove(run).unwrap_or(0);
            let mut inner = log.lock();
            if inner.finished {
                continue;
            }
            for rec in &records {
                if !inner.pending_snapshots.is_empty() {
                    inner.store_due_snapshots(Some(rec.t.saturating_sub(log.start)));
                }
                self.store(log, &mut inner, rec);
            }
            inner.store_due_snapshots(Some(horizon.saturating_sub(log.start)));
            records.clear();
            if let Some(i) = slot {
                self.per_run[i].1 = records;
            }
            if dropped > 0 {
                let t = now.saturating_sub(log.start);
                inner.events.push(StoredEvent::new(t, Stored::Dropped { count: dropped }));
                inner.counts.events += 1;
                inner.counts.dropped += dropped;
            }
            let mut findings = Vec::new();
            inner.lints.tick(horizon.saturating_sub(log.start), &mut findings);
            let lost_wake = store_findings(&mut inner, findings) | std::mem::take(&mut self.lost_wake);
            inner.enforce_retention(horizon.saturating_sub(log.start));
            drop(inner);
            if lost_wake && crate::dump::has_runtime(log.id) {
                crate::dump::request_detached(log.clone(), crate::dump::Reason::LostWake);
            }
        }
        // Records for runs that ended (or never existed) are gone; so are their drop counts.
        self.per_run.retain(|(run, records)| records.is_empty() && runs.contains_key(run));
        self.dropped.clear();
        // Forget the tasks of runs that ended (when the set of runs changed).
        if runs.len() != self.live_runs {
            self.live_runs = runs.len();
            self.task_run.retain(|_, run| runs.contains_key(run));
            let task_run = &self.task_run;
            // A task with no entry is the default run's (see above), kept while that run is.
            let default_live = default_run != 0 && runs.contains_key(&default_run);
            self.span_task.retain(|_, task| task_run.get(task).map_or(default_live, |run| runs.contains_key(run)));
        }
    }

    /// The run's lane of thread `thread` (a global thread index), given one (and announced
    /// with a lane event) the first time the run sees the thread.
    fn lane(&self, inner: &mut RunLogInner, thread: u32, t: u64, kind: LaneKind) -> u32 {
        if let Some(&lane) = inner.lane_of_thread.get(&thread) {
            return lane;
        }
        let lane = inner.lanes.len() as u32;
        let (name, role) = self.thread_info.get(&thread).cloned().unwrap_or_else(|| (format!("thread {thread}"), 0));
        // A runtime thread that first shows up waking a task (its timer or I/O driver) is still
        // a worker lane.
        let kind = if kind == LaneKind::Thread && role == buffer::ROLE_RUNTIME { LaneKind::Worker } else { kind };
        inner.lanes.push(ThreadLane { name, kind });
        inner.lane_of_thread.insert(thread, lane);
        inner.events.push(StoredEvent::new(t, Stored::Lane { lane }));
        inner.counts.events += 1;
        lane
    }

    fn future_id(inner: &mut RunLogInner, global: u64) -> u32 {
        if global == 0 {
            return 0;
        }
        let next = inner.futures.len() as u32 + 1;
        *inner.futures.entry(global).or_insert(next)
    }

    fn store(&mut self, log: &RunLog, inner: &mut RunLogInner, rec: &Record) {
        let t = rec.t.saturating_sub(log.start);
        // Only tasks spawned in this run belong to it: tokio also reports, for instance, the
        // end of the blocking tasks that are a runtime's worker threads. A blocking task's end
        // is seen twice (its span's exit, then tokio's terminate hook): the first one counts.
        if rec.kind != RecordKind::Spawn && rec.task != 0 {
            match inner.tasks.get_mut(&rec.task) {
                None if rec.kind != RecordKind::Mark && rec.kind != RecordKind::State => return,
                Some(flags) if flags.done => {
                    if matches!(rec.kind, RecordKind::Done | RecordKind::PollStart | RecordKind::PollEnd) {
                        return;
                    }
                }
                Some(flags) if rec.kind == RecordKind::Done => flags.done = true,
                _ => {}
            }
        }
        // The one place a record's positional fields are read (see `RecordKind`).
        let mut spawn = None;
        let ev = match rec.kind {
            RecordKind::Empty | RecordKind::StateParent => return,
            RecordKind::Spawn => {
                let info = match self.side.remove(&(rec.b, rec.c)) {
                    Some(SideEntry::Spawn(info)) => info,
                    _ => SpawnInfo::default(),
                };
                inner.tasks.insert(rec.task, TaskFlags { blocking: info.kind == "blocking", done: false });
                spawn = Some((info.size, info.kind == "blocking"));
                let idx = inner.spawns.push(info);
                inner.counts.tasks += 1;
                let parent = (rec.a != 0).then_some(rec.a);
                Stored::Spawn { task: rec.task, parent, spawn: idx }
            }
            RecordKind::PollStart | RecordKind::PollEnd => {
                let blocking = inner.tasks.get(&rec.task).is_some_and(|f| f.blocking);
                let kind = if blocking { LaneKind::Blocking } else { LaneKind::Worker };
                let lane = self.lane(inner, rec.b, t, kind);
                if rec.kind == RecordKind::PollStart {
                    inner.counts.polls += 1;
                    Stored::PollStart { task: rec.task, lane }
                } else {
                    let ready = rec.flags & FLAG_READY != 0;
                    let drop = rec.flags & FLAG_DROP != 0;
                    Stored::PollEnd { task: rec.task, lane, ready, drop }
                }
            }
            RecordKind::Wake => {
                inner.counts.wakes += 1;
                let lane = match inner.lane_of_thread.get(&rec.b) {
                    Some(&lane) => Some(lane),
                    None if rec.a == 0 && rec.b != 0 => Some(self.lane(inner, rec.b, t, LaneKind::Thread)),
                    None => None,
                };
                let op = if rec.flags & FLAG_BY_REF != 0 { WakeOp::WakeByRef } else { WakeOp::Wake };
                Stored::Wake { task: rec.task, by: (rec.a != 0).then_some(rec.a), op, lane }
            }
            RecordKind::WakerClone => Stored::WakerClone { task: rec.task },
            RecordKind::WakerDrop => Stored::WakerDrop { task: rec.task },
            RecordKind::State => {
                let future = Self::future_id(inner, rec.a);
                let state = ProbeState::from_flags(rec.flags);
                let parent = if state == ProbeState::Start { Self::future_id(inner, rec.c) } else { 0 };
                Stored::State {
                    task: (rec.task != 0).then_some(rec.task),
                    future,
                    parent: (parent != 0).then_some(parent),
                    site: rec.b,
                    state,
                }
            }
            RecordKind::Done => Stored::Done { task: rec.task, outcome: Outcome::from_flags(rec.flags) },
            // `classify` turns every close into a `Done`.
            RecordKind::Closed => return,
            RecordKind::Mark => {
                let label = match self.side.remove(&(rec.b, rec.c)) {
                    Some(SideEntry::Mark(label)) => label,
                    _ => String::new(),
                };
                let idx = inner.push_string(label);
                Stored::Mark { task: (rec.task != 0).then_some(rec.task), label: idx }
            }
            RecordKind::Snapshot => {
                let Some(snapshot) = self.snapshots.remove(&rec.c) else { return };
                Stored::Snapshot { snapshot: inner.snapshots.push(snapshot) }
            }
            RecordKind::PollCause => {
                let Some(mut cause) = self.causes.remove(&rec.c) else { return };
                let Some(&lane) = inner.lane_of_thread.get(&rec.b) else { return };
                cause.since = rec.a.saturating_sub(log.start);
                // Kept only for a long poll (the watcher cannot tell a poll's exact length).
                if !inner.lints.awaits_cause(rec.task, cause.since) {
                    return;
                }
                inner.causes.push(cause);
                Stored::PollCause { task: rec.task, lane, cause: (inner.causes.len() - 1) as u32 }
            }
        };
        let ev = StoredEvent::new(t, ev);
        inner.events.push(ev);
        inner.counts.events += 1;
        let mut findings = Vec::new();
        // A lint names the thread by its lane's name, as the timeline does.
        let (lane, cause) = match ev.get() {
            Stored::PollEnd { lane, .. } => (inner.lanes.get(lane as usize).map(|l| l.name.as_str()), None),
            Stored::PollCause { cause, .. } => (None, inner.causes.get(cause as usize)),
            _ => (None, None),
        };
        inner.lints.observe(&ev, spawn, lane, cause, &mut findings);
        self.lost_wake |= store_findings(inner, findings);
    }
}

/// Decides what each tentative poll (one seen from tracing alone, see `capture.rs`) was, in a
/// drain's records (sorted by time), rewriting them in place:
/// - a poll's end followed on its thread by the span's close was the enter/exit that only
///   dropped the future (an aborted or shut-down task): `poll_end` with `drop`, then `done`
///   cancelled;
/// - a poll's end, then at once (nothing else on that thread in between) another enter and
///   exit of the same task and the close: the first was the last poll (`ready`, `done`
///   completed, or panicked when it unwound) and the second the drop, which is left out, as it
///   is with poll hooks;
/// - anything else after a poll's end on its thread: that poll returned Pending.
///
/// Records between the drop's enter and exit (waker drops of the future's wakers, probes'
/// `cancelled` states) are kept. Returns the time of the earliest tentative end still waiting
/// for what follows it (a later drain decides), unless it is older than `give_up`: then it is
/// left as it is (a thread that parked after a Pending poll).
fn classify(batch: &mut [Record], give_up: u64) -> Option<u64> {
    // Per thread: indices of a poll's end, then possibly the next enter and exit of its task.
    let mut open: IdMap<u32, ([usize; 3], usize)> = IdMap::default();
    for i in 0..batch.len() {
        let rec = batch[i];
        if rec.kind == RecordKind::State || rec.kind == RecordKind::Empty {
            continue; // `b` is not a thread; and these never follow a poll's end directly
        }
        let tentative = rec.flags & FLAG_TENTATIVE != 0;
        let thread = rec.b;
        let Some(&(seq, len)) = open.get(&thread) else {
            if rec.kind == RecordKind::PollEnd && tentative {
                open.insert(thread, ([i, 0, 0], 1));
            } else if rec.kind == RecordKind::Closed {
                // Its drop was not seen next to it (or not at all): the task is gone.
                batch[i].kind = RecordKind::Done;
                batch[i].flags = Outcome::Cancelled as u8;
            }
            continue;
        };
        let task = batch[seq[0]].task;
        let same = rec.task == task;
        match (len, rec.kind) {
            (1, RecordKind::PollStart) if tentative && same => {
                open.insert(thread, ([seq[0], i, 0], 2));
            }
            (2, RecordKind::PollEnd) if tentative && same => {
                open.insert(thread, ([seq[0], seq[1], i], 3));
            }
            // Records inside the drop's enter and exit.
            (2, _) if rec.kind != RecordKind::PollStart && rec.kind != RecordKind::Closed => {}
            (1, RecordKind::Closed) if same => {
                batch[seq[0]].flags |= FLAG_READY | FLAG_DROP;
                batch[i].kind = RecordKind::Done;
                batch[i].flags = Outcome::Cancelled as u8;
                open.remove(&thread);
            }
            (3, RecordKind::Closed) if same => {
                let last = &mut batch[seq[0]];
                last.flags |= FLAG_READY;
                let outcome = if last.flags & FLAG_PANICKED != 0 { Outcome::Panicked } else { Outcome::Completed };
                batch[seq[1]].kind = RecordKind::Empty;
                batch[seq[2]].kind = RecordKind::Empty;
                batch[i].kind = RecordKind::Done;
                batch[i].flags = outcome as u8;
                open.remove(&thread);
            }
            (3, RecordKind::PollStart) if tentative && same => {
                // The first was a Pending poll and the second a real poll right after it.
                open.insert(thread, ([seq[2], i, 0], 2));
            }
            _ => {
                open.remove(&thread);
                if rec.kind == RecordKind::PollEnd && tentative {
                    open.insert(thread, ([i, 0, 0], 1));
                } else if rec.kind == RecordKind::Closed {
                    batch[i].kind = RecordKind::Done;
                    batch[i].flags = Outcome::Cancelled as u8;
                }
            }
        }
    }
    open.values().map(|&(seq, _)| batch[seq[0]].t).filter(|&t| t > give_up).min()
}

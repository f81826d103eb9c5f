//! The hot path: what each runtime hook and tracing callback does on the thread it fires on.
//!
//! Records carry raw clock ticks (`clock::ticks`); the collector converts them to
//! nanoseconds when it reads them.
//!
//! All per-thread state lives in one thread-local `Capture`, so each callback costs one TLS
//! access, a few branches, a clock read and a store into the thread's own buffer.
//!
//! How a poll is found. tokio calls the before/after poll hooks around `task.run()`, outside
//! the task's tracing span; inside, tokio's `Instrumented` wrapper enters the task span to poll
//! and, separately, enters it again while dropping the future (after it completed, or when a
//! cancelled task is run only to be dropped). So within one hook window:
//! - the first span enter is the poll (its time is `poll_start`), its first exit is `poll_end`;
//! - the terminate hook firing inside the window means the task ended there: `ready` if the
//!   window saw two enters (poll + drop), a cancelled task's drop if it saw one;
//! - a panic is seen as the poll's exit happening while the thread is unwinding.
//!
//! `poll_start` is published as soon as the poll begins (so a long poll shows while it runs);
//! `poll_end` waits for the hook's end, when `ready` is known. Blocking-pool tasks have no poll
//! hooks: their single run is the enter/exit of their span.
//!
//! Without poll hooks (a runtime the program built itself, or a `block_on` future, which tokio
//! never calls the hooks for), polls come from tokio's tracing alone, when that is switched on
//! (`set_tracing_polls`, done by `futurescope::init`): every enter of a task span is published
//! as a *tentative* `poll_start`, every exit as a tentative `poll_end`, and the span's close as
//! `Closed`. Which enter was only the drop of the future is known only after it, from what
//! follows on the same thread, so the collector decides that (`collector::classify`). A thread
//! whose poll hooks have fired once uses the hooks from then on.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::buffer::{SideEntry, SpawnInfo, ThreadBuffer};
use crate::clock;
use crate::record::{
    FLAG_BY_REF, FLAG_DROP, FLAG_PANICKED, FLAG_READY, FLAG_TENTATIVE, Outcome, RawRecord, RecordKind,
};

/// Whether polls are also taken from tracing alone, where no poll hooks fire (see the module
/// documentation). Off in the dashboard binary, whose scenarios' runtimes all have hooks.
static TRACING_POLLS: AtomicBool = AtomicBool::new(false);

/// Switches polls from tracing alone (and `block_on` futures as tasks) on or off.
pub fn set_tracing_polls(on: bool) {
    TRACING_POLLS.store(on, Ordering::Relaxed);
}

pub(crate) fn tracing_polls() -> bool {
    TRACING_POLLS.load(Ordering::Relaxed)
}

/// What a span is to the recorder, as `span_enter` / `span_exit` / `span_closed` ask for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SpanTask {
    /// Not a task of the program.
    None,
    /// A task the scheduler polls.
    Async(u64),
    /// A `spawn_blocking` closure.
    Blocking(u64),
    /// A future run by `Runtime::block_on` (or `Handle::block_on`).
    BlockOn(u64),
}

/// How this thread's polls are found.
#[derive(Clone, Copy, PartialEq, Eq)]
enum PollSource {
    /// Not known yet: tracing alone, if switched on.
    Unknown,
    /// Poll hooks fired here: they bound each poll.
    Hooks,
    /// Poll hooks fired, but the after-poll hook stopped firing (the program replaced it):
    /// tracing alone, whatever the global switch says.
    Tracing,
}

/// How deep tracing-only polls may nest (a `LocalSet` inside a `block_on`) and still restore
/// the task that was current.
const NEST: usize = 4;
use crate::sync::LockUnpoisoned;

#[derive(Default)]
struct PollWindow {
    active: bool,
    task: u64,
    /// The span entered first in the window (the task's span), 0 until then.
    span: u64,
    enters: u8,
    exit_t: u64,
    panicked: bool,
    terminated: bool,
}

/// How many waker clones and drops of one poll wait for a time (see `Capture::deferred`).
const DEFERRED: usize = 4;

struct Capture {
    /// The run this thread works for (0: none known; the collector routes by task).
    run: u16,
    /// The task being polled or run on this thread right now (0: none).
    current_task: u64,
    window: PollWindow,
    /// Waker clones and drops (kind, task) seen inside the current poll, not yet written. They
    /// take the time of the next clock reading on this thread (a wake's, or the poll's end),
    /// so they cost no reading of their own: reading the clock is the largest part of a
    /// record's cost, and a poll typically clones or drops a waker once or more. Their order
    /// among the thread's records is kept.
    deferred: [(RecordKind, u64); DEFERRED],
    deferred_len: usize,
    buffer: Option<ThreadBuffer>,
    source: PollSource,
    /// Whether this thread's lane has been given its runtime and worker index.
    named: bool,
    /// Tasks current before each open tracing-only poll.
    outer: [u64; NEST],
    depth: usize,
}

thread_local! {
    static CAPTURE: RefCell<Capture> = const { RefCell::new(Capture {
        run: 0,
        current_task: 0,
        window: PollWindow { active: false, task: 0, span: 0, enters: 0, exit_t: 0, panicked: false, terminated: false },
        deferred: [(RecordKind::Empty, 0); DEFERRED],
        deferred_len: 0,
        buffer: None,
        source: PollSource::Unknown,
        named: false,
        outer: [0; NEST],
        depth: 0,
    }) };
}

impl Capture {
    /// Publishes the poll a hook window `w` bounded: its end (`ready` if tokio's terminate hook
    /// fired in it, `drop` if the window only dropped the future) and the task's end.
    fn end_window(&mut self, w: &PollWindow) {
        let task = w.task;
        if w.enters == 0 {
            // The task span was disabled: the hook window is the best bound we have.
            self.push(RecordKind::PollStart, clock::ticks(), task, 0, 0, 0);
        }
        let dropped_only = w.terminated && w.enters == 1;
        let mut flags = 0;
        if w.terminated {
            flags |= FLAG_READY;
        }
        if dropped_only {
            flags |= FLAG_DROP;
        }
        let end = if w.exit_t != 0 { w.exit_t } else { clock::ticks() };
        self.push(RecordKind::PollEnd, end, task, 0, 0, flags);
        if w.terminated {
            let outcome = if dropped_only {
                Outcome::Cancelled
            } else if w.panicked {
                Outcome::Panicked
            } else {
                Outcome::Completed
            };
            self.push(RecordKind::Done, end, task, 0, 0, outcome as u8);
        }
        self.poll_published();
    }

    /// Publishes a hook window that never closed: the after-poll hook was replaced (a program
    /// set its own after ours), seen at the thread's next poll or when the thread stops. If
    /// tokio's terminate hook fired in it, that poll was the task's last and the window says
    /// all there is; otherwise the poll ends where its span was left, and the collector decides
    /// what it was. From now on this thread's polls come from tracing.
    fn end_stale_window(&mut self) {
        self.poll_closed();
        let w = std::mem::take(&mut self.window);
        if w.terminated {
            self.end_window(&w);
        } else {
            if w.enters > 0 {
                let end = if w.exit_t != 0 { w.exit_t } else { clock::ticks() };
                self.push(RecordKind::PollEnd, end, w.task, 0, 0, FLAG_TENTATIVE);
            }
            self.poll_published();
        }
        self.source = PollSource::Tracing;
        self.current_task = 0;
    }

    /// Publishes, for the watcher of open polls (`causes.rs`), that a poll of `task` began at
    /// `t` (after the poll's record, so the thread has a buffer).
    #[inline]
    fn poll_opened(&self, task: u64, t: u64) {
        if let Some(b) = &self.buffer {
            b.poll_opened(task, t);
        }
    }

    /// The open poll returned.
    #[inline]
    fn poll_closed(&self) {
        if let Some(b) = &self.buffer {
            b.poll_closed();
        }
    }

    /// The poll whose end `span_exit` held back (`pending_since`) is published.
    fn poll_published(&self) {
        if let Some(b) = &self.buffer {
            b.shared.pending_since.store(u64::MAX, Ordering::Release);
        }
    }

    #[inline]
    fn push(&mut self, kind: RecordKind, t: u64, task: u64, a: u64, b: u32, flags: u8) {
        self.push_raw(RawRecord { t, task, a, b, run: self.run, kind, flags });
    }

    /// Writes `rec`, after any deferred waker operations (which get its time).
    #[inline]
    fn push_raw(&mut self, rec: RawRecord) {
        if self.deferred_len != 0 {
            self.flush_deferred(rec.t);
        }
        self.buffer.get_or_insert_with(ThreadBuffer::register).push(rec);
    }

    /// Writes the deferred waker operations with time `t`.
    #[inline]
    fn flush_deferred(&mut self, t: u64) {
        let n = std::mem::take(&mut self.deferred_len);
        let buffer = self.buffer.get_or_insert_with(ThreadBuffer::register);
        for &(kind, task) in &self.deferred[..n] {
            buffer.push(RawRecord { t, task, a: 0, b: 0, run: self.run, kind, flags: 0 });
        }
    }

    /// Keeps a waker clone or drop inside a poll until the next clock reading.
    #[inline]
    fn defer(&mut self, kind: RecordKind, task: u64) {
        if self.deferred_len == DEFERRED {
            self.flush_deferred(clock::ticks());
        }
        self.deferred[self.deferred_len] = (kind, task);
        self.deferred_len += 1;
    }

    fn thread_index(&mut self) -> u32 {
        self.buffer.get_or_insert_with(ThreadBuffer::register).shared.index
    }
}

#[inline]
fn with<R>(f: impl FnOnce(&mut Capture) -> R) -> Option<R> {
    // `try_with`: callbacks can fire while the thread-local is being destroyed.
    // `try_borrow_mut`: a callback that fires inside another one (never expected) is skipped.
    CAPTURE.try_with(|c| c.try_borrow_mut().ok().map(|mut c| f(&mut c))).ok().flatten()
}

/// Sets the run the current thread records for; returns the previous one. Registers the
/// thread's buffer now, so its first record does not pay for it.
pub(crate) fn set_run(run: u16) -> u16 {
    with(|c| {
        if run != 0 {
            c.buffer.get_or_insert_with(ThreadBuffer::register);
        }
        std::mem::replace(&mut c.run, run)
    })
    .inspect(|_| crate::step::thread_entered_run(run))
    .unwrap_or(0)
}

/// Says what kind of thread this is (`buffer::ROLE_*`), for the kind of lane it gets.
pub(crate) fn set_thread_role(role: u8) {
    with(|c| {
        let b = c.buffer.get_or_insert_with(ThreadBuffer::register);
        b.shared.role.store(role, std::sync::atomic::Ordering::Relaxed);
    });
}

/// Names this thread's lane (for example a current-thread runtime's, which runs on whatever
/// thread called `block_on`).
pub fn set_thread_label(label: &str) {
    with(|c| {
        let b = c.buffer.get_or_insert_with(ThreadBuffer::register);
        *b.shared.name.lock_unpoisoned() = label.to_owned();
    });
}

pub(crate) fn current_run() -> u16 {
    with(|c| c.run).unwrap_or(0)
}

/// The task this thread is polling right now, if any.
pub fn current_task() -> Option<u64> {
    with(|c| c.current_task).filter(|&t| t != 0)
}

// ---- runtime hooks -------------------------------------------------------------------------

#[inline]
pub(crate) fn poll_hook_start(task: u64) {
    with(|c| {
        if c.window.active {
            c.end_stale_window();
        }
        if c.source == PollSource::Tracing {
            return;
        }
        c.source = PollSource::Hooks;
        c.window = PollWindow { active: true, task, ..PollWindow::default() };
        c.current_task = task;
    });
}

/// The runtime thread is stopping. A hook window still open is published now: with the
/// after-poll hook replaced, a worker whose only hook window was a task's last poll would
/// otherwise take that poll's end (and the task's done) with it.
pub(crate) fn thread_stopping() {
    with(|c| {
        if c.window.active {
            c.end_stale_window();
        }
    });
}

#[inline]
pub(crate) fn poll_hook_end(task: u64) {
    with(|c| {
        let w = std::mem::take(&mut c.window);
        c.current_task = 0;
        if !w.active || w.task != task {
            return;
        }
        c.end_window(&w);
    });
}

pub(crate) fn task_terminated(task: u64) {
    with(|c| {
        if c.window.active && c.window.task == task {
            c.window.terminated = true;
        } else if c.current_task == task {
            // A blocking task's end: already recorded when its span exited.
            c.current_task = 0;
        } else {
            // Dropped outside a poll: runtime shutdown, or the last handle of an idle task.
            c.push(RecordKind::Done, clock::ticks(), task, 0, 0, Outcome::Cancelled as u8);
        }
    });
}

// ---- tasks without poll hooks (LocalSet) ----------------------------------------------------

/// A poll of `task` begins, seen from inside the task's future (`local::PollRecorded`).
/// Returns the task that was current before, to restore at the end.
pub(crate) fn inner_poll_start(task: u64) -> u64 {
    with(|c| {
        let t = clock::ticks();
        c.push(RecordKind::PollStart, t, task, 0, 0, 0);
        c.poll_opened(task, t);
        std::mem::replace(&mut c.current_task, task)
    })
    .unwrap_or(0)
}

/// That poll returned (`ready`), or unwound (`panicked`).
pub(crate) fn inner_poll_end(task: u64, ready: bool, panicked: bool, previous: u64) {
    with(|c| {
        let t = clock::ticks();
        let flags = if ready || panicked { FLAG_READY } else { 0 };
        c.push(RecordKind::PollEnd, t, task, 0, 0, flags);
        c.poll_closed();
        if ready || panicked {
            let outcome = if panicked { Outcome::Panicked } else { Outcome::Completed };
            c.push(RecordKind::Done, t, task, 0, 0, outcome as u8);
        }
        c.current_task = previous;
    });
}

/// A task whose polls are seen from inside was dropped before completing.
pub(crate) fn inner_cancelled(task: u64) {
    with(|c| c.push(RecordKind::Done, clock::ticks(), task, 0, 0, Outcome::Cancelled as u8));
}

// ---- tracing callbacks ---------------------------------------------------------------------

/// Runs `in_window` when a poll window is open on this thread (the span is the polled task's
/// or one inside it); otherwise returns what `lookup()` says the span is.
#[inline]
fn in_window_or_lookup(in_window: impl FnOnce(&mut Capture), lookup: impl FnOnce() -> SpanTask) -> SpanTask {
    let outside_window = with(|c| {
        if !c.window.active {
            return true;
        }
        in_window(c);
        false
    });
    if outside_window == Some(true) { lookup() } else { SpanTask::None }
}

/// Whether a span enter or exit outside a poll window is a tracing-only poll here.
fn polls_from_tracing(c: &Capture, block_on: bool) -> bool {
    match c.source {
        PollSource::Tracing => true,
        // Hooks never fire for a `block_on` future.
        PollSource::Hooks => block_on && tracing_polls(),
        PollSource::Unknown => tracing_polls(),
    }
}

/// Gives this runtime thread's lane its runtime and worker index (tokio names every worker
/// `tokio-runtime-worker`), keeping a name the program chose.
fn name_thread(c: &mut Capture) {
    c.named = true;
    let Ok(handle) = tokio::runtime::Handle::try_current() else { return };
    if c.run == 0 {
        // A runtime the program built itself: its run's snapshots dump it.
        crate::dump::thread_saw_runtime(&handle);
    }
    let rt = handle.id();
    let thread = std::thread::current();
    let own = thread.name().filter(|n| !matches!(*n, "tokio-runtime-worker" | "tokio-rt-worker"));
    let place = match tokio::runtime::worker_index() {
        Some(i) => format!("runtime {rt} worker {i}"),
        None if own.is_some() => format!("runtime {rt}"),
        None => format!("runtime {rt} blocking"),
    };
    let label = match own {
        Some(name) => format!("{name} ({place})"),
        None => place,
    };
    let b = c.buffer.get_or_insert_with(ThreadBuffer::register);
    *b.shared.name.lock_unpoisoned() = label;
    b.shared.role.store(crate::buffer::ROLE_RUNTIME, Ordering::Relaxed);
}

/// A span was entered. `lookup` tells (only when asked: it may cost a lookup) what the span is,
/// when no poll window is open.
#[inline]
pub(crate) fn span_enter(span: u64, lookup: impl FnOnce() -> SpanTask) {
    let what = in_window_or_lookup(
        |c| {
            c.window.enters = c.window.enters.saturating_add(1);
            if c.window.enters == 1 {
                c.window.span = span;
                let t = clock::ticks();
                c.push(RecordKind::PollStart, t, c.window.task, 0, 0, 0);
                c.poll_opened(c.window.task, t);
            }
        },
        lookup,
    );
    match what {
        SpanTask::None => {}
        SpanTask::Blocking(task) => {
            with(|c| {
                if !c.named && tracing_polls() {
                    name_thread(c);
                }
                c.current_task = task;
                c.push(RecordKind::PollStart, clock::ticks(), task, 0, 0, 0);
            });
        }
        SpanTask::Async(task) | SpanTask::BlockOn(task) => {
            with(|c| {
                if !polls_from_tracing(c, matches!(what, SpanTask::BlockOn(_))) {
                    return;
                }
                if !c.named {
                    name_thread(c);
                }
                if c.depth < NEST {
                    c.outer[c.depth] = c.current_task;
                }
                c.depth += 1;
                c.current_task = task;
                let t = clock::ticks();
                c.push(RecordKind::PollStart, t, task, 0, 0, FLAG_TENTATIVE);
                c.poll_opened(task, t);
            });
        }
    }
}

#[inline]
pub(crate) fn span_exit(span: u64, lookup: impl FnOnce() -> SpanTask) {
    let what = in_window_or_lookup(
        |c| {
            if c.window.span == span && c.window.exit_t == 0 {
                c.window.exit_t = clock::ticks();
                c.window.panicked = std::thread::panicking();
                if let Some(b) = &c.buffer {
                    b.shared.pending_since.store(c.window.exit_t, std::sync::atomic::Ordering::Release);
                    b.poll_closed();
                }
                if c.deferred_len != 0 {
                    c.flush_deferred(c.window.exit_t);
                }
            }
        },
        lookup,
    );
    match what {
        SpanTask::None => {}
        SpanTask::Blocking(blocking) => {
            with(|c| {
                if c.current_task != blocking {
                    return;
                }
                // `current_task` stays set until tokio's terminate hook: the wake of the JoinHandle
                // happens between the two, and is the blocking task's doing.
                let t = clock::ticks();
                let outcome = if std::thread::panicking() { Outcome::Panicked } else { Outcome::Completed };
                c.push(RecordKind::PollEnd, t, blocking, 0, 0, FLAG_READY);
                c.push(RecordKind::Done, t, blocking, 0, 0, outcome as u8);
            });
        }
        SpanTask::Async(task) | SpanTask::BlockOn(task) => {
            with(|c| {
                if c.depth == 0 || c.current_task != task {
                    return;
                }
                let flags = FLAG_TENTATIVE | if std::thread::panicking() { FLAG_PANICKED } else { 0 };
                c.push(RecordKind::PollEnd, clock::ticks(), task, 0, 0, flags);
                c.poll_closed();
                c.depth -= 1;
                c.current_task = if c.depth < NEST { c.outer[c.depth] } else { 0 };
            });
        }
    }
}

/// A task's span closed: with tracing-only polls, the task is gone.
pub(crate) fn span_closed(what: SpanTask) {
    let (task, block_on) = match what {
        SpanTask::Async(task) => (task, false),
        SpanTask::BlockOn(task) => (task, true),
        SpanTask::None | SpanTask::Blocking(_) => return,
    };
    with(|c| {
        if polls_from_tracing(c, block_on) {
            c.push(RecordKind::Closed, clock::ticks(), task, 0, 0, 0);
        }
    });
}

/// A task was spawned from this thread (by the task polled here, if any).
pub(crate) fn spawned(task: u64, info: SpawnInfo) {
    with(|c| {
        let parent = c.current_task;
        let buffer = c.buffer.get_or_insert_with(ThreadBuffer::register);
        let seq = buffer.push_side(SideEntry::Spawn(info));
        // Read the clock after the side table's lock, so the record is published right after.
        let t = clock::ticks();
        c.push(RecordKind::Spawn, t, task, parent, seq, 0);
    });
}

/// What a `tokio::task::waker` event reported.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum WakerOp {
    Clone,
    Drop,
    Wake,
    WakeByRef,
}

/// Marks a waker record's `task` as a registry span id, for the collector to map to the task.
pub(crate) const SPAN_ID_FLAG: u64 = 1 << 63;

#[inline]
pub(crate) fn waker_op(op: WakerOp, task: u64) {
    with(|c| match op {
        WakerOp::Clone | WakerOp::Drop => {
            let kind = if op == WakerOp::Clone { RecordKind::WakerClone } else { RecordKind::WakerDrop };
            let w = &c.window;
            if w.active && w.enters > 0 && w.exit_t == 0 {
                c.defer(kind, task);
            } else {
                c.push(kind, clock::ticks(), task, 0, 0, 0);
            }
        }
        WakerOp::Wake | WakerOp::WakeByRef => {
            let t = clock::ticks();
            let by = c.current_task;
            let flags = if op == WakerOp::WakeByRef { FLAG_BY_REF } else { 0 };
            c.push(RecordKind::Wake, t, task, by, 0, flags);
            crate::step::wake_seen(c.run, by);
        }
    });
}

// ---- probes and marks ----------------------------------------------------------------------

/// Records that probe `future` entered `state` at `site` (0: none), for the task being polled;
/// `parent` is the enclosing probe of a starting one (0: none).
#[inline]
/// Records probe `future`'s `state` in the task being polled on this thread, or, outside any
/// poll, in `fallback_task` (0: none): a probe dropped while its task is not being polled (an
/// aborted task's future dropped at runtime shutdown) still belongs to the task that polled it.
pub(crate) fn probe_state(future: u64, state: u8, site: u32, parent: u64, fallback_task: u64) {
    if crate::dump::tracing() {
        // A traced poll (a snapshot) runs outside any task's poll window: not a state change.
        return;
    }
    with(|c| {
        let task = if c.current_task != 0 { c.current_task } else { fallback_task };
        let t = clock::ticks();
        let rec = RawRecord { t, task, a: future, b: site, run: c.run, kind: RecordKind::State, flags: state };
        if parent == 0 {
            c.push_raw(rec);
        } else {
            if c.deferred_len != 0 {
                c.flush_deferred(t);
            }
            let link = RawRecord { a: parent, kind: RecordKind::StateParent, ..rec };
            c.buffer.get_or_insert_with(ThreadBuffer::register).push_n([rec, link]);
        }
    });
}

pub(crate) fn mark(label: String) {
    with(|c| {
        let task = c.current_task;
        let buffer = c.buffer.get_or_insert_with(ThreadBuffer::register);
        let seq = buffer.push_side(SideEntry::Mark(label));
        let t = clock::ticks();
        c.push(RecordKind::Mark, t, task, 0, seq, 0);
    });
}

/// The global index of this thread's buffer (registering it if needed).
pub(crate) fn this_thread_index() -> u32 {
    with(|c| c.thread_index()).unwrap_or(0)
}

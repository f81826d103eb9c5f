//! Await-point probes: where a future is suspended, as a state machine, live.
//!
//! A `Probe` wraps a future. It emits `state` records: `start` when created, the label of the
//! await point it is suspended at after each pending poll, `ready`, or `cancelled`/`panicked`
//! if it is dropped before completing. Probes know their task (the one being polled when they
//! record) and their parent probe (the probe being polled on this thread when they are
//! created), so nested probes form a tree.
//!
//! Await points are named by `ProbeSite`s: statics holding a label (usually the awaited
//! expression's source text), a file and a line. The `#[futurescope::instrument]` macro (crate
//! `futurescope-macros`) wraps every `.await` in an async fn with `await_point(site)`; by hand,
//! `fut.await_point(site!("label"))` does the same. A hand-written future reports its own enum
//! variant with `ProbeHandle::set_state(site)`.
//!
//! Cost: one thread-local read for the parent, one record per state change; sites are
//! registered once, the first time they are used.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::task::{Context, Poll};

use crate::capture;
use crate::record::ProbeState;
use crate::sync::LockUnpoisoned;

/// A named place in a future's state machine.
#[derive(Debug)]
pub struct ProbeSite {
    pub label: &'static str,
    pub file: &'static str,
    pub line: u32,
    id: AtomicU32,
}

impl ProbeSite {
    pub const fn new(label: &'static str, file: &'static str, line: u32) -> ProbeSite {
        ProbeSite { label, file, line, id: AtomicU32::new(0) }
    }

    /// The site's process-wide id, registering it on first use.
    pub fn id(&'static self) -> u32 {
        let id = self.id.load(Ordering::Acquire);
        if id != 0 {
            return id;
        }
        let mut sites = SITES.lock_unpoisoned();
        let id = self.id.load(Ordering::Acquire);
        if id != 0 {
            return id;
        }
        sites.push(self);
        let id = sites.len() as u32;
        self.id.store(id, Ordering::Release);
        id
    }
}

static SITES: Mutex<Vec<&'static ProbeSite>> = Mutex::new(Vec::new());

/// The site registered under `id`.
pub fn site(id: u32) -> Option<&'static ProbeSite> {
    let sites = SITES.lock_unpoisoned();
    sites.get((id as usize).checked_sub(1)?).copied()
}

/// A `&'static ProbeSite` for a label, at the current file and line.
#[macro_export]
macro_rules! site {
    ($label:expr) => {{
        static SITE: $crate::probe::ProbeSite = $crate::probe::ProbeSite::new($label, file!(), line!());
        &SITE
    }};
}

thread_local! {
    /// The probe being polled on this thread (0: none): the parent of probes created now.
    static CURRENT_PROBE: Cell<u64> = const { Cell::new(0) };
    /// Per-thread probe id counter; ids are `thread index << 40 | counter`.
    static NEXT_PROBE: Cell<u64> = const { Cell::new(0) };
}

fn new_probe_id() -> u64 {
    NEXT_PROBE.with(|n| {
        let mut v = n.get();
        if v == 0 {
            v = u64::from(capture::this_thread_index()) << 40;
        }
        v += 1;
        n.set(v);
        v
    })
}

/// A probe's identity, for hand-written futures that report their own states.
#[derive(Debug)]
pub struct ProbeHandle {
    id: u64,
    finished: bool,
    /// The task that last polled (or created) the probe (0: none): its drop is recorded there
    /// when it happens outside any poll.
    task: AtomicU64,
}

impl ProbeHandle {
    /// Starts a probe (emits `start`) under the probe currently being polled, if any.
    pub fn start(site: &'static ProbeSite) -> ProbeHandle {
        let id = new_probe_id();
        let parent = CURRENT_PROBE.with(Cell::get);
        capture::probe_state(id, ProbeState::Start as u8, site.id(), parent, 0);
        ProbeHandle { id, finished: false, task: AtomicU64::new(capture::current_task().unwrap_or(0)) }
    }

    /// Notes the task polling the probe now (if any), for a drop outside any poll.
    fn seen_in_task(&self) {
        if let Some(task) = capture::current_task() {
            self.task.store(task, Ordering::Relaxed);
        }
    }

    /// The future is now suspended at (or, for a hand-written future, in state) `site`.
    pub fn set_state(&self, site: &'static ProbeSite) {
        self.seen_in_task();
        capture::probe_state(self.id, ProbeState::Suspended as u8, site.id(), 0, 0);
    }

    /// The future completed.
    pub fn ready(&mut self) {
        if !self.finished {
            self.finished = true;
            capture::probe_state(self.id, ProbeState::Ready as u8, 0, 0, 0);
        }
    }

    /// Runs `f` with this probe as the parent of probes created inside it.
    pub fn enter<R>(&self, f: impl FnOnce() -> R) -> R {
        struct Restore(u64);
        impl Drop for Restore {
            fn drop(&mut self) {
                CURRENT_PROBE.with(|c| c.set(self.0));
            }
        }
        let _restore = Restore(CURRENT_PROBE.with(|c| c.replace(self.id)));
        f()
    }
}

impl Drop for ProbeHandle {
    fn drop(&mut self) {
        if !self.finished {
            let state = if std::thread::panicking() { ProbeState::Panicked } else { ProbeState::Cancelled };
            capture::probe_state(self.id, state as u8, 0, 0, self.task.load(Ordering::Relaxed));
        }
    }
}

pin_project_lite::pin_project! {
    /// A future labelled as one await point (see `AwaitPointExt::await_point`). Polled inside
    /// a probed future, it reports "suspended at this site" as that future's state; polled
    /// outside any, it is a probe of its own.
    pub struct AwaitPoint<F> {
        #[pin]
        inner: F,
        site: &'static ProbeSite,
        probe: Option<ProbeHandle>,
    }
}

impl<F: Future> Future for AwaitPoint<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let site = *this.site;
        let enclosing = CURRENT_PROBE.with(Cell::get);
        if crate::dump::tracing() {
            // One of tokio's traced polls (a snapshot): nothing changes state; if the future
            // reaches no tokio leaf, this probe is the only one who can say where it waits.
            let poll = this.inner.poll(cx);
            if poll.is_pending() {
                crate::dump::probe_leaf::<F>(site);
            }
            return poll;
        }
        if enclosing != 0 && this.probe.is_none() {
            // Inside a probed future: this await point is one of its states.
            let poll = this.inner.poll(cx);
            if poll.is_pending() {
                capture::probe_state(enclosing, ProbeState::Suspended as u8, site.id(), 0, 0);
            }
            return poll;
        }
        // On its own: a probe of its own with this one await point.
        let probe = this.probe.get_or_insert_with(|| ProbeHandle::start(site));
        let poll = poll_as(probe, this.inner, cx);
        if poll.is_pending() {
            probe.set_state(site);
        }
        poll
    }
}

/// Polls `inner` with `probe` as the enclosing probe; records `ready` when it completes.
fn poll_as<F: Future>(probe: &mut ProbeHandle, inner: Pin<&mut F>, cx: &mut Context<'_>) -> Poll<F::Output> {
    probe.seen_in_task();
    let poll = probe.enter(|| inner.poll(cx));
    if poll.is_ready() {
        probe.ready();
    }
    poll
}

/// `.await_point(site)`: records where a future is suspended.
pub trait AwaitPointExt: Future + Sized {
    fn await_point(self, site: &'static ProbeSite) -> AwaitPoint<Self> {
        AwaitPoint { inner: self, site, probe: None }
    }
}

impl<F: Future> AwaitPointExt for F {}

pin_project_lite::pin_project! {
    /// A whole async block or fn as one probed future: `start`, the await points of the probes
    /// inside it as its children, then `ready` or `cancelled`.
    pub struct Probed<F> {
        #[pin]
        inner: F,
        site: &'static ProbeSite,
        probe: Option<ProbeHandle>,
    }
}

impl<F: Future> Future for Probed<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let site = *this.site;
        let probe = this.probe.get_or_insert_with(|| ProbeHandle::start(site));
        poll_as(probe, this.inner, cx)
    }
}

/// Wraps a future as a named probe whose children are the await points inside it. The probe
/// starts (its `start` state is recorded) now, when the future is created, not when it is
/// first polled: that gap is what "futures are lazy" looks like.
pub fn probed<F: Future>(site: &'static ProbeSite, inner: F) -> Probed<F> {
    Probed { inner, site, probe: Some(ProbeHandle::start(site)) }
}

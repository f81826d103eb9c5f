//! `RunContext`: what a scenario is given to run in.
//!
//! A scenario builds its observed runtimes through the context (so they carry the recorder's
//! hooks and the run's id), starts plain threads through it (so their wakes are attributed to
//! the run), marks its phases on the time axis, and notices cancellation. `block_on` is the
//! usual entry point: it runs the scenario's main future as a task named "main", stops it when
//! the run is cancelled or times out, and shuts the runtime down without waiting for ever on a
//! worker that a scenario blocked on purpose.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use futurescope_recorder::{
    LockUnpoisoned, RunContextGuard, StepGate, Unpoisoned, enter_as_runtime_thread, instrument,
};
use tokio::runtime::Runtime;
use tokio::sync::Notify;

use crate::{ScenarioError, StepTime};

/// Which tokio scheduler a runtime uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    CurrentThread,
    MultiThread { workers: usize },
}

impl Flavor {
    /// From a `flavor` choice parameter and a worker count.
    pub fn from_choice(choice: &str, workers: usize) -> Flavor {
        if choice == "current_thread" { Flavor::CurrentThread } else { Flavor::MultiThread { workers: workers.max(1) } }
    }
}

/// How long a cancelled run's runtime gets to stop its threads before they are abandoned.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(500);

#[derive(Default)]
struct CancelState {
    cancelled: AtomicBool,
    /// A stepped run's gate: cancelling opens it, so a paused run stops at once.
    gate: Option<Arc<StepGate>>,
    notify: Notify,
    /// For plain threads sleeping in `sleep_unless_cancelled`.
    lock: Mutex<()>,
    cv: Condvar,
}

/// Cancels a run from outside (the run manager, on request or at its time limit).
#[derive(Clone)]
pub struct CancelHandle(Arc<CancelState>);

impl CancelHandle {
    pub fn cancel(&self) {
        let st = &self.0;
        st.cancelled.store(true, Ordering::SeqCst);
        if let Some(gate) = &st.gate {
            gate.release();
        }
        st.notify.notify_waiters();
        let _guard = st.lock.lock_unpoisoned();
        st.cv.notify_all();
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.cancelled.load(Ordering::SeqCst)
    }
}

/// The scenario's view of its run.
pub struct RunContext {
    run: u16,
    cancel: Arc<CancelState>,
    /// Step mode: the gate every poll of the run waits at, and the scenario's clock choice.
    step: Option<(Arc<StepGate>, StepTime)>,
    /// The run's log, when snapshots of its tasks can be taken (see `snapshot_every`).
    log: Option<Arc<futurescope_recorder::RunLog>>,
    /// Runtimes built here stay registered for snapshots until the run ends.
    registrations: Mutex<Vec<futurescope_recorder::dump::RuntimeRegistration>>,
    snapshots: Mutex<Option<futurescope_recorder::dump::IntervalGuard>>,
}

impl RunContext {
    /// A context recording into run `run`, and the handle that cancels it.
    pub fn new(run: u16) -> (RunContext, CancelHandle) {
        let cancel = Arc::new(CancelState::default());
        let ctx = RunContext {
            run,
            cancel: cancel.clone(),
            log: None,
            registrations: Mutex::new(Vec::new()),
            snapshots: Mutex::new(None),
            step: None,
        };
        (ctx, CancelHandle(cancel))
    }

    /// A context recording into `log`'s run; `snapshot_every` can take snapshots of it.
    pub fn for_log(log: &Arc<futurescope_recorder::RunLog>) -> (RunContext, CancelHandle) {
        let (mut ctx, cancel) = RunContext::new(log.id);
        ctx.log = Some(log.clone());
        (ctx, cancel)
    }

    /// Takes a task dump of the run every `period` (a `snapshot` event each time), until the
    /// run ends: the await trees of futures nobody labelled, sampled over time. Each snapshot
    /// pauses the run's workers briefly and re-polls every idle task once in tokio's trace
    /// mode (that task is polled again for real just after), so keep the period long against
    /// the run's own timing. Without a log (`RunContext::new`) it does nothing.
    pub fn snapshot_every(&self, period: Duration) {
        if let Some(log) = &self.log {
            let guard = futurescope_recorder::dump::every(log, period);
            *self.snapshots.lock_unpoisoned() = Some(guard);
        }
    }

    /// Like `for_log`, for a run in step mode: every poll waits at `gate`, and runtimes are
    /// built as `time` (the scenario's `step_time`) says. Cancelling releases the gate.
    pub fn stepped(
        log: &Arc<futurescope_recorder::RunLog>,
        gate: Arc<StepGate>,
        time: StepTime,
    ) -> (RunContext, CancelHandle) {
        let cancel = Arc::new(CancelState { gate: Some(gate.clone()), ..CancelState::default() });
        let ctx = RunContext {
            run: log.id,
            cancel: cancel.clone(),
            log: Some(log.clone()),
            registrations: Mutex::new(Vec::new()),
            snapshots: Mutex::new(None),
            step: Some((gate, time)),
        };
        (ctx, CancelHandle(cancel))
    }

    /// Whether the run is in step mode.
    pub fn is_stepped(&self) -> bool {
        self.step.is_some()
    }

    /// The flavour a runtime asked for as `flavor` really gets: in step mode on the paused clock,
    /// every runtime is current-thread (tokio pauses time on those only).
    fn effective(&self, flavor: Flavor) -> Flavor {
        match &self.step {
            Some((_, time)) if time.paused_clock() => Flavor::CurrentThread,
            _ => flavor,
        }
    }

    fn paused_clock(&self) -> bool {
        self.step.as_ref().is_some_and(|(_, time)| time.paused_clock())
    }

    /// Lets every poll through while a runtime shuts down (then stepping resumes, for a
    /// scenario that builds another runtime next).
    fn shutdown_pass(&self, on: bool) {
        if let Some((gate, _)) = &self.step {
            gate.shutdown_pass(on);
        }
    }

    pub fn run_id(&self) -> u16 {
        self.run
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancel.cancelled.load(Ordering::SeqCst)
    }

    /// Resolves when the run is cancelled.
    pub async fn cancelled(&self) {
        cancelled(&self.cancel).await
    }

    /// Sleeps on a plain thread; returns false (early) if the run was cancelled.
    pub fn sleep_unless_cancelled(&self, d: Duration) -> bool {
        let st = &self.cancel;
        let guard = st.lock.lock_unpoisoned();
        let (_guard, _) = st.cv.wait_timeout_while(guard, d, |_| !st.cancelled.load(Ordering::SeqCst)).unpoisoned();
        !self.is_cancelled()
    }

    /// Puts a label on the time axis ("part 2: spawn_blocking").
    pub fn mark(&self, label: impl Into<String>) {
        let _ctx = RunContextGuard::enter(self.run);
        futurescope_recorder::mark(label);
    }

    /// An observed runtime: its threads record for this run, named `label-N`. In step mode on
    /// the paused clock it is a current-thread runtime whose clock starts paused.
    pub fn runtime(&self, flavor: Flavor, label: &str) -> std::io::Result<Runtime> {
        let mut builder = match self.effective(flavor) {
            Flavor::CurrentThread => tokio::runtime::Builder::new_current_thread(),
            Flavor::MultiThread { workers } => {
                let mut b = tokio::runtime::Builder::new_multi_thread();
                b.worker_threads(workers);
                b
            }
        };
        let label = label.to_owned();
        let counter = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        builder
            .enable_all()
            .max_blocking_threads(16)
            .thread_name_fn(move || format!("{label}-{}", counter.fetch_add(1, Ordering::Relaxed)));
        instrument(&mut builder, self.run);
        if self.paused_clock() {
            builder.start_paused(true);
        }
        let rt = builder.build()?;
        let registration = futurescope_recorder::dump::register_runtime(self.run, rt.handle());
        self.registrations.lock_unpoisoned().push(registration);
        Ok(rt)
    }

    /// Ends snapshots of this run's runtimes (before they shut down: tokio cannot dump a runtime
    /// that is shutting down).
    fn end_snapshots(&self) {
        self.snapshots.lock_unpoisoned().take();
        self.registrations.lock_unpoisoned().clear();
    }

    /// Runs `main` as a task named "main" on a new observed runtime until it finishes or the run
    /// is cancelled; then shuts the runtime down (abandoning threads stuck past a short grace).
    pub fn block_on<F>(&self, flavor: Flavor, label: &str, main: F) -> Result<F::Output, ScenarioError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let rt = self.runtime(flavor, label).map_err(|e| ScenarioError::Failed(format!("building a runtime: {e}")))?;
        // A current-thread runtime's only worker is this thread, for the duration of block_on.
        let _ctx = match self.effective(flavor) {
            Flavor::CurrentThread => enter_as_runtime_thread(self.run, &format!("{label}-current")),
            Flavor::MultiThread { .. } => RunContextGuard::enter(self.run),
        };
        let cancel = self.cancel.clone();
        let result = rt.block_on(async move { until_cancelled(spawn_named("main", main), cancel).await });
        self.end_snapshots();
        self.shutdown_pass(true);
        rt.shutdown_timeout(SHUTDOWN_GRACE);
        self.shutdown_pass(false);
        result
    }

    /// Like `block_on` for a `!Send` main future: a current-thread runtime with a `LocalSet`,
    /// `main` spawned with `spawn_local`.
    pub fn block_on_local<F>(&self, label: &str, main: F) -> Result<F::Output, ScenarioError>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let rt = self
            .runtime(Flavor::CurrentThread, label)
            .map_err(|e| ScenarioError::Failed(format!("building a runtime: {e}")))?;
        let _ctx = enter_as_runtime_thread(self.run, &format!("{label}-current"));
        let cancel = self.cancel.clone();
        let local = tokio::task::LocalSet::new();
        let result = local.block_on(&rt, async move { until_cancelled(spawn_local_named("main", main), cancel).await });
        self.end_snapshots();
        self.shutdown_pass(true);
        drop(local);
        rt.shutdown_timeout(SHUTDOWN_GRACE);
        self.shutdown_pass(false);
        result
    }

    /// A plain OS thread recording for this run (its wakes of the run's tasks are attributed).
    pub fn spawn_thread<F, T>(&self, name: &str, f: F) -> std::thread::JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let _ctx = RunContextGuard::enter(self.run);
        futurescope_recorder::spawn_thread(name, f).expect("the OS refused to start a thread")
    }
}

/// Waits for the main task, or aborts it when the run is cancelled.
async fn until_cancelled<T>(main: tokio::task::JoinHandle<T>, cancel: Arc<CancelState>) -> Result<T, ScenarioError> {
    let abort = main.abort_handle();
    tokio::select! {
        joined = main => joined.map_err(join_error),
        () = cancelled(&cancel) => {
            abort.abort();
            Err(ScenarioError::Cancelled)
        }
    }
}

async fn cancelled(st: &CancelState) {
    loop {
        let notified = st.notify.notified();
        if st.cancelled.load(Ordering::SeqCst) {
            return;
        }
        notified.await;
    }
}

fn join_error(e: tokio::task::JoinError) -> ScenarioError {
    if e.is_panic() {
        let payload = e.into_panic();
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic with a non-string payload".to_owned());
        ScenarioError::Panicked(msg)
    } else {
        ScenarioError::Cancelled
    }
}

/// Spawns a task with a name (the name both this dashboard and tokio-console show).
#[track_caller]
pub fn spawn_named<F>(name: &str, fut: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::task::Builder::new().name(name).spawn(fut).expect("spawning only fails outside a runtime")
}

/// `spawn_local` with a name, on the current `LocalSet`. tokio runs no task hooks for local
/// tasks, so the future is wrapped to record its polls from the inside
/// (`futurescope_recorder::poll_recorded`).
#[track_caller]
pub fn spawn_local_named<F>(name: &str, fut: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    tokio::task::Builder::new()
        .name(name)
        .spawn_local(futurescope_recorder::poll_recorded(fut))
        .expect("spawning on a LocalSet only fails outside one")
}

/// `spawn_blocking` with a name.
#[track_caller]
pub fn spawn_blocking_named<F, R>(name: &str, f: F) -> tokio::task::JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    tokio::task::Builder::new().name(name).spawn_blocking(f).expect("spawning only fails outside a runtime")
}

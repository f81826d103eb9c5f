//! Step mode: a gate that holds every poll of a run's tasks until the person driving the run
//! lets it happen, the way a debugger holds a thread between statements.
//!
//! Where it stops. tokio calls `on_before_task_poll` on the worker thread right before it polls
//! a task; `runtime::instrument`'s hook calls `before_poll` here, which waits, inside the hook,
//! until the gate lets that poll go. With several workers each one stops there with the task
//! it is about to poll (`GateState::waiting`, oldest arrival first). Tasks on a `LocalSet` have
//! no hooks: `PollRecorded` calls `before_poll` just before it polls the wrapped future, which
//! to the task is the same place. Blocking-pool tasks are not stepped: tokio runs each as one
//! call of a closure on its own thread, with no hook and no await point to stop at.
//!
//! Time. A worker waiting here is not parked, so it drives no timer or I/O driver: a
//! current-thread runtime on tokio's paused clock cannot auto-advance while a person reads,
//! because auto-advance happens only when the runtime parks with nothing to do.
//!
//! Leaving. `release` opens the gate for good (the run was cancelled, timed out or ended);
//! `shutdown_pass` lets every poll through while one of the run's runtimes shuts down (a
//! scenario may build several in turn). Neither the hook nor a waiting worker ever holds the
//! gate's lock across a poll.
//!
//! Cost when no run is stepped: one relaxed load of `STEPPED_RUNS` per poll.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use serde::Serialize;

use crate::capture;
use crate::clock;
use crate::sync::{LockUnpoisoned, Unpoisoned};

/// Gates registered for runs now being stepped (0: the hooks return at once).
static STEPPED_RUNS: AtomicUsize = AtomicUsize::new(0);
/// Gates currently running until the next wake (0: wakes are not reported to any gate).
static WAKE_WATCHERS: AtomicUsize = AtomicUsize::new(0);
static REGISTRY: Mutex<Vec<Arc<StepGate>>> = Mutex::new(Vec::new());

thread_local! {
    /// The gate of the run this thread works for, if that run is stepped.
    static THREAD_GATE: RefCell<Option<Arc<StepGate>>> = const { RefCell::new(None) };
}

/// What the gate does with the next poll.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Mode {
    /// Every poll waits (a requested step lets the oldest waiting one go).
    Paused,
    /// Polls go on until a task of the run is woken; then Paused.
    UntilWake,
    /// Polls of other tasks go on; the poll of `task` waits, and the gate is Paused there.
    UntilTask { task: u64 },
    /// Every poll goes on until Pause.
    Running,
    /// Open for good: the run was cancelled or is over.
    Released,
}

/// Why the gate last stopped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "why", rename_all = "snake_case")]
pub enum Stop {
    /// The run started paused, before its first poll.
    Start,
    /// A step's poll ended.
    Step,
    /// A task was woken (by task `by`, or by a driver or thread when null) while running until a
    /// wake; the run's `wake` event names the task.
    Wake { by: Option<u64> },
    /// The task asked for is the next to be polled.
    Task { task: u64 },
    /// The driver paused a running run.
    Pause,
}

/// A worker stopped before a poll, or a poll under way.
#[derive(Clone, Debug, Serialize)]
pub struct Arrival {
    #[serde(skip)]
    ticket: u64,
    /// The global index of the thread (`RunLog::lane_of` maps it to the run's lane).
    pub thread: u32,
    /// The thread's name (a lane may not be announced yet when a thread stops for the first time).
    pub thread_name: String,
    pub task: u64,
    /// When it arrived at the gate (or the poll began), ns since the run started.
    pub since: u64,
}

/// The last poll a step let through, once it has ended.
#[derive(Clone, Debug, Serialize)]
pub struct StepPoll {
    pub step: u64,
    pub thread: u32,
    pub thread_name: String,
    pub task: u64,
    pub start: u64,
    pub end: u64,
}

/// The gate as the API reports it.
#[derive(Clone, Debug, Serialize)]
pub struct GateState {
    #[serde(flatten)]
    pub mode: Mode,
    pub stop: Option<Stop>,
    /// A step was asked for and its poll has not ended yet.
    pub stepping: bool,
    /// Steps whose poll has ended.
    pub steps: u64,
    /// Polls the gate let start (steps and free running alike).
    pub passed: u64,
    pub waiting: Vec<Arrival>,
    pub polling: Vec<Arrival>,
    pub last_step: Option<StepPoll>,
    /// Changes whenever anything above does.
    pub version: u64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StepError {
    #[error("the run is running, not paused: pause it first")]
    NotPaused,
    #[error("the previous step's poll has not ended yet")]
    StepUnderWay,
    #[error("the run is over or cancelled: there is nothing left to step")]
    Released,
}

struct Inner {
    mode: Mode,
    stop: Option<Stop>,
    /// A step was requested and not yet taken by a waiting worker.
    step_requested: bool,
    /// The ticket of the poll a step let through, until it ends.
    step_in_flight: Option<u64>,
    /// Every poll passes (a runtime of the run is shutting down).
    shutting_down: bool,
    steps: u64,
    passed: u64,
    next_ticket: u64,
    waiting: Vec<Arrival>,
    polling: Vec<Arrival>,
    last_step: Option<StepPoll>,
}

/// The step gate of one run.
pub struct StepGate {
    run: u16,
    /// `clock::now()` at the run's start, for run-relative times.
    start_ns: u64,
    inner: Mutex<Inner>,
    /// Waiting workers sleep on this.
    resume: Condvar,
    /// Wakes watchers (the server) whenever the state changes.
    changed: tokio::sync::Notify,
    version: AtomicU64,
}

impl StepGate {
    /// A paused gate for run `run` (started at `start_ns`, `clock::now()`), registered so the
    /// run's threads find it. Unregister it with `release` when the run ends.
    pub fn register(run: u16, start_ns: u64) -> Arc<StepGate> {
        let gate = Arc::new(StepGate {
            run,
            start_ns,
            inner: Mutex::new(Inner {
                mode: Mode::Paused,
                stop: Some(Stop::Start),
                step_requested: false,
                step_in_flight: None,
                shutting_down: false,
                steps: 0,
                passed: 0,
                next_ticket: 0,
                waiting: Vec::new(),
                polling: Vec::new(),
                last_step: None,
            }),
            resume: Condvar::new(),
            changed: tokio::sync::Notify::new(),
            version: AtomicU64::new(0),
        });
        let mut reg = lock_registry();
        reg.retain(|g| g.run != run);
        reg.push(gate.clone());
        STEPPED_RUNS.store(reg.len(), Ordering::SeqCst);
        gate
    }

    pub fn run(&self) -> u16 {
        self.run
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Nothing panics while holding it; the fields stay consistent if something did.
        self.inner.lock_unpoisoned()
    }

    fn now(&self) -> u64 {
        clock::now().saturating_sub(self.start_ns)
    }

    /// Tells waiting workers and watchers that the state changed.
    fn changed(&self) {
        self.version.fetch_add(1, Ordering::SeqCst);
        self.resume.notify_all();
        self.changed.notify_waiters();
    }

    /// Increases whenever the state changes (cheap to compare without locking).
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::SeqCst)
    }

    /// Resolves at the next change after it was created (create it before reading the state).
    pub fn notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.changed.notified()
    }

    pub fn state(&self) -> GateState {
        let g = self.lock();
        GateState {
            mode: g.mode,
            stop: g.stop.clone(),
            stepping: g.step_requested || g.step_in_flight.is_some(),
            steps: g.steps,
            passed: g.passed,
            waiting: g.waiting.clone(),
            polling: g.polling.clone(),
            last_step: g.last_step.clone(),
            version: self.version(),
        }
    }

    /// Lets exactly one poll happen: the oldest waiting worker's, or the next to arrive.
    pub fn step(&self) -> Result<(), StepError> {
        let mut g = self.lock();
        match g.mode {
            Mode::Released => return Err(StepError::Released),
            Mode::Paused => {}
            _ => return Err(StepError::NotPaused),
        }
        if g.step_requested || g.step_in_flight.is_some() {
            return Err(StepError::StepUnderWay);
        }
        g.step_requested = true;
        drop(g);
        self.changed();
        Ok(())
    }

    /// Runs until a task of the run is woken, then pauses before the next poll.
    pub fn until_wake(&self) -> Result<(), StepError> {
        self.set_running_mode(Mode::UntilWake)
    }

    /// Runs until `task` is about to be polled, and pauses there.
    pub fn until_task(&self, task: u64) -> Result<(), StepError> {
        self.set_running_mode(Mode::UntilTask { task })
    }

    /// Runs freely until `pause`.
    pub fn resume(&self) -> Result<(), StepError> {
        self.set_running_mode(Mode::Running)
    }

    fn set_running_mode(&self, mode: Mode) -> Result<(), StepError> {
        let mut g = self.lock();
        if g.mode == Mode::Released {
            return Err(StepError::Released);
        }
        if g.step_requested || g.step_in_flight.is_some() {
            return Err(StepError::StepUnderWay);
        }
        set_mode(&mut g, mode);
        g.stop = None;
        drop(g);
        self.changed();
        Ok(())
    }

    /// Stops before the next poll (polls under way finish).
    pub fn pause(&self) -> Result<(), StepError> {
        let mut g = self.lock();
        match g.mode {
            Mode::Released => return Err(StepError::Released),
            Mode::Paused => return Ok(()),
            _ => {}
        }
        set_mode(&mut g, Mode::Paused);
        g.stop = Some(Stop::Pause);
        drop(g);
        self.changed();
        Ok(())
    }

    /// Opens the gate for good and unregisters it (cancelled, timed out, or over).
    pub fn release(&self) {
        let mut g = self.lock();
        set_mode(&mut g, Mode::Released);
        g.step_requested = false;
        drop(g);
        let mut reg = lock_registry();
        reg.retain(|g| g.run != self.run);
        STEPPED_RUNS.store(reg.len(), Ordering::SeqCst);
        drop(reg);
        self.changed();
    }

    pub fn is_released(&self) -> bool {
        self.lock().mode == Mode::Released
    }

    /// While `on`, every poll passes: a runtime of the run is shutting down (its tasks are
    /// being dropped, which may run them once more, and nobody is there to step that).
    pub fn shutdown_pass(&self, on: bool) {
        self.lock().shutting_down = on;
        self.changed();
    }

    /// Called on the worker thread right before it polls `task`; returns when the poll may go.
    fn before(&self, task: u64) {
        let mut g = self.lock();
        if g.mode == Mode::Released || g.shutting_down {
            g.passed += 1;
            return;
        }
        let ticket = g.next_ticket;
        g.next_ticket += 1;
        let (thread, thread_name) = this_thread();
        let since = self.now();
        g.waiting.push(Arrival { ticket, thread, thread_name, task, since });
        let mut announced = false;
        loop {
            match decide(&mut g, ticket, task) {
                Decision::Pass => break,
                Decision::Wait { stopped_here } => {
                    if stopped_here || !announced {
                        announced = true;
                        drop(g);
                        self.changed();
                        g = self.lock();
                        continue;
                    }
                    g = self.resume.wait(g).unpoisoned();
                }
            }
        }
        let at =
            g.waiting.iter().position(|a| a.ticket == ticket).expect("a waiting arrival stays listed until it passes");
        let mut arrival = g.waiting.remove(at);
        arrival.since = self.now();
        g.polling.push(arrival);
        g.passed += 1;
        drop(g);
        self.changed();
    }

    /// Called on the worker thread when the poll of `task` returned.
    fn after(&self, task: u64) {
        let mut g = self.lock();
        let (thread, _) = this_thread();
        let Some(at) = g.polling.iter().position(|a| a.thread == thread && a.task == task) else { return };
        let arrival = g.polling.remove(at);
        if g.step_in_flight == Some(arrival.ticket) {
            g.step_in_flight = None;
            g.steps += 1;
            g.last_step = Some(StepPoll {
                step: g.steps,
                thread: arrival.thread,
                thread_name: arrival.thread_name,
                task,
                start: arrival.since,
                end: self.now(),
            });
            if g.mode == Mode::Paused {
                g.stop = Some(Stop::Step);
            }
        }
        drop(g);
        self.changed();
    }

    /// A task of this run was woken (only reported while some gate runs until a wake).
    fn woke(&self, by: Option<u64>) {
        let mut g = self.lock();
        if g.mode != Mode::UntilWake {
            return;
        }
        set_mode(&mut g, Mode::Paused);
        g.stop = Some(Stop::Wake { by });
        drop(g);
        self.changed();
    }
}

enum Decision {
    Pass,
    /// `stopped_here`: this arrival just turned the gate to Paused (watchers should hear).
    Wait {
        stopped_here: bool,
    },
}

fn decide(g: &mut Inner, ticket: u64, task: u64) -> Decision {
    if g.shutting_down {
        return Decision::Pass;
    }
    match g.mode {
        Mode::Released | Mode::Running | Mode::UntilWake => Decision::Pass,
        Mode::UntilTask { task: wanted } if wanted != task => Decision::Pass,
        Mode::UntilTask { .. } => {
            set_mode(g, Mode::Paused);
            g.stop = Some(Stop::Task { task });
            Decision::Wait { stopped_here: true }
        }
        Mode::Paused => {
            let oldest = g.waiting.first().map(|a| a.ticket);
            if g.step_requested && oldest == Some(ticket) {
                g.step_requested = false;
                g.step_in_flight = Some(ticket);
                Decision::Pass
            } else {
                Decision::Wait { stopped_here: false }
            }
        }
    }
}

/// Changes the mode, keeping the count of gates that want to hear about wakes.
fn set_mode(g: &mut Inner, mode: Mode) {
    if g.mode == Mode::UntilWake && mode != Mode::UntilWake {
        WAKE_WATCHERS.fetch_sub(1, Ordering::SeqCst);
    }
    if g.mode != Mode::UntilWake && mode == Mode::UntilWake {
        WAKE_WATCHERS.fetch_add(1, Ordering::SeqCst);
    }
    if g.mode != Mode::Released {
        g.mode = mode;
    }
}

fn lock_registry() -> MutexGuard<'static, Vec<Arc<StepGate>>> {
    REGISTRY.lock_unpoisoned()
}

fn this_thread() -> (u32, String) {
    let index = capture::this_thread_index();
    let name = std::thread::current().name().unwrap_or("(unnamed)").to_owned();
    (index, name)
}

fn gate_of_run(run: u16) -> Option<Arc<StepGate>> {
    lock_registry().iter().find(|g| g.run == run).cloned()
}

/// The thread now works for `run` (from `capture::set_run`): remember that run's gate, if any.
pub(crate) fn thread_entered_run(run: u16) {
    let gate = if run != 0 && STEPPED_RUNS.load(Ordering::SeqCst) != 0 { gate_of_run(run) } else { None };
    let _ = THREAD_GATE.try_with(|g| {
        if let Ok(mut g) = g.try_borrow_mut() {
            *g = gate;
        }
    });
}

fn thread_gate() -> Option<Arc<StepGate>> {
    if STEPPED_RUNS.load(Ordering::Relaxed) == 0 {
        return None;
    }
    THREAD_GATE.try_with(|g| g.try_borrow().ok().and_then(|g| g.clone())).ok().flatten()
}

/// Right before this thread polls `task`: waits while its run is paused.
#[inline]
pub fn before_poll(task: u64) {
    if let Some(gate) = thread_gate() {
        gate.before(task);
    }
}

/// Right after this thread's poll of `task` returned.
#[inline]
pub fn after_poll(task: u64) {
    if let Some(gate) = thread_gate() {
        gate.after(task);
    }
}

/// A task of run `run` was woken by `by` (0: no task): stops a gate running until a wake.
#[inline]
pub(crate) fn wake_seen(run: u16, by: u64) {
    if WAKE_WATCHERS.load(Ordering::Relaxed) == 0 || run == 0 {
        return;
    }
    if let Some(gate) = gate_of_run(run) {
        gate.woke((by != 0).then_some(by));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait_for(gate: &StepGate, cond: impl Fn(&GateState) -> bool) {
        for _ in 0..10_000 {
            if cond(&gate.state()) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        panic!("the gate never reached the expected state: {:?}", gate.state());
    }

    #[test]
    fn a_step_asked_for_with_nobody_waiting_is_taken_by_the_next_arrival() {
        let gate = StepGate::register(60_003, clock::now());
        gate.step().unwrap();
        assert_eq!(gate.step(), Err(StepError::StepUnderWay));
        gate.before(9);
        gate.after(9);
        let s = gate.state();
        assert_eq!((s.steps, s.passed, s.stepping), (1, 1, false));
        assert_eq!(s.last_step.unwrap().task, 9);
        gate.release();
    }

    #[test]
    fn step_lets_the_oldest_waiter_through_and_only_it() {
        let gate = StepGate::register(60_001, clock::now());
        let threads: Vec<_> = (0..2)
            .map(|i| {
                let gate = gate.clone();
                std::thread::spawn(move || {
                    gate.before(100 + i);
                    gate.after(100 + i);
                })
            })
            .collect();
        wait_for(&gate, |s| s.waiting.len() == 2);
        let first = gate.state().waiting[0].task;
        gate.step().unwrap();
        wait_for(&gate, |s| s.steps == 1);
        let s = gate.state();
        assert_eq!(s.last_step.as_ref().unwrap().task, first);
        assert_eq!(s.waiting.len(), 1, "the other worker still waits");
        assert_eq!(s.passed, 1);
        assert_eq!(s.stop, Some(Stop::Step));
        gate.release();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(gate.step(), Err(StepError::Released));
    }

    #[test]
    fn until_task_passes_others_and_stops_before_it() {
        let gate = StepGate::register(60_002, clock::now());
        gate.until_task(7).unwrap();
        gate.before(3);
        gate.after(3);
        let g2 = gate.clone();
        let t = std::thread::spawn(move || g2.before(7));
        wait_for(&gate, |s| s.waiting.len() == 1);
        let s = gate.state();
        assert_eq!(s.mode, Mode::Paused);
        assert_eq!(s.stop, Some(Stop::Task { task: 7 }));
        assert_eq!(s.waiting[0].task, 7);
        assert_eq!(s.passed, 1);
        gate.release();
        t.join().unwrap();
    }
}

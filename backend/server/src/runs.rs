//! The run manager: starts scenario runs, cancels them, and keeps their logs.
//!
//! Each run gets its own OS thread, which builds the scenario's own observed runtime(s) through
//! `RunContext`; the dashboard's server runtime is never one of them, so the dashboard never
//! records itself. A run ends when its scenario returns, when it is cancelled, or at its time
//! limit; a scenario that ignores cancellation (a worker blocked for ever) is abandoned after a
//! grace period: its run is marked failed, its log stops receiving events, and the server and
//! other runs go on.
//!
//! Finished runs are kept, newest first, until their logs exceed the memory budget; then the
//! oldest finished runs are evicted (and the eviction is reported in `RunManager::notices`).

use std::collections::{BTreeMap, HashMap};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futurescope_recorder::dump::{self, Reason};
use futurescope_recorder::{LockUnpoisoned, Recorder, RunLog, StepGate};
use futurescope_scenarios::context::CancelHandle;
use futurescope_scenarios::{Params, RunContext, Scenario, ScenarioError};

use crate::step::StepControl;
use serde::Serialize;
use tokio::sync::broadcast;

/// Run manager settings.
#[derive(Clone, Debug)]
pub struct RunManagerConfig {
    /// A run still going after this long is cancelled.
    pub time_limit: Duration,
    /// How long a cancelled run may take to stop before it is abandoned.
    pub stop_grace: Duration,
    /// Runs that may be running at once.
    pub max_running: usize,
    /// Memory the kept runs' logs, and console-subscriber's copies of their tasks, may take
    /// before the oldest finished runs are evicted (and, when console-subscriber's copies alone
    /// fill it, before new runs wait).
    pub memory_budget: usize,
    /// The time limit of a run in step mode (a person reads between steps; it is still bounded).
    pub step_time_limit: Duration,
    /// A stepped run whose driving client has been gone this long continues freely.
    pub driver_grace: Duration,
    /// console-subscriber's retention of finished tasks, when it is on: each task of a run is
    /// counted against the budget from its spawn until the retention after the run's end.
    pub console_task_retention: Option<Duration>,
}

/// What console-subscriber keeps per task: two HDR histograms (poll and scheduled times) and
/// the task's stats; measured here as RSS over 10,000-task runs (README, "Memory").
pub const CONSOLE_BYTES_PER_TASK: usize = 56 << 10;
/// console-subscriber drops finished tasks on its publish tick (1 s) after the retention; the
/// hold lasts a little longer so the next run is not admitted before they are freed. (A 60 s
/// soak's RSS still spikes by a 10,000-task run's copies at times, with 2 s here and with 10 s:
/// the cause is not this.)
const CONSOLE_RELEASE_SLACK: Duration = Duration::from_secs(10);

/// The memory the budget accounts for, bytes.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct MemoryUse {
    /// The kept runs' logs.
    pub logs: usize,
    /// console-subscriber's copies of the tasks of running and recently finished runs.
    pub console: usize,
    pub budget: usize,
}

impl Default for RunManagerConfig {
    fn default() -> Self {
        RunManagerConfig {
            time_limit: Duration::from_secs(60),
            stop_grace: Duration::from_secs(3),
            max_running: 4,
            memory_budget: 1 << 30,
            step_time_limit: Duration::from_secs(15 * 60),
            driver_grace: Duration::from_secs(30),
            console_task_retention: None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    Running,
    Finished,
    Failed,
    Cancelled,
}

#[derive(Debug, Clone)]
struct RunStatus {
    state: RunState,
    error: Option<String>,
    /// Run-relative end time, ns.
    duration_ns: Option<u64>,
}

/// What a run records: a scenario the dashboard started, or the program that serves the
/// dashboard itself (`futurescope::init`).
pub enum RunKind {
    Scenario(&'static Scenario),
    Program(ProgramInfo),
}

/// The program a `RunKind::Program` run records.
#[derive(Clone, Debug, Serialize)]
pub struct ProgramInfo {
    /// The executable's file name.
    pub binary: String,
    /// Its full path, when known.
    pub path: Option<String>,
    pub pid: u32,
    /// Its arguments after the executable.
    pub args: Vec<String>,
}

impl ProgramInfo {
    /// The calling process.
    pub fn current() -> ProgramInfo {
        let exe = std::env::current_exe().ok();
        let mut args = std::env::args();
        let first = args.next();
        let binary = exe
            .as_ref()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .or(first)
            .unwrap_or_else(|| "program".to_owned());
        ProgramInfo {
            binary,
            path: exe.map(|p| p.display().to_string()),
            pid: std::process::id(),
            args: args.collect(),
        }
    }
}

/// One run: its scenario (or program), parameters, log and status.
pub struct Run {
    pub id: u64,
    /// The server process (`RunManager::instance`): run ids restart at 1 with each process.
    pub instance: Arc<str>,
    pub kind: RunKind,
    pub params: Params,
    pub log: Arc<RunLog>,
    pub started_ms: u64,
    started: Instant,
    cancel: CancelHandle,
    /// Step mode: the gate and who drives it (None: the run runs freely).
    pub step: Option<StepControl>,
    /// Set by the watchdog before it cancels a run at its time limit.
    timed_out: std::sync::atomic::AtomicBool,
    status: Mutex<RunStatus>,
}

/// A run's status as the API shows it.
#[derive(Debug, Serialize)]
pub struct RunSummary {
    pub id: u64,
    /// The server process the run belongs to (`RunManager::instance`).
    pub instance: String,
    /// The scenario's name (null for a program run).
    pub scenario: Option<&'static str>,
    /// The program recorded (program runs only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub program: Option<ProgramInfo>,
    pub params: serde_json::Value,
    pub status: RunState,
    pub error: Option<String>,
    pub started_ms: u64,
    pub duration_ns: u64,
    pub counts: futurescope_recorder::RunCounts,
    /// The run's retention window (program runs only; added in v1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention: Option<RetentionSummary>,
}

/// A long-lived run's retention window, as the API shows it.
#[derive(Debug, Serialize)]
pub struct RetentionSummary {
    /// Events older than this (back from the newest) are evicted.
    pub max_age_ns: u64,
    /// The log is kept under about this many bytes.
    pub max_bytes: usize,
    /// The time of the first event kept (0 until something was evicted).
    pub window_start_ns: u64,
    /// The log's size now, as the window counts it against `max_bytes` (added in v1).
    pub held_bytes: usize,
}

impl Run {
    /// The scenario run, if this is a scenario run.
    pub fn scenario(&self) -> Option<&'static Scenario> {
        match &self.kind {
            RunKind::Scenario(s) => Some(s),
            RunKind::Program(_) => None,
        }
    }

    /// The program recorded, if this is a program run.
    pub fn program(&self) -> Option<&ProgramInfo> {
        match &self.kind {
            RunKind::Program(p) => Some(p),
            RunKind::Scenario(_) => None,
        }
    }

    /// What the run is called: the scenario's name or the program's binary.
    pub fn name(&self) -> &str {
        match &self.kind {
            RunKind::Scenario(s) => s.name,
            RunKind::Program(p) => &p.binary,
        }
    }

    pub fn state(&self) -> RunState {
        self.lock_status().state
    }

    fn lock_status(&self) -> std::sync::MutexGuard<'_, RunStatus> {
        self.status.lock_unpoisoned()
    }

    pub fn summary(&self) -> RunSummary {
        let st = self.lock_status().clone();
        RunSummary {
            id: self.id,
            instance: self.instance.to_string(),
            scenario: self.scenario().map(|s| s.name),
            program: self.program().cloned(),
            params: self.params.to_json(),
            status: st.state,
            error: st.error,
            started_ms: self.started_ms,
            duration_ns: st.duration_ns.unwrap_or_else(|| self.started.elapsed().as_nanos() as u64),
            counts: self.log.counts(),
            retention: self.log.retention().map(|r| RetentionSummary {
                max_age_ns: r.max_age.as_nanos() as u64,
                max_bytes: r.max_bytes,
                window_start_ns: self.log.window_start(),
                held_bytes: self.log.approx_bytes(),
            }),
        }
    }

    pub fn is_over(&self) -> bool {
        self.state() != RunState::Running
    }

    /// Sets the final status once; later calls (a late thread after abandonment) are ignored.
    fn end(&self, state: RunState, error: Option<String>) -> bool {
        let mut st = self.lock_status();
        if st.state != RunState::Running {
            return false;
        }
        st.state = state;
        st.error = error;
        st.duration_ns = Some(self.started.elapsed().as_nanos() as u64);
        true
    }
}

/// Something every dashboard client should hear about.
#[derive(Clone, Debug)]
pub enum Notice {
    Started(u64),
    Ended(u64),
    Evicted { run: u64, reason: String },
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("unknown scenario `{0}`; GET /api/scenarios lists them")]
    UnknownScenario(String),
    #[error(transparent)]
    BadParams(#[from] futurescope_scenarios::ParamError),
    #[error("{0} runs are already running; cancel one or wait")]
    Busy(usize),
    #[error(
        "console-subscriber still keeps the tasks of recent runs ({held_mib} MiB of the {budget_mib} MiB memory \
         budget) for its retention (TOKIO_CONSOLE_RETENTION); they are released within {free_in_s} s: start \
         the run then, or serve with a shorter TOKIO_CONSOLE_RETENTION or a larger --memory-budget-mib"
    )]
    ConsoleMemory { held_mib: usize, budget_mib: usize, free_in_s: u64 },
    #[error("could not start the run thread: {0}")]
    Thread(std::io::Error),
}

pub struct RunManager {
    recorder: &'static Recorder,
    config: RunManagerConfig,
    runs: Mutex<BTreeMap<u64, Arc<Run>>>,
    next_id: AtomicU64,
    notices: broadcast::Sender<Notice>,
    instance: Arc<str>,
    /// Set once the server shuts down (WebSocket connections then flush and say goodbye).
    shutdown: tokio::sync::watch::Sender<bool>,
    /// console-subscriber's copies of finished runs' tasks: (released by, bytes).
    console_holds: Mutex<Vec<(Instant, usize)>>,
    /// Set when a large amount was freed (console-subscriber's copies past their retention, an
    /// evicted run's log, a run's runtimes at its end): the memory thread hands free pages
    /// back to the OS.
    freed: AtomicBool,
    /// What the last run of (scenario, parameters) left: the tasks it spawned (for the console
    /// admission check) and its log's bytes (room made for the next one before it starts).
    last_runs: Mutex<HashMap<(&'static str, String), LastRun>>,
}

/// A fresh per-process id (16 hex digits): the clock, the pid and the std hasher's random keys.
fn new_instance_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u128(SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
    format!("{:016x}", h.finish())
}

impl RunManager {
    pub fn new(recorder: &'static Recorder, config: RunManagerConfig) -> Arc<RunManager> {
        let (notices, _) = broadcast::channel(256);
        let manager = Arc::new(RunManager {
            recorder,
            config,
            runs: Mutex::new(BTreeMap::new()),
            next_id: AtomicU64::new(1),
            notices,
            instance: new_instance_id().into(),
            shutdown: tokio::sync::watch::Sender::new(false),
            console_holds: Mutex::new(Vec::new()),
            freed: AtomicBool::new(false),
            last_runs: Mutex::new(HashMap::new()),
        });
        Self::spawn_memory_thread(Arc::downgrade(&manager));
        manager
    }

    /// glibc's malloc keeps what is freed for reuse and, with many threads' arenas, does not
    /// reuse the pages of tasks console-subscriber dropped: a soak grew by each heavy run's
    /// copies although they were freed. After a release the budget accounts for, this thread
    /// returns the free pages to the OS, so the process's RSS follows the accounting.
    fn spawn_memory_thread(manager: std::sync::Weak<RunManager>) {
        let _ = std::thread::Builder::new().name("futurescope-memory".into()).spawn(move || {
            loop {
                std::thread::sleep(Duration::from_secs(1));
                let Some(manager) = manager.upgrade() else { return };
                // Expires the holds whose retention is over (and sets `freed` if any did), and
                // evicts finished runs while a running one grows past the budget (its log and
                // console-subscriber's copies of its tasks), not only when a run ends.
                manager.evict_over_budget(0);
                if manager.freed.swap(false, Ordering::Relaxed) {
                    release_free_memory();
                }
            }
        });
    }

    /// This server process's id: run ids are unique only together with it (they restart at 1
    /// in every process), so clients keep both and can tell a run of an earlier server.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    pub fn subscribe_notices(&self) -> broadcast::Receiver<Notice> {
        self.notices.subscribe()
    }

    fn lock_runs(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<Run>>> {
        self.runs.lock_unpoisoned()
    }

    pub fn get(&self, id: u64) -> Option<Arc<Run>> {
        self.lock_runs().get(&id).cloned()
    }

    /// All kept runs, newest first.
    pub fn list(&self) -> Vec<Arc<Run>> {
        self.lock_runs().values().rev().cloned().collect()
    }

    /// A client follows a running run live: the recorder drains promptly until it is dropped.
    pub fn watch_live(&self) -> futurescope_recorder::LiveViewer {
        self.recorder.watch_live()
    }

    /// When the runs' lints fire (the recorder's thresholds).
    pub fn lint_thresholds(&self) -> futurescope_recorder::LintThresholds {
        self.recorder.lint_thresholds()
    }

    /// Validates and starts a run of the catalogue's scenario `scenario`.
    pub fn start(self: &Arc<Self>, scenario: &str, params: &serde_json::Value) -> Result<Arc<Run>, StartError> {
        self.start_named(scenario, params, false)
    }

    /// Like `start`; with `step` the run starts paused before its first poll (step mode).
    pub fn start_named(
        self: &Arc<Self>,
        scenario: &str,
        params: &serde_json::Value,
        step: bool,
    ) -> Result<Arc<Run>, StartError> {
        let scenario = futurescope_scenarios::find(scenario)
            .ok_or_else(|| StartError::UnknownScenario(scenario.chars().take(80).collect()))?;
        self.start_scenario_with(scenario, params, step)
    }

    /// Validates and starts a run of any scenario (benchmarks and tests bring their own).
    pub fn start_scenario(
        self: &Arc<Self>,
        scenario: &'static Scenario,
        params: &serde_json::Value,
    ) -> Result<Arc<Run>, StartError> {
        self.start_scenario_with(scenario, params, false)
    }

    /// `start_scenario`, in step mode when `step`.
    pub fn start_scenario_with(
        self: &Arc<Self>,
        scenario: &'static Scenario,
        params: &serde_json::Value,
        step: bool,
    ) -> Result<Arc<Run>, StartError> {
        let params = Params::validate(scenario.params, params)?;
        let running = self.lock_runs().values().filter(|r| !r.is_over() && r.scenario().is_some()).count();
        if running >= self.config.max_running {
            return Err(StartError::Busy(running));
        }
        // Finished runs' logs can be evicted to make room; console-subscriber's copies cannot.
        // A run whose scenario ran before with these parameters is expected to spawn as many
        // tasks again: it starts only if their copies fit too (unless nothing is held).
        let (console, release) = self.console_use();
        let last = self.last_run(scenario.name, &params);
        let expected = last.tasks as usize * self.console_bytes_per_task();
        if console >= self.config.memory_budget || (console > 0 && console + expected > self.config.memory_budget) {
            return Err(StartError::ConsoleMemory {
                held_mib: console >> 20,
                budget_mib: self.config.memory_budget >> 20,
                free_in_s: release.saturating_duration_since(Instant::now()).as_secs() + 1,
            });
        }
        // Room for what the run is expected to take, made before it starts: evicting only when
        // a run ends let a 10,000-task run's copies and log sit on top of a full budget of kept
        // logs for its whole length (the soak's samples above the limit).
        self.evict_over_budget(expected + last.log_bytes);
        let log = self.recorder.begin_run();
        let (ctx, cancel, step) = if step {
            let gate = StepGate::register(log.id, log.start);
            let (ctx, cancel) = RunContext::stepped(&log, gate.clone(), scenario.step_time);
            (ctx, cancel, Some(StepControl::new(gate, scenario.step_time)))
        } else {
            let (ctx, cancel) = RunContext::for_log(&log);
            (ctx, cancel, None)
        };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let started_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
        let run = Arc::new(Run {
            id,
            instance: self.instance.clone(),
            kind: RunKind::Scenario(scenario),
            params: params.clone(),
            log,
            started_ms,
            started: Instant::now(),
            cancel,
            step,
            timed_out: std::sync::atomic::AtomicBool::new(false),
            status: Mutex::new(RunStatus { state: RunState::Running, error: None, duration_ns: None }),
        });
        self.lock_runs().insert(id, run.clone());

        let manager = self.clone();
        let for_thread = run.clone();
        let spawned = std::thread::Builder::new().name(format!("futurescope-run-{id}")).spawn(move || {
            let result = std::panic::catch_unwind(AssertUnwindSafe(|| (scenario.run)(&ctx, &for_thread.params)));
            let (state, error) = match result {
                Ok(Ok(())) => (RunState::Finished, None),
                Ok(Err(ScenarioError::Cancelled)) if for_thread.cancel.is_cancelled() => (RunState::Cancelled, None),
                Ok(Err(e)) => (RunState::Failed, Some(e.to_string())),
                Err(panic) => (RunState::Failed, Some(format!("the scenario panicked: {}", panic_message(&panic)))),
            };
            manager.finish(&for_thread, state, error);
        });
        if let Err(e) = spawned {
            self.finish(&run, RunState::Failed, Some(format!("could not start the run thread: {e}")));
            return Err(StartError::Thread(e));
        }
        self.watch_time_limit(run.clone());
        let _ = self.notices.send(Notice::Started(id));
        Ok(run)
    }

    /// Adds the run of the program serving the dashboard (see `crate::program`): it records
    /// into `log` for as long as the program runs, has no time limit and cannot be cancelled.
    pub fn add_program(&self, log: Arc<RunLog>, info: ProgramInfo) -> Arc<Run> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let started_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
        let (_ctx, cancel) = RunContext::new(log.id);
        let run = Arc::new(Run {
            id,
            instance: self.instance.clone(),
            kind: RunKind::Program(info),
            params: Params::default(),
            log,
            started_ms,
            started: Instant::now(),
            cancel,
            step: None,
            timed_out: std::sync::atomic::AtomicBool::new(false),
            status: Mutex::new(RunStatus { state: RunState::Running, error: None, duration_ns: None }),
        });
        self.lock_runs().insert(id, run.clone());
        let _ = self.notices.send(Notice::Started(id));
        run
    }

    /// Cancels at the time limit; abandons a run that does not stop within the grace period.
    fn watch_time_limit(self: &Arc<Self>, run: Arc<Run>) {
        let manager = self.clone();
        let limit = if run.step.is_some() { self.config.step_time_limit } else { self.config.time_limit };
        let grace = self.config.stop_grace;
        let driver_grace = self.config.driver_grace;
        std::thread::Builder::new()
            .name(format!("futurescope-watch-{}", run.id))
            .spawn(move || {
                let deadline = Instant::now() + limit;
                while Instant::now() < deadline && !run.is_over() && !run.cancel.is_cancelled() {
                    if let Some(step) = &run.step {
                        step.continue_if_driver_gone(driver_grace);
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                if !run.is_over() && !run.cancel.is_cancelled() {
                    run.timed_out.store(true, Ordering::SeqCst);
                    // Where every task was when time ran out (a snapshot event), then stop.
                    let _ = dump::take_blocking(run.log.clone(), Reason::TimeLimit);
                    run.cancel.cancel();
                }
                let stop_by = Instant::now() + grace;
                while Instant::now() < stop_by && !run.is_over() {
                    std::thread::sleep(Duration::from_millis(20));
                }
                if !run.is_over() {
                    manager.finish(
                        &run,
                        RunState::Failed,
                        Some(format!(
                            "the scenario did not stop within {grace:?} of being cancelled (a thread is blocked); \
                             it was abandoned and records no more"
                        )),
                    );
                }
            })
            .expect("the OS refused a watchdog thread");
    }

    fn finish(&self, run: &Arc<Run>, state: RunState, error: Option<String>) {
        if let Some(step) = &run.step {
            step.gate.release();
        }
        let (state, error) = if state == RunState::Cancelled && run.timed_out.load(Ordering::SeqCst) {
            let limit = if run.step.is_some() { self.config.step_time_limit } else { self.config.time_limit };
            (RunState::Failed, Some(format!("time limit of {limit:?} reached; the run was cancelled")))
        } else {
            (state, error)
        };
        self.recorder.finish_run(&run.log);
        if let RunKind::Scenario(scenario) = &run.kind {
            let last = LastRun { tasks: run.log.counts().tasks, log_bytes: run.log.approx_bytes() };
            self.last_runs.lock_unpoisoned().insert((scenario.name, format!("{:?}", run.params)), last);
        }
        if let Some(retention) = self.config.console_task_retention {
            let bytes = run.log.counts().tasks as usize * CONSOLE_BYTES_PER_TASK;
            self.lock_holds().push((Instant::now() + retention + CONSOLE_RELEASE_SLACK, bytes));
        }
        if run.end(state, error) {
            // The run's runtimes, tasks and threads are gone: their memory too, back to the OS
            // (a 10,000-task run frees hundreds of MiB that glibc would otherwise keep).
            self.freed.store(true, Ordering::Relaxed);
            let _ = self.notices.send(Notice::Ended(run.id));
            self.evict_over_budget(0);
        }
    }

    /// Cancels a run; true if it was running. A running run first gets a snapshot of where
    /// its tasks are (on a thread of its own: the caller does not wait for the dump).
    pub fn cancel(&self, id: u64) -> Option<bool> {
        let run = self.get(id)?;
        if run.program().is_some() {
            return Some(false); // it ends when the program does
        }
        let was_running = !run.is_over();
        if was_running && !run.cancel.is_cancelled() && dump::has_runtime(run.log.id) {
            let for_thread = run.clone();
            let spawned = std::thread::Builder::new().name(format!("futurescope-cancel-{id}")).spawn(move || {
                let _ = dump::take_blocking(for_thread.log.clone(), Reason::Cancelled);
                for_thread.cancel.cancel();
            });
            if spawned.is_ok() {
                return Some(true);
            }
        }
        run.cancel.cancel();
        Some(was_running)
    }

    /// Cancels every running run (at shutdown).
    pub fn cancel_all(&self) {
        for run in self.list() {
            run.cancel.cancel();
        }
    }

    /// The server is shutting down: cancels every run and tells the WebSocket connections,
    /// which send their runs' last events and `end`s, then close with "going away".
    pub fn shut_down(&self) {
        self.cancel_all();
        self.shutdown.send_replace(true);
    }

    /// Changes to true when `shut_down` is called.
    pub fn shutdown_signal(&self) -> tokio::sync::watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    fn lock_holds(&self) -> std::sync::MutexGuard<'_, Vec<(Instant, usize)>> {
        self.console_holds.lock_unpoisoned()
    }

    /// console-subscriber's copies of tasks now (running runs' tasks and finished runs' within
    /// its retention), and when the last finished run's are released.
    fn console_use(&self) -> (usize, Instant) {
        if self.config.console_task_retention.is_none() {
            return (0, Instant::now());
        }
        let now = Instant::now();
        let mut holds = self.lock_holds();
        let before = holds.len();
        holds.retain(|(until, _)| *until > now);
        if holds.len() < before {
            self.freed.store(true, Ordering::Relaxed);
        }
        let finished: usize = holds.iter().map(|(_, b)| b).sum();
        let release = holds.iter().map(|(until, _)| *until).max().unwrap_or(now);
        drop(holds);
        let running: usize = self
            .lock_runs()
            .values()
            .filter(|r| !r.is_over())
            .map(|r| r.log.counts().tasks as usize * CONSOLE_BYTES_PER_TASK)
            .sum();
        (finished + running, release)
    }

    /// What the last run of `scenario` with `params` left (nothing known: zeros).
    fn last_run(&self, scenario: &str, params: &Params) -> LastRun {
        let params = format!("{params:?}");
        let last = self.last_runs.lock_unpoisoned();
        last.iter().find(|((name, p), _)| *name == scenario && *p == params).map(|(_, l)| *l).unwrap_or_default()
    }

    /// What console-subscriber keeps of a task (0 when it is off).
    fn console_bytes_per_task(&self) -> usize {
        if self.config.console_task_retention.is_some() { CONSOLE_BYTES_PER_TASK } else { 0 }
    }

    /// What the memory budget accounts for right now.
    pub fn memory(&self) -> MemoryUse {
        let logs = self.lock_runs().values().map(|r| r.log.approx_bytes()).sum();
        MemoryUse { logs, console: self.console_use().0, budget: self.config.memory_budget }
    }

    /// Evicts the oldest finished runs until the kept logs, console-subscriber's copies and
    /// `reserve` more bytes fit in the budget (or no finished run is left).
    fn evict_over_budget(&self, reserve: usize) {
        let console = self.console_use().0;
        let mut runs = self.lock_runs();
        let mut total: usize = reserve + console + runs.values().map(|r| r.log.approx_bytes()).sum::<usize>();
        while total > self.config.memory_budget {
            let Some((&oldest, run)) = runs.iter().find(|(_, r)| r.is_over()) else { break };
            total -= run.log.approx_bytes();
            runs.remove(&oldest);
            self.freed.store(true, Ordering::Relaxed);
            let reason = format!(
                "run {oldest} was evicted: kept runs exceeded the memory budget of {} MiB",
                self.config.memory_budget >> 20
            );
            let _ = self.notices.send(Notice::Evicted { run: oldest, reason });
        }
    }
}

/// What a finished run of a scenario left, for admitting the next run of it.
#[derive(Clone, Copy, Debug, Default)]
struct LastRun {
    tasks: u64,
    log_bytes: usize,
}

/// Hands the allocator's free pages back to the OS (glibc: `malloc_trim`, which also releases
/// free pages inside every arena, not only the heap's top).
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only takes the allocator's own locks; any thread may call it.
    unsafe {
        libc::malloc_trim(0);
    }
}

fn panic_message(payload: &Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned())
}

//! futurescope-scenarios: each scenario answers one question from the learner's study notes by
//! making it visible on the timeline.
//!
//! Layout:
//! - `params`: parameter specs with bounds, and their validation (the server enforces them).
//! - `context`: `RunContext`, what a scenario gets to build observed runtimes, start plain
//!   threads, mark phases and notice cancellation.
//! - one module per scenario, each reading like a lesson: a module doc naming the question and
//!   the seed topic, then the code the dashboard shows beside the timeline.
//! - `catalogue()`: the one place scenarios are registered.
//!
//! What it leaves to others: recording (futurescope-recorder) and running, cancelling and
//! serving runs (the `futurescope` server's run manager).

pub mod context;
pub mod params;
pub mod testing;

mod actors_mpsc;
mod block_on_pollster;
mod blocking_in_async;
mod buffered_stream;
mod coop_budget;
mod current_thread_vs_multi_thread;
mod hand_written_future;
mod io_echo_server;
mod join_vs_select;
mod lazy_future;
mod lost_wakeup;
mod pubsub_cancellation;
mod spawn_local_not_send;
mod spawn_many;
mod std_mutex_across_await;
mod timeout_cancellation;

pub use context::{CancelHandle, Flavor, RunContext, spawn_blocking_named, spawn_local_named, spawn_named};
pub use futurescope_recorder::StepGate;
pub use futurescope_recorder::mark;
pub use params::{ParamError, ParamKind, ParamSpec, ParamValue, Params};

/// Why a scenario run did not complete normally.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cancelled")]
    Cancelled,
    #[error("a task panicked: {0}")]
    Panicked(String),
    #[error("{0}")]
    Failed(String),
}

/// A scenario: its description for the picker and the function that runs it.
pub struct Scenario {
    /// Stable kebab-case name: part of URLs and the CLI.
    pub name: &'static str,
    pub title: &'static str,
    /// The study-notes topic it answers.
    pub topic: &'static str,
    /// One line: what it teaches.
    pub summary: &'static str,
    /// For a learner: what happens, what to look at on the timeline, the lesson. Paragraphs
    /// are separated by blank lines.
    pub description: &'static str,
    /// The scenario's own source file, shown beside the timeline.
    pub source: &'static str,
    /// The path of that file relative to the repository root (state events' `loc` use it).
    pub file: &'static str,
    /// The task lanes (by task name) whose future rows the timeline opens by default: the
    /// tasks the description talks about.
    pub open_futures: &'static [&'static str],
    pub params: &'static [ParamSpec],
    /// What time it runs on in step mode, and why when that is real time.
    pub step_time: StepTime,
    /// Runs the scenario on the calling thread (the run manager's run thread).
    pub run: fn(&RunContext, &Params) -> Result<(), ScenarioError>,
}

/// The clock a scenario runs on in step mode (`POST /api/runs` with `"step": true`).
///
/// tokio pauses time only on current-thread runtimes, so a scenario whose lesson survives on one
/// thread runs there on the paused clock: a timer never fires just because a person read the
/// page for a minute; when nothing else can run, the clock jumps to the next deadline. A
/// scenario that needs several workers, real I/O or an OS thread keeping real time keeps its
/// own runtime and the real clock, and says why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepTime {
    /// Every runtime of the scenario becomes current-thread on tokio's paused clock.
    Paused,
    /// As `Paused`, but one part keeps real time (the note says which, and what that looks like).
    PausedExcept(&'static str),
    /// Its own runtimes, on the real clock (the note says why).
    Real(&'static str),
}

impl StepTime {
    /// Whether step mode runs the scenario's runtimes on tokio's paused clock.
    pub fn paused_clock(self) -> bool {
        !matches!(self, StepTime::Real(_))
    }

    /// What a person stepping the scenario should know about its time, if anything.
    pub fn note(self) -> Option<&'static str> {
        match self {
            StepTime::Paused => None,
            StepTime::PausedExcept(note) | StepTime::Real(note) => Some(note),
        }
    }
}

impl std::fmt::Debug for Scenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scenario").field("name", &self.name).finish_non_exhaustive()
    }
}

/// Every scenario, in the order the picker lists them (grouped by topic there).
pub fn catalogue() -> &'static [&'static Scenario] {
    static ALL: &[&Scenario] = &[
        &lazy_future::SCENARIO,
        &hand_written_future::SCENARIO,
        &lost_wakeup::SCENARIO,
        &blocking_in_async::SCENARIO,
        &std_mutex_across_await::SCENARIO,
        &join_vs_select::SCENARIO,
        &timeout_cancellation::SCENARIO,
        &buffered_stream::SCENARIO,
        &spawn_many::SCENARIO,
        &actors_mpsc::SCENARIO,
        &current_thread_vs_multi_thread::SCENARIO,
        &spawn_local_not_send::SCENARIO,
        &block_on_pollster::SCENARIO,
        &pubsub_cancellation::SCENARIO,
        &coop_budget::SCENARIO,
        &io_echo_server::SCENARIO,
    ];
    ALL
}

/// The scenario called `name`.
pub fn find(name: &str) -> Option<&'static Scenario> {
    catalogue().iter().copied().find(|s| s.name == name)
}

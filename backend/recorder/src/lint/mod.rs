//! Lints: findings the collector derives from a run's events as they arrive.
//!
//! Each rule looks only at events already in the run's log (plus the passage of time, for the
//! rules about something that has not happened yet), so every lint can be re-derived from the
//! event stream. Thresholds are `LintThresholds`.
//!
//! One module per rule, each a `Rule`: its per-task state, what it watches (`observe`), what
//! it checks as time passes (`tick`) and at the end of the run (`finish`), and its summary.
//! `LintState` keeps one entry per task holding every rule's state and what all rules share
//! (`TaskFacts`), and feeds each event to each rule in turn (one map lookup per event).
//!
//! Adding a rule (recipe in docs/HACKING.md): a module here, a `LintRule` variant, its state in
//! `TaskWatch` and its calls in `LintState`.

mod large_future;
mod long_poll;
mod lost_wake;
mod never_yielded;
mod self_wake;

use large_future::LargeFuture;
use long_poll::LongPoll;
use lost_wake::LostWake;
use never_yielded::NeverYielded;
use self_wake::SelfWake;

use crate::event::{PollCause, Stored, StoredEvent};
use crate::idmap::IdMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum LintRule {
    LongPoll = 0,
    LostWake = 1,
    SelfWake = 2,
    NeverYielded = 3,
    LargeFuture = 4,
}

impl LintRule {
    pub(crate) fn from_flags(f: u8) -> LintRule {
        match f {
            0 => LintRule::LongPoll,
            1 => LintRule::LostWake,
            2 => LintRule::SelfWake,
            3 => LintRule::NeverYielded,
            _ => LintRule::LargeFuture,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LintRule::LongPoll => "long_poll",
            LintRule::LostWake => "lost_wake",
            LintRule::SelfWake => "self_wake",
            LintRule::NeverYielded => "never_yielded",
            LintRule::LargeFuture => "large_future",
        }
    }

    /// What the rule finds, in one sentence.
    pub fn summary(self) -> &'static str {
        match self {
            LintRule::LongPoll => LongPoll::SUMMARY,
            LintRule::LostWake => LostWake::SUMMARY,
            LintRule::SelfWake => SelfWake::SUMMARY,
            LintRule::NeverYielded => NeverYielded::SUMMARY,
            LintRule::LargeFuture => LargeFuture::SUMMARY,
        }
    }
}

/// When each rule fires.
#[derive(Clone, Copy, Debug)]
pub struct LintThresholds {
    /// A poll at least this long is a `long_poll` (default 10 ms).
    pub long_poll_ns: u64,
    /// A poll still running after this long is `never_yielded` (default 1 s).
    pub never_yielded_ns: u64,
    /// How long a task must sit unwakeable before `lost_wake` (default 100 ms: covers the
    /// collector's reordering window, well inside the one-second promise).
    pub lost_wake_after_ns: u64,
    /// Futures of at least this many bytes are `large_future` (default 2048).
    pub large_future_bytes: u64,
    /// `self_wake` needs at least this many wakes, more than half of them by the task itself.
    pub self_wake_min_wakes: u32,
    /// At most this many `long_poll` findings per task (the rest are counted in the detail of
    /// the last one).
    pub long_poll_per_task: u32,
}

impl Default for LintThresholds {
    fn default() -> Self {
        LintThresholds {
            long_poll_ns: 10_000_000,
            never_yielded_ns: 1_000_000_000,
            lost_wake_after_ns: 100_000_000,
            large_future_bytes: 2048,
            self_wake_min_wakes: 10,
            long_poll_per_task: 5,
        }
    }
}

/// A finding, before it is stored.
pub(crate) struct Finding {
    /// When the finding was made (keeps the stream in time order).
    pub t: u64,
    /// When the condition began (the long poll's start, the last poll before a lost wake).
    pub since: Option<u64>,
    pub task: u64,
    pub rule: LintRule,
    pub detail: String,
}

/// One event as the rules see it.
pub(crate) struct Seen<'a> {
    pub t: u64,
    pub ev: Stored,
    /// For a spawn: the future's size in bytes, if known.
    pub size: Option<u64>,
    /// For a poll: the name of its thread's lane, as the timeline shows it.
    pub lane_name: Option<&'a str>,
    /// For a `poll_cause`: the cause.
    pub cause: Option<&'a PollCause>,
    /// Whether long polls get a `poll_cause` (the watcher of open polls runs).
    pub await_cause: bool,
}

/// What every rule may know of a task, kept by `LintState` before the rules see an event.
#[derive(Default, Debug, Clone, Copy)]
pub(crate) struct TaskFacts {
    /// A `spawn_blocking` task: it is meant to run long on its own thread, so the poll-length
    /// rules do not apply.
    pub blocking: bool,
    pub done: bool,
}

/// One lint rule. Rules keep their state per task (`Task`); they are told every event of the
/// run that names a task, and are asked on every drain (`tick`, tasks not done) and at the end
/// of the run (`finish`, every task) whether time passing made a finding.
pub(crate) trait Rule {
    const RULE: LintRule;
    /// What the rule finds, in one sentence (`LintRule::summary`).
    const SUMMARY: &'static str;
    type Task: Default;

    fn observe(
        th: &LintThresholds,
        facts: &TaskFacts,
        state: &mut Self::Task,
        task: u64,
        ev: &Seen,
        out: &mut Vec<Finding>,
    );

    fn tick(
        _th: &LintThresholds,
        _facts: &TaskFacts,
        _state: &mut Self::Task,
        _task: u64,
        _now: u64,
        _out: &mut Vec<Finding>,
    ) {
    }

    fn finish(_th: &LintThresholds, _state: &mut Self::Task, _task: u64, _now: u64, _out: &mut Vec<Finding>) {}

    /// A finding of this rule.
    fn finding(t: u64, since: Option<u64>, task: u64, detail: String) -> Finding {
        Finding { t, since, task, rule: Self::RULE, detail }
    }
}

/// Each rule's state for one task.
#[derive(Default, Debug)]
struct TaskWatch {
    facts: TaskFacts,
    long_poll: <LongPoll as Rule>::Task,
    never_yielded: <NeverYielded as Rule>::Task,
    lost_wake: <LostWake as Rule>::Task,
    self_wake: <SelfWake as Rule>::Task,
}

#[derive(Default)]
pub struct LintState {
    pub thresholds: LintThresholds,
    /// Whether long polls get a `poll_cause`, which `long_poll` then waits for.
    pub(crate) await_causes: bool,
    tasks: IdMap<u64, TaskWatch>,
}

fn ms(ns: u64) -> String {
    format!("{:.1} ms", ns as f64 / 1e6)
}

impl LintState {
    /// The memory the rules' per-task state takes (for memory accounting).
    pub(crate) fn approx_bytes(&self) -> usize {
        crate::log::map_bytes::<u64, TaskWatch>(self.tasks.capacity())
    }

    /// Drops what the rules keep of `task` (a finished task whose events a long-lived run's
    /// retention evicted).
    pub(crate) fn forget(&mut self, task: u64) {
        self.tasks.remove(&task);
    }

    /// Gives back the capacity of forgotten tasks (if most of it is theirs).
    pub(crate) fn shrink_to_fit(&mut self) {
        if crate::retain::mostly_spare(self.tasks.capacity(), self.tasks.len()) {
            self.tasks.shrink_to_fit();
        }
    }

    /// Whether task `task`'s long poll that began at `since` waits for its cause (a cause for
    /// any other poll is not kept).
    pub(crate) fn awaits_cause(&self, task: u64, since: u64) -> bool {
        self.tasks.get(&task).is_some_and(|w| w.long_poll.awaits_cause(since))
    }

    /// Feeds a stored event to every rule. `spawn` is (size, blocking) for a spawn;
    /// `lane_name` is the name of the thread's lane of a poll event, as the timeline shows it;
    /// `cause` is a `poll_cause`'s.
    pub(crate) fn observe(
        &mut self,
        ev: &StoredEvent,
        spawn: Option<(Option<u64>, bool)>,
        lane_name: Option<&str>,
        cause: Option<&PollCause>,
        out: &mut Vec<Finding>,
    ) {
        let th = &self.thresholds;
        let (size, blocking) = spawn.unwrap_or((None, false));
        let seen = Seen { t: ev.t(), ev: ev.get(), size, lane_name, cause, await_cause: self.await_causes };
        let task = match seen.ev {
            Stored::Spawn { task, .. }
            | Stored::PollStart { task, .. }
            | Stored::PollEnd { task, .. }
            | Stored::Wake { task, .. }
            | Stored::WakerClone { task }
            | Stored::WakerDrop { task }
            | Stored::Done { task, .. }
            | Stored::PollCause { task, .. } => task,
            _ => return,
        };
        let w = self.tasks.entry(task).or_default();
        match seen.ev {
            Stored::Spawn { .. } => w.facts.blocking = blocking,
            Stored::Done { .. } => w.facts.done = true,
            _ => {}
        }
        let facts = w.facts;
        LargeFuture::observe(th, &facts, &mut (), task, &seen, out);
        LongPoll::observe(th, &facts, &mut w.long_poll, task, &seen, out);
        NeverYielded::observe(th, &facts, &mut w.never_yielded, task, &seen, out);
        LostWake::observe(th, &facts, &mut w.lost_wake, task, &seen, out);
        SelfWake::observe(th, &facts, &mut w.self_wake, task, &seen, out);
    }

    /// Rules about time passing: called with the newest time the collector has seen.
    pub(crate) fn tick(&mut self, now: u64, out: &mut Vec<Finding>) {
        let th = &self.thresholds;
        for (&task, w) in self.tasks.iter_mut() {
            // A task's last poll may be long: it still waits for its cause.
            LongPoll::tick(th, &w.facts, &mut w.long_poll, task, now, out);
            if w.facts.done {
                continue;
            }
            NeverYielded::tick(th, &w.facts, &mut w.never_yielded, task, now, out);
            LostWake::tick(th, &w.facts, &mut w.lost_wake, task, now, out);
        }
    }

    /// At the end of a run: rules judged over a task's whole life.
    pub(crate) fn finish(&mut self, now: u64, out: &mut Vec<Finding>) {
        let th = &self.thresholds;
        for (&task, w) in self.tasks.iter_mut() {
            LongPoll::finish(th, &mut w.long_poll, task, now, out);
            SelfWake::finish(th, &mut w.self_wake, task, now, out);
        }
    }
}

//! Lints: findings the collector derives from a run's events as they arrive.
//!
//! Each rule looks only at events already in the run's log (plus the passage of time, for the
//! rules about something that has not happened yet), so every lint can be re-derived from the
//! event stream. Thresholds are `LintThresholds`.
//!
//! `lost_wake` is exact rather than heuristic: a task whose last poll returned `Pending`, that
//! was not woken since that poll began, and of whose wakers none is alive (clones minus drops
//! minus by-value wakes) can never be polled again. A task parked on a channel whose sender
//! is alive holds a live waker in the channel, so it is not flagged (tokio-console's "lost
//! waker" lint flags such tasks when their waker count is read at the wrong moment).

use crate::idmap::IdMap;

use crate::event::{Stored, StoredEvent, WakeOp};

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

#[derive(Default, Debug)]
struct TaskWatch {
    /// A `spawn_blocking` task: it is meant to run long on its own thread, so the poll-length
    /// rules do not apply.
    blocking: bool,
    open_poll: Option<u64>,
    last_poll_start: Option<u64>,
    /// End time of the last poll if it returned Pending.
    pending_since: Option<u64>,
    last_wake: Option<u64>,
    live_wakers: i64,
    wakes: u32,
    self_wakes: u32,
    long_polls: u32,
    done: bool,
    flagged_lost: bool,
    flagged_never_yielded: bool,
    flagged_self_wake: bool,
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

#[derive(Default)]
pub struct LintState {
    pub thresholds: LintThresholds,
    tasks: IdMap<u64, TaskWatch>,
}

fn ms(ns: u64) -> String {
    format!("{:.1} ms", ns as f64 / 1e6)
}

impl LintState {
    /// How many tasks the rules keep state for (for memory accounting).
    pub(crate) fn tracked_tasks(&self) -> usize {
        self.tasks.capacity()
    }

    pub(crate) fn observe(&mut self, ev: &StoredEvent, spawn: Option<(Option<u64>, bool)>, out: &mut Vec<Finding>) {
        let th = self.thresholds;
        let (size, blocking) = spawn.unwrap_or((None, false));
        let t = ev.t();
        match ev.get() {
            Stored::Spawn { task, .. } => {
                self.tasks.entry(task).or_default().blocking = blocking;
                if let Some(size) = size.filter(|&s| s >= th.large_future_bytes) {
                    out.push(Finding {
                        t,
                        since: None,
                        task,
                        rule: LintRule::LargeFuture,
                        detail: format!(
                            "the task's future is {size} bytes (threshold {} bytes); every spawn moves it, and a large \
                             state machine usually means a big value held across an await: box it or keep less alive",
                            th.large_future_bytes
                        ),
                    });
                }
            }
            Stored::PollStart { task, .. } => {
                let w = self.tasks.entry(task).or_default();
                w.open_poll = Some(t);
                w.last_poll_start = Some(t);
                w.pending_since = None;
                w.flagged_never_yielded = false;
            }
            Stored::PollEnd { task, lane, ready, drop } => {
                let w = self.tasks.entry(task).or_default();
                let start = w.open_poll.take().unwrap_or(t);
                let dur = t.saturating_sub(start);
                if !ready {
                    w.pending_since = Some(t);
                }
                if dur >= th.long_poll_ns && !drop && !w.blocking {
                    w.long_polls += 1;
                    if w.long_polls <= th.long_poll_per_task {
                        out.push(Finding {
                            t,
                            since: Some(start),
                            task,
                            rule: LintRule::LongPoll,
                            detail: format!(
                                "one poll ran for {} on worker {} (threshold {}): nothing else could run on that \
                                 worker meanwhile; move blocking or CPU-heavy work to spawn_blocking or add yield points",
                                ms(dur),
                                lane,
                                ms(th.long_poll_ns)
                            ),
                        });
                    }
                }
            }
            Stored::Wake { task, by, op, .. } => {
                let w = self.tasks.entry(task).or_default();
                w.last_wake = Some(t);
                w.wakes += 1;
                if by == Some(task) {
                    w.self_wakes += 1;
                }
                if op == WakeOp::Wake {
                    w.live_wakers -= 1;
                }
                w.flagged_lost = false;
            }
            Stored::WakerClone { task } => self.tasks.entry(task).or_default().live_wakers += 1,
            Stored::WakerDrop { task } => self.tasks.entry(task).or_default().live_wakers -= 1,
            Stored::Done { task, .. } => {
                let w = self.tasks.entry(task).or_default();
                w.done = true;
                w.open_poll = None;
                Self::check_self_wake(task, w, t, &th, out);
            }
            _ => {}
        }
    }

    fn check_self_wake(task: u64, w: &mut TaskWatch, t: u64, th: &LintThresholds, out: &mut Vec<Finding>) {
        if !w.flagged_self_wake && w.wakes >= th.self_wake_min_wakes && w.self_wakes * 2 > w.wakes {
            w.flagged_self_wake = true;
            out.push(Finding {
                t,
                since: None,
                task,
                rule: LintRule::SelfWake,
                detail: format!(
                    "{} of its {} wakes came from the task itself: it keeps rescheduling itself (a busy loop of \
                     yields or a future that wakes its own waker before returning Pending)",
                    w.self_wakes, w.wakes
                ),
            });
        }
    }

    /// Rules about time passing: called with the newest time the collector has seen.
    pub(crate) fn tick(&mut self, now: u64, out: &mut Vec<Finding>) {
        let th = self.thresholds;
        for (&task, w) in self.tasks.iter_mut() {
            if w.done {
                continue;
            }
            if let Some(start) = w.open_poll
                && !w.blocking
                && !w.flagged_never_yielded
                && now.saturating_sub(start) >= th.never_yielded_ns
            {
                w.flagged_never_yielded = true;
                out.push(Finding {
                    t: now,
                    since: Some(start),
                    task,
                    rule: LintRule::NeverYielded,
                    detail: format!(
                        "this poll has been running for over {} without returning: the task never reaches an \
                         await that yields, so its worker thread is stuck with it",
                        ms(th.never_yielded_ns)
                    ),
                });
            }
            if let (Some(since), Some(poll_start)) = (w.pending_since, w.last_poll_start) {
                let woken_since = w.last_wake.is_some_and(|wt| wt >= poll_start);
                if !w.flagged_lost
                    && !woken_since
                    && w.live_wakers <= 0
                    && now.saturating_sub(since) >= th.lost_wake_after_ns
                {
                    w.flagged_lost = true;
                    out.push(Finding {
                        t: now,
                        since: Some(since),
                        task,
                        rule: LintRule::LostWake,
                        detail: "the task returned Pending but no waker for it is alive and it was not woken during \
                                 the poll: nothing can ever wake it again (a future returned Pending without \
                                 storing or waking cx.waker())"
                            .to_owned(),
                    });
                }
            }
        }
    }

    /// At the end of a run: rules judged over a task's whole life.
    pub(crate) fn finish(&mut self, now: u64, out: &mut Vec<Finding>) {
        let th = self.thresholds;
        for (&task, w) in self.tasks.iter_mut() {
            Self::check_self_wake(task, w, now, &th, out);
        }
    }
}

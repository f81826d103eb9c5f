//! `long_poll`: one poll of an async task that ran at least `long_poll_ns`; nothing else ran on
//! its worker meanwhile. At most `long_poll_per_task` times per task. Not for blocking tasks,
//! nor for the slice in which tokio only dropped a cancelled task's future.
//!
//! Where the watcher of open polls runs (`causes.rs`, Linux), a long poll waits for its
//! `poll_cause` (which follows the poll's end within a few ms), and the finding says why the
//! poll was long: on CPU, or blocked in a named system call. A poll whose thread was mostly
//! runnable but waiting for a CPU is the machine's doing (another process, a stalled virtual
//! CPU), not the code's: it raises no `long_poll` (its `poll_cause` says so). Without a cause
//! within `CAUSE_WAIT_NS` of the poll's end (no watcher, or the watcher never saw the poll) it
//! fires as before. `since` is the poll's start.

use super::{Finding, LintRule, LintThresholds, Rule, Seen, TaskFacts, ms};
use crate::event::{Cause, PollCause, Stored};

/// How long after a long poll's end the rule waits for its cause, in run time (the collector's
/// horizon): the watcher hands a cause over within a few ms of the end.
const CAUSE_WAIT_NS: u64 = 100_000_000;

pub(crate) struct LongPoll;

#[derive(Default, Debug)]
pub(crate) struct State {
    /// Start of the poll in progress.
    open_poll: Option<u64>,
    long_polls: u32,
    /// A long poll waiting for its cause.
    pending: Option<Pending>,
}

#[derive(Debug)]
struct Pending {
    start: u64,
    end: u64,
    lane: String,
}

impl State {
    /// Whether a long poll that began at `since` waits for its cause.
    pub(crate) fn awaits_cause(&self, since: u64) -> bool {
        self.pending.as_ref().is_some_and(|p| p.start == since)
    }
}

/// How a cause's observed time split, for a finding's detail.
pub(crate) fn split_text(c: &PollCause) -> String {
    let observed = c.on_cpu + c.runnable + c.blocked;
    let blocked = match &c.syscall {
        Some(call) => format!("blocked in {call} {}", ms(c.blocked)),
        None => format!("blocked {}", ms(c.blocked)),
    };
    let mut parts = vec![(c.on_cpu, format!("on CPU {}", ms(c.on_cpu))), (c.blocked, blocked)];
    parts.push((c.runnable, format!("waiting for a CPU {}", ms(c.runnable))));
    parts.sort_by_key(|(ns, _)| std::cmp::Reverse(*ns));
    let parts: Vec<String> = parts.into_iter().map(|(_, text)| text).collect();
    let split = format!("{} (of {} observed)", parts.join(", "), ms(observed));
    match hot_text(c) {
        Some(hot) => format!("{split}, {hot}"),
        None => split,
    }
}

/// Where the sampled stacks say the program was: "in stall at src/x.rs:12 (40 of 42 stack
/// samples)".
pub(crate) fn hot_text(c: &PollCause) -> Option<String> {
    let hot = c.hot.as_ref()?;
    let taken: u32 = c.stacks.iter().map(|s| s.n).sum();
    let at = hot.loc.as_deref().map(|l| format!(" at {l}")).unwrap_or_default();
    Some(format!("in {}{at} ({} of {taken} stack samples)", hot.function, hot.n))
}

impl LongPoll {
    fn fire(
        th: &LintThresholds,
        w: &mut State,
        task: u64,
        t: u64,
        p: Pending,
        cause: Option<&PollCause>,
    ) -> Option<Finding> {
        if cause.is_some_and(|c| c.cause == Cause::Runnable) {
            return None;
        }
        w.long_polls += 1;
        if w.long_polls > th.long_poll_per_task {
            return None;
        }
        let dur = p.end.saturating_sub(p.start);
        let head = format!("one poll ran for {} on {} (threshold {})", ms(dur), p.lane, ms(th.long_poll_ns));
        let detail = match cause {
            Some(c) if c.cause == Cause::Blocked => format!(
                "{head}, {}: a blocking call inside the poll, and nothing else could run on that thread meanwhile; \
                 move the blocking call to spawn_blocking (or use its async counterpart)",
                split_text(c)
            ),
            Some(c) => format!(
                "{head}, {}: CPU-heavy work inside the poll, and nothing else could run on that thread meanwhile; \
                 move it to spawn_blocking or a thread pool, or add yield points",
                split_text(c)
            ),
            None => format!(
                "{head}: nothing else could run on that thread meanwhile; move blocking or CPU-heavy work to \
                 spawn_blocking or add yield points"
            ),
        };
        Some(Self::finding(t, Some(p.start), task, detail))
    }
}

impl Rule for LongPoll {
    const RULE: LintRule = LintRule::LongPoll;
    const SUMMARY: &'static str = "one poll ran long: nothing else could run on that worker meanwhile";
    type Task = State;

    fn observe(
        th: &LintThresholds,
        facts: &TaskFacts,
        w: &mut State,
        task: u64,
        ev: &Seen<'_>,
        out: &mut Vec<Finding>,
    ) {
        let t = ev.t;
        match ev.ev {
            Stored::PollStart { .. } => w.open_poll = Some(t),
            Stored::PollEnd { lane, drop, .. } => {
                let start = w.open_poll.take().unwrap_or(t);
                let dur = t.saturating_sub(start);
                if dur >= th.long_poll_ns && !drop && !facts.blocking {
                    let lane = ev.lane_name.map_or_else(|| format!("thread {lane}"), str::to_owned);
                    let p = Pending { start, end: t, lane };
                    if let Some(older) = w.pending.take() {
                        out.extend(Self::fire(th, w, task, t, older, None));
                    }
                    if ev.await_cause {
                        w.pending = Some(p);
                    } else {
                        out.extend(Self::fire(th, w, task, t, p, None));
                    }
                }
            }
            Stored::PollCause { .. } => {
                let Some(cause) = ev.cause else { return };
                if w.awaits_cause(cause.since) {
                    let p = w.pending.take().expect("awaited");
                    out.extend(Self::fire(th, w, task, t, p, Some(cause)));
                }
            }
            Stored::Done { .. } => w.open_poll = None,
            _ => {}
        }
    }

    fn tick(th: &LintThresholds, _facts: &TaskFacts, w: &mut State, task: u64, now: u64, out: &mut Vec<Finding>) {
        if w.pending.as_ref().is_some_and(|p| now >= p.end + CAUSE_WAIT_NS) {
            let p = w.pending.take().expect("checked");
            out.extend(Self::fire(th, w, task, now, p, None));
        }
    }

    fn finish(th: &LintThresholds, w: &mut State, task: u64, now: u64, out: &mut Vec<Finding>) {
        if let Some(p) = w.pending.take() {
            out.extend(Self::fire(th, w, task, now, p, None));
        }
    }
}

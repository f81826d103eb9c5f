//! `lost_wake`: a task that can never be polled again. Exact rather than heuristic: its last
//! poll returned `Pending`, it was not woken since that poll began, and none of its wakers is
//! alive (clones minus drops minus by-value wakes). Found as time passes (`tick`), after
//! `lost_wake_after_ns` (`since`: that poll's end); a wake re-arms it.
//!
//! A task parked on a channel whose sender is alive holds a live waker in the channel, so it
//! is not flagged (tokio-console's "lost waker" lint flags such tasks when their waker count
//! is read at the wrong moment).

use super::{Finding, LintRule, LintThresholds, Rule, Seen, TaskFacts};
use crate::event::{Stored, WakeOp};

pub(crate) struct LostWake;

#[derive(Default, Debug)]
pub(crate) struct State {
    last_poll_start: Option<u64>,
    /// End time of the last poll if it returned Pending.
    pending_since: Option<u64>,
    last_wake: Option<u64>,
    live_wakers: i64,
    flagged: bool,
}

impl Rule for LostWake {
    const RULE: LintRule = LintRule::LostWake;
    const SUMMARY: &'static str = "the task returned Pending and nothing can ever wake it again";
    type Task = State;

    fn observe(_: &LintThresholds, _: &TaskFacts, w: &mut State, _task: u64, ev: &Seen<'_>, _: &mut Vec<Finding>) {
        let t = ev.t;
        match ev.ev {
            Stored::PollStart { .. } => {
                w.last_poll_start = Some(t);
                w.pending_since = None;
            }
            Stored::PollEnd { ready: false, .. } => w.pending_since = Some(t),
            Stored::Wake { op, .. } => {
                w.last_wake = Some(t);
                if op == WakeOp::Wake {
                    w.live_wakers -= 1;
                }
                w.flagged = false;
            }
            Stored::WakerClone { .. } => w.live_wakers += 1,
            Stored::WakerDrop { .. } => w.live_wakers -= 1,
            _ => {}
        }
    }

    fn tick(th: &LintThresholds, _: &TaskFacts, w: &mut State, task: u64, now: u64, out: &mut Vec<Finding>) {
        if let (Some(since), Some(poll_start)) = (w.pending_since, w.last_poll_start) {
            let woken_since = w.last_wake.is_some_and(|wt| wt >= poll_start);
            if !w.flagged && !woken_since && w.live_wakers <= 0 && now.saturating_sub(since) >= th.lost_wake_after_ns {
                w.flagged = true;
                out.push(Self::finding(
                    now,
                    Some(since),
                    task,
                    "the task returned Pending but no waker for it is alive and it was not woken during \
                     the poll: nothing can ever wake it again (a future returned Pending without \
                     storing or waking cx.waker())"
                        .to_owned(),
                ));
            }
        }
    }
}

//! `self_wake`: a task that keeps rescheduling itself: at least `self_wake_min_wakes` wakes,
//! more than half of them by the task itself (a busy loop of yields, or a future that wakes
//! its own waker before returning Pending). Judged over the task's life: at its end, or at the
//! end of the run for a task still alive; once per task.

use super::{Finding, LintRule, LintThresholds, Rule, Seen, TaskFacts};
use crate::event::Stored;

pub(crate) struct SelfWake;

#[derive(Default, Debug)]
pub(crate) struct State {
    wakes: u32,
    self_wakes: u32,
    flagged: bool,
}

impl Rule for SelfWake {
    const RULE: LintRule = LintRule::SelfWake;
    const SUMMARY: &'static str = "most of the task's wakes came from the task itself";
    type Task = State;

    fn observe(th: &LintThresholds, _: &TaskFacts, w: &mut State, task: u64, ev: &Seen<'_>, out: &mut Vec<Finding>) {
        match ev.ev {
            Stored::Wake { by, .. } => {
                w.wakes += 1;
                if by == Some(task) {
                    w.self_wakes += 1;
                }
            }
            Stored::Done { .. } => Self::finish(th, w, task, ev.t, out),
            _ => {}
        }
    }

    fn finish(th: &LintThresholds, w: &mut State, task: u64, now: u64, out: &mut Vec<Finding>) {
        if !w.flagged && w.wakes >= th.self_wake_min_wakes && w.self_wakes * 2 > w.wakes {
            w.flagged = true;
            out.push(Self::finding(
                now,
                None,
                task,
                format!(
                    "{} of its {} wakes came from the task itself: it keeps rescheduling itself (a busy loop of \
                     yields or a future that wakes its own waker before returning Pending)",
                    w.self_wakes, w.wakes
                ),
            ));
        }
    }
}

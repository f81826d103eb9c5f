//! `never_yielded`: a poll of an async task still running after `never_yielded_ns`: the task
//! never reaches an await that yields, and its worker is stuck with it. Found as time passes
//! (`tick`), once per poll (`since`: the poll's start). Not for blocking tasks.

use super::{Finding, LintRule, LintThresholds, Rule, Seen, TaskFacts, ms};
use crate::event::Stored;

pub(crate) struct NeverYielded;

#[derive(Default, Debug)]
pub(crate) struct State {
    /// Start of the poll in progress.
    open_poll: Option<u64>,
    flagged: bool,
}

impl Rule for NeverYielded {
    const RULE: LintRule = LintRule::NeverYielded;
    const SUMMARY: &'static str = "a poll has been running for a long time without returning";
    type Task = State;

    fn observe(_: &LintThresholds, _: &TaskFacts, w: &mut State, _task: u64, ev: &Seen<'_>, _: &mut Vec<Finding>) {
        match ev.ev {
            Stored::PollStart { .. } => {
                w.open_poll = Some(ev.t);
                w.flagged = false;
            }
            Stored::PollEnd { .. } | Stored::Done { .. } => w.open_poll = None,
            _ => {}
        }
    }

    fn tick(th: &LintThresholds, facts: &TaskFacts, w: &mut State, task: u64, now: u64, out: &mut Vec<Finding>) {
        if let Some(start) = w.open_poll
            && !facts.blocking
            && !w.flagged
            && now.saturating_sub(start) >= th.never_yielded_ns
        {
            w.flagged = true;
            out.push(Self::finding(
                now,
                Some(start),
                task,
                format!(
                    "this poll has been running for over {} without returning: the task never reaches an \
                     await that yields, so its worker thread is stuck with it",
                    ms(th.never_yielded_ns)
                ),
            ));
        }
    }
}

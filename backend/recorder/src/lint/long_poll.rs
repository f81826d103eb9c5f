//! `long_poll`: one poll of an async task that ran at least `long_poll_ns`; nothing else ran on
//! its worker meanwhile. Fires at the poll's end (`since`: its start), at most
//! `long_poll_per_task` times per task. Not for blocking tasks, nor for the slice in which
//! tokio only dropped a cancelled task's future.

use super::{Finding, LintRule, LintThresholds, Rule, Seen, TaskFacts, ms};
use crate::event::Stored;

pub(crate) struct LongPoll;

#[derive(Default, Debug)]
pub(crate) struct State {
    /// Start of the poll in progress.
    open_poll: Option<u64>,
    long_polls: u32,
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
                    w.long_polls += 1;
                    if w.long_polls <= th.long_poll_per_task {
                        out.push(Self::finding(
                            t,
                            Some(start),
                            task,
                            format!(
                                "one poll ran for {} on {} (threshold {}): nothing else could run on that \
                                 thread meanwhile; move blocking or CPU-heavy work to spawn_blocking or add yield points",
                                ms(dur),
                                ev.lane_name.map_or_else(|| format!("thread {lane}"), str::to_owned),
                                ms(th.long_poll_ns)
                            ),
                        ));
                    }
                }
            }
            Stored::Done { .. } => w.open_poll = None,
            _ => {}
        }
    }
}

//! `large_future`: a task whose future is at least `large_future_bytes` (tokio's spawn span
//! reports the size). Fires once, at the spawn.

use super::{Finding, LintRule, LintThresholds, Rule, Seen, TaskFacts};
use crate::event::Stored;

pub(crate) struct LargeFuture;

impl Rule for LargeFuture {
    const RULE: LintRule = LintRule::LargeFuture;
    const SUMMARY: &'static str =
        "the task's future is large: every spawn moves it, and it is often a big value held across an await";
    /// Stateless: the spawn says it all.
    type Task = ();

    fn observe(th: &LintThresholds, _: &TaskFacts, _: &mut (), task: u64, ev: &Seen<'_>, out: &mut Vec<Finding>) {
        let Stored::Spawn { .. } = ev.ev else { return };
        if let Some(size) = ev.size.filter(|&s| s >= th.large_future_bytes) {
            out.push(Self::finding(
                ev.t,
                None,
                task,
                format!(
                    "the task's future is {size} bytes (threshold {} bytes); every spawn moves it, and a large \
                     state machine usually means a big value held across an await: box it or keep less alive",
                    th.large_future_bytes
                ),
            ));
        }
    }
}

//! # join-vs-select: two ways to run futures concurrently inside one task
//!
//! Seed topic: "Composing futures: joining and selecting" (`f.join(g)` completes when both are
//! complete; `f.select(g)` when one is, handing back the other). With `tokio::join!` and
//! `tokio::select!` neither child is a task: both are polled by the one task that awaits the
//! macro. `join!` keeps polling until both are done; `select!` returns as soon as one branch
//! is ready and drops the others, wherever they were suspended: that drop is cancellation.

use std::time::Duration;

use futurescope_recorder::{AwaitPointExt, probed, site};

use crate::{Flavor, ParamSpec, Params, RunContext, Scenario, ScenarioError, StepTime, mark, spawn_named};

pub static SCENARIO: Scenario = Scenario {
    name: "join-vs-select",
    title: "join! versus select!",
    topic: "Composing futures: joining and selecting",
    summary: "join! polls both children in one task until both finish; select! keeps the first and cancels the other.",
    description: "\
Two child futures, neither of them a task: `child a` reads three chunks (`a_ms` each) and \
`child b` connects and then waits for a response (`b_ms` each). Part 1 runs them with \
`tokio::join!` in the task `join! task`. Open its lane: every poll of that one task polls \
both children, which you see as a `state` event of `child a` and one of `child b` inside the \
same poll, even when only one child's timer fired (the other just reports that it is still \
at the same await point). The task completes after the slower child, with both results.

Part 2 runs the same two children with `tokio::select!` in `select! task`. When `child a` is \
ready, `select!` takes its value and returns, and `child b`, still suspended at \
`sleep(b_ms).await  // response`, is simply dropped: its probe's last states are that await \
point, then `cancelled`, at the same instant as `child a`'s `ready`, inside the same poll. \
No code of `child b` ran to make that happen and none will run again: cancellation in Rust \
is dropping the future, at whatever await point it was. This is the \"hidden control flow\" of \
the cancellation topic: any `.await` in a select! branch may be the last line of that branch \
that ever runs, so whatever it held (a half-read buffer, a lock) is dropped there too; see \
timeout-cancellation for data lost this way. (`join!` needs no `Send` and no spawn, but its \
children share one task, so they never run in parallel on two workers: spawn tasks for that.)",
    source: include_str!("join_vs_select.rs"),
    file: "scenarios/src/join_vs_select.rs",
    params: &[
        ParamSpec::int("a_ms", 40, 5, 1000, "child a: the time to read each of its three chunks"),
        ParamSpec::int("b_ms", 100, 5, 1000, "child b: the time to connect, then the time to get a response"),
    ],
    step_time: StepTime::Paused,
    run,
};

/// Child a: three short waits.
async fn read_chunks(chunk: Duration) -> &'static str {
    for _ in 0..3 {
        tokio::time::sleep(chunk).await_point(site!("sleep(a_ms).await  // chunk")).await;
    }
    "a: 3 chunks"
}

/// Child b: two longer waits.
async fn connect_and_ask(step: Duration) -> &'static str {
    tokio::time::sleep(step).await_point(site!("sleep(b_ms).await  // connect")).await;
    tokio::time::sleep(step).await_point(site!("sleep(b_ms).await  // response")).await;
    "b: response"
}

fn run(ctx: &RunContext, params: &Params) -> Result<(), ScenarioError> {
    let a = Duration::from_millis(params.int("a_ms") as u64);
    let b = Duration::from_millis(params.int("b_ms") as u64);
    ctx.block_on(Flavor::MultiThread { workers: 2 }, "join-select", async move {
        mark("part 1: join!(child a, child b)");
        let joined = spawn_named("join! task", async move {
            tokio::join!(probed(site!("child a"), read_chunks(a)), probed(site!("child b"), connect_and_ask(b)),)
        });
        let (ra, rb) = joined.await.expect("the join! task does not panic");
        mark(format!("join! returned both: {ra:?}, {rb:?}"));

        mark("part 2: select!(child a, child b)");
        let selected = spawn_named("select! task", async move {
            tokio::select! {
                r = probed(site!("child a"), read_chunks(a)) => r,
                r = probed(site!("child b"), connect_and_ask(b)) => r,
            }
        });
        let winner = selected.await.expect("the select! task does not panic");
        mark(format!("select! returned {winner:?}; the other child was dropped"));
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::{Value, json};

    use crate::testing::{query::*, record};

    /// The `state` events of probe `future`.
    fn states(ev: &[Value], future: u64) -> Vec<&Value> {
        of_kind(ev, "state").into_iter().filter(|e| e["future"] == future).collect()
    }

    /// The probes named `name` started inside `task`.
    fn probe_in(ev: &[Value], name: &str, task: u64) -> u64 {
        let ids = futures_named(ev, name);
        *ids.iter()
            .find(|&&f| states(ev, f)[0]["task"] == task)
            .unwrap_or_else(|| panic!("no probe {name} in task {task}"))
    }

    #[test]
    fn join_polls_both_children_and_select_cancels_the_loser_at_its_await_point() {
        let rec = record("join-vs-select", json!({"a_ms": 30, "b_ms": 150}), Duration::from_secs(10));
        rec.result.as_ref().expect("the scenario completes");
        let ev = &rec.events;
        assert_well_formed(ev);

        // join!: both children live in the one task, and every poll of it while both are
        // pending polls both (each reports a state inside that poll).
        let join_task = task_named(ev, "join! task");
        let (a, b) = (probe_in(ev, "child a", join_task), probe_in(ev, "child b", join_task));
        for f in [a, b] {
            assert!(states(ev, f).iter().all(|s| s["task"] == join_task), "a child of join! ran in another task");
            assert_eq!(states_of(ev, f).last().unwrap(), "ready");
        }
        let first_ready = [a, b]
            .iter()
            .map(|&f| first_t(ev, |e| e["k"] == "state" && e["future"] == f && e["label"] == "ready").unwrap())
            .min()
            .unwrap();
        let both_pending: Vec<_> = polls(ev, join_task).into_iter().filter(|p| p.1 < first_ready).collect();
        assert!(both_pending.len() >= 2, "child a's chunk timers woke the task: {both_pending:?}");
        for (start, end, _) in &both_pending {
            for f in [a, b] {
                let inside = states(ev, f).iter().any(|s| (*start..=*end).contains(&s["t"].as_u64().unwrap()));
                assert!(inside, "probe {f} was not polled in the poll at {start}");
            }
        }
        // child b reports a state in every pending poll. Its own two timers explain only two
        // such polls (the first, and the one after `connect`); the rest were polls caused by
        // child a's wakes, in which b was polled for nothing.
        let b_reports = states_of(ev, b).iter().filter(|l| l.starts_with("sleep(b_ms)")).count();
        assert!(b_reports > 2, "child b was polled on child a's wakes too ({b_reports} reports)");

        // select!: child a wins; child b is dropped at its await point, in the same poll.
        let select_task = task_named(ev, "select! task");
        let (a, b) = (probe_in(ev, "child a", select_task), probe_in(ev, "child b", select_task));
        assert_eq!(states_of(ev, a).last().unwrap(), "ready");
        // With these timings child b is still connecting (until 150 ms) when child a finishes
        // (90 ms); on a badly stalled machine it may be further: either is an await point.
        let b_states = states_of(ev, b);
        let (at, last) = (&b_states[b_states.len() - 2], &b_states[b_states.len() - 1]);
        assert_eq!(last, "cancelled", "{b_states:?}");
        assert!(
            at == "sleep(b_ms).await  // response" || at == "sleep(b_ms).await  // connect",
            "dropped at an await point, not at {at:?}"
        );
        let a_ready = first_t(ev, |e| e["k"] == "state" && e["future"] == a && e["label"] == "ready").unwrap();
        let b_cancelled = first_t(ev, |e| e["k"] == "state" && e["future"] == b && e["label"] == "cancelled").unwrap();
        assert!(a_ready <= b_cancelled);
        let last_poll = *polls(ev, select_task).last().unwrap();
        assert!((last_poll.0..=last_poll.1).contains(&b_cancelled), "dropped inside the task's last poll");
        let cancelled = states(ev, b).into_iter().find(|s| s["label"] == "cancelled").unwrap();
        assert_eq!(cancelled["task"], select_task);
    }
}

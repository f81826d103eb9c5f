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
children share one task, so they never run in parallel on two workers: spawn tasks for that.)

Untick `labels` to run the same children as plain async fns without a single await-point \
label (`unlabelled_chunks`, `unlabelled_connect`): no `state` events at all. The dashboard \
then learns where each task waits from tokio's task dumps, one every `snapshot_ms`: click a \
snapshot marker on the time axis and the `select! task` shows both children in its tree, \
each at its `sleep(..).await` line, with tokio's `Sleep` as the leaf; in the first snapshot \
after `child a` won, `unlabelled_connect` is gone with the task.",
    source: include_str!("join_vs_select.rs"),
    file: "scenarios/src/join_vs_select.rs",
    open_futures: &["join! task", "select! task"],
    params: &[
        ParamSpec::int("a_ms", 40, 5, 1000, "child a: the time to read each of its three chunks"),
        ParamSpec::int("b_ms", 100, 5, 1000, "child b: the time to connect, then the time to get a response"),
        ParamSpec::bool(
            "labels",
            true,
            "label the children's await points (off: nothing but task dumps tells where they wait)",
        ),
        ParamSpec::int("snapshot_ms", 50, 10, 1000, "without labels: take a task dump this often"),
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

/// Child a without labels: nothing in it reports where it waits.
async fn unlabelled_chunks(chunk: Duration) -> &'static str {
    for _ in 0..3 {
        tokio::time::sleep(chunk).await;
    }
    "a: 3 chunks"
}

/// Child b without labels.
async fn unlabelled_connect(step: Duration) -> &'static str {
    tokio::time::sleep(step).await;
    tokio::time::sleep(step).await;
    "b: response"
}

fn run(ctx: &RunContext, params: &Params) -> Result<(), ScenarioError> {
    let a = Duration::from_millis(params.int("a_ms") as u64);
    let b = Duration::from_millis(params.int("b_ms") as u64);
    if !params.bool("labels") {
        let period = Duration::from_millis(params.int("snapshot_ms") as u64);
        ctx.snapshot_every(period);
        return ctx.block_on(Flavor::MultiThread { workers: 2 }, "join-select", async move {
            mark("part 1: join!(child a, child b), unlabelled");
            let joined =
                spawn_named("join! task", async move { tokio::join!(unlabelled_chunks(a), unlabelled_connect(b)) });
            let (ra, rb) = joined.await.expect("the join! task does not panic");
            mark(format!("join! returned both: {ra:?}, {rb:?}"));
            mark("part 2: select!(child a, child b), unlabelled");
            let selected = spawn_named("select! task", async move {
                tokio::select! {
                    r = unlabelled_chunks(a) => r,
                    r = unlabelled_connect(b) => r,
                }
            });
            let winner = selected.await.expect("the select! task does not panic");
            mark(format!("select! returned {winner:?}; the other child was dropped"));
            // One more period, so a snapshot after the select! shows the loser gone.
            tokio::time::sleep(period * 3).await;
        });
    }
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

    /// The program frames (not tokio's, std's or the recorder's) of `task` in a snapshot event.
    fn program_frames(snap: &Value, task: u64) -> Option<Vec<(String, String, u64)>> {
        let t = snap["tasks"].as_array()?.iter().find(|t| t["task"] == task)?;
        Some(
            t["frames"]
                .as_array()?
                .iter()
                .map(|f| {
                    (
                        f["fn"].as_str().unwrap().to_owned(),
                        f["loc"].as_str().unwrap().to_owned(),
                        f["depth"].as_u64().unwrap(),
                    )
                })
                .collect(),
        )
    }

    #[test]
    fn without_labels_snapshots_show_the_select_tasks_children_at_their_sleeps_and_then_the_loser_gone() {
        let rec = record(
            "join-vs-select",
            json!({"a_ms": 300, "b_ms": 1000, "labels": false, "snapshot_ms": 50}),
            Duration::from_secs(20),
        );
        rec.result.as_ref().expect("the scenario completes");
        let ev = &rec.events;
        assert_well_formed(ev);
        assert!(of_kind(ev, "state").is_empty(), "no probes in this variant");
        let select_task = task_named(ev, "select! task");
        let select_done = first_t(ev, |e| e["k"] == "done" && e["task"] == select_task).unwrap();
        let snaps = of_kind(ev, "snapshot");
        assert!(snaps.iter().all(|s| s["reason"] == "interval"));
        // A snapshot during part 2: the select! task's tree has both children, each at its sleep.
        let src = include_str!("join_vs_select.rs");
        let line_of = |needle: &str| src.lines().position(|l| l.contains(needle)).unwrap() + 1;
        let (a_line, b_line) =
            (line_of("        tokio::time::sleep(chunk).await;"), line_of("    tokio::time::sleep(step).await;"));
        let during = snaps
            .iter()
            .filter(|s| s["t"].as_u64().unwrap() < select_done)
            .find_map(|s| program_frames(s, select_task))
            .expect("a snapshot while the select! task was waiting");
        let at = |name: &str| {
            during
                .iter()
                .find(|(f, _, _)| f.contains(name))
                .cloned()
                .unwrap_or_else(|| panic!("no {name} in {during:?}"))
        };
        let (_, a_loc, a_depth) = at("unlabelled_chunks");
        let (_, b_loc, b_depth) = at("unlabelled_connect");
        assert_eq!(a_loc, format!("scenarios/src/join_vs_select.rs:{a_line}"));
        assert!(
            b_loc == format!("scenarios/src/join_vs_select.rs:{b_line}")
                || b_loc == format!("scenarios/src/join_vs_select.rs:{}", b_line + 1),
            "{b_loc}"
        );
        assert_eq!(a_depth, b_depth, "the two children are siblings under select!");
        // Both children wait in tokio's Sleep (the leaf below each).
        let snap = snaps
            .iter()
            .find(|s| s["t"].as_u64().unwrap() < select_done && program_frames(s, select_task).is_some())
            .unwrap();
        let all = snap["tasks"].as_array().unwrap().iter().find(|t| t["task"] == select_task).unwrap()["frames"]
            .as_array()
            .unwrap()
            .clone();
        let sleeps = all
            .iter()
            .filter(|f| f["fn"].as_str().unwrap().contains("Sleep as core::future::future::Future>::poll"))
            .count();
        assert_eq!(sleeps, 2, "{all:?}");
        // After the winner finished, the select! task and the loser inside it are gone.
        let after: Vec<_> = snaps.iter().filter(|s| s["t"].as_u64().unwrap() > select_done).collect();
        assert!(!after.is_empty(), "a snapshot after the select! returned");
        for s in after {
            assert!(program_frames(s, select_task).is_none());
            assert!(!s.to_string().contains("unlabelled_connect"), "the loser is gone: {s}");
        }
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

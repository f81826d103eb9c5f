//! # lazy-future: futures do nothing until they are polled
//!
//! Seed topic: "How is async in Rust different from async in JS? Futures are lazy; operation
//! and execution can be decoupled (`say_world`)". A JS promise starts running when it is
//! created; a Rust future is only a value until something polls it. `tokio::spawn` is the
//! exception that proves the rule: it hands the future to the runtime, which polls it at once.

use std::time::Duration;

use futurescope_recorder::{AwaitPointExt, probed, site};

use crate::{Flavor, ParamSpec, Params, RunContext, Scenario, ScenarioError, StepTime, mark, spawn_named};

pub static SCENARIO: Scenario = Scenario {
    name: "lazy-future",
    title: "Futures are lazy",
    topic: "Futures are lazy",
    summary: "A future created but not awaited does nothing; spawning one starts it at once.",
    description: "\
`say_world()` is called first, but calling an async fn only builds its state machine: the \
future sits in the `start` state while `main` goes on to \"print hello\" (here: a sleep standing \
in for other work). Watch the probe named `say_world()` in main's task: it is created at the \
first mark and its first poll (the first `state` change after `start`) comes only after the \
second mark, when main finally reaches `.await`. Nothing ran in between; there was no \
background thread doing the work.

The second half spawns the same future with `tokio::spawn`. Now the runtime owns it and \
polls it right away on a worker, while main is still busy: the task's lane shows polls before \
main ever awaits the JoinHandle. Operation (building the future) and execution (polling it) \
are decoupled: you choose when and where a future runs, by awaiting it, spawning it, or \
joining it with others. That is the difference from an eager JS promise or C# Task.",
    source: include_str!("lazy_future.rs"),
    file: "scenarios/src/lazy_future.rs",
    open_futures: &["main", "spawned say_world"],
    params: &[ParamSpec::int("delay_ms", 200, 10, 2000, "how long main works before it awaits")],
    step_time: StepTime::Paused,
    run,
};

/// The future from the tokio tutorial: it prints "world" after a short wait.
async fn say_world() -> &'static str {
    tokio::time::sleep(Duration::from_millis(20)).await_point(site!("sleep(20ms).await")).await;
    "world"
}

fn run(ctx: &RunContext, params: &Params) -> Result<(), ScenarioError> {
    let delay = Duration::from_millis(params.int("delay_ms") as u64);
    ctx.block_on(Flavor::MultiThread { workers: 2 }, "lazy", async move {
        // Part 1: create the future, do other work, then await it.
        let world = probed(site!("say_world()"), say_world());
        mark("say_world() created, not awaited");
        tokio::time::sleep(delay).await_point(site!("sleep(delay).await  // \"hello\"")).await;
        mark("main reaches say_world().await");
        let _ = world.await;

        // Part 2: spawn it; the runtime polls it while main is still busy.
        mark("tokio::spawn(say_world())");
        let handle = spawn_named("spawned say_world", probed(site!("spawned say_world()"), say_world()));
        tokio::time::sleep(delay).await_point(site!("sleep(delay).await  // busy again")).await;
        mark("main awaits the JoinHandle");
        let _ = handle.await;
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use crate::testing::{query::*, record};

    #[test]
    fn the_future_is_not_polled_until_awaited_but_a_spawned_one_is() {
        let rec = record("lazy-future", json!({"delay_ms": 50}), Duration::from_secs(10));
        rec.result.as_ref().expect("the scenario completes");
        let ev = &rec.events;
        assert_well_formed(ev);
        let mark_t = |label: &str| first_t(ev, |e| e["k"] == "mark" && e["label"] == label).expect(label);

        // Part 1: the probe starts at creation, and changes state only after main reaches .await.
        let world = futures_named(ev, "say_world()")[0];
        let created = first_t(ev, |e| e["k"] == "state" && e["future"] == world).unwrap();
        let first_poll = first_t(ev, |e| e["k"] == "state" && e["future"] == world && e["label"] != "start").unwrap();
        assert!(created <= mark_t("say_world() created, not awaited"));
        assert!(first_poll >= mark_t("main reaches say_world().await"), "polled before it was awaited");
        assert_eq!(states_of(ev, world), ["start", "sleep(20ms).await", "ready"]);

        // Part 2: the spawned task is polled before main awaits its JoinHandle.
        let spawned = task_named(ev, "spawned say_world");
        let first_spawned_poll = polls(ev, spawned)[0].0;
        assert!(first_spawned_poll < mark_t("main awaits the JoinHandle"));
        assert!(first_spawned_poll >= mark_t("tokio::spawn(say_world())"));
    }
}

//! # coop-budget: tokio's budget forces yields; a loop without awaits starves its neighbours
//!
//! Seed topic: "Async Rust in practice: performance pitfalls" (ScyllaDB): starvation and long
//! polls. A task only gives its thread back when it returns Pending. A loop over a channel
//! that always has a message ready would never return Pending, so tokio gives every poll a
//! budget of 128 operations on its resources; when it is spent, the next operation returns
//! Pending even though it could proceed. A loop that touches no tokio resource spends no
//! budget, and nothing can stop it until it returns.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use futurescope_recorder::{AwaitPointExt, probed, site};
use tokio::sync::mpsc;

use crate::{Flavor, ParamSpec, Params, RunContext, Scenario, ScenarioError, StepTime, mark, spawn_named};

pub static SCENARIO: Scenario = Scenario {
    name: "coop-budget",
    title: "Coop budget: forced yields versus a starving CPU loop",
    topic: "Async pitfalls (ScyllaDB): starvation, long polls",
    summary: "A task draining an always-ready channel is made to yield every 128 messages; a CPU loop with no yield point holds the thread and starves its neighbour.",
    description: "\
Everything runs on a current_thread runtime, one lane, so any poll that lasts keeps every \
other task waiting. Part 1 fills an mpsc channel with `messages` messages, then a `drain` task \
loops on `rx.recv().await`. Every call could complete at once, yet the drain's lane is a comb \
of short polls, about `messages / 128` of them, each ending Pending at `rx.recv().await` with \
messages still queued. That is tokio's cooperative budget: each poll may perform 128 \
operations on tokio resources (channel receives, socket reads, timers); the 129th returns \
Pending and the task is re-queued at once (its `wake` has `by` null: the scheduler's deferred \
wake, not another task). Between the drain's polls the `neighbour` task, which only wants a \
turn now and then, gets one.

Part 2 is the pitfall: `cpu loop` computes for `cpu_ms` without a single await. It touches no \
tokio resource, so it spends no budget and nothing can interrupt it: one poll as wide as the \
whole computation, flagged `long_poll`. The `neighbour` asked to sleep 5 ms just before; its \
timer cannot even fire while the only thread is busy, so its `wake` comes after the long poll \
ends and it runs a whole `cpu_ms` late (the mark says by how much). Part 3 runs the same \
computation in small units with `tokio::task::consume_budget().await` after each: the loop now \
spends budget like the drain did, yields every 128 units, and the neighbour's ticks stay on \
time. The lesson: async tasks are scheduled cooperatively. Tokio inserts yield points in its \
own resources; CPU-heavy code must add its own (`consume_budget`, `yield_now`) or move to \
`spawn_blocking`.",
    source: include_str!("coop_budget.rs"),
    file: "scenarios/src/coop_budget.rs",
    open_futures: &["drain"],
    params: &[
        ParamSpec::int("messages", 5000, 128, 100_000, "messages queued before the drain starts"),
        ParamSpec::int("cpu_ms", 200, 20, 1000, "how long the CPU loops compute"),
    ],
    step_time: StepTime::Real(
        "the neighbour measures how late its 5 ms sleeps wake up, in real time, and the CPU loop \
         runs for real: on a paused clock there would be nothing to measure",
    ),
    run,
};

/// The neighbour's sleep, a deadline it would like to meet.
const TICK: Duration = Duration::from_millis(5);
/// One unit of part 3's computation (128 of them between yields: about 1.3 ms).
const UNIT: Duration = Duration::from_micros(10);

/// Spins for `d`: CPU work with no await inside.
fn compute_for(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

/// A polite neighbour: sleeps `TICK` at a time until `done`, counts its turns, and reports its
/// worst lateness.
async fn ticking_neighbour(done: Arc<AtomicBool>, turns: Arc<AtomicU32>) -> Duration {
    let mut worst = Duration::ZERO;
    while !done.load(Ordering::Acquire) {
        let due = Instant::now() + TICK;
        tokio::time::sleep(TICK).await_point(site!("sleep(5ms).await")).await;
        turns.fetch_add(1, Ordering::Relaxed);
        worst = worst.max(Instant::now().saturating_duration_since(due));
    }
    worst
}

/// Part 1: a drain whose every recv is ready; only the budget makes it yield.
async fn part1_drain(messages: usize) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    for n in 0..messages {
        tx.send(n).expect("the receiver is alive");
    }
    drop(tx);
    mark(format!("part 1: drain {messages} queued messages"));
    let done = Arc::new(AtomicBool::new(false));
    let drain = spawn_named("drain", {
        let done = done.clone();
        probed(site!("drain loop"), async move {
            let mut count = 0usize;
            while let Some(_message) =
                rx.recv().await_point(site!("rx.recv().await  // a message is always ready")).await
            {
                count += 1;
            }
            done.store(true, Ordering::Release);
            count
        })
    });
    let neighbour = spawn_named("neighbour (part 1)", async move {
        let mut turns = 0u32;
        while !done.load(Ordering::Acquire) {
            turns += 1;
            tokio::task::yield_now().await_point(site!("yield_now().await")).await;
        }
        turns
    });
    let count = drain.await.expect("the drain does not panic");
    let turns = neighbour.await.expect("the neighbour does not panic");
    mark(format!("drained {count} messages; the neighbour had {turns} turns meanwhile"));
}

/// Parts 2 and 3: a CPU loop next to a ticking neighbour, without and with yield points.
async fn cpu_beside_neighbour(cpu: Duration, with_budget: bool) {
    let done = Arc::new(AtomicBool::new(false));
    let (neighbour_name, cpu_name) = if with_budget {
        ("neighbour (part 3)", "cpu loop + consume_budget")
    } else {
        ("neighbour (part 2)", "cpu loop")
    };
    let turns = Arc::new(AtomicU32::new(0));
    let neighbour = spawn_named(neighbour_name, ticking_neighbour(done.clone(), turns.clone()));
    // Let the neighbour start its first sleep before the CPU work begins.
    tokio::task::yield_now().await;
    let worker = spawn_named(cpu_name, async move {
        if with_budget {
            // The runtime checks its timers between turns (every 61 scheduler ticks at most,
            // or when it runs out of ready tasks), so the loop goes on past `cpu` (at most 20
            // times as long) until the neighbour has had its turns: on a busy machine `cpu`
            // can pass in fewer yields than that.
            let start = Instant::now();
            while start.elapsed() < cpu || (turns.load(Ordering::Relaxed) < 2 && start.elapsed() < cpu * 20) {
                compute_for(UNIT);
                tokio::task::consume_budget().await_point(site!("consume_budget().await")).await;
            }
        } else {
            compute_for(cpu);
        }
        done.store(true, Ordering::Release);
    });
    worker.await.expect("the cpu loop does not panic");
    let worst = neighbour.await.expect("the neighbour does not panic");
    mark(format!(
        "{neighbour_name}: its {} ms sleep woke up to {:.1} ms late",
        TICK.as_millis(),
        worst.as_secs_f64() * 1e3
    ));
}

fn run(ctx: &RunContext, params: &Params) -> Result<(), ScenarioError> {
    let messages = params.usize("messages");
    let cpu = Duration::from_millis(params.int("cpu_ms") as u64);
    ctx.block_on(Flavor::CurrentThread, "coop", async move {
        part1_drain(messages).await;
        mark("part 2: a CPU loop without a yield point");
        cpu_beside_neighbour(cpu, false).await;
        mark("part 3: the same loop with consume_budget().await");
        cpu_beside_neighbour(cpu, true).await;
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use crate::testing::{query::*, record};

    #[test]
    fn the_budget_forces_yields_and_a_loop_without_one_starves_the_neighbour() {
        let messages = 1000;
        let cpu_ms = 40;
        let rec = record("coop-budget", json!({"messages": messages, "cpu_ms": cpu_ms}), Duration::from_secs(20));
        rec.result.as_ref().expect("the scenario completes");
        let ev = &rec.events;
        assert_well_formed(ev);

        // Part 1: many short polls of the drain, each but the last Pending with messages left.
        let drain = task_named(ev, "drain");
        let drain_polls = polls(ev, drain);
        assert!(drain_polls.len() >= messages / 128, "only {} polls for {messages} messages", drain_polls.len());
        let ends: Vec<bool> = for_task(ev, drain)
            .into_iter()
            .filter(|e| e["k"] == "poll_end")
            .map(|e| e["ready"].as_bool().unwrap())
            .collect();
        assert!(ends[..ends.len() - 1].iter().all(|ready| !ready) && ends[ends.len() - 1]);
        let loop_probe = futures_named(ev, "drain loop")[0];
        let suspended =
            states_of(ev, loop_probe).iter().filter(|s| *s == "rx.recv().await  // a message is always ready").count();
        assert_eq!(suspended, drain_polls.len() - 1, "each forced yield is at the ready recv");
        // Re-queued by the scheduler (deferred wake), never by another task.
        let wakes: Vec<_> = for_task(ev, drain).into_iter().filter(|e| e["k"] == "wake").collect();
        assert!(wakes.len() >= drain_polls.len() - 1);
        assert!(wakes.iter().all(|w| w["by"].is_null() || w["by"] == drain), "{wakes:?}");
        // The neighbour got turns in between.
        let neighbour1 = polls(ev, task_named(ev, "neighbour (part 1)"));
        let (first, last) = (drain_polls[0].0, drain_polls[drain_polls.len() - 1].0);
        assert!(neighbour1.iter().any(|p| p.0 > first && p.0 < last), "the neighbour never ran between drain polls");

        // Part 2: one long poll, flagged, during which the neighbour could not even be woken.
        let cpu = task_named(ev, "cpu loop");
        let cpu_polls = polls(ev, cpu);
        assert_eq!(cpu_polls.len(), 1);
        let (cpu_start, cpu_end, _) = cpu_polls[0];
        assert!(cpu_end - cpu_start >= cpu_ms * 1_000_000);
        assert!(
            of_kind(ev, "lint").iter().any(|l| l["rule"] == "long_poll" && l["task"] == cpu),
            "no long_poll lint for the cpu loop"
        );
        let neighbour2 = task_named(ev, "neighbour (part 2)");
        let n2 = polls(ev, neighbour2);
        assert!(n2.iter().any(|p| p.1 <= cpu_start) && n2.iter().any(|p| p.0 >= cpu_end), "{n2:?}");
        assert!(n2.iter().all(|p| p.1 <= cpu_start || p.0 >= cpu_end), "the neighbour ran during the long poll");
        let woke = first_t(ev, |e| e["k"] == "wake" && e["task"] == neighbour2).unwrap();
        assert!(woke >= cpu_end, "the neighbour's timer fired while the thread was busy");

        // Part 3: the same work split by consume_budget: many polls, the neighbour runs between.
        let budgeted = polls(ev, task_named(ev, "cpu loop + consume_budget"));
        assert!(budgeted.len() >= 2, "consume_budget never yielded");
        let n3 = polls(ev, task_named(ev, "neighbour (part 3)"));
        let (first, last) = (budgeted[0].0, budgeted[budgeted.len() - 1].0);
        assert!(n3.iter().any(|p| p.0 > first && p.0 < last), "the neighbour never ran during part 3");
    }
}

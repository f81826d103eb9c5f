//! # std-mutex-across-await: a std Mutex guard held across an await, versus tokio's Mutex
//!
//! Seed topics: "Mutex in futures" (hegdenu part 3: holding a `std::sync::MutexGuard` across
//! an `.await` deadlocks a current-thread runtime) and "Send + Sync" (why the compiler refuses
//! it under `tokio::spawn`). A std mutex waits by blocking the thread; an async mutex waits by
//! returning `Pending` and being woken by whoever unlocks it.

use std::sync::Arc;
use std::sync::TryLockError;
use std::time::{Duration, Instant};

use futurescope_recorder::{AwaitPointExt, probed, site};

use crate::{
    Flavor, ParamSpec, Params, RunContext, Scenario, ScenarioError, StepTime, mark, spawn_local_named, spawn_named,
};

pub static SCENARIO: Scenario = Scenario {
    name: "std-mutex-across-await",
    title: "std Mutex across an await versus tokio Mutex",
    topic: "Mutex in futures; Send + Sync",
    summary: "A std guard across .await blocks the thread its holder needs; tokio's Mutex parks waiters in turn.",
    description: "\
Both parts run `clients` tasks on a current_thread runtime; each locks a shared counter, \
increments it and then awaits a `sleep(hold_ms)` while still holding the guard (think: a \
database call made while holding the lock). Part 1 uses `std::sync::Mutex`. Its guard is \
`!Send`, so `tokio::spawn` refuses such a task at compile time (\"future cannot be sent between \
threads safely ... `MutexGuard<'_, u64>` cannot be sent between threads safely\"); the tasks \
here use `spawn_local` on a `LocalSet` (one thread), which needs no `Send`, as a \
single-threaded program would. `client 1` takes the lock and parks at \
`sleep(hold).await  // std guard held`. `client 2` then calls `lock()`, which blocks the \
thread until the lock is free, but the only thread that could ever run client 1 again to \
release it is this one: a deadlock. A real `lock()` would \
hang for ever (and take the whole runtime with it); this scenario's `lock_or_give_up` blocks \
exactly like it but gives up after `give_up_ms` so the run can end. On the timeline: client 2's \
single poll fills the worker for `give_up_ms` (a `long_poll` lint), then client 3's does the \
same, and client 1, whose sleep ended long ago, is only polled after both, its hold stretched \
from `hold_ms` to the sum of the stalls. Waiters never show a lock await point: they never \
yield.

Part 2 runs the same clients with `tokio::sync::Mutex`. Waiting for the lock is now an await \
point, `m.lock().await`: clients 2 and 3 return `Pending` at once and the worker goes idle. When \
client 1 drops its guard, that drop wakes client 2 (the `wake` event's `by` is client 1), which \
takes the lock; client 2's release wakes client 3, and so on: the lock is handed over in FIFO \
order, each hand-over a who-woke-whom arrow, with no long poll anywhere. (Clippy's \
`await_holding_lock` lint catches part 1's mistake at compile time.) The lesson: a std \
Mutex is fine in async code if the guard is dropped before the next `.await` (tokio's own \
tutorial recommends it for short critical sections); to hold a lock across an `.await`, use \
an async mutex, or better, restructure so you do not need to.",
    source: include_str!("std_mutex_across_await.rs"),
    file: "scenarios/src/std_mutex_across_await.rs",
    open_futures: &["client 1", "client 2", "client 3"],
    params: &[
        ParamSpec::choice(
            "variant",
            "both",
            &["both", "std", "tokio"],
            "std: std::sync::Mutex held across .await; tokio: tokio::sync::Mutex; both: one after the other",
        ),
        ParamSpec::int("clients", 3, 2, 8, "tasks contending for the lock"),
        ParamSpec::int("hold_ms", 50, 1, 1000, "how long each client holds the lock across its await"),
        ParamSpec::int("give_up_ms", 250, 20, 2000, "std part: how long a blocked lock() waits"),
    ],
    step_time: StepTime::Real(
        "a std Mutex blocks a worker for real, and `try_lock` gives up after `give_up_ms` of real time",
    ),
    run,
};

fn run(ctx: &RunContext, params: &Params) -> Result<(), ScenarioError> {
    let variant = params.choice("variant");
    let clients = params.usize("clients");
    let hold = Duration::from_millis(params.int("hold_ms") as u64);
    let give_up = Duration::from_millis(params.int("give_up_ms") as u64);
    if variant != "tokio" {
        // The std guard is !Send: the clients are spawned with spawn_local on a LocalSet.
        ctx.block_on_local("std-mutex", std_part(clients, hold, give_up))?;
    }
    if variant != "std" {
        // tokio's guard is Send: plain spawned tasks, on the same kind of runtime (a fair contrast).
        ctx.block_on(Flavor::CurrentThread, "tokio-mutex", tokio_part(clients, hold))?;
    }
    Ok(())
}

/// Blocks the thread until `m` is free, like `std::sync::Mutex::lock`, but gives up after
/// `limit` (returning `None`), so that the deadlock it demonstrates ends.
fn lock_or_give_up(m: &std::sync::Mutex<u64>, limit: Duration) -> Option<std::sync::MutexGuard<'_, u64>> {
    let deadline = Instant::now() + limit;
    loop {
        match m.try_lock() {
            Ok(guard) => return Some(guard),
            Err(TryLockError::Poisoned(p)) => return Some(p.into_inner()),
            Err(TryLockError::WouldBlock) if Instant::now() >= deadline => return None,
            Err(TryLockError::WouldBlock) => std::thread::sleep(Duration::from_millis(1)),
        }
    }
}

// Clippy's `await_holding_lock` flags exactly the mistake this part exists to show.
#[expect(clippy::await_holding_lock, reason = "holding a std guard across .await is the lesson")]
async fn std_part(clients: usize, hold: Duration, give_up: Duration) {
    mark("part 1: std::sync::Mutex, guard held across .await");
    let counter = Arc::new(std::sync::Mutex::new(0u64));
    let handles: Vec<_> = (1..=clients)
        .map(|id| {
            let counter = counter.clone();
            spawn_local_named(
                &format!("client {id}"),
                probed(site!("std client"), async move {
                    // What `counter.lock()` would do, minus the "for ever".
                    let Some(mut guard) = lock_or_give_up(&counter, give_up) else {
                        mark(format!(
                            "client {id} gave up after {} ms: lock() would never return, the holder needs this thread",
                            give_up.as_millis()
                        ));
                        return false;
                    };
                    *guard += 1;
                    // The guard lives across this await: it compiles only because nothing needs Send.
                    tokio::time::sleep(hold).await_point(site!("sleep(hold).await  // std guard held")).await;
                    drop(guard);
                    true
                }),
            )
        })
        .collect();
    let mut done = 0;
    for h in handles {
        done += usize::from(h.await.expect("a client does not panic"));
    }
    mark(format!("std: {done} of {clients} clients got the lock; the others would have deadlocked"));
}

async fn tokio_part(clients: usize, hold: Duration) {
    mark("part 2: tokio::sync::Mutex, guard held across .await");
    let counter = Arc::new(tokio::sync::Mutex::new(0u64));
    let handles: Vec<_> = (1..=clients)
        .map(|id| {
            let counter = counter.clone();
            spawn_named(
                &format!("client {id}"),
                probed(site!("tokio client"), async move {
                    let mut guard = counter.lock().await_point(site!("counter.lock().await  // parked")).await;
                    *guard += 1;
                    tokio::time::sleep(hold).await_point(site!("sleep(hold).await  // tokio guard held")).await;
                    // Dropping the guard wakes the next waiter, from inside this task's poll.
                    drop(guard);
                }),
            )
        })
        .collect();
    for h in handles {
        h.await.expect("a client does not panic");
    }
    let total = *counter.lock().await;
    mark(format!("tokio: {total} of {clients} clients updated the counter, one after the other"));
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::{Value, json};

    use crate::testing::{query::*, record};

    const HOLD_MS: u64 = 20;
    const GIVE_UP_MS: u64 = 120;
    const MS: u64 = 1_000_000;

    /// The clients a part's `main` spawned, in spawn order.
    fn clients_of(ev: &[Value], main: u64) -> Vec<u64> {
        ev.iter().filter(|e| e["k"] == "spawn" && e["parent"] == main).map(|e| e["task"].as_u64().unwrap()).collect()
    }

    /// When `task`'s probe first reached the await point `label`.
    fn reached(ev: &[Value], task: u64, label: &str) -> Option<u64> {
        first_t(ev, |e| e["k"] == "state" && e["task"] == task && e["label"] == label)
    }

    fn lints_of<'a>(ev: &'a [Value], task: u64, rule: &str) -> Vec<&'a Value> {
        of_kind(ev, "lint").into_iter().filter(|l| l["task"] == task && l["rule"] == rule).collect()
    }

    #[test]
    fn a_std_guard_across_await_blocks_the_holders_thread_and_tokio_hands_the_lock_over_in_turn() {
        let rec = record(
            "std-mutex-across-await",
            json!({"variant": "both", "clients": 3, "hold_ms": HOLD_MS, "give_up_ms": GIVE_UP_MS}),
            Duration::from_secs(20),
        );
        rec.result.as_ref().expect("the scenario completes");
        let ev = &rec.events;
        assert_well_formed(ev);
        let mains = tasks_named(ev, "main");
        assert_eq!(mains.len(), 2);

        // std: client 1 holds the lock; each other client blocks the thread in one long poll,
        // never parking on the lock, and gives up; client 1's hold stretches over both stalls.
        let std_clients = clients_of(ev, mains[0]);
        assert_eq!(std_clients.len(), 3);
        let held_from = reached(ev, std_clients[0], "sleep(hold).await  // std guard held").expect("client 1 holds");
        let holder_polls = polls(ev, std_clients[0]);
        let released = holder_polls.last().unwrap().1;
        for &waiter in &std_clients[1..] {
            let p = polls(ev, waiter);
            assert_eq!(p.len(), 1, "a blocked waiter never yields: {p:?}");
            assert!(p[0].1 - p[0].0 >= GIVE_UP_MS * MS, "blocked for the whole wait: {p:?}");
            assert!(p[0].0 > held_from && p[0].1 < released, "blocked while client 1 held the lock");
            assert!(!lints_of(ev, waiter, "long_poll").is_empty(), "a long_poll lint names client {waiter}");
            assert!(
                of_kind(ev, "state")
                    .iter()
                    .all(|s| s["task"] != waiter || s["label"] == "start" || s["label"] == "ready")
            );
            assert!(
                of_kind(ev, "mark")
                    .iter()
                    .any(|m| m["task"] == waiter && m["label"].as_str().unwrap().contains("gave up"))
            );
        }
        assert!(released - held_from >= 2 * GIVE_UP_MS * MS, "client 1 held the lock through both stalls");
        assert_eq!(holder_polls.len(), 2, "client 1 could not be polled until the stalls ended");

        // tokio: waiters park at the lock and each is woken by the previous holder, in order.
        let tokio_clients = clients_of(ev, mains[1]);
        assert_eq!(tokio_clients.len(), 3);
        let held =
            |c: u64| reached(ev, c, "sleep(hold).await  // tokio guard held").expect("every client gets the lock");
        for pair in tokio_clients.windows(2) {
            let (prev, next) = (pair[0], pair[1]);
            assert!(held(prev) < held(next), "FIFO: client {prev} held the lock before client {next}");
            let parked = reached(ev, next, "counter.lock().await  // parked").expect("the waiter parks on the lock");
            let prev_released = polls(ev, prev).last().unwrap().1;
            assert!(parked < prev_released, "parked while {prev} held the lock");
            let handed_over = of_kind(ev, "wake")
                .into_iter()
                .find(|w| w["task"] == next && w["by"] == prev)
                .unwrap_or_else(|| panic!("client {prev}'s unlock wakes client {next}"));
            let t = handed_over["t"].as_u64().unwrap();
            assert!(t >= held(prev) && t <= held(next));
        }
        // Waiting never blocked the thread: no poll came near a std waiter's stall.
        for &c in tokio_clients.iter().chain([&mains[1]]) {
            let longest = polls(ev, c).iter().map(|p| p.1 - p.0).max().unwrap();
            assert!(longest < GIVE_UP_MS * MS / 2, "client {c} had a {longest} ns poll");
        }
    }
}

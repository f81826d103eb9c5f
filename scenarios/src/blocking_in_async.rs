//! # blocking-in-async: one blocking call stalls every task on its thread
//!
//! Seed topics: "Mutex in futures - the case of blocking" (hegdenu part 3) and "async is for
//! I/O stuff, not heavy duty parallel computation". A runtime worker runs one poll at a time;
//! a poll that blocks (`std::thread::sleep`, a blocking syscall, a long CPU loop) keeps the
//! worker from polling anything else until it returns. `spawn_blocking` moves the blocking
//! call to a thread of the blocking pool, where it stalls nobody.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futurescope_recorder::{AwaitPointExt, probed, site};
use tokio::sync::watch;

use crate::{
    Flavor, ParamSpec, Params, RunContext, Scenario, ScenarioError, StepTime, mark, spawn_blocking_named, spawn_named,
};

pub static SCENARIO: Scenario = Scenario {
    name: "blocking-in-async",
    title: "Blocking inside async",
    topic: "Mutex in futures: the case of blocking; async is for I/O",
    summary: "A blocking call inside a poll stalls its worker and everyone queued on it; spawn_blocking moves it away.",
    description: "\
Part 1 (`blocking`): a few `ticker` tasks wait for ticks from a `clock` thread (a plain OS \
thread standing in for the outside world: network packets, a GUI, a sensor) that ticks every \
20 ms. Then the task `blocker` calls `std::thread::sleep(stall_ms)` (or spins the CPU for as \
long, with `work = cpu`) inside its poll. Look at the worker lane: one poll as long as the \
whole stall, flagged `long_poll`. Meanwhile the clock keeps ticking: its next tick wakes each \
ticker (a `wake` from the `clock` lane, around the start of the stall; a watch channel wakes a \
receiver once, then waits until it looks again), but none of them is polled until the \
blocker's poll returns: each woken ticker waits, its \"scheduled\" gap between wake and poll \
stretching to most of the stall, and then they all run in a burst. Timers and I/O are \
stalled too: on this runtime, the thread that would check them is the one that is stuck.

Part 2 (`spawn_blocking`): the same stall, inside `tokio::task::spawn_blocking`. It now shows \
as the one run of a `blocking` task on a lane of its own (a blocking-pool thread), while the \
tickers keep being polled promptly on the worker, tick after tick, during the stall; the task \
that awaits the blocking call just sits `Pending` and is woken when it finishes. Both parts \
use a current_thread runtime (one worker, like Node.js's event loop) so the damage is plain to \
see; on a multi-thread runtime one blocking poll takes away one worker of N (and strands the \
tasks queued on it), and N concurrent blocking calls take them all. The lesson: never block in \
a poll; use `spawn_blocking` (or `block_in_place`) for blocking calls, and split long CPU \
work or move it to a thread pool built for it.",
    source: include_str!("blocking_in_async.rs"),
    file: "scenarios/src/blocking_in_async.rs",
    open_futures: &[],
    params: &[
        ParamSpec::choice(
            "variant",
            "both",
            &["both", "blocking", "spawn_blocking"],
            "blocking: the stall inside a poll; spawn_blocking: the fix; both: one after the other",
        ),
        ParamSpec::int("stall_ms", 300, 20, 2000, "how long the blocking call takes"),
        ParamSpec::choice("work", "sleep", &["sleep", "cpu"], "std::thread::sleep, or a busy CPU loop as long"),
        ParamSpec::int("tickers", 4, 1, 16, "small tasks woken by the clock thread"),
    ],
    step_time: StepTime::Real(
        "the lesson is a worker blocked for real: `std::thread::sleep` (or a CPU loop) inside a poll, \
         measured against the `clock` thread, which ticks every 20 ms of real time while you read",
    ),
    run,
};

/// How often the clock thread ticks.
const TICK: Duration = Duration::from_millis(20);
/// How long the tickers run before and after the stall, for contrast.
const CALM: Duration = Duration::from_millis(100);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Blocking,
    SpawnBlocking,
}

/// The blocking call itself: it holds this thread for `d`.
fn stall(cpu: bool, d: Duration) {
    if cpu {
        let start = Instant::now();
        let mut x = 1u64;
        while start.elapsed() < d {
            x = black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407));
        }
    } else {
        std::thread::sleep(d);
    }
}

fn run(ctx: &RunContext, params: &Params) -> Result<(), ScenarioError> {
    let stall_for = Duration::from_millis(params.int("stall_ms") as u64);
    let cpu = params.choice("work") == "cpu";
    let tickers = params.usize("tickers");
    let parts: &[Part] = match params.choice("variant") {
        "blocking" => &[Part::Blocking],
        "spawn_blocking" => &[Part::SpawnBlocking],
        _ => &[Part::Blocking, Part::SpawnBlocking],
    };

    // The clock: a plain thread, so it keeps ticking whatever the runtime's worker is doing.
    let ticks = Arc::new(watch::Sender::new(0u64));
    let clock_stop = Arc::new(AtomicBool::new(false));
    let clock = ctx.spawn_thread("clock", {
        let (ticks, stop) = (ticks.clone(), clock_stop.clone());
        move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(TICK);
                n += 1;
                ticks.send_replace(n);
            }
        }
    });

    let mut result = Ok(());
    for &part in parts {
        let rx = ticks.subscribe();
        let label = if part == Part::Blocking { "blocking" } else { "spawn-blocking" };
        result = ctx.block_on(Flavor::CurrentThread, label, one_part(part, cpu, stall_for, tickers, rx));
        if result.is_err() {
            break;
        }
    }
    clock_stop.store(true, Ordering::Relaxed);
    let _ = clock.join();
    result
}

async fn one_part(part: Part, cpu: bool, stall_for: Duration, tickers: usize, rx: watch::Receiver<u64>) {
    let stop = Arc::new(AtomicBool::new(false));
    let handles: Vec<_> = (1..=tickers)
        .map(|i| {
            let (mut rx, stop) = (rx.clone(), stop.clone());
            spawn_named(
                &format!("ticker {i}"),
                probed(site!("ticker loop"), async move {
                    while !stop.load(Ordering::Relaxed) {
                        if rx.changed().await_point(site!("rx.changed().await  // next clock tick")).await.is_err() {
                            break;
                        }
                    }
                }),
            )
        })
        .collect();
    tokio::time::sleep(CALM).await_point(site!("sleep(100ms).await  // tickers tick calmly")).await;

    let ms = stall_for.as_millis();
    let what = if cpu { "a CPU loop" } else { "std::thread::sleep" };
    match part {
        Part::Blocking => {
            mark(format!("part 1: {what} ({ms} ms) inside a poll"));
            let blocker = spawn_named("blocker", async move {
                // No .await here: the whole stall is one poll.
                stall(cpu, stall_for);
            });
            blocker.await_point(site!("blocker.await")).await.expect("the blocker does not panic");
        }
        Part::SpawnBlocking => {
            mark(format!("part 2: the same {what} ({ms} ms) in spawn_blocking"));
            let caller = spawn_named("caller", async move {
                let blocking = spawn_blocking_named("blocking stall", move || stall(cpu, stall_for));
                blocking
                    .await_point(site!("spawn_blocking(stall).await"))
                    .await
                    .expect("the blocking call does not panic");
            });
            caller.await_point(site!("caller.await")).await.expect("the caller does not panic");
        }
    }
    mark("the stall is over");

    tokio::time::sleep(CALM).await_point(site!("sleep(100ms).await  // calm again")).await;
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        let _ = h.await;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::{Value, json};

    use crate::testing::{query::*, record};

    const STALL_MS: u64 = 200;
    const STALL: u64 = STALL_MS * 1_000_000;

    /// The tasks a part's `main` spawned whose name starts with `prefix`.
    fn children(ev: &[Value], main: u64, prefix: &str) -> Vec<u64> {
        ev.iter()
            .filter(|e| e["k"] == "spawn" && e["parent"] == main && e["name"].as_str().unwrap().starts_with(prefix))
            .map(|e| e["task"].as_u64().unwrap())
            .collect()
    }

    fn lane<'a>(ev: &'a [Value], worker: &Value) -> &'a Value {
        ev.iter().find(|e| e["k"] == "worker" && e["worker"] == *worker).expect("every lane is announced")
    }

    /// The last wake of `task` before `t`, and the start of the poll that followed it.
    fn last_wake_before(ev: &[Value], task: u64, t: u64) -> Option<(Value, u64)> {
        let wake =
            of_kind(ev, "wake").into_iter().rfind(|w| w["task"] == task && w["t"].as_u64().unwrap() < t)?.clone();
        let woke = wake["t"].as_u64().unwrap();
        let next = polls(ev, task).iter().map(|p| p.0).find(|&s| s >= woke)?;
        Some((wake, next))
    }

    /// The line of this file that `text` is on (the first with it).
    fn line_of(text: &str) -> usize {
        super::SCENARIO.source.lines().position(|l| l.contains(text)).expect("in the source") + 1
    }

    /// A cause's stack samples: (count, frames as (fn, loc)), frames outermost first.
    fn stacks(cause: &Value) -> Vec<(u64, Vec<(String, String)>)> {
        let stacks = cause["stacks"].as_array().unwrap_or_else(|| panic!("stacks: {cause}"));
        stacks
            .iter()
            .map(|s| {
                let frames = s["frames"].as_array().unwrap().iter();
                let frames =
                    frames.map(|f| (f["fn"].as_str().unwrap().to_owned(), f["loc"].as_str().unwrap_or("").to_owned()));
                (s["n"].as_u64().unwrap(), frames.collect())
            })
            .collect()
    }

    /// How many of a cause's stack samples have a frame for which `pick(fn, loc)` holds, and
    /// how many were taken.
    fn samples_with(cause: &Value, pick: impl Fn(&str, &str) -> bool) -> (u64, u64) {
        let all = stacks(cause);
        let with = all.iter().filter(|(_, f)| f.iter().any(|(name, loc)| pick(name, loc))).map(|(n, _)| n).sum();
        (with, all.iter().map(|(n, _)| n).sum())
    }

    /// The `poll_cause` of `task`'s poll that began at `since`.
    fn long_poll_cause(ev: &[Value], task: u64, since: u64) -> Value {
        let causes: Vec<_> = of_kind(ev, "poll_cause").into_iter().filter(|c| c["task"] == task).collect();
        assert_eq!(causes.len(), 1, "the long poll says why: {causes:?}");
        assert_eq!(causes[0]["since"], since, "{}", causes[0]);
        causes[0].clone()
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_spinning_poll_is_on_cpu() {
        let rec = record(
            "blocking-in-async",
            json!({"variant": "blocking", "stall_ms": STALL_MS, "work": "cpu", "tickers": 1}),
            Duration::from_secs(20),
        );
        rec.result.as_ref().expect("the scenario completes");
        let ev = &rec.events;
        let blocker = task_named(ev, "blocker");
        let (b_start, _, _) = polls(ev, blocker)[0];
        let cause = long_poll_cause(ev, blocker, b_start);
        assert_eq!(cause["cause"], "on_cpu", "{cause}");
        assert!(cause["syscall"].is_null(), "{cause}");
        let lint = of_kind(ev, "lint").into_iter().find(|l| l["rule"] == "long_poll" && l["task"] == blocker);
        let detail = lint.expect("a long_poll lint names the blocker")["detail"].as_str().unwrap();
        assert!(detail.contains("on CPU") && detail.contains("CPU-heavy"), "{detail}");
        // The user stacks: the spinning function in (nearly) every sample, and the hot frame.
        let (in_stall, taken) = samples_with(&cause, |name, _| name.ends_with("blocking_in_async::stall"));
        assert!(taken >= 10, "stacks were sampled during the poll: {cause}");
        assert!(in_stall * 10 >= taken * 9, "{in_stall} of {taken} samples in stall: {cause}");
        let hot = &cause["hot"];
        assert!(hot["fn"].as_str().unwrap().ends_with("blocking_in_async::stall"), "{hot}");
        assert!(hot["loc"].as_str().unwrap().starts_with("scenarios/src/blocking_in_async.rs:"), "{hot}");
        assert!(detail.contains("in futurescope_scenarios::blocking_in_async::stall at "), "{detail}");
    }

    #[test]
    fn a_blocking_poll_stalls_the_worker_and_spawn_blocking_moves_the_stall_away() {
        let rec = record(
            "blocking-in-async",
            json!({"variant": "both", "stall_ms": STALL_MS, "tickers": 3}),
            Duration::from_secs(20),
        );
        rec.result.as_ref().expect("the scenario completes");
        let ev = &rec.events;
        assert_well_formed(ev);
        let mains = tasks_named(ev, "main");
        assert_eq!(mains.len(), 2, "one main per part");

        // Part 1: one poll of the blocker lasts the whole stall, and is flagged.
        let blocker = task_named(ev, "blocker");
        let blocker_polls = polls(ev, blocker);
        assert_eq!(blocker_polls.len(), 1, "{blocker_polls:?}");
        let (b_start, b_end, b_lane) = blocker_polls[0];
        assert!(b_end - b_start >= STALL, "the poll lasted {} ns", b_end - b_start);
        assert!(
            of_kind(ev, "lint").iter().any(|l| l["rule"] == "long_poll" && l["task"] == blocker),
            "a long_poll lint names the blocker"
        );
        // Why it was long: blocked in the sleep's system call (issue #18; Linux's /proc).
        if cfg!(target_os = "linux") {
            let cause = long_poll_cause(ev, blocker, b_start);
            assert_eq!(cause["cause"], "blocked", "{cause}");
            assert!(matches!(cause["syscall"].as_str(), Some("clock_nanosleep" | "nanosleep")), "{cause}");
            let lint = of_kind(ev, "lint").into_iter().find(|l| l["rule"] == "long_poll" && l["task"] == blocker);
            let detail = lint.unwrap()["detail"].as_str().unwrap();
            assert!(detail.contains("blocked in") && detail.contains("nanosleep"), "{detail}");
            // Its user stacks: at the `std::thread::sleep` call of `stall`, the hot frame.
            let at = format!("scenarios/src/blocking_in_async.rs:{}", line_of("std::thread::sleep(d);"));
            let (at_sleep, taken) = samples_with(&cause, |_, loc| loc == at);
            assert!(taken >= 10, "stacks were sampled during the poll: {cause}");
            assert!(at_sleep * 10 >= taken * 9, "{at_sleep} of {taken} samples at {at}: {cause}");
            assert_eq!(cause["hot"]["loc"], at.as_str(), "{cause}");
            assert!(cause["hot"]["fn"].as_str().unwrap().ends_with("blocking_in_async::stall"), "{cause}");
            assert!(detail.contains(&at), "the lint says where: {detail}");
        }
        // Every ticker was woken by the clock thread before the stall ended (during it, or just
        // before it began if the blocker got the worker first), and then waited for the worker.
        let tickers = children(ev, mains[0], "ticker");
        assert_eq!(tickers.len(), 3);
        for &ticker in &tickers {
            let (wake, polled) = last_wake_before(ev, ticker, b_end).expect("woken before the stall ended");
            assert!(wake["by"].is_null(), "{wake}");
            assert_eq!(lane(ev, &wake["worker"])["name"], "clock", "{wake}");
            assert!(polled >= b_end, "ticker {ticker} was polled during the stall");
            let waited = polled - wake["t"].as_u64().unwrap();
            assert!(waited >= STALL / 2, "ticker {ticker} was woken and waited only {waited} ns");
            assert!(polls(ev, ticker).iter().all(|&(_, _, w)| w == b_lane), "one worker runs everything");
        }

        // Part 2: the stall is the one run of a blocking task, on a blocking lane.
        let blocking: Vec<u64> = ev
            .iter()
            .filter(|e| e["k"] == "spawn" && e["kind"] == "blocking" && e["name"] == "blocking stall")
            .map(|e| e["task"].as_u64().unwrap())
            .collect();
        assert_eq!(blocking.len(), 1);
        let runs = polls(ev, blocking[0]);
        assert_eq!(runs.len(), 1, "a blocking task runs once: {runs:?}");
        let (s_start, s_end, s_lane) = runs[0];
        assert!(s_end - s_start >= STALL, "{runs:?}");
        assert_eq!(lane(ev, &json!(s_lane))["kind"], "blocking");
        // The tickers kept being polled on the worker meanwhile, each of them.
        let tickers = children(ev, mains[1], "ticker");
        assert_eq!(tickers.len(), 3);
        for &ticker in &tickers {
            let ran_during = polls(ev, ticker).iter().filter(|p| s_start < p.0 && p.0 < s_end).count();
            assert!(ran_during >= 1, "ticker {ticker} was polled during the blocking call");
        }
        // No async task of part 2 stalled the worker: no poll came near the stall's length.
        let caller = task_named(ev, "caller");
        for task in tickers.iter().copied().chain([caller, mains[1]]) {
            let longest = polls(ev, task).iter().map(|p| p.1 - p.0).max().unwrap();
            assert!(longest < STALL / 2, "task {task} had a {longest} ns poll");
        }
    }
}

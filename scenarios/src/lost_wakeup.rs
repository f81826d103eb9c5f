//! # lost-wakeup: `Pending` without a plan for the wake
//!
//! Seed topics: wakers (how does the runtime know when to poll again?) and "What makes
//! concurrency hard?". A future that returns `Pending` promises that something will call
//! `wake()` on the waker it was given. If it breaks that promise the runtime never polls it
//! again: no error, no panic, no CPU use, the task just sits there for ever. The dashboard
//! can prove it: it counts the task's live wakers, and when none is left after a `Pending`
//! poll, nothing in the program can wake the task any more.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::task::{Context, Poll};
use std::time::Duration;

use futurescope_recorder::{AwaitPointExt, probed, site};
use tokio::sync::mpsc;

use crate::{Flavor, ParamSpec, Params, RunContext, Scenario, ScenarioError, StepTime, mark, spawn_named};

pub static SCENARIO: Scenario = Scenario {
    name: "lost-wakeup",
    title: "A lost wakeup: Pending, and nobody will wake it",
    topic: "Wakers; what makes concurrency hard",
    summary: "A future returns Pending without storing its waker: the task is never polled again, and is flagged.",
    description: "\
The task `forgetful` awaits `FlagFuture`, a hand-written future that checks an `AtomicBool` \
and returns `Pending` if it is not set yet, without storing `cx.waker()` anywhere. A plain \
thread sets the flag after `flag_after_ms` (the mark \"flag set\"), so the value the task waits \
for does arrive, but nobody tells the task. Look at its lane: one poll, then nothing, for the \
rest of the run. About a tenth of a second after that poll the dashboard raises a `lost_wake` \
lint on it: the task returned `Pending`, was not woken during the poll, and no waker of it is \
alive (the recorder counts `waker_clone`, `waker_drop` and `wake` events), so no code anywhere \
can ever wake it. A real program would hang here for ever; the lesson has made its point \
once the flag is set and the lint is up, so `show_for_ms` after the flag is set it marks \
\"lesson over\" and returns: the run finishes, and shutting the runtime down drops the stuck \
task (its end says `cancelled`), which is the only way out of a lost wakeup.

Compare the task `listener`: it is also idle for the whole run, waiting in `rx.recv()` on a \
channel whose sender is alive but never sends. It is not flagged, because its waker is stored \
in the channel: one `send` would wake it. That is the difference between waiting and being \
lost, and a sampling tool that only sees \"idle for a long time\" cannot tell them apart. The \
`heartbeat` task ticks every 100 ms to show that the runtime itself is healthy: no worker is \
blocked, the forgotten task simply is not in any queue. The fix is one line in `poll`: store \
`cx.waker().clone()` where the flag's setter will find it (or use a primitive that does, like \
`tokio::sync::Notify`), as the hand-written-future scenario does.

With the lint comes a snapshot (a task dump: the marker on the time axis, the Snapshots tab): \
`forgetful` waits at `FlagFuture`, a leaf tokio cannot trace, so the await point's probe names \
it, at its line. A task dump runs every idle task once, for real, in tokio's tracing mode: \
tokio's own futures return `Pending` in that poll without doing their work, and so does \
`FlagFuture` here (tokio's `Handle::is_tracing()`). Without that check a dump taken after the flag is \
set would complete the lost task: a snapshot can change what a buggy program does.",
    source: include_str!("lost_wakeup.rs"),
    file: "scenarios/src/lost_wakeup.rs",
    open_futures: &["forgetful", "listener"],
    params: &[
        ParamSpec::int("flag_after_ms", 500, 10, 2000, "when the plain thread sets the flag the task waits for"),
        ParamSpec::int("show_for_ms", 1000, 300, 30_000, "how long the lost task is shown after the flag is set"),
    ],
    step_time: StepTime::PausedExcept(
        "the `flag setter` is a plain OS thread that sets the flag after real time; `heartbeat` \
         runs on the paused clock, so it ticks whenever nothing else can run",
    ),
    run,
};

/// The buggy future: ready once the flag is set, but it never arranges to be told.
struct FlagFuture {
    flag: Arc<AtomicBool>,
}

impl Future for FlagFuture {
    type Output = ();

    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        // A task dump (the snapshot taken at the lint) runs every idle task once, for real, to
        // trace it. tokio's own leaf futures return Pending in such a traced poll without doing
        // their work; this one does the same: a plain FlagFuture polled by a dump after the flag
        // is set would complete, and the dump would have "fixed" the very bug shown here.
        if futurescope_recorder::dump::is_tracing() {
            return Poll::Pending;
        }
        if self.flag.load(Ordering::Acquire) {
            Poll::Ready(())
        } else {
            // BUG (on purpose): Pending, but `_cx.waker()` is neither stored nor woken.
            Poll::Pending
        }
    }
}

fn run(ctx: &RunContext, params: &Params) -> Result<(), ScenarioError> {
    let flag_after = Duration::from_millis(params.int("flag_after_ms") as u64);
    let show_for = Duration::from_millis(params.int("show_for_ms") as u64);
    let flag = Arc::new(AtomicBool::new(false));
    // Dropping `run_over` tells the setter to stop waiting (if the run ends first).
    let (run_over, wait) = std::sync::mpsc::channel::<()>();
    let setter = ctx.spawn_thread("flag setter", {
        let flag = flag.clone();
        move || {
            if wait.recv_timeout(flag_after) == Err(RecvTimeoutError::Timeout) {
                flag.store(true, Ordering::Release);
                mark("flag set: nobody wakes the task");
            }
        }
    });
    // The sender is held outside the runtime, until the runtime has shut down: the listener's
    // waker stays stored in the channel, and cancelling the run drops the listener at its
    // `recv` (dropping the sender with `main` instead would close the channel and race the
    // shutdown: the listener could wake and complete first).
    let (tx, mut rx) = mpsc::channel::<u32>(1);
    let result = ctx.block_on(Flavor::MultiThread { workers: 2 }, "lost", async move {
        let forgetful = spawn_named("forgetful", async move {
            FlagFuture { flag }.await_point(site!("FlagFuture.await  // never stores the waker")).await;
        });
        let listener = spawn_named("listener", async move {
            rx.recv().await_point(site!("rx.recv().await  // sender alive, silent")).await;
        });
        let heartbeat = spawn_named(
            "heartbeat",
            probed(site!("heartbeat loop"), async {
                let mut every = tokio::time::interval(Duration::from_millis(100));
                loop {
                    every.tick().await_point(site!("every.tick().await")).await;
                }
            }),
        );
        mark("forgetful, listener and heartbeat spawned");
        // The forgetful task never completes: waiting for it would hang for ever. Show it lost
        // for a while after the flag is set (the `lost_wake` lint comes ~100 ms after its
        // poll), then end the lesson; the runtime's shutdown drops all three tasks.
        // It cannot complete: nothing polls it again (a snapshot's traced poll finds it Pending).
        let _ = tokio::time::timeout(flag_after + show_for, forgetful).await;
        mark("lesson over: the flag is set, yet forgetful was never polled again (nobody can wake it)");
        drop((listener, heartbeat));
    });
    drop(tx);
    drop(run_over);
    let _ = setter.join();
    result
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use crate::testing::{query::*, record};

    #[test]
    fn a_task_dump_after_the_flag_is_set_does_not_complete_the_lost_task() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, Ordering};
        // One thread: once the main future runs again, the task's first poll is over.
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            let flag = Arc::new(AtomicBool::new(false));
            let (polled_tx, polled_rx) = tokio::sync::oneshot::channel();
            let task = tokio::spawn({
                let flag = flag.clone();
                async move {
                    let _ = polled_tx.send(());
                    super::FlagFuture { flag }.await;
                }
            });
            polled_rx.await.unwrap();
            flag.store(true, Ordering::Release);
            // The dump runs the idle task once, for real, in tokio's tracing mode.
            let dump = tokio::runtime::Handle::current().dump().await;
            assert_eq!(dump.tasks().iter().count(), 1, "the task was traced");
            tokio::task::yield_now().await;
            assert!(!task.is_finished(), "the traced poll left the task lost, as it is without dumps");
        });
    }

    #[test]
    fn the_snapshot_at_the_lint_shows_the_forgetful_future_as_the_leaf_at_its_line() {
        // The time limit (1.5 s) comes before the flag (2 s): the run ends with the task stuck.
        let rec = record("lost-wakeup", json!({"flag_after_ms": 2000}), Duration::from_millis(1500));
        let ev = &rec.events;
        assert_well_formed(ev);
        let forgetful = task_named(ev, "forgetful");
        let lint_t = first_t(ev, |e| e["k"] == "lint" && e["rule"] == "lost_wake" && e["task"] == forgetful).unwrap();
        let snap = of_kind(ev, "snapshot")
            .into_iter()
            .find(|s| s["reason"] == "lost_wake")
            .expect("a snapshot when the lint fired");
        assert!(snap["t"].as_u64().unwrap() >= lint_t);
        let task = snap["tasks"].as_array().unwrap().iter().find(|t| t["task"] == forgetful).expect("the stuck task");
        assert_eq!(task["state"], "idle");
        let frames = task["frames"].as_array().unwrap();
        let leaf = frames.last().unwrap();
        assert_eq!(leaf["fn"], "futurescope_scenarios::lost_wakeup::FlagFuture");
        let src = include_str!("lost_wakeup.rs");
        let line = src.lines().position(|l| l.contains("FlagFuture { flag }.await_point")).unwrap() + 1;
        assert_eq!(leaf["loc"], format!("scenarios/src/lost_wakeup.rs:{line}"));
        assert_eq!(
            frames[0]["loc"],
            format!("scenarios/src/lost_wakeup.rs:{line}"),
            "the task's own async block, at that await"
        );
    }

    #[test]
    fn the_forgetful_task_is_flagged_after_the_lints_wait_and_the_waiting_listener_is_not() {
        // The snapshot taken at the lint runs every idle task once for real (tokio's tracing);
        // FlagFuture returns Pending in such a poll whatever its flag, so whether the snapshot
        // comes before or after the flag is set, the task stays lost.
        let rec = record("lost-wakeup", json!({"flag_after_ms": 500, "show_for_ms": 1000}), Duration::from_secs(30));
        assert!(rec.result.is_ok(), "the lesson ends by itself once its point is made: {:?}", rec.result);
        let ev = &rec.events;
        assert_well_formed(ev);

        let forgetful = task_named(ev, "forgetful");
        let listener = task_named(ev, "listener");
        let heartbeat = task_named(ev, "heartbeat");

        // Polled once, never again, although the flag was set.
        let forgetful_polls = polls(ev, forgetful);
        assert_eq!(forgetful_polls.len(), 1, "{forgetful_polls:?}");
        let last_poll_end = forgetful_polls[0].1;
        let flag_set = first_t(ev, |e| e["k"] == "mark" && e["label"] == "flag set: nobody wakes the task")
            .expect("the flag was set");
        assert!(flag_set > last_poll_end);
        assert!(of_kind(ev, "wake").iter().all(|w| w["task"] != forgetful), "nothing ever woke it");

        // Flagged `lost_wake`, pointing at that poll, and not before the lint's wait after it
        // (how soon after that the collector's tick finds it depends on the machine's load).
        let lint = of_kind(ev, "lint")
            .into_iter()
            .find(|e| e["rule"] == "lost_wake" && e["task"] == forgetful)
            .expect("a lost_wake lint for the forgetful task");
        assert_eq!(lint["since"].as_u64(), Some(last_poll_end), "the lint points at the poll that lost it");
        let found_after = lint["t"].as_u64().unwrap() - last_poll_end;
        let wait = futurescope_recorder::LintThresholds::default().lost_wake_after_ns;
        assert!(found_after >= wait, "found {found_after} ns after the poll, before the lint's {wait} ns");

        // The listener and the heartbeat are idle most of the time, but can be woken: not lost.
        for task in [listener, heartbeat] {
            let lost: Vec<_> =
                of_kind(ev, "lint").into_iter().filter(|e| e["task"] == task && e["rule"] == "lost_wake").collect();
            assert!(lost.is_empty(), "task {task} was flagged: {lost:?}");
        }
        assert!(polls(ev, heartbeat).len() > 5, "the runtime stayed healthy");

        assert!(
            of_kind(ev, "mark").iter().any(|e| e["label"].as_str().unwrap().starts_with("lesson over")),
            "the run says why it ends"
        );
        // Shutting the runtime down dropped the stuck task.
        assert!(
            for_task(ev, forgetful).iter().any(|e| e["k"] == "done" && e["outcome"] == "cancelled"),
            "the forgetful task ends as cancelled"
        );
    }
}

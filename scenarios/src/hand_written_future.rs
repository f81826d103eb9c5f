//! # hand-written-future: a `Future` written by hand, as the state machine it is
//!
//! Seed topic: "Manually writing futures" (hegdenu, understanding async/await part 4). An
//! `async fn` compiles to an enum with one variant per await point and a `poll` that matches on
//! it. Writing that enum and that `poll` yourself shows the whole contract: return `Pending`
//! only after arranging a wake (here: storing `cx.waker()` where the other side will find it),
//! expect to be polled again after the wake, advance, and finally return `Ready`.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futurescope_recorder::{LockUnpoisoned, ProbeHandle, Unpoisoned, site};

use crate::{Flavor, ParamSpec, Params, RunContext, Scenario, ScenarioError, StepTime, mark, spawn_named};

pub static SCENARIO: Scenario = Scenario {
    name: "hand-written-future",
    title: "A future written by hand",
    topic: "Manually writing futures",
    summary: "A Future written by hand: an enum state, Pending with a stored waker, a thread's wake, the next state.",
    description: "\
`Handshake` is a future written without `async`: a struct holding an enum `Stage` \
(`Start`, `WaitingForHello`, `WaitingForAccept`, `WaitingForData`, `Done`) and a `poll` that \
matches on it. A plain OS thread named `peer` plays the other side of a conversation: each time \
the future asks for something, the peer thinks for a while (`delay_ms`) and then answers by \
calling `wake()` on the waker the future stored. Open the task `handshake`: it is polled four \
times. The first three polls each return `Pending` after storing `cx.waker()` (the \
`waker_clone` events), the task's lane is empty while the peer thinks, then a `wake` arrives \
with no waking task (`by` is null) from the `peer` thread's lane, and the next poll moves the \
enum to its next variant. The probe named `Handshake` shows every variant as a `state` event, \
in order, reported by the future itself with `ProbeHandle::set_state`.

This is all an executor knows about a future: it calls `poll`, and it calls it again only when \
somebody calls `wake` on a waker from that poll's `Context`. Nothing here is special to tokio; \
the runtime never looks inside `Stage`. An `async fn` generates the same kind of enum (one \
variant per `.await`), which is why an async fn's state is stored in the task and why \
`Pending` must always come with a plan for the wake: compare the lost-wakeup scenario, where \
the plan is missing. Note also that a poll that finds nothing new (a spurious wake) must store \
the newest waker again and stay in its state: the executor may hand a different waker each time.",
    source: include_str!("hand_written_future.rs"),
    file: "scenarios/src/hand_written_future.rs",
    open_futures: &["handshake"],
    params: &[ParamSpec::int("delay_ms", 150, 1, 2000, "how long the peer thread thinks before each answer")],
    step_time: StepTime::PausedExcept(
        "the `peer` thread is a plain OS thread: it thinks `delay_ms` of real time before each \
         answer, so a step taken sooner finds nothing to poll and waits for its wake",
    ),
    run,
};

/// Where the handshake is. Each variant but `Start` and `Done` waits for one answer from the peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Start,
    WaitingForHello,
    WaitingForAccept,
    WaitingForData,
    Done,
}

impl Stage {
    /// The variant as a probe site, so the timeline shows the enum's own names.
    fn site(self) -> &'static futurescope_recorder::ProbeSite {
        match self {
            Stage::Start => site!("Start"),
            Stage::WaitingForHello => site!("WaitingForHello"),
            Stage::WaitingForAccept => site!("WaitingForAccept"),
            Stage::WaitingForData => site!("WaitingForData"),
            Stage::Done => site!("Done"),
        }
    }
}

/// What the future and the peer thread share: the peer's answers so far, and the waker of
/// whoever waits for the next one. The mutex is held only for these few field updates, never
/// across a poll's return, so a std Mutex is the right tool.
#[derive(Default)]
struct Line {
    state: Mutex<LineState>,
    /// The peer sleeps on this until the future has asked (stored a waker) or hung up.
    asked: Condvar,
}

#[derive(Default)]
struct LineState {
    answers: u32,
    waker: Option<Waker>,
    hung_up: bool,
}

impl Line {
    fn lock(&self) -> std::sync::MutexGuard<'_, LineState> {
        // Nothing panics while holding it; if something did, the fields are still consistent.
        self.state.lock_unpoisoned()
    }

    fn answers(&self) -> u32 {
        self.lock().answers
    }

    /// Leaves the waker for the peer to call with its next answer, and wakes the peer up.
    fn ask(&self, waker: &Waker) {
        self.lock().waker = Some(waker.clone());
        self.asked.notify_one();
    }

    fn hang_up(&self) {
        self.lock().hung_up = true;
        self.asked.notify_one();
    }
}

/// The hand-written future: a three-message exchange with the peer thread.
struct Handshake {
    stage: Stage,
    line: Arc<Line>,
    probe: ProbeHandle,
}

impl Handshake {
    fn new(line: Arc<Line>) -> Handshake {
        Handshake { stage: Stage::Start, line, probe: ProbeHandle::start(site!("Handshake")) }
    }

    fn enter(&mut self, stage: Stage) {
        self.stage = stage;
        self.probe.set_state(stage.site());
    }
}

impl Future for Handshake {
    type Output = u32;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        // `Handshake` is `Unpin` (no self-references), so we may use it as `&mut Self`.
        let this = self.get_mut();
        // How many answers each stage has to see before it can move on, and where it goes next.
        let (needed, next) = match this.stage {
            Stage::Start => (0, Stage::WaitingForHello),
            Stage::WaitingForHello => (1, Stage::WaitingForAccept),
            Stage::WaitingForAccept => (2, Stage::WaitingForData),
            Stage::WaitingForData => (3, Stage::Done),
            Stage::Done => panic!("Handshake polled after it returned Ready"),
        };
        if this.line.answers() < needed {
            // A spurious wake: nothing new. Leave the newest waker and stay where we are.
            this.line.ask(cx.waker());
            return Poll::Pending;
        }
        this.enter(next);
        if next == Stage::Done {
            this.probe.ready();
            return Poll::Ready(needed);
        }
        // Ask the peer for the next message, leaving it the waker to call when it answers.
        // Without this line the task would never be polled again (see lost-wakeup).
        this.line.ask(cx.waker());
        mark(format!("{next:?}: Pending, cx.waker() left in Line for the peer thread"));
        Poll::Pending
    }
}

impl Drop for Handshake {
    fn drop(&mut self) {
        // Cancelled or finished: tell the peer nobody is listening any more.
        self.line.hang_up();
    }
}

/// The peer: waits until asked, thinks, answers by waking the stored waker. Returns the
/// number of answers it gave.
fn peer(line: Arc<Line>, delay: Duration) -> u32 {
    for answer in 1..=3 {
        {
            let st = line.lock();
            let st = line.asked.wait_while(st, |s| s.waker.is_none() && !s.hung_up).unpoisoned();
            if st.hung_up {
                return answer - 1;
            }
        }
        let waker = {
            // Think for `delay` (less if the future hangs up meanwhile), then answer.
            let st = line.lock();
            let (mut st, _) = line.asked.wait_timeout_while(st, delay, |s| !s.hung_up).unpoisoned();
            if st.hung_up {
                return answer - 1;
            }
            st.answers = answer;
            st.waker.take()
        };
        // The wake happens on this plain thread, outside any task: its `by` is null.
        if let Some(waker) = waker {
            waker.wake();
        }
    }
    3
}

fn run(ctx: &RunContext, params: &Params) -> Result<(), ScenarioError> {
    let delay = Duration::from_millis(params.int("delay_ms") as u64);
    let line = Arc::new(Line::default());
    let peer_thread = ctx.spawn_thread("peer", {
        let line = line.clone();
        move || peer(line, delay)
    });
    let result = ctx.block_on(Flavor::MultiThread { workers: 2 }, "hand", async move {
        mark("spawn the handshake task");
        let handle = spawn_named("handshake", async move { Handshake::new(line).await });
        let answers = handle.await.expect("the handshake task does not panic");
        mark(format!("handshake done after {answers} answers"));
    });
    // The future hangs up when it is dropped, so the peer ends even if the run was cancelled.
    let _ = peer_thread.join();
    result
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use crate::testing::{query::*, record};

    #[test]
    fn every_stage_appears_in_order_and_each_advance_follows_a_wake_from_the_peer_thread() {
        let rec = record("hand-written-future", json!({"delay_ms": 20}), Duration::from_secs(10));
        rec.result.as_ref().expect("the scenario completes");
        let ev = &rec.events;
        assert_well_formed(ev);

        let probe = futures_named(ev, "Handshake")[0];
        assert_eq!(
            states_of(ev, probe),
            ["start", "WaitingForHello", "WaitingForAccept", "WaitingForData", "Done", "ready"]
        );

        let task = task_named(ev, "handshake");
        let polls = polls(ev, task);
        assert_eq!(polls.len(), 4, "one poll per stage: {polls:?}");
        let ends: Vec<bool> = of_kind(ev, "poll_end")
            .into_iter()
            .filter(|e| e["task"] == task)
            .map(|e| e["ready"].as_bool().unwrap())
            .collect();
        assert_eq!(ends, [false, false, false, true]);

        // Three wakes, each from nobody's task, on the `peer` thread's lane, each between two polls.
        let lanes: Vec<_> = of_kind(ev, "worker");
        let wakes: Vec<_> = of_kind(ev, "wake").into_iter().filter(|e| e["task"] == task).collect();
        assert_eq!(wakes.len(), 3, "{wakes:?}");
        for (i, w) in wakes.iter().enumerate() {
            assert!(w["by"].is_null(), "a plain thread woke it: {w}");
            let lane = lanes.iter().find(|l| l["worker"] == w["worker"]).expect("the waking thread has a lane");
            assert_eq!(lane["kind"], "thread", "{lane}");
            assert_eq!(lane["name"], "peer", "{lane}");
            let t = w["t"].as_u64().unwrap();
            assert!(polls[i].1 <= t && t <= polls[i + 1].0, "wake {i} between polls {i} and {}", i + 1);
        }
        // Each state change happened inside a poll of the task.
        for s in of_kind(ev, "state").into_iter().filter(|e| e["future"] == probe && e["label"] != "start") {
            let t = s["t"].as_u64().unwrap();
            assert!(polls.iter().any(|&(a, b, _)| a <= t && t <= b), "state outside a poll: {s}");
            assert_eq!(s["task"], task);
        }
    }
}

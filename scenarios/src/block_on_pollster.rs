//! # block-on-pollster: driving a future without a runtime
//!
//! Seed topic: "What is a runtime and why needed? Pollster: evaluate a future in-place without
//! spinning up a heavyweight runtime" and "sync -> async is fine: Pollster `block_on`". An
//! executor is, at its smallest, a loop: poll the future; if it is Pending, put the thread to
//! sleep until the future's waker is called; poll again. This file writes that loop (the way
//! pollster does, with `thread::park` and a waker that unparks), runs a runtime-agnostic future
//! on it, then runs the very same future as a tokio task.

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;
use std::time::{Duration, Instant};

use futurescope_recorder::{AwaitPointExt, LockUnpoisoned, ProbeHandle, probed, site};

use crate::{Flavor, ParamSpec, Params, RunContext, Scenario, ScenarioError, StepTime, mark, spawn_named};

pub static SCENARIO: Scenario = Scenario {
    name: "block-on-pollster",
    title: "A minimal block_on (pollster) versus tokio",
    topic: "sync -> async: pollster / block_on without a runtime",
    summary: "A twenty-line block_on parks its thread between polls and is unparked by the waker; tokio does the same with more to do in between.",
    description: "\
Part 1 drives a future with a hand-written `block_on` on a plain thread: poll it; if it \
returns Pending, `thread::park()` until the waker (an `unpark` of this thread) is called; poll \
again; stop at Ready. The future waits `steps` times on a tiny `Delay` served by a separate \
`timer thread`, so it knows nothing of tokio (a `tokio::time::sleep` here would panic with \
\"there is no reactor running, must be called from the context of a Tokio 1.x runtime\": tokio's \
timers need tokio's driver). The recorder only sees tokio tasks, so the executor reports \
itself through a probe named `block_on(future)`: it alternates between `polling the future` \
and `parked until woken`, and every time the timer fires, a mark `waker.wake(): unpark` appears \
on the time axis just before the next poll. Count them: one park and one wake per Pending poll, \
`steps + 1` polls in all, and nothing at all happens on that thread in between. That is the \
whole of what pollster does.

Part 2 spawns the very same future as a tokio task on a current_thread runtime. Its lane shows \
the same rhythm, `steps + 1` polls, each resumed by a `wake` whose `by` is null and whose \
origin is the `timer thread` lane: the waker is tokio's this time, and calling it puts the task \
back in the run queue. The difference is what the thread does while the future waits: instead \
of parking for nothing, tokio's thread runs the `neighbour` task, and parks in its I/O and \
timer driver only when no task is ready. The lesson: a runtime is a loop of poll, sleep until \
woken, poll, plus drivers (timers, sockets) and a queue of many tasks. For one future in \
synchronous code, `pollster::block_on` is enough; when futures depend on tokio's drivers, or \
when there are many of them, you need the runtime.",
    source: include_str!("block_on_pollster.rs"),
    file: "scenarios/src/block_on_pollster.rs",
    open_futures: &["main"],
    params: &[
        ParamSpec::int("steps", 4, 1, 10, "how many times the future waits on the timer"),
        ParamSpec::int("pause_ms", 100, 1, 200, "how long each wait lasts"),
    ],
    step_time: StepTime::Real(
        "part 1 is a hand-written executor on a plain thread, with its own `timer thread` keeping real \
         time: no tokio hook sees its polls, so it runs without stopping; part 2's tokio runtime is stepped",
    ),
    run,
};

// ---- the minimal executor ---------------------------------------------------------------

/// The waker of `block_on`: remembers that it was called and unparks the blocked thread.
struct Unparker {
    thread: Thread,
    /// Set by a wake, cleared by `block_on` before it polls again: `thread::park` may also
    /// return spuriously, and an unpark may come before the park.
    woken: AtomicBool,
}

impl Wake for Unparker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        mark("waker.wake(): unpark the block_on thread");
        self.woken.store(true, Ordering::Release);
        self.thread.unpark();
    }
}

/// Polls `fut` on this thread until it is ready, sleeping between polls. Returns its output
/// and how many times it was polled.
fn block_on<F: Future>(fut: F) -> (F::Output, u32) {
    let mut executor = ProbeHandle::start(site!("block_on(future)"));
    let unparker = Arc::new(Unparker { thread: std::thread::current(), woken: AtomicBool::new(false) });
    let waker = Waker::from(unparker.clone());
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    let mut polls = 0;
    loop {
        executor.set_state(site!("polling the future"));
        polls += 1;
        if let Poll::Ready(output) = fut.as_mut().poll(&mut cx) {
            executor.ready();
            return (output, polls);
        }
        executor.set_state(site!("parked until woken: thread::park()"));
        while !unparker.woken.swap(false, Ordering::Acquire) {
            std::thread::park();
        }
    }
}

// ---- a runtime-agnostic timer -------------------------------------------------------------

/// What a `Delay` and the timer thread share.
struct DelayShared {
    fired: bool,
    /// The waker of the latest poll; the timer thread takes it when it fires.
    waker: Option<Waker>,
}

/// A request to the timer thread: fire `shared` at `deadline`.
type TimerRequest = (Instant, Arc<Mutex<DelayShared>>);

/// Starts the timer thread: it serves requests in order, sleeping until each deadline, then
/// wakes the waiting future. (One request at a time is all this scenario needs.) It ends when
/// every `Sender` is gone.
fn start_timer_thread(ctx: &RunContext) -> (mpsc::Sender<TimerRequest>, std::thread::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel::<TimerRequest>();
    let thread = ctx.spawn_thread("timer thread", move || {
        for (deadline, shared) in rx {
            std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
            let waker = {
                let mut shared = shared.lock_unpoisoned();
                shared.fired = true;
                shared.waker.take()
            };
            if let Some(waker) = waker {
                waker.wake();
            }
        }
    });
    (tx, thread)
}

/// Completes `duration` after its first poll; works under any executor.
struct Delay {
    timer: mpsc::Sender<TimerRequest>,
    duration: Duration,
    shared: Option<Arc<Mutex<DelayShared>>>,
}

impl Delay {
    fn new(timer: &mpsc::Sender<TimerRequest>, duration: Duration) -> Delay {
        Delay { timer: timer.clone(), duration, shared: None }
    }
}

impl Future for Delay {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let shared = match &this.shared {
            Some(shared) => shared,
            None => {
                let shared = Arc::new(Mutex::new(DelayShared { fired: false, waker: Some(cx.waker().clone()) }));
                let request = (Instant::now() + this.duration, shared.clone());
                // If the timer thread is gone the run is over; never firing is then harmless.
                let _ = this.timer.send(request);
                this.shared = Some(shared);
                return Poll::Pending;
            }
        };
        let mut shared = shared.lock_unpoisoned();
        if shared.fired {
            return Poll::Ready(());
        }
        // Polled again before firing (spuriously): keep the newest waker.
        if !shared.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            shared.waker = Some(cx.waker().clone());
        }
        Poll::Pending
    }
}

/// The future both executors drive: `steps` waits on the timer.
async fn wait_steps(timer: mpsc::Sender<TimerRequest>, steps: u32, pause: Duration) -> u32 {
    for _ in 0..steps {
        Delay::new(&timer, pause).await_point(site!("Delay::new(pause).await")).await;
    }
    steps
}

fn run(ctx: &RunContext, params: &Params) -> Result<(), ScenarioError> {
    let steps = params.int("steps") as u32;
    let pause = Duration::from_millis(params.int("pause_ms") as u64);
    let (timer, timer_thread) = start_timer_thread(ctx);

    // Part 1: the hand-written block_on on a plain thread.
    ctx.mark("part 1: block_on on a plain thread (park / unpark)");
    let for_block_on = timer.clone();
    let executor_thread = ctx.spawn_thread("block_on thread", move || {
        // Created on the thread that records for the run, so its `start` is recorded too.
        let fut = probed(site!("wait_steps() under block_on"), wait_steps(for_block_on, steps, pause));
        block_on(fut)
    });
    while !executor_thread.is_finished() {
        if !ctx.sleep_unless_cancelled(Duration::from_millis(5)) {
            // The plain thread cannot be interrupted; it ends by itself within steps * pause.
            return Err(ScenarioError::Cancelled);
        }
    }
    let (_, polls) = executor_thread.join().map_err(|_| ScenarioError::Panicked("block_on thread".into()))?;
    ctx.mark(format!("block_on returned after {polls} polls and {} parks", polls - 1));

    // Part 2: the same future as a tokio task, with a neighbour sharing the thread.
    ctx.mark("part 2: the same future as a tokio task (current_thread)");
    let for_tokio = timer.clone();
    ctx.block_on(Flavor::CurrentThread, "tokio", async move {
        let same = spawn_named(
            "wait_steps() on tokio",
            probed(site!("wait_steps() on tokio"), wait_steps(for_tokio, steps, pause)),
        );
        let neighbour = spawn_named("neighbour", async move {
            for _ in 0..steps * 2 {
                tokio::time::sleep(pause / 2).await_point(site!("sleep(pause / 2).await")).await;
            }
        });
        same.await.expect("the future does not panic");
        neighbour.await.expect("the neighbour does not panic");
    })?;
    drop(timer);
    timer_thread.join().map_err(|_| ScenarioError::Panicked("timer thread".into()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use crate::testing::{query::*, record};

    const WAKE_MARK: &str = "waker.wake(): unpark the block_on thread";

    #[test]
    fn block_on_parks_between_polls_and_each_poll_follows_a_wake() {
        let steps = 3;
        let rec = record("block-on-pollster", json!({"steps": steps, "pause_ms": 10}), Duration::from_secs(20));
        rec.result.as_ref().expect("the scenario completes");
        let ev = &rec.events;
        assert_well_formed(ev);

        // Part 1: the executor's own probe alternates polling / parked, steps + 1 polls.
        let executor = futures_named(ev, "block_on(future)")[0];
        let states = states_of(ev, executor);
        let polled = states.iter().filter(|s| *s == "polling the future").count();
        let parks = states.iter().filter(|s| *s == "parked until woken: thread::park()").count();
        assert_eq!(polled, steps + 1, "{states:?}");
        assert_eq!(parks, steps, "one park per Pending poll: {states:?}");
        assert_eq!(states.last().map(String::as_str), Some("ready"));
        let fut = futures_named(ev, "wait_steps() under block_on")[0];
        let fut_states = states_of(ev, fut);
        assert_eq!(fut_states.iter().filter(|s| *s == "Delay::new(pause).await").count(), steps, "{fut_states:?}");

        // Every poll after the first follows a wake: the thread slept until the waker ran.
        let mut wakes_since_poll = None;
        for e in ev {
            if e["k"] == "mark" && e["label"] == WAKE_MARK {
                *wakes_since_poll.as_mut().expect("a wake before the first poll") += 1;
            } else if e["k"] == "state" && e["future"] == executor && e["label"] == "polling the future" {
                if let Some(n) = wakes_since_poll {
                    assert_eq!(n, 1, "exactly one wake between two polls");
                }
                wakes_since_poll = Some(0);
            }
        }
        let wake_marks = of_kind(ev, "mark").into_iter().filter(|e| e["label"] == WAKE_MARK).count();
        assert_eq!(wake_marks, steps, "one wake per park");
        // No tokio task ran in part 1: the block_on thread is not a runtime.
        let part2 = first_t(ev, |e| {
            e["k"] == "mark" && e["label"] == "part 2: the same future as a tokio task (current_thread)"
        })
        .expect("part 2 mark");
        assert!(first_t(ev, |e| e["k"] == "poll_start").unwrap() > part2);

        // Part 2: the same future as a task: steps + 1 polls, each resume a wake from the
        // timer thread (by null, on the timer thread's lane).
        let task = task_named(ev, "wait_steps() on tokio");
        let task_polls = polls(ev, task);
        assert_eq!(task_polls.len(), steps + 1);
        let wakes: Vec<_> = for_task(ev, task).into_iter().filter(|e| e["k"] == "wake").collect();
        assert_eq!(wakes.len(), steps);
        let timer_lane = of_kind(ev, "worker").into_iter().find(|w| w["name"] == "timer thread").expect("timer lane");
        assert_eq!(timer_lane["kind"], "thread");
        for wake in wakes {
            assert!(wake["by"].is_null(), "{wake}");
            assert_eq!(wake["worker"], timer_lane["worker"], "{wake}");
        }
        // The neighbour ran on the same thread while the future waited.
        let neighbour = task_named(ev, "neighbour");
        let neighbour_polls = polls(ev, neighbour);
        let lane = task_polls[0].2;
        assert!(neighbour_polls.iter().all(|p| p.2 == lane), "one thread for both tasks");
        let (first, last) = (task_polls[0].0, task_polls[steps].0);
        assert!(neighbour_polls.iter().any(|p| p.0 > first && p.0 < last), "the neighbour ran in the gaps");
    }
}

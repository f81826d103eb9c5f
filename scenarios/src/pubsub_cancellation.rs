//! # pubsub-cancellation: a subscriber loop under `select!`, and cancel safety
//!
//! Seed topic: "Async cancellation: a case study of pub-sub in mini-redis" and "What makes
//! concurrency hard? dealing with errors, cancellation (safely)". mini-redis's subscriber
//! loop `select!`s over the broadcast messages, the client's next frame and the shutdown
//! signal. Every time one branch wins, the futures of the other branches are dropped where
//! they stand. Whether that loses data depends on where each future keeps its progress: in
//! the channel (safe to drop) or in the future's own local variables (lost with it).

use std::time::Duration;

use futurescope_recorder::{AwaitPointExt, probed, site};
use tokio::sync::broadcast::{self, error::RecvError};

use crate::{Flavor, ParamSpec, Params, RunContext, Scenario, ScenarioError, StepTime, mark, spawn_named};

pub static SCENARIO: Scenario = Scenario {
    name: "pubsub-cancellation",
    title: "Pub/sub under select!: cancel safety of recv",
    topic: "mini-redis pub/sub cancellation case study",
    summary: "A subscriber select!s over broadcast recv(), a heartbeat and shutdown: recv() is dropped again and again yet loses nothing; a recv-two-at-once future does lose messages.",
    description: "\
A `publisher` task sends `messages` numbered messages on a tokio `broadcast` channel, one \
every `publish_ms`, then sends the shutdown signal (a second broadcast channel, as in \
mini-redis). Two subscribers run the mini-redis loop: `select!` over the next message, a \
`heartbeat` interval (standing in for reading the client's next command frame) and shutdown. \
Each loop iteration builds a fresh `rx.recv()` future, drawn as a probe: it either ends \
`ready` with a message, or `cancelled` when the heartbeat or shutdown wins and `select!` drops \
it while it waits. Look at `subscriber (recv)`: dozens of its `rx.recv()` probes end \
cancelled, yet its final mark says every message arrived. `recv` is cancel safe because the \
subscriber's position lives in the `Receiver`, not in the future: a dropped `recv()` has taken \
nothing out of the channel. The branch order is `biased;` with messages first, so when \
shutdown comes, messages already published are drained first and the last `rx.recv()` probe \
ends cancelled only at the shutdown mark, with nothing left unread.

`subscriber (recv_two)` wants messages in pairs and uses an innocent-looking helper: \
`async { let a = rx.recv().await?; let b = rx.recv().await?; Ok([a, b]) }`. Between the two \
awaits the first message lives only in the helper future's state. When the heartbeat fires \
there, `select!` drops the helper and the message with it: find its probes whose last state \
before `cancelled` is `second rx.recv().await`; each one is a message gone for good, and the \
final mark counts them. The lesson from the mini-redis case study: in a `select!` loop, every \
branch future must be cancel safe (check the docs: `broadcast::Receiver::recv` and \
`mpsc::Receiver::recv` are, `read_exact` and most hand-written multi-step futures are not), or \
be created once outside the loop and polled by `&mut` so it survives the other branches.",
    source: include_str!("pubsub_cancellation.rs"),
    file: "scenarios/src/pubsub_cancellation.rs",
    open_futures: &["subscriber (recv)", "subscriber (recv_two)"],
    params: &[
        ParamSpec::int("messages", 30, 2, 100, "how many messages the publisher sends before shutdown"),
        ParamSpec::int("publish_ms", 10, 1, 50, "pause between two messages"),
        ParamSpec::int("heartbeat_ms", 25, 1, 500, "period of the heartbeat branch that interrupts recv"),
    ],
    step_time: StepTime::Paused,
    run,
};

/// Room for every message the publisher may send, so no subscriber can lag.
const CHANNEL_CAPACITY: usize = 256;

/// What a subscriber saw by the time it shut down.
#[derive(Debug, Default)]
struct Tally {
    received: u64,
    lagged: u64,
    heartbeats: u64,
}

/// Two messages at once. Not cancel safe: between the awaits, `first` lives only here.
async fn recv_two(rx: &mut broadcast::Receiver<u64>) -> Result<[u64; 2], RecvError> {
    let first = rx.recv().await_point(site!("first rx.recv().await")).await?;
    let second = rx.recv().await_point(site!("second rx.recv().await  // holding the first")).await?;
    Ok([first, second])
}

/// The mini-redis subscriber loop with the cancel-safe `recv`.
async fn subscriber_recv(
    mut rx: broadcast::Receiver<u64>,
    mut shutdown: broadcast::Receiver<()>,
    heartbeat: Duration,
) -> Tally {
    let mut tally = Tally::default();
    let mut heartbeat = tokio::time::interval(heartbeat);
    loop {
        tokio::select! {
            biased;
            msg = probed(site!("rx.recv()"), rx.recv().await_point(site!("rx.recv().await"))) => match msg {
                Ok(_) => tally.received += 1,
                Err(RecvError::Lagged(n)) => tally.lagged += n,
                Err(RecvError::Closed) => break,
            },
            _ = shutdown.recv() => break,
            _ = heartbeat.tick() => tally.heartbeats += 1,
        }
    }
    tally
}

/// The same loop with the cancel-unsafe `recv_two`.
async fn subscriber_recv_two(
    mut rx: broadcast::Receiver<u64>,
    mut shutdown: broadcast::Receiver<()>,
    heartbeat: Duration,
) -> Tally {
    let mut tally = Tally::default();
    let mut heartbeat = tokio::time::interval(heartbeat);
    loop {
        tokio::select! {
            biased;
            pair = probed(site!("recv_two(&mut rx)"), recv_two(&mut rx)) => match pair {
                Ok(_) => tally.received += 2,
                Err(RecvError::Lagged(n)) => tally.lagged += n,
                Err(RecvError::Closed) => break,
            },
            _ = shutdown.recv() => break,
            _ = heartbeat.tick() => tally.heartbeats += 1,
        }
    }
    tally
}

fn run(ctx: &RunContext, params: &Params) -> Result<(), ScenarioError> {
    let messages = params.int("messages") as u64;
    let publish = Duration::from_millis(params.int("publish_ms") as u64);
    let heartbeat = Duration::from_millis(params.int("heartbeat_ms") as u64);
    ctx.block_on(Flavor::MultiThread { workers: 2 }, "pubsub", async move {
        let (tx, _) = broadcast::channel::<u64>(CHANNEL_CAPACITY);
        // mini-redis signals shutdown with a broadcast channel too: every connection subscribes.
        let (notify_shutdown, _) = broadcast::channel::<()>(1);

        // Subscribe before publishing: a broadcast receiver sees only what is sent after it exists.
        let safe =
            spawn_named("subscriber (recv)", subscriber_recv(tx.subscribe(), notify_shutdown.subscribe(), heartbeat));
        let unsafe_ = spawn_named(
            "subscriber (recv_two)",
            subscriber_recv_two(tx.subscribe(), notify_shutdown.subscribe(), heartbeat),
        );
        // The channel stays open (main keeps `tx`) so the subscribers stop on shutdown, not on Closed.
        let publishing = tx.clone();
        let publisher = spawn_named("publisher", async move {
            for n in 0..messages {
                publishing.send(n).expect("both subscribers are alive until shutdown");
                tokio::time::sleep(publish).await_point(site!("sleep(publish).await")).await;
            }
            mark(format!("publisher: {messages} messages sent, shutdown"));
            notify_shutdown.send(()).expect("both subscribers listen for shutdown");
        });

        publisher.await.expect("the publisher does not panic");
        let safe = safe.await.expect("the subscriber does not panic");
        let unsafe_ = unsafe_.await.expect("the subscriber does not panic");
        drop(tx);
        mark(format!(
            "subscriber (recv): received {} of {messages}, {} heartbeats interrupted it",
            safe.received, safe.heartbeats
        ));
        mark(format!(
            "subscriber (recv_two): received {} of {messages}, {} lost in dropped futures",
            unsafe_.received,
            messages - unsafe_.received - unsafe_.lagged
        ));
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::{Value, json};

    use crate::testing::{query::*, record};

    /// Probes started with `name` inside `task`, with their state labels and end time.
    fn probes_in(ev: &[Value], task: u64, name: &str) -> Vec<(Vec<String>, u64)> {
        ev.iter()
            .filter(|e| e["k"] == "state" && e["label"] == "start" && e["name"] == name && e["task"] == task)
            .map(|e| {
                let id = e["future"].as_u64().unwrap();
                let end = ev.iter().rfind(|s| s["k"] == "state" && s["future"] == id).unwrap();
                (states_of(ev, id), end["t"].as_u64().unwrap())
            })
            .collect()
    }

    #[test]
    fn dropped_recv_loses_nothing_and_dropped_recv_two_loses_messages() {
        let messages = 24;
        let rec = record(
            "pubsub-cancellation",
            json!({"messages": messages, "publish_ms": 4, "heartbeat_ms": 9}),
            Duration::from_secs(20),
        );
        rec.result.as_ref().expect("the scenario completes");
        let ev = &rec.events;
        assert_well_formed(ev);
        let shutdown = first_t(ev, |e| e["k"] == "mark" && e["label"].as_str().unwrap().starts_with("publisher:"))
            .expect("shutdown mark");

        // The cancel-safe subscriber: one ready recv per message, recvs cancelled by the
        // heartbeat along the way, and the last recv cancelled at shutdown.
        let safe = task_named(ev, "subscriber (recv)");
        let recvs = probes_in(ev, safe, "rx.recv()");
        let ready = recvs.iter().filter(|(s, _)| s.last().unwrap() == "ready").count();
        assert_eq!(ready, messages, "every message was received");
        let cancelled_early = recvs.iter().filter(|(s, t)| s.last().unwrap() == "cancelled" && *t < shutdown).count();
        assert!(cancelled_early >= 1, "the heartbeat interrupted recv at least once");
        let (last_states, last_end) = recvs.iter().max_by_key(|(_, t)| *t).unwrap();
        assert_eq!(last_states.last().unwrap(), "cancelled", "{last_states:?}");
        assert_eq!(last_states[last_states.len() - 2], "rx.recv().await", "it was waiting when dropped");
        assert!(*last_end >= shutdown, "the last recv was dropped by the shutdown branch");
        let marks: Vec<_> = of_kind(ev, "mark").iter().map(|e| e["label"].as_str().unwrap().to_owned()).collect();
        assert!(
            marks.iter().any(|m| m.starts_with(&format!("subscriber (recv): received {messages} of {messages}"))),
            "{marks:?}"
        );

        // The cancel-unsafe one: some recv_two was dropped while holding a first message.
        let unsafe_ = task_named(ev, "subscriber (recv_two)");
        let pairs = probes_in(ev, unsafe_, "recv_two(&mut rx)");
        let lost = pairs
            .iter()
            .filter(|(s, _)| {
                s.ends_with(&["second rx.recv().await  // holding the first".to_owned(), "cancelled".to_owned()])
            })
            .count();
        assert!(lost >= 1, "no recv_two was dropped holding a message");
        let received = 2 * pairs.iter().filter(|(s, _)| s.last().unwrap() == "ready").count();
        assert!(received < messages);
        assert!(
            marks.iter().any(|m| m.starts_with(&format!("subscriber (recv_two): received {received} of {messages}"))),
            "{marks:?}"
        );
    }
}

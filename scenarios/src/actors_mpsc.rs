//! # actors-mpsc: message passing between tasks, who wakes whom
//!
//! Seed topic: "Models of concurrency: shared memory and message passing ... client server
//! architecture, erlang processes / actor model" and "Actor based models of concurrency". An
//! actor is a task that owns its state and is reached only through a channel: no lock, because
//! nobody else can touch the state. Each send is also a wake: the receiver sleeps in `recv()`
//! until a sender hands it a message, and with a bounded channel the sender sleeps until the
//! receiver makes room.

use std::time::Duration;

use futurescope_recorder::{AwaitPointExt, probed, site};
use tokio::sync::{mpsc, oneshot};

use crate::{Flavor, ParamSpec, Params, RunContext, Scenario, ScenarioError, StepTime, mark, spawn_named};

pub static SCENARIO: Scenario = Scenario {
    name: "actors-mpsc",
    title: "Actors over mpsc: who wakes whom",
    topic: "Message passing, actor model, Erlang",
    summary: "A counter actor owns its state behind an mpsc channel; each send wakes it, and a full bounded channel makes the sender wait.",
    description: "\
The `counter actor` task owns a running total and nothing else can reach it: other tasks send \
it `Add(n)` messages over a tokio `mpsc` channel and finally a `Get` carrying a `oneshot` \
sender for the reply, the actor model in miniature (an Erlang process with its mailbox). In \
part 1 the channel is unbounded and the producer is slow (it pauses between messages): the \
actor spends its life suspended in `rx.recv()`, and every `wake` of the actor is drawn as an \
arrow from the producer task, because `tx.send(msg)` itself calls the waker the actor left in \
the channel. Hover a wake: `by` names the producer. The last wake is the reply going the \
other way, the actor waking the producer through the `oneshot`.

In part 2 the channel is bounded (`capacity` slots) and the roles swap: the producer sends as \
fast as it can, the actor is slow (it pauses per message, as if each message cost real work). \
After `capacity` sends the producer's `tx.send(msg).await` returns Pending (its probe shows it \
suspended there), and each `recv()` by the actor frees a slot and wakes the producer: now the \
arrows point from the actor to the producer. That is backpressure: a bounded mailbox makes a \
fast producer run at the consumer's pace instead of piling up memory, which an unbounded one \
never does. The lesson: with message passing, the channel is also the scheduler's signal; \
who-woke-whom on the timeline is exactly who-sent-to-whom.",
    source: include_str!("actors_mpsc.rs"),
    file: "scenarios/src/actors_mpsc.rs",
    open_futures: &["producer (unbounded)", "producer (bounded)"],
    params: &[
        ParamSpec::int("messages", 12, 1, 100, "how many Add messages each part sends"),
        ParamSpec::int("capacity", 3, 1, 64, "slots in part 2's bounded channel"),
        ParamSpec::int(
            "pause_ms",
            20,
            1,
            50,
            "the slow side's pause per message (producer in part 1, actor in part 2)",
        ),
    ],
    step_time: StepTime::Paused,
    run,
};

/// What the actor understands: its whole interface.
enum Command {
    Add(u64),
    /// Ask for the total; the actor answers on the enclosed `oneshot`.
    Get(oneshot::Sender<u64>),
}

/// Where the actor's messages come from: either kind of mpsc receiver.
enum Mailbox {
    Unbounded(mpsc::UnboundedReceiver<Command>),
    Bounded(mpsc::Receiver<Command>),
}

impl Mailbox {
    async fn recv(&mut self) -> Option<Command> {
        match self {
            Mailbox::Unbounded(rx) => rx.recv().await,
            Mailbox::Bounded(rx) => rx.recv().await,
        }
    }
}

/// The actor: owns `total`; `pause` stands in for work done per message.
async fn counter_actor(mut mailbox: Mailbox, pause: Option<Duration>) -> u64 {
    let mut total = 0;
    while let Some(command) = mailbox.recv().await_point(site!("mailbox.recv().await")).await {
        match command {
            Command::Add(n) => total += n,
            Command::Get(reply) => {
                // The producer may have given up waiting; then nobody wants the answer.
                let _ = reply.send(total);
            }
        }
        if let Some(pause) = pause {
            tokio::time::sleep(pause).await_point(site!("sleep(pause).await  // work per message")).await;
        }
    }
    total
}

fn run(ctx: &RunContext, params: &Params) -> Result<(), ScenarioError> {
    let messages = params.int("messages") as u64;
    let capacity = params.usize("capacity");
    let pause = Duration::from_millis(params.int("pause_ms") as u64);
    ctx.block_on(Flavor::MultiThread { workers: 2 }, "actors", async move {
        // Part 1: unbounded mailbox, slow producer. Every send wakes the waiting actor.
        mark("part 1: unbounded channel, slow producer");
        let (tx, rx) = mpsc::unbounded_channel();
        let actor = spawn_named("counter actor (unbounded)", counter_actor(Mailbox::Unbounded(rx), None));
        let producer = spawn_named(
            "producer (unbounded)",
            probed(site!("slow producer"), async move {
                for n in 1..=messages {
                    tx.send(Command::Add(n)).expect("the actor lives until every sender is gone");
                    tokio::time::sleep(pause).await_point(site!("sleep(pause).await  // producing")).await;
                }
                let (reply, total) = oneshot::channel();
                tx.send(Command::Get(reply)).expect("the actor lives until every sender is gone");
                total.await_point(site!("total.await  // the actor's reply")).await
            }),
        );
        let total = producer.await.expect("the producer does not panic").expect("the actor replies");
        actor.await.expect("the actor does not panic");
        mark(format!("part 1 done: the actor's total is {total}"));

        // Part 2: bounded mailbox, slow actor. The producer waits whenever the mailbox is full.
        mark(format!("part 2: bounded channel (capacity {capacity}), slow actor"));
        let (tx, rx) = mpsc::channel(capacity);
        let actor = spawn_named("counter actor (bounded)", counter_actor(Mailbox::Bounded(rx), Some(pause)));
        let producer = spawn_named(
            "producer (bounded)",
            probed(site!("fast producer"), async move {
                for n in 1..=messages {
                    tx.send(Command::Add(n))
                        .await_point(site!("tx.send(msg).await  // mailbox full"))
                        .await
                        .map_err(|_| "the actor hung up")?;
                }
                let (reply, total) = oneshot::channel();
                tx.send(Command::Get(reply))
                    .await_point(site!("tx.send(Get).await  // mailbox full"))
                    .await
                    .map_err(|_| "the actor hung up")?;
                total.await_point(site!("total.await  // the actor's reply")).await.map_err(|_| "no reply")
            }),
        );
        let total = producer.await.expect("the producer does not panic").expect("the actor replies");
        actor.await.expect("the actor does not panic");
        mark(format!("part 2 done: the actor's total is {total}"));
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use crate::testing::{query::*, record};

    #[test]
    fn sends_wake_the_actor_and_a_full_mailbox_makes_the_producer_wait_for_it() {
        let messages = 8;
        let capacity = 2;
        let rec = record(
            "actors-mpsc",
            json!({"messages": messages, "capacity": capacity, "pause_ms": 5}),
            Duration::from_secs(20),
        );
        rec.result.as_ref().expect("the scenario completes");
        let ev = &rec.events;
        assert_well_formed(ev);
        let wakes_of = |task: u64| -> Vec<Option<u64>> {
            for_task(ev, task).into_iter().filter(|e| e["k"] == "wake").map(|e| e["by"].as_u64()).collect()
        };

        // Part 1: the actor is woken only by the producer's sends (and the close when it ends),
        // once per message at least for most messages: it was idle in recv() each time.
        let actor = task_named(ev, "counter actor (unbounded)");
        let producer = task_named(ev, "producer (unbounded)");
        let wakes = wakes_of(actor);
        assert!(
            wakes.len() as u64 >= messages / 2,
            "the actor was woken {} times for {messages} messages",
            wakes.len()
        );
        assert!(wakes.iter().all(|by| *by == Some(producer)), "every wake of the actor names the producer: {wakes:?}");
        // The reply goes the other way: the actor wakes the producer's `total.await`.
        assert!(wakes_of(producer).contains(&Some(actor)), "the actor's reply wakes the producer");

        // Part 2: the producer is suspended at the send of a full mailbox and woken by the actor.
        let actor = task_named(ev, "counter actor (bounded)");
        let producer = task_named(ev, "producer (bounded)");
        let by_actor = wakes_of(producer).into_iter().filter(|by| *by == Some(actor)).count() as u64;
        assert!(
            by_actor >= (messages - capacity as u64) / 2,
            "the actor freed slots and woke the producer only {by_actor} times"
        );
        let fast = futures_named(ev, "fast producer")[0];
        let states = states_of(ev, fast);
        assert!(states.iter().any(|s| s == "tx.send(msg).await  // mailbox full"), "{states:?}");
        assert_eq!(states.last().map(String::as_str), Some("ready"));

        let mark_labels: Vec<_> = of_kind(ev, "mark").iter().map(|e| e["label"].as_str().unwrap().to_owned()).collect();
        let total = messages * (messages + 1) / 2;
        assert!(mark_labels.contains(&format!("part 1 done: the actor's total is {total}")), "{mark_labels:?}");
        assert!(mark_labels.contains(&format!("part 2 done: the actor's total is {total}")), "{mark_labels:?}");
    }
}

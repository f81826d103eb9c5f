//! # timeout-cancellation: what a future loses when `timeout` drops it
//!
//! Seed topic: "What makes concurrency hard? Dealing with errors, cancellation (safely)":
//! hidden control flow, cancellation of async state machines, async drop. `timeout(d, fut)`
//! cancels `fut` by dropping it: the future stops at whatever await point it was suspended
//! at, its locals are dropped there (their `Drop` runs synchronously, inside the caller's
//! poll), and no line after that await point ever runs. Data kept in those locals is gone.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futurescope_recorder::{AwaitPointExt, probed, site};
use tokio::sync::mpsc;

use crate::{Flavor, ParamSpec, Params, RunContext, Scenario, ScenarioError, StepTime, mark, spawn_named};

pub static SCENARIO: Scenario = Scenario {
    name: "timeout-cancellation",
    title: "Cancelled by timeout: where it stopped, and what it lost",
    topic: "Cancellation: hidden control flow, async cancellation, async drop",
    summary: "timeout drops a loop mid-way: the await point it was at, its Drop, the items a cancel-unsafe loop loses.",
    description: "\
A copy loop moves `items` numbers from a channel into a slow store: it takes items with \
`rx.recv().await` into a `Batch` and, every `batch` items, awaits `store.write(&batch)` \
(`write_ms` each). The caller wraps the loop in `tokio::time::timeout(timeout_ms, ..)`. With \
the defaults the loop writes two full batches, takes the last two items and waits in \
`rx.recv()` for more (the sender is still alive) when the timeout fires. The loop's probe \
shows where it was: its last state before `cancelled` is that await point. Right before the \
`cancelled` state, in the same poll of the caller's task, a mark from `Drop for Batch` \
appears: dropping the future ran its locals' destructors there and then, synchronously. No \
code after the await point ran; there is no `finally`, and no async drop could have flushed \
the batch.

The cancel-unsafe loop keeps its batch in a local variable, so the two items it had taken out \
of the channel vanish with it: the mark `cancel-unsafe: ... lost 2` counts items taken from \
the channel minus items written minus items still in the caller's hands. The cancel-safe \
loop is the same code, except that the batch belongs to the caller and the loop only borrows \
it (`&mut Batch`): when the timeout drops the loop, the items are still in the caller's batch, \
the caller writes them, and nothing is lost. `mpsc::Receiver::recv` itself is cancel-safe \
(an item is either still in the channel or returned); what makes a loop unsafe is state it \
keeps across an await point in its own locals. Rule of thumb from tokio's `select!` docs: \
before wrapping a future in `timeout` or a `select!` branch, ask what it holds at each \
`.await`, and keep anything that must survive outside it.",
    source: include_str!("timeout_cancellation.rs"),
    file: "scenarios/src/timeout_cancellation.rs",
    open_futures: &["cancel-unsafe copy", "cancel-safe copy"],
    params: &[
        ParamSpec::choice(
            "variant",
            "both",
            &["both", "cancel_unsafe", "cancel_safe"],
            "which copy loop to run (both: the unsafe one, then the safe one)",
        ),
        ParamSpec::int("items", 10, 1, 1000, "items waiting in the channel"),
        ParamSpec::int("batch", 4, 1, 100, "items per write"),
        ParamSpec::int("write_ms", 100, 1, 2000, "how long one write of a batch takes"),
        ParamSpec::int("timeout_ms", 250, 1, 5000, "the timeout around the copy loop"),
    ],
    step_time: StepTime::Paused,
    run,
};

/// The slow destination (a database, a file): a write takes `write_time`.
struct Store {
    write_time: Duration,
    written: AtomicUsize,
}

impl Store {
    async fn write(&self, items: &[u32]) {
        tokio::time::sleep(self.write_time).await;
        // Only a completed write counts: a write cancelled half-way stored nothing.
        self.written.fetch_add(items.len(), Ordering::Relaxed);
    }
}

/// Items taken from the channel and not written yet. Dropped with items in it, its `Drop`
/// puts a mark on the timeline, so you can see when (and inside which poll) that happens.
struct Batch {
    owner: &'static str,
    items: Vec<u32>,
}

impl Drop for Batch {
    fn drop(&mut self) {
        if !self.items.is_empty() {
            mark(format!("Drop for Batch ({}): {} items dropped with it", self.owner, self.items.len()));
        }
    }
}

/// Cancel-unsafe: the batch is a local of this future, so dropping the future drops the items.
async fn copy_unsafe(rx: &mut mpsc::Receiver<u32>, store: &Store, batch_size: usize) {
    let mut batch = Batch { owner: "local of the cancelled loop", items: Vec::new() };
    while let Some(item) = rx.recv().await_point(site!("rx.recv().await")).await {
        batch.items.push(item);
        if batch.items.len() == batch_size {
            store.write(&batch.items).await_point(site!("store.write(&batch).await")).await;
            batch.items.clear();
        }
    }
    store.write(&batch.items).await_point(site!("store.write(&rest).await")).await;
    batch.items.clear();
}

/// Cancel-safe: the same loop, but the batch belongs to the caller; this future only borrows it.
async fn copy_safe(rx: &mut mpsc::Receiver<u32>, store: &Store, batch: &mut Batch, batch_size: usize) {
    while let Some(item) = rx.recv().await_point(site!("rx.recv().await")).await {
        batch.items.push(item);
        if batch.items.len() == batch_size {
            store.write(&batch.items).await_point(site!("store.write(&batch).await")).await;
            batch.items.clear();
        }
    }
    store.write(&batch.items).await_point(site!("store.write(&rest).await")).await;
    batch.items.clear();
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Loop {
    CancelUnsafe,
    CancelSafe,
}

#[derive(Clone, Copy)]
struct Settings {
    items: usize,
    batch: usize,
    write_time: Duration,
    timeout: Duration,
}

/// One part: fill the channel, run the loop under `timeout`, count what was lost.
async fn copy_with_timeout(which: Loop, s: Settings) {
    let name = if which == Loop::CancelUnsafe { "cancel-unsafe" } else { "cancel-safe" };
    // Every item is in the channel before the loop starts; the sender stays alive (more could
    // come), so once the channel is empty the loop waits in recv() until it is cancelled.
    let (tx, mut rx) = mpsc::channel(s.items);
    for i in 0..s.items {
        tx.try_send(i as u32).expect("the channel has room for every item");
    }
    let store = Store { write_time: s.write_time, written: AtomicUsize::new(0) };
    let mut in_hand = Batch { owner: "the caller's", items: Vec::new() };

    let outcome = match which {
        Loop::CancelUnsafe => {
            tokio::time::timeout(s.timeout, probed(site!("copy_unsafe(..)"), copy_unsafe(&mut rx, &store, s.batch)))
                .await
        }
        Loop::CancelSafe => {
            tokio::time::timeout(
                s.timeout,
                probed(site!("copy_safe(.., &mut batch)"), copy_safe(&mut rx, &store, &mut in_hand, s.batch)),
            )
            .await
        }
    };
    // The loop future is gone by now: it was dropped when the timeout returned.
    let taken = s.items - rx.len();
    let written = store.written.load(Ordering::Relaxed);
    let held = in_hand.items.len();
    let lost = taken - written - held;
    if outcome.is_err() {
        mark(format!("{name}: timed out; taken {taken}, written {written}, in the caller's hands {held}, lost {lost}"));
    } else {
        mark(format!("{name}: finished in time; taken {taken}, written {written}, lost {lost}"));
    }
    if held > 0 {
        // The safe loop left its items with us: write them now.
        store.write(&in_hand.items).await_point(site!("store.write(&in_hand).await  // retry")).await;
        in_hand.items.clear();
        mark(format!("{name}: the caller wrote the {held} items it still had"));
    }
    // `rx` is dropped before `tx` (locals drop in reverse order), so closing it wakes nobody.
}

fn run(ctx: &RunContext, params: &Params) -> Result<(), ScenarioError> {
    let s = Settings {
        items: params.usize("items"),
        batch: params.usize("batch"),
        write_time: Duration::from_millis(params.int("write_ms") as u64),
        timeout: Duration::from_millis(params.int("timeout_ms") as u64),
    };
    let loops: &[Loop] = match params.choice("variant") {
        "cancel_unsafe" => &[Loop::CancelUnsafe],
        "cancel_safe" => &[Loop::CancelSafe],
        _ => &[Loop::CancelUnsafe, Loop::CancelSafe],
    };
    ctx.block_on(Flavor::MultiThread { workers: 2 }, "timeout", async move {
        for &which in loops {
            let name = if which == Loop::CancelUnsafe { "cancel-unsafe copy" } else { "cancel-safe copy" };
            mark(format!("{name}: timeout({} ms, copy loop)", s.timeout.as_millis()));
            spawn_named(name, copy_with_timeout(which, s)).await.expect("the copy task does not panic");
        }
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::{Value, json};

    use crate::testing::{query::*, record};

    /// The number after `lost ` in the summary mark that starts with `prefix`.
    fn lost(ev: &[Value], prefix: &str) -> u64 {
        let label = of_kind(ev, "mark")
            .into_iter()
            .filter_map(|m| m["label"].as_str())
            .find(|l| l.starts_with(prefix) && l.contains(" lost "))
            .unwrap_or_else(|| panic!("no summary mark for {prefix}"));
        label.rsplit("lost ").next().unwrap().trim().parse().expect("lost N")
    }

    #[test]
    fn the_timeout_drops_the_loop_at_its_await_point_and_only_the_unsafe_loop_loses_items() {
        // 10 items, batches of 4, fast writes: two batches are written at once, then the loop
        // waits in recv() with 2 items in its batch until the timeout, long after.
        let rec = record(
            "timeout-cancellation",
            json!({"variant": "both", "items": 10, "batch": 4, "write_ms": 10, "timeout_ms": 200}),
            Duration::from_secs(10),
        );
        rec.result.as_ref().expect("the scenario completes");
        let ev = &rec.events;
        assert_well_formed(ev);

        // The unsafe loop: dropped while suspended at recv, its Batch dropped with 2 items in
        // the same poll of its task, right before the probe's `cancelled`.
        let task = task_named(ev, "cancel-unsafe copy");
        let probe = futures_named(ev, "copy_unsafe(..)")[0];
        let states = states_of(ev, probe);
        assert_eq!(&states[states.len() - 2..], ["rx.recv().await", "cancelled"], "{states:?}");
        assert!(states.iter().filter(|s| *s == "store.write(&batch).await").count() == 2, "{states:?}");
        let cancelled_t =
            first_t(ev, |e| e["k"] == "state" && e["future"] == probe && e["label"] == "cancelled").unwrap();
        let drop_mark = of_kind(ev, "mark")
            .into_iter()
            .find(|m| m["label"] == "Drop for Batch (local of the cancelled loop): 2 items dropped with it")
            .expect("the Batch's Drop ran");
        let drop_t = drop_mark["t"].as_u64().unwrap();
        assert_eq!(drop_mark["task"], task, "Drop ran in the task that owned the timeout");
        let (start, end, _) = *polls(ev, task).iter().find(|p| p.0 <= cancelled_t && cancelled_t <= p.1).unwrap();
        assert!(start <= drop_t && drop_t <= cancelled_t && cancelled_t <= end, "Drop ran synchronously, in that poll");
        assert_eq!(lost(ev, "cancel-unsafe"), 2);

        // The safe loop: cancelled at the same await point, but the items stayed with the caller.
        let probe = futures_named(ev, "copy_safe(.., &mut batch)")[0];
        let states = states_of(ev, probe);
        assert_eq!(&states[states.len() - 2..], ["rx.recv().await", "cancelled"], "{states:?}");
        assert_eq!(lost(ev, "cancel-safe"), 0);
        assert!(
            of_kind(ev, "mark").iter().any(|m| m["label"] == "cancel-safe: the caller wrote the 2 items it still had")
        );
    }
}

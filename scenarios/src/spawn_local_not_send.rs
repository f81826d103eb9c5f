//! # spawn-local-not-send: a future that holds an `Rc` across an await runs on a `LocalSet`
//!
//! Seed topic: "SEND + SYNC: Send bound problem -- what are send bounds? Why do you need
//! them?" `tokio::spawn` requires `Send` because a multi-threaded runtime may resume a task on
//! another worker after any await. A future that keeps an `Rc` alive across an await is not
//! `Send`, so it cannot be spawned there; `spawn_local` on a `LocalSet` accepts it, because a
//! `LocalSet` promises to poll its tasks only on the thread that owns it.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use futurescope_recorder::{AwaitPointExt, site};

use crate::{ParamSpec, Params, RunContext, Scenario, ScenarioError, StepTime, mark, spawn_local_named};

pub static SCENARIO: Scenario = Scenario {
    name: "spawn-local-not-send",
    title: "Rc across an await: spawn_local on a LocalSet",
    topic: "Send bounds; Rc across await",
    summary: "A !Send future (an Rc held across .await) cannot be tokio::spawn-ed but runs fine with spawn_local.",
    description: "\
Each `guest` task gets a clone of an `Rc<RefCell<Vec<String>>>` guest book, writes a line, \
then sleeps while still holding its clone: the `Rc` lives across the `.await`, so it is part \
of the task's state machine. Handed to `tokio::spawn(guest(0, Rc::clone(&book), rounds, pause))` \
instead, the same code does not compile. rustc 1.95 with tokio 1.54 says, line by line:

- error: future cannot be sent between threads safely
- `tokio::spawn(guest(0, Rc::clone(&book), rounds, pause));` future returned by `guest` is not `Send`
- help: within `impl Future<Output = ()>`, the trait `Send` is not implemented for `Rc<RefCell<Vec<String>>>`
- note: future is not `Send` as this value is used across an await: `book` has type `Rc<RefCell<Vec<String>>>` which is not `Send`
- `tokio::time::sleep(pause).await;` await occurs here, with `book` maybe used later
- note: required by a bound in `tokio::spawn`: `F: Future + Send + 'static`, required by this bound in `spawn`

Moving an `Rc` into `std::thread::spawn` fails the same check, worded error[E0277]: \
`Rc<RefCell<Vec<String>>>` cannot be sent between threads safely. The reason is the same: \
after any await a multi_thread runtime may resume the task on another worker, and two threads \
updating one `Rc`'s non-atomic reference count would be a data race.

Here the guests are spawned with `spawn_local` on a `LocalSet` driven by a current_thread \
runtime. Every task of the run carries the spawn kind `local` (tokio-console shows the same), \
and everything the tasks do happens on one thread, the one that owns the `LocalSet`: the \
guests' polls and the timer wakes that resume them share one lane. Each guest's probe shows \
it suspended at the sleep with its `Rc` held; the marks report `Rc::strong_count` while the \
guests run and after they end, back to 1. The lesson: `Send` is a promise about threads and \
the compiler checks it at every await point. Drop the `!Send` value before the `.await`, \
switch to `Arc` and a `Mutex` to make the state `Send`, or keep the whole task on one thread \
with `spawn_local`, as here, and keep the cheaper `Rc` and `RefCell`.",
    source: include_str!("spawn_local_not_send.rs"),
    file: "scenarios/src/spawn_local_not_send.rs",
    open_futures: &[],
    params: &[
        ParamSpec::int("guests", 3, 1, 20, "how many local tasks share the Rc"),
        ParamSpec::int("rounds", 3, 1, 10, "how many times each guest writes and sleeps"),
        ParamSpec::int("pause_ms", 30, 1, 200, "how long each guest sleeps, holding its Rc"),
    ],
    step_time: StepTime::Paused,
    run,
};

/// The shared, single-threaded state: no atomics, no lock.
type GuestBook = Rc<RefCell<Vec<String>>>;

/// One guest: holds its `Rc` clone across every await, which is what makes it `!Send`.
async fn guest(number: usize, book: GuestBook, rounds: usize, pause: Duration) {
    for round in 0..rounds {
        book.borrow_mut().push(format!("guest {number}, round {round}"));
        tokio::time::sleep(pause)
            .await_point(site!("sleep(pause).await  // Rc<RefCell<..>> held across this await"))
            .await;
    }
}

fn run(ctx: &RunContext, params: &Params) -> Result<(), ScenarioError> {
    let guests = params.usize("guests");
    let rounds = params.usize("rounds");
    let pause = Duration::from_millis(params.int("pause_ms") as u64);
    ctx.block_on_local("local", async move {
        let book: GuestBook = Rc::new(RefCell::new(Vec::new()));
        mark("spawn_local: guests share an Rc<RefCell<Vec<String>>>");
        let handles: Vec<_> = (0..guests)
            .map(|i| spawn_local_named(&format!("guest {i}"), guest(i, Rc::clone(&book), rounds, pause)))
            .collect();
        mark(format!("Rc::strong_count = {} while the guests run", Rc::strong_count(&book)));
        for handle in handles {
            handle.await.expect("a guest only panics if RefCell is borrowed twice, a scenario bug");
        }
        mark(format!(
            "all guests done: {} lines in the book, Rc::strong_count = {}",
            book.borrow().len(),
            Rc::strong_count(&book)
        ));
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::time::Duration;

    use serde_json::{Value, json};

    use crate::testing::{Recording, query::*, record};

    const GUESTS: usize = 3;
    const ROUNDS: usize = 2;

    fn record_small() -> Recording {
        let params = json!({"guests": GUESTS, "rounds": ROUNDS, "pause_ms": 5});
        let rec = record("spawn-local-not-send", params, Duration::from_secs(10));
        rec.result.as_ref().expect("the scenario completes");
        assert_well_formed(&rec.events);
        rec
    }

    /// Every lane any event of the run names (polls and wakes).
    fn lanes_named(ev: &[Value]) -> BTreeSet<u64> {
        ev.iter().filter(|e| e["k"] != "worker").filter_map(|e| e["worker"].as_u64()).collect()
    }

    #[test]
    fn local_tasks_are_spawned_local_and_stay_on_one_thread() {
        let rec = record_small();
        let ev = &rec.events;
        let guests = tasks_with_prefix(ev, "guest ");
        assert_eq!(guests.len(), GUESTS);
        for e in of_kind(ev, "spawn") {
            assert_eq!(e["kind"], "local", "every task of the run is spawned on the LocalSet: {e}");
        }
        // Each guest is resumed by its timer once per round, on the LocalSet's thread.
        for &guest in &guests {
            let wakes: Vec<_> = for_task(ev, guest).into_iter().filter(|e| e["k"] == "wake").collect();
            assert_eq!(wakes.len(), ROUNDS, "guest {guest}: {wakes:?}");
            assert!(wakes.iter().all(|w| w["by"].is_null()), "timer wakes: {wakes:?}");
        }
        let lanes = lanes_named(ev);
        assert_eq!(lanes.len(), 1, "everything on the LocalSet's one thread: {lanes:?}");
        // The Rc was shared while the guests ran and is unique again afterwards.
        let marks: Vec<_> = of_kind(ev, "mark").iter().map(|e| e["label"].as_str().unwrap().to_owned()).collect();
        assert!(marks.contains(&format!("Rc::strong_count = {} while the guests run", GUESTS + 1)), "{marks:?}");
        let lines = GUESTS * ROUNDS;
        assert!(
            marks.contains(&format!("all guests done: {lines} lines in the book, Rc::strong_count = 1")),
            "{marks:?}"
        );
    }

    /// tokio's `LocalSet` runs no task hooks ("localset does not currently support task
    /// hooks", tokio 1.54 `task/local.rs`), so `spawn_local_named` wraps each guest to record
    /// its polls from the inside (`futurescope_recorder::poll_recorded`).
    #[test]
    fn every_guest_poll_is_on_the_local_set_thread() {
        let rec = record_small();
        let ev = &rec.events;
        let main = task_named(ev, "main");
        let mut all = BTreeSet::new();
        for guest in tasks_with_prefix(ev, "guest ") {
            let guest_polls = polls(ev, guest);
            assert_eq!(guest_polls.len(), ROUNDS + 1, "guest {guest}: one poll per sleep, one to finish");
            all.extend(guest_polls.iter().map(|p| p.2));
            let spawn = of_kind(ev, "spawn").into_iter().find(|e| e["task"] == guest).unwrap();
            assert_eq!(spawn["parent"], main, "main spawned the guests: {spawn}");
            let sleeps = ev.iter().filter(|e| e["k"] == "state" && e["task"] == guest && e["label"] != "start").count();
            assert!(sleeps >= ROUNDS, "the guest's probe states name the guest task");
        }
        all.extend(polls(ev, main).iter().map(|p| p.2));
        assert_eq!(all.len(), 1, "all local polls on one lane: {all:?}");
        assert_eq!(all, lanes_named(ev), "the wakes came from that thread too");
    }
}

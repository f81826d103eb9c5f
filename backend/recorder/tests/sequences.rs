//! Exact event sequences of small futures, recorded from a real tokio runtime.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use serde_json::Value;

mod support;

/// Runs `main` as task "main" on a fresh current-thread runtime and returns the events.
fn record<F: Future<Output = ()> + Send + 'static>(main: F) -> Vec<Value> {
    support::install_recorder();
    support::record_on(tokio::runtime::Builder::new_current_thread(), main)
}

fn kinds_of(events: &[Value], task: u64) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["task"].as_u64() == Some(task))
        .map(|e| {
            let k = e["k"].as_str().unwrap();
            match k {
                "poll_end" => format!("poll_end(ready={})", e["ready"]),
                "wake" => format!("wake(by={},{})", e["by"], e["op"].as_str().unwrap()),
                "done" => format!("done({})", e["outcome"].as_str().unwrap()),
                other => other.to_owned(),
            }
        })
        .collect()
}

fn main_task(events: &[Value]) -> u64 {
    events.iter().find(|e| e["k"] == "spawn" && e["name"] == "main").expect("main was spawned")["task"]
        .as_u64()
        .unwrap()
}

/// Returns Pending `n` times, waking itself by reference each time.
struct YieldBy {
    left: u32,
}

impl Future for YieldBy {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.left == 0 {
            return Poll::Ready(());
        }
        self.left -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[test]
fn a_task_that_yields_twice_by_waking_itself() {
    let events = record(async {
        YieldBy { left: 2 }.await;
    });
    let main = main_task(&events);
    let m = main.to_string();
    assert_eq!(
        kinds_of(&events, main),
        vec![
            "spawn".to_owned(),
            "poll_start".into(),
            format!("wake(by={m},wake_by_ref)"),
            "poll_end(ready=false)".into(),
            "poll_start".into(),
            format!("wake(by={m},wake_by_ref)"),
            "poll_end(ready=false)".into(),
            "poll_start".into(),
            "poll_end(ready=true)".into(),
            "done(completed)".into(),
        ]
    );
}

#[test]
fn tokio_yield_now_defers_the_wake_to_the_scheduler() {
    let events = record(async {
        tokio::task::yield_now().await;
        tokio::task::yield_now().await;
    });
    let main = main_task(&events);
    let kinds = kinds_of(&events, main);
    eprintln!("{kinds:#?}");
    assert_eq!(kinds.iter().filter(|k| *k == "poll_start").count(), 3);
    assert_eq!(kinds.iter().filter(|k| k.starts_with("wake(")).count(), 2);
    assert_eq!(kinds.last().unwrap(), "done(completed)");
}

#[test]
fn parent_and_spawn_metadata() {
    let events = record(async {
        let child = tokio::task::Builder::new().name("child").spawn(async {}).unwrap();
        child.await.unwrap();
    });
    let main = main_task(&events);
    let child = events.iter().find(|e| e["k"] == "spawn" && e["name"] == "child").unwrap();
    assert_eq!(child["parent"].as_u64(), Some(main));
    assert_eq!(child["kind"], "task");
    assert!(child["loc"].as_str().unwrap().contains("sequences.rs:"), "{child}");
    assert!(child["size"].as_u64().unwrap() > 0);
    for e in &events {
        eprintln!("{e}");
    }
}

/// Clones its waker, wakes a clone by reference and drops it, then finishes on the next poll.
struct CloneWakeDrop {
    polled: bool,
}

impl Future for CloneWakeDrop {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.polled {
            return Poll::Ready(());
        }
        self.polled = true;
        let waker = cx.waker().clone();
        std::thread::sleep(std::time::Duration::from_millis(2));
        waker.wake_by_ref();
        drop(waker);
        Poll::Pending
    }
}

#[test]
fn waker_clones_and_drops_in_a_poll_keep_their_order_and_take_the_next_reading() {
    let events = record(async {
        CloneWakeDrop { polled: false }.await;
    });
    let main = main_task(&events);
    let m = main.to_string();
    assert_eq!(
        kinds_of(&events, main)[..6],
        [
            "spawn".to_owned(),
            "poll_start".into(),
            "waker_clone".into(),
            format!("wake(by={m},wake_by_ref)"),
            "waker_drop".into(),
            "poll_end(ready=false)".into(),
        ]
    );
    let of = |k: &str| events.iter().find(|e| e["task"].as_u64() == Some(main) && e["k"] == k).unwrap()["t"].as_u64();
    // The clone carries the wake's time (the next clock reading), 2 ms into the poll; the
    // drop carries the poll's end.
    assert_eq!(of("waker_clone"), of("wake"));
    assert!(of("wake").unwrap() >= of("poll_start").unwrap() + 2_000_000);
    assert_eq!(of("waker_drop"), of("poll_end"));
    let times: Vec<u64> = events.iter().map(|e| e["t"].as_u64().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "events are in time order");
}

#[test]
fn a_probe_dropped_at_runtime_shutdown_is_cancelled_in_its_own_task() {
    use futurescope_recorder::{AwaitPointExt, probed, site};
    let events = record(async {
        let parked = probed(site!("parked"), async {
            std::future::pending::<()>().await_point(site!("pending().await")).await;
        });
        tokio::task::Builder::new().name("parked").spawn(parked).unwrap();
        // Let it be polled once, so it is suspended at its await point; then main returns
        // and the runtime drops the parked task's future outside any poll.
        YieldBy { left: 2 }.await;
    });
    let parked = events.iter().find(|e| e["k"] == "spawn" && e["name"] == "parked").expect("spawned")["task"].clone();
    let probe =
        events.iter().find(|e| e["k"] == "state" && e["name"] == "parked").expect("the probe started")["future"]
            .clone();
    let states: Vec<(&Value, &str)> = events
        .iter()
        .filter(|e| e["k"] == "state" && e["future"] == probe)
        .map(|e| (&e["task"], e["label"].as_str().unwrap()))
        .collect();
    let main = Value::from(main_task(&events));
    assert_eq!(states, [(&main, "start"), (&parked, "pending().await"), (&parked, "cancelled")]);
}

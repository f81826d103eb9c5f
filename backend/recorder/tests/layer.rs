//! The same exact sequences as `sequences.rs`, recorded through `RecorderLayer` inside a
//! `tracing_subscriber::Registry` (how the dashboard records when console-subscriber is on).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futurescope_recorder::RecorderLayer;
use serde_json::Value;
use tracing_subscriber::layer::SubscriberExt;

mod support;

fn record<F: Future<Output = ()> + Send + 'static>(main: F) -> Vec<Value> {
    support::install_once(|| tracing_subscriber::registry().with(RecorderLayer::new()));
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.worker_threads(2);
    support::record_on(builder, main)
}

struct YieldBy(u32);

impl Future for YieldBy {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 == 0 {
            return Poll::Ready(());
        }
        self.0 -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[test]
fn self_wakes_and_child_wakes_are_mapped_from_span_ids_to_tasks() {
    let events = record(async {
        YieldBy(2).await;
        let child = tokio::task::Builder::new().name("child").spawn(async {}).unwrap();
        child.await.unwrap();
        let blocking = tokio::task::Builder::new().name("blocking").spawn_blocking(|| 7).unwrap();
        assert_eq!(blocking.await.unwrap(), 7);
    });
    let id =
        |name: &str| events.iter().find(|e| e["k"] == "spawn" && e["name"] == name).unwrap()["task"].as_u64().unwrap();
    let (main, child, blocking) = (id("main"), id("child"), id("blocking"));
    let wakes_of_main: Vec<Option<u64>> =
        events.iter().filter(|e| e["k"] == "wake" && e["task"] == main).map(|e| e["by"].as_u64()).collect();
    assert_eq!(&wakes_of_main[..2], &[Some(main), Some(main)], "two self-wakes first: {wakes_of_main:?}");
    assert!(wakes_of_main.contains(&Some(child)), "the child's completion wakes main: {wakes_of_main:?}");
    assert!(wakes_of_main.contains(&Some(blocking)), "the blocking task's completion wakes main: {wakes_of_main:?}");
    let blocking_polls: Vec<&Value> = events.iter().filter(|e| e["k"] == "poll_end" && e["task"] == blocking).collect();
    assert_eq!(blocking_polls.len(), 1);
    assert_eq!(blocking_polls[0]["ready"], true);
    let lane = blocking_polls[0]["worker"].as_u64().unwrap();
    let lane_event = events.iter().find(|e| e["k"] == "worker" && e["worker"] == lane).unwrap();
    assert_eq!(lane_event["kind"], "blocking");
    let dones: Vec<&Value> = events.iter().filter(|e| e["k"] == "done" && e["task"] == blocking).collect();
    assert_eq!(dones.len(), 1, "one end per task");
    assert!(
        events.iter().all(|e| e["k"] != "done" || events.iter().any(|s| s["k"] == "spawn" && s["task"] == e["task"]))
    );
}

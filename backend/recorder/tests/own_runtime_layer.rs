//! A runtime without hooks recorded from tracing alone through `RecorderLayer` in a registry.

use futurescope_recorder::{Recorder, RecorderLayer};
use serde_json::Value;
use tracing_subscriber::layer::SubscriberExt;

#[test]
fn a_runtime_without_hooks_is_recorded_from_tracing_alone_in_a_registry() {
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(RecorderLayer::new())).unwrap();
    futurescope_recorder::set_tracing_polls(true);
    let recorder = Recorder::global();
    let log = recorder.begin_run();
    recorder.set_default_run(log.id);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let ids = rt.block_on(async {
        let handles: Vec<_> = (0..20)
            .map(|_| {
                tokio::spawn(async {
                    // Pending exactly twice whatever the machine's load: a sleep can already be over when
                    // it is first polled if the thread was descheduled in between; yield_now never is.
                    tokio::task::yield_now().await;
                    tokio::task::yield_now().await;
                    tokio::task::id()
                })
            })
            .collect();
        let mut ids = Vec::new();
        for h in handles {
            ids.push(futurescope_recorder::task_id_u64(h.await.unwrap()));
        }
        ids
    });
    drop(rt);
    recorder.finish_run(&log);
    let events = log.to_json_values();
    for task in ids {
        let mine: Vec<&Value> = events.iter().filter(|e| e["task"] == task).collect();
        let polls = mine.iter().filter(|e| e["k"] == "poll_start").count();
        let ready = mine.iter().filter(|e| e["k"] == "poll_end" && e["ready"] == true).count();
        let done = mine.iter().filter(|e| e["k"] == "done" && e["outcome"] == "completed").count();
        assert_eq!((polls, ready, done), (3, 1, 1), "task {task}: {mine:?}");
    }
}

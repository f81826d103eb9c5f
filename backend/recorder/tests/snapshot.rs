//! `Recorder::push_snapshot`: a snapshot handed to the recorder during a run is stored as one
//! `snapshot` event of that run, in time order with the run's other events.

use std::sync::{Arc, Mutex};

use futurescope_recorder::{Frame, Recorder, Snapshot, SnapshotReason, SnapshotTask, TaskState, WireEvent};

mod support;

#[test]
fn a_snapshot_is_stored_in_time_order_and_a_finished_run_takes_none() {
    support::install_recorder();
    let recorder = Recorder::global();
    let log = recorder.begin_run();
    let run = log.id;
    let pushed_t = Arc::new(Mutex::new(None));
    let mut builder = tokio::runtime::Builder::new_current_thread();
    builder.enable_all();
    futurescope_recorder::instrument(&mut builder, run);
    let rt = builder.build().unwrap();
    {
        let _ctx = futurescope_recorder::RunContextGuard::enter(run);
        let pushed_t = pushed_t.clone();
        rt.block_on(async move {
            tokio::task::Builder::new()
                .name("main")
                .spawn(async move {
                    futurescope_recorder::mark("before");
                    let task = futurescope_recorder::current_task().unwrap();
                    let snapshot = Snapshot {
                        reason: SnapshotReason::Manual,
                        tasks: vec![SnapshotTask {
                            task,
                            state: TaskState::Running,
                            frames: vec![Frame {
                                function: "main".into(),
                                loc: "tests/snapshot.rs:25".into(),
                                depth: 0,
                            }],
                        }],
                    };
                    *pushed_t.lock().unwrap() = Recorder::global().push_snapshot(run, snapshot);
                    futurescope_recorder::mark("after");
                })
                .unwrap()
                .await
                .unwrap()
        });
    }
    drop(rt);
    recorder.finish_run(&log);

    let t = pushed_t.lock().unwrap().expect("the run was live: the snapshot was taken");
    let events = log.events();
    let at = |pred: &dyn Fn(&WireEvent<'_>) -> bool| events.iter().position(pred).unwrap();
    let snap = at(&|e| matches!(e, WireEvent::Snapshot { .. }));
    let before = at(&|e| matches!(e, WireEvent::Mark { label, .. } if label == "before"));
    let after = at(&|e| matches!(e, WireEvent::Mark { label, .. } if label == "after"));
    assert!(before < snap && snap < after, "in time order: {before} < {snap} < {after}");
    let main = events.iter().find_map(|e| match e {
        WireEvent::Spawn { task, name, .. } if name == "main" => Some(*task),
        _ => None,
    });
    assert_eq!(
        events[snap].to_json(),
        format!(
            r#"{{"k":"snapshot","t":{t},"reason":"manual","tasks":[{{"task":{},"state":"running","frames":[{{"fn":"main","loc":"tests/snapshot.rs:25","depth":0}}]}}]}}"#,
            main.unwrap()
        )
    );
    assert_eq!(events.iter().filter(|e| matches!(e, WireEvent::Snapshot { .. })).count(), 1);
    assert_eq!(log.counts().events as usize, events.len(), "counted as an event");

    let late = Snapshot { reason: SnapshotReason::TimeLimit, tasks: Vec::new() };
    assert_eq!(recorder.push_snapshot(run, late), None, "a finished run takes no snapshot");
    assert_eq!(log.events().len(), events.len());
}

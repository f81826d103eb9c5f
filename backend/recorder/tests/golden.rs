//! The golden sample `docs/golden-events.jsonl`: a saved run's header and one event of every
//! kind, in wire order. The events built here serialize to exactly its lines and parse back
//! from them; `frontend/tests/golden-events.test.mjs` checks the frontend against the same file.
//! A new kind is added to both (see docs/HACKING.md).

use std::borrow::Cow;
use std::collections::BTreeSet;

use futurescope_recorder::{
    Cause, EventKind, Frame, HotFrame, LaneKind, LintRule, Outcome, PollCause, SnapshotReason, SnapshotTask, Stack,
    StackFrame, TaskState, WakeOp, WireEvent,
};

const GOLDEN: &str = include_str!("../../../docs/golden-events.jsonl");

fn s(text: &'static str) -> Cow<'static, str> {
    Cow::Borrowed(text)
}

/// One event of every kind, with every optional field both present and absent somewhere.
fn sample() -> Vec<WireEvent<'static>> {
    vec![
        WireEvent::Lane { t: 0, lane: 0, name: s("golden-worker-0"), kind: LaneKind::Worker },
        WireEvent::Spawn {
            t: 1_000,
            task: 1,
            name: s("main"),
            kind: s("block_on"),
            loc: s("scenarios/src/golden.rs:10:5"),
            size: None,
            parent: None,
        },
        WireEvent::Spawn {
            t: 2_000,
            task: 2,
            name: s("say \"hi\"\n"),
            kind: s("task"),
            loc: s("scenarios/src/golden.rs:12:9"),
            size: Some(4096),
            parent: Some(1),
        },
        WireEvent::PollStart { t: 3_000, task: 2, lane: 0 },
        WireEvent::State {
            t: 3_500,
            task: Some(2),
            future: 1,
            parent: None,
            label: s("start"),
            loc: Some(s("scenarios/src/golden.rs:20")),
            name: Some(s("say_hi()")),
        },
        WireEvent::WakerClone { t: 3_600, task: 2 },
        WireEvent::Wake { t: 3_800, task: 2, by: Some(2), op: WakeOp::WakeByRef, lane: Some(0) },
        WireEvent::WakerClone { t: 4_000, task: 2 },
        WireEvent::State {
            t: 4_000,
            task: Some(2),
            future: 1,
            parent: None,
            label: s("sleep(ms(5))"),
            loc: Some(s("scenarios/src/golden.rs:21")),
            name: None,
        },
        WireEvent::PollEnd { t: 4_000, task: 2, lane: 0, ready: false, drop: false },
        WireEvent::Lane { t: 5_000, lane: 1, name: s("golden-thread"), kind: LaneKind::Thread },
        WireEvent::Wake { t: 5_000, task: 2, by: None, op: WakeOp::Wake, lane: Some(1) },
        WireEvent::Wake { t: 5_500, task: 2, by: None, op: WakeOp::WakeByRef, lane: None },
        WireEvent::WakerDrop { t: 5_600, task: 2 },
        WireEvent::Mark { t: 5_700, task: None, label: s("phase 2") },
        WireEvent::Snapshot {
            t: 5_800,
            reason: SnapshotReason::Manual,
            tasks: Cow::Owned(vec![
                SnapshotTask {
                    task: 1,
                    state: TaskState::Idle,
                    frames: vec![Frame { function: "main".into(), loc: "scenarios/src/golden.rs:10".into(), depth: 0 }],
                },
                SnapshotTask {
                    task: 2,
                    state: TaskState::Scheduled,
                    frames: vec![
                        Frame { function: "say_hi".into(), loc: "scenarios/src/golden.rs:20".into(), depth: 0 },
                        Frame { function: "sleep(ms(5))".into(), loc: "scenarios/src/golden.rs:21".into(), depth: 1 },
                    ],
                },
            ]),
        },
        WireEvent::Lane { t: 6_000, lane: 2, name: s("golden-blocking"), kind: LaneKind::Blocking },
        WireEvent::PollStart { t: 6_000, task: 2, lane: 0 },
        WireEvent::State { t: 6_100, task: Some(2), future: 1, parent: None, label: s("ready"), loc: None, name: None },
        WireEvent::PollEnd { t: 20_006_000, task: 2, lane: 0, ready: true, drop: false },
        WireEvent::Done { t: 20_006_000, task: 2, outcome: Outcome::Completed },
        WireEvent::PollCause {
            t: 20_006_000,
            task: 2,
            lane: 0,
            cause: Cow::Owned(PollCause {
                since: 6_000,
                cause: Cause::Blocked,
                on_cpu: 100_000,
                runnable: 50_000,
                blocked: 18_850_000,
                syscall: Some("clock_nanosleep".into()),
                wchan: Some("hrtimer_nanosleep".into()),
                samples: 9,
                stacks: vec![
                    Stack {
                        n: 6,
                        frames: vec![
                            StackFrame { function: "golden::work".into(), loc: Some("src/golden.rs:12".into()) },
                            StackFrame {
                                function: "std::thread::sleep".into(),
                                loc: Some("library/std/src/thread/mod.rs:3".into()),
                            },
                            StackFrame { function: "clock_nanosleep".into(), loc: None },
                        ],
                        own: Some(0),
                    },
                    Stack {
                        n: 1,
                        frames: vec![StackFrame {
                            function: "golden::work".into(),
                            loc: Some("src/golden.rs:11".into()),
                        }],
                        own: Some(0),
                    },
                ],
                hot: Some(HotFrame { function: "golden::work".into(), loc: Some("src/golden.rs:12".into()), n: 6 }),
            }),
        },
        WireEvent::Lint {
            t: 20_006_000,
            task: Some(2),
            rule: LintRule::LongPoll,
            detail: s("one poll ran for 20.0 ms on worker 0 (threshold 10.0 ms), blocked in clock_nanosleep 18.9 ms"),
            since: Some(6_000),
        },
        WireEvent::Lint {
            t: 20_006_001,
            task: None,
            rule: LintRule::LargeFuture,
            detail: s("the task's future is 4096 bytes"),
            since: None,
        },
        WireEvent::PollStart { t: 20_007_000, task: 1, lane: 0 },
        WireEvent::PollEnd { t: 20_008_000, task: 1, lane: 0, ready: false, drop: true },
        WireEvent::Done { t: 20_008_000, task: 1, outcome: Outcome::Cancelled },
        WireEvent::Dropped { t: 20_009_000, count: 3 },
        WireEvent::Evicted { t: 20_010_000, before: 500, events: 42, tasks: 3 },
    ]
}

fn golden_events() -> Vec<&'static str> {
    GOLDEN.lines().skip(1).collect()
}

#[test]
fn the_golden_file_starts_with_a_saved_run_header() {
    let header: serde_json::Value = serde_json::from_str(GOLDEN.lines().next().unwrap()).unwrap();
    assert_eq!(header["format"], "futurescope-events");
    assert_eq!(header["v"], 1);
}

/// With `FUTURESCOPE_BLESS=1` the sample is written to the golden file instead (after adding
/// a kind: then review the diff).
#[test]
fn the_sample_serializes_to_exactly_the_golden_lines() {
    let ours: Vec<String> = sample().iter().map(WireEvent::to_json).collect();
    if std::env::var_os("FUTURESCOPE_BLESS").is_some() {
        let header = GOLDEN.lines().next().unwrap();
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/golden-events.jsonl");
        std::fs::write(path, format!("{header}\n{}\n", ours.join("\n"))).unwrap();
        return;
    }
    assert_eq!(ours, golden_events());
}

#[test]
fn every_golden_line_parses_back_to_the_same_event() {
    for (line, want) in golden_events().into_iter().zip(sample()) {
        let ev: WireEvent<'_> = serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        assert_eq!(ev, want);
        assert_eq!(ev.to_json(), line);
    }
}

#[test]
fn the_golden_sample_has_every_kind() {
    let seen: BTreeSet<&str> = sample().iter().map(|e| e.kind().as_str()).collect();
    let all: BTreeSet<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
    assert_eq!(seen, all, "add an event of the new kind to the sample and to docs/golden-events.jsonl");
    for (line, ev) in golden_events().into_iter().zip(sample()) {
        let k: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(k["k"], ev.kind().as_str(), "EventKind::as_str and serde agree");
    }
}

#[test]
fn unknown_kinds_and_missing_fields_are_refused() {
    assert!(serde_json::from_str::<WireEvent<'_>>(r#"{"k":"nope","t":1}"#).is_err());
    assert!(serde_json::from_str::<WireEvent<'_>>(r#"{"k":"poll_start","t":1,"task":2}"#).is_err());
}

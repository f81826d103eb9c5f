//! Step mode through the HTTP API: a stepped run starts paused, each step lets exactly one poll
//! happen, Continue and Pause, run-until, the driver's token and absence, cancellation, and the
//! lessons the lazy-future, hand-written-future and join-vs-select scenarios show step by step.

mod support;

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use futurescope::runs::RunManagerConfig;
use futurescope_recorder::Recorder;
use futurescope_scenarios::{Flavor, Scenario, StepTime, spawn_named};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

const HOST: &str = "127.0.0.1:6680";

/// Two tasks that yield for ever: every poll is one step, and the run never ends by itself.
static YIELDER: LazyLock<Scenario> = LazyLock::new(|| Scenario {
    name: "test-yielder",
    title: "yielder",
    topic: "Tests",
    summary: "two tasks yielding for ever",
    description: "",
    source: "",
    file: "backend/server/tests/step.rs",
    open_futures: &[],
    params: &[],
    step_time: StepTime::Paused,
    run: |ctx, _| {
        ctx.block_on(Flavor::MultiThread { workers: 2 }, "yielder", async {
            spawn_named("spinner", async {
                loop {
                    tokio::task::yield_now().await;
                }
            });
            loop {
                tokio::task::yield_now().await;
            }
        })
    },
});

/// The same on two workers and the real clock: both workers stop at the gate.
static TWO_WORKERS: LazyLock<Scenario> = LazyLock::new(|| Scenario {
    name: "test-two-workers",
    step_time: StepTime::Real("two workers"),
    run: |ctx, _| {
        ctx.block_on(Flavor::MultiThread { workers: 2 }, "two", async {
            for name in ["spinner 1", "spinner 2", "spinner 3"] {
                spawn_named(name, async {
                    loop {
                        tokio::task::yield_now().await;
                    }
                });
            }
            std::future::pending::<()>().await
        })
    },
    ..*YIELDER
});

fn state(config: RunManagerConfig) -> futurescope::AppState {
    support::install(false);
    support::state_for(HOST.parse().unwrap(), config, None)
}

async fn send(app: &axum::Router, req: Request<Body>) -> (StatusCode, Value) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).header(header::HOST, HOST).body(Body::empty()).unwrap()
}

fn post(path: &str, body: Value) -> Request<Body> {
    Request::post(path)
        .header(header::HOST, HOST)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

/// A stepped run of a test scenario, started through the run manager: its id and token.
fn start_test(app_state: &futurescope::AppState, scenario: &'static Scenario) -> (u64, String) {
    let run = app_state.runs.start_scenario_with(scenario, &json!({}), true).unwrap();
    let token = run.step.as_ref().unwrap().token().to_owned();
    (run.id, token)
}

/// Polls the step state until `done` holds (bounded: a broken gate fails, a slow machine waits).
async fn wait_state(app: &axum::Router, id: u64, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, st) = send(app, get(&format!("/api/runs/{id}/step"))).await;
        assert_eq!(status, StatusCode::OK, "{st}");
        if done(&st) {
            return st;
        }
        assert!(Instant::now() < deadline, "the step state never got there: {st}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The run's events so far, after the collector has drained every thread.
fn events(app_state: &futurescope::AppState, id: u64) -> Vec<Value> {
    Recorder::global().flush();
    app_state.runs.get(id).unwrap().log.to_json_values()
}

/// The collector holds back a running run's newest records this long (for ordering).
const HOLD_BACK: Duration = Duration::from_millis(50);

/// The run's events once at least `polls` poll starts have been stored and the collector's
/// hold-back window has passed since (so any poll that happened is in).
async fn settled(app_state: &futurescope::AppState, id: u64, polls: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while poll_starts(&events(app_state, id)).len() < polls {
        assert!(Instant::now() < deadline, "fewer than {polls} polls were ever recorded");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(HOLD_BACK * 3).await;
    events(app_state, id)
}

fn poll_starts(ev: &[Value]) -> Vec<&Value> {
    ev.iter().filter(|e| e["k"] == "poll_start").collect()
}

async fn step(app: &axum::Router, id: u64, token: &str) -> Value {
    let (status, st) = send(app, post(&format!("/api/runs/{id}/step"), json!({"token": token}))).await;
    assert_eq!(status, StatusCode::OK, "{st}");
    st
}

#[tokio::test]
async fn a_stepped_run_starts_paused_and_n_steps_record_exactly_n_polls() {
    let app_state = state(RunManagerConfig::default());
    let app = futurescope::app(app_state.clone());
    let (id, token) = start_test(&app_state, &YIELDER);

    // Paused before the first poll: main waits at the gate, and nothing was polled.
    let st = wait_state(&app, id, |s| s["waiting"].as_array().is_some_and(|w| !w.is_empty())).await;
    assert_eq!(st["mode"], "paused");
    assert_eq!(st["stop"]["why"], "start");
    assert_eq!(st["clock"], "paused");
    assert!(poll_starts(&settled(&app_state, id, 0).await).is_empty(), "polled before the first step");

    for n in 1..=6u64 {
        let next = wait_state(&app, id, |s| !s["waiting"].as_array().unwrap().is_empty()).await;
        let expected_task = next["waiting"][0]["task"].clone();
        let st = step(&app, id, &token).await;
        assert_eq!(st["steps"], n, "{st}");
        assert_eq!(st["last_step"]["task"], expected_task, "the step polled the task that was next");
        assert_eq!(st["stop"]["why"], "step");
        let ev = settled(&app_state, id, n as usize).await;
        let starts = poll_starts(&ev);
        assert_eq!(starts.len() as u64, n, "after {n} steps: {starts:?}");
        assert_eq!(starts.last().unwrap()["task"], expected_task);
    }
    let (status, _) = send(&app, post(&format!("/api/runs/{id}/cancel"), json!({}))).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn continue_then_pause_stops_before_the_next_poll() {
    let app_state = state(RunManagerConfig::default());
    let app = futurescope::app(app_state.clone());
    let (id, token) = start_test(&app_state, &YIELDER);
    wait_state(&app, id, |s| !s["waiting"].as_array().unwrap().is_empty()).await;

    let (status, st) = send(&app, post(&format!("/api/runs/{id}/continue"), json!({"token": token}))).await;
    assert_eq!(status, StatusCode::OK, "{st}");
    assert_eq!(st["mode"], "running");
    // Let it run for a while: polls go on without steps.
    wait_state(&app, id, |s| s["passed"].as_u64().unwrap() > 50).await;

    let (status, st) = send(&app, post(&format!("/api/runs/{id}/pause"), json!({"token": token}))).await;
    assert_eq!(status, StatusCode::OK, "{st}");
    assert_eq!(st["mode"], "paused");
    assert_eq!(st["stop"]["why"], "pause");
    let st = wait_state(&app, id, |s| s["polling"].as_array().unwrap().is_empty()).await;
    let passed = st["passed"].as_u64().unwrap();
    let polls = poll_starts(&settled(&app_state, id, passed as usize).await).len() as u64;
    assert_eq!(polls, passed, "every poll recorded went through the gate, none after the pause");
    // Paused: however long we look, no poll begins.
    wait_state(&app, id, |s| !s["waiting"].as_array().unwrap().is_empty()).await;
    assert_eq!(poll_starts(&settled(&app_state, id, 0).await).len() as u64, polls, "a poll began while paused");
    let st = step(&app, id, &token).await;
    assert_eq!(st["passed"].as_u64().unwrap(), passed + 1);
    assert_eq!(poll_starts(&settled(&app_state, id, polls as usize + 1).await).len() as u64, polls + 1);
    send(&app, post(&format!("/api/runs/{id}/cancel"), json!({}))).await;
}

#[tokio::test]
async fn cancelling_a_paused_run_ends_it_at_once() {
    let app_state = state(RunManagerConfig::default());
    let app = futurescope::app(app_state.clone());
    let (id, token) = start_test(&app_state, &YIELDER);
    wait_state(&app, id, |s| !s["waiting"].as_array().unwrap().is_empty()).await;
    step(&app, id, &token).await;

    let (status, body) = send(&app, post(&format!("/api/runs/{id}/cancel"), json!({}))).await;
    assert_eq!(status, StatusCode::OK);
    support::wait_over(&app_state, id, Duration::from_secs(10));
    assert_eq!(app_state.runs.get(id).unwrap().state(), futurescope::runs::RunState::Cancelled, "{body}");
    let (status, err) = send(&app, post(&format!("/api/runs/{id}/step"), json!({"token": token}))).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(err["error"].as_str().unwrap().contains("nothing left to step"), "{err}");
}

#[tokio::test]
async fn step_commands_answer_clear_errors() {
    let app_state = state(RunManagerConfig::default());
    let app = futurescope::app(app_state.clone());

    // A run not in step mode.
    let (status, created) = send(&app, post("/api/runs", json!({"scenario": "lazy-future"}))).await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(created.get("step").is_none(), "{created}");
    let plain = created["run"].as_u64().unwrap();
    let (status, err) = send(&app, post(&format!("/api/runs/{plain}/step"), json!({"token": "x"}))).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(err["error"].as_str().unwrap().contains("not in step mode"), "{err}");
    let (status, _) = send(&app, get(&format!("/api/runs/{plain}/step"))).await;
    assert_eq!(status, StatusCode::CONFLICT);

    // A stepped run: the token is the driver's.
    let (status, created) =
        send(&app, post("/api/runs", json!({"scenario": "lazy-future", "params": {}, "step": true}))).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["run"].as_u64().unwrap();
    let token = created["step"]["token"].as_str().unwrap().to_owned();
    assert_eq!(created["step"]["clock"], "paused");
    for body in [json!({}), json!({"token": "not-it"})] {
        let (status, err) = send(&app, post(&format!("/api/runs/{id}/step"), body)).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(err["error"].as_str().unwrap().contains("only the client driving"), "{err}");
    }
    let (status, err) = send(&app, post(&format!("/api/runs/{id}/run-until"), json!({"token": token}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(err["error"].as_str().unwrap().contains("task"), "{err}");
    let (status, err) = send(&app, post(&format!("/api/runs/{id}/step"), json!({"token": token, "x": 1}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "junk bodies carry no token: {err}");

    // Running, a step is refused until Pause.
    let (status, _) = send(&app, post(&format!("/api/runs/{id}/continue"), json!({"token": token}))).await;
    assert_eq!(status, StatusCode::OK);
    support::wait_over(&app_state, id, Duration::from_secs(20));
    let (status, err) = send(&app, post(&format!("/api/runs/{id}/step"), json!({"token": token}))).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(err["error"].as_str().unwrap().contains("finished"), "{err}");

    let (id, token) = start_test(&app_state, &YIELDER);
    send(&app, post(&format!("/api/runs/{id}/continue"), json!({"token": token}))).await;
    let (status, err) = send(&app, post(&format!("/api/runs/{id}/step"), json!({"token": token}))).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(err["error"].as_str().unwrap().contains("pause it first"), "{err}");
    send(&app, post(&format!("/api/runs/{id}/cancel"), json!({}))).await;
}

#[tokio::test]
async fn with_several_workers_every_worker_waits_with_its_next_task() {
    let app_state = state(RunManagerConfig::default());
    let app = futurescope::app(app_state.clone());
    let (id, token) = start_test(&app_state, &TWO_WORKERS);
    let st = wait_state(&app, id, |s| !s["waiting"].as_array().unwrap().is_empty()).await;
    assert_eq!(st["clock"], "real");
    assert_eq!(st["note"], "two workers");
    // Main spawns the spinners; then both workers stop, each with a different task.
    step(&app, id, &token).await;
    let st = wait_state(&app, id, |s| s["waiting"].as_array().unwrap().len() == 2).await;
    let w = st["waiting"].as_array().unwrap();
    assert_ne!(w[0]["thread"], w[1]["thread"], "{st}");
    assert_ne!(w[0]["task"], w[1]["task"], "{st}");
    let before = poll_starts(&settled(&app_state, id, 1).await).len();
    assert_eq!(before, 1, "only main's poll so far");
    let st = step(&app, id, &token).await;
    assert_eq!(st["last_step"]["task"], w[0]["task"], "the oldest waiting worker went first");
    assert_eq!(poll_starts(&settled(&app_state, id, 2).await).len(), 2);
    send(&app, post(&format!("/api/runs/{id}/cancel"), json!({}))).await;
    support::wait_over(&app_state, id, Duration::from_secs(10));
}

#[tokio::test]
async fn run_until_a_task_stops_before_its_poll_and_step_to_wake_stops_after_a_wake() {
    let app_state = state(RunManagerConfig::default());
    let app = futurescope::app(app_state.clone());
    let (id, token) = start_test(&app_state, &YIELDER);
    wait_state(&app, id, |s| !s["waiting"].as_array().unwrap().is_empty()).await;
    step(&app, id, &token).await; // main spawns `spinner`
    let ev = settled(&app_state, id, 1).await;
    let spinner = ev.iter().find(|e| e["k"] == "spawn" && e["name"] == "spinner").unwrap()["task"].clone();
    let main = ev.iter().find(|e| e["k"] == "spawn" && e["name"] == "main").unwrap()["task"].clone();

    for target in [&main, &spinner, &main] {
        let (status, st) =
            send(&app, post(&format!("/api/runs/{id}/run-until"), json!({"token": token, "task": target}))).await;
        assert_eq!(status, StatusCode::OK, "{st}");
        let st = wait_state(&app, id, |s| s["mode"] == "paused" && !s["waiting"].as_array().unwrap().is_empty()).await;
        assert_eq!(st["waiting"][0]["task"], *target, "{st}");
        assert_eq!(st["stop"]["why"], "task");
    }

    // yield_now's wake comes from the scheduler right after the poll: one poll, then a stop.
    let (status, st) = send(&app, post(&format!("/api/runs/{id}/step-to-wake"), json!({"token": token}))).await;
    assert_eq!(status, StatusCode::OK, "{st}");
    let st = wait_state(&app, id, |s| s["mode"] == "paused").await;
    assert_eq!(st["stop"]["why"], "wake", "{st}");
    send(&app, post(&format!("/api/runs/{id}/cancel"), json!({}))).await;
}

#[tokio::test]
async fn a_run_whose_driver_is_gone_continues_after_the_grace() {
    let app_state = state(RunManagerConfig { driver_grace: Duration::from_millis(300), ..RunManagerConfig::default() });
    let app = futurescope::app(app_state.clone());
    let (id, _token) = start_test(&app_state, &YIELDER);
    // Nobody drives it: after the grace it runs on by itself.
    let st = wait_state(&app, id, |s| s["mode"] == "running").await;
    assert_eq!(st["driver"]["let_go"], true, "{st}");
    wait_state(&app, id, |s| s["passed"].as_u64().unwrap() > 100).await;
    send(&app, post(&format!("/api/runs/{id}/cancel"), json!({}))).await;
    support::wait_over(&app_state, id, Duration::from_secs(10));
}

// ---- the lessons, step by step ---------------------------------------------------------------

/// Steps `scenario` from its first poll to its end; returns the events and, for each step, the
/// stepped task and the step's poll window `[start, end]` (from its `poll_start`/`poll_end`).
async fn step_to_the_end(scenario: &str, params: Value) -> (Vec<Value>, Vec<(u64, u64, u64)>) {
    let app_state = state(RunManagerConfig::default());
    let app = futurescope::app(app_state.clone());
    let (status, created) =
        send(&app, post("/api/runs", json!({"scenario": scenario, "params": params, "step": true}))).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["run"].as_u64().unwrap();
    let token = created["step"]["token"].as_str().unwrap().to_owned();
    let mut steps = 0;
    loop {
        let (status, st) = send(&app, post(&format!("/api/runs/{id}/step"), json!({"token": token}))).await;
        if status == StatusCode::CONFLICT && app_state.runs.get(id).unwrap().is_over() {
            break;
        }
        if status == StatusCode::CONFLICT {
            // A step still waiting for something runnable (a thread's wake): wait for it.
            wait_state(&app, id, |s| s["stepping"] == false || s["status"] != "running").await;
            continue;
        }
        assert_eq!(status, StatusCode::OK, "{st}");
        steps += 1;
        assert!(steps < 500, "{scenario} did not end within 500 steps");
    }
    support::wait_over(&app_state, id, Duration::from_secs(10));
    let run = app_state.runs.get(id).unwrap();
    assert_eq!(run.state(), futurescope::runs::RunState::Finished, "{:?}", run.summary().error);
    let ev = run.log.to_json_values();
    // Each step was one poll: pair the poll starts with their ends, in order.
    let mut windows = Vec::new();
    for (i, e) in ev.iter().enumerate() {
        if e["k"] != "poll_start" {
            continue;
        }
        let end = ev[i..].iter().find(|x| x["k"] == "poll_end" && x["task"] == e["task"]).expect("every poll ends");
        windows.push((e["task"].as_u64().unwrap(), e["t"].as_u64().unwrap(), end["t"].as_u64().unwrap()));
    }
    (ev, windows)
}

fn inside(ev: &[Value], w: (u64, u64, u64), pred: impl Fn(&Value) -> bool) -> Vec<&Value> {
    ev.iter()
        .filter(|e| e["task"] == w.0 && (w.1..=w.2).contains(&e["t"].as_u64().unwrap_or(u64::MAX)) && pred(e))
        .collect()
}

fn probe_named(ev: &[Value], name: &str) -> Vec<Value> {
    ev.iter().filter(|e| e["k"] == "state" && e["name"] == name).map(|e| e["future"].clone()).collect()
}

#[tokio::test]
async fn lazy_future_step_by_step_say_world_is_first_polled_in_the_step_where_main_reaches_await() {
    let (ev, windows) = step_to_the_end("lazy-future", json!({"delay_ms": 200})).await;
    let world = probe_named(&ev, "say_world()")[0].clone();
    let first_poll_step = windows
        .iter()
        .position(|&w| {
            !inside(&ev, w, |e| e["k"] == "state" && e["future"] == world && e["label"] != "start").is_empty()
        })
        .expect("say_world() was polled in some step");
    let await_step = windows
        .iter()
        .position(|&w| {
            !inside(&ev, w, |e| e["k"] == "mark" && e["label"] == "main reaches say_world().await").is_empty()
        })
        .expect("main reached .await in some step");
    assert_eq!(first_poll_step, await_step, "say_world() is first polled in the step where main awaits it");
    assert!(first_poll_step >= 1, "main's first step only created it");
    let created = windows
        .iter()
        .position(|&w| !inside(&ev, w, |e| e["k"] == "state" && e["future"] == world).is_empty())
        .unwrap();
    assert!(created < first_poll_step, "created in an earlier step, left alone until the await");
}

#[tokio::test]
async fn hand_written_future_step_by_step_each_poll_shows_the_next_stage_and_where_the_waker_went() {
    let (ev, windows) = step_to_the_end("hand-written-future", json!({"delay_ms": 20})).await;
    let handshake =
        ev.iter().find(|e| e["k"] == "spawn" && e["name"] == "handshake").unwrap()["task"].as_u64().unwrap();
    let probe = probe_named(&ev, "Handshake")[0].clone();
    let mut stages = Vec::new();
    for &w in windows.iter().filter(|w| w.0 == handshake) {
        let states: Vec<String> =
            inside(&ev, w, |e| e["k"] == "state" && e["future"] == probe && e["label"] != "start")
                .iter()
                .map(|e| e["label"].as_str().unwrap().to_owned())
                .collect();
        assert!(!states.is_empty(), "every poll of the handshake moves the enum on");
        let ready =
            ev.iter().any(|e| e["k"] == "poll_end" && e["task"] == handshake && e["t"] == w.2 && e["ready"] == true);
        if !ready {
            let marks = inside(&ev, w, |e| e["k"] == "mark");
            assert!(
                marks.iter().any(|m| m["label"].as_str().unwrap().contains("waker() left in Line for the peer thread")),
                "a Pending step names where its waker went: {marks:?}"
            );
        }
        stages.extend(states);
    }
    assert_eq!(stages, ["WaitingForHello", "WaitingForAccept", "WaitingForData", "Done", "ready"]);
}

#[tokio::test]
async fn join_vs_select_step_by_step_one_step_of_the_join_task_polls_both_children() {
    let (ev, windows) = step_to_the_end("join-vs-select", json!({"a_ms": 40, "b_ms": 100})).await;
    let join = ev.iter().find(|e| e["k"] == "spawn" && e["name"] == "join! task").unwrap()["task"].as_u64().unwrap();
    let children: Vec<(Value, Value)> = ["child a", "child b"]
        .iter()
        .map(|n| ev.iter().find(|e| e["k"] == "state" && e["name"] == *n && e["task"] == join).unwrap())
        .map(|e| (e["future"].clone(), e["name"].clone()))
        .collect();
    let join_steps: Vec<_> = windows.iter().filter(|w| w.0 == join).collect();
    assert!(join_steps.len() >= 3, "{join_steps:?}");
    // While both are pending, one step (one poll of the task) polls child a, then child b.
    let both_polled = join_steps
        .iter()
        .filter(|&&&w| {
            let order: Vec<&Value> = inside(&ev, w, |e| e["k"] == "state" && e["label"] != "start")
                .into_iter()
                .map(|e| &e["future"])
                .collect();
            let a = order.iter().position(|f| **f == children[0].0);
            let b = order.iter().position(|f| **f == children[1].0);
            matches!((a, b), (Some(a), Some(b)) if a < b)
        })
        .count();
    assert!(both_polled >= 2, "steps of the join! task poll both children in turn");
}

//! Hardening: faulty scenarios (panic, hang, a worker blocked for ever, a run thread blocked
//! for ever), a client that stops reading, the token for non-loopback binds, and the binary's
//! refusals and graceful shutdown.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use futures::{SinkExt, StreamExt};
use futurescope::runs::{RunManagerConfig, RunState};
use futurescope::{AccessPolicy, AppState};
use futurescope_scenarios::{Flavor, ParamSpec, Params, RunContext, Scenario, ScenarioError, spawn_named};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tower::ServiceExt;

fn faulty(name: &'static str, run: fn(&RunContext, &Params) -> Result<(), ScenarioError>) -> Scenario {
    Scenario {
        name,
        title: name,
        topic: "Tests",
        summary: "a faulty scenario for tests",
        description: "",
        source: "",
        file: "backend/server/tests/hardening.rs",
        open_futures: &[],
        params: &[],
        step_time: futurescope_scenarios::StepTime::Paused,
        run,
    }
}

static PANICS: std::sync::LazyLock<Scenario> = std::sync::LazyLock::new(|| {
    faulty("panics", |ctx, _| {
        ctx.block_on(Flavor::MultiThread { workers: 1 }, "panics", async { panic!("boom: scenario bug") })
    })
});

static HANGS: std::sync::LazyLock<Scenario> = std::sync::LazyLock::new(|| {
    faulty("hangs", |ctx, _| ctx.block_on(Flavor::CurrentThread, "hangs", std::future::pending::<()>()))
});

static BLOCKS_WORKER: std::sync::LazyLock<Scenario> = std::sync::LazyLock::new(|| {
    faulty("blocks-worker", |ctx, _| {
        ctx.block_on(Flavor::MultiThread { workers: 1 }, "stuck", async {
            spawn_named("stuck", async { std::thread::sleep(Duration::from_secs(3600)) }).await.ok();
        })
    })
});

static BLOCKS_RUN_THREAD: std::sync::LazyLock<Scenario> = std::sync::LazyLock::new(|| {
    faulty("blocks-run-thread", |_, _| {
        std::thread::sleep(Duration::from_secs(3600));
        Ok(())
    })
});

static SPAWNS_200: std::sync::LazyLock<Scenario> = std::sync::LazyLock::new(|| {
    faulty("spawns-200", |ctx, _| {
        ctx.block_on(Flavor::CurrentThread, "main", async {
            for _ in 0..200 {
                spawn_named("short", async {}).await.ok();
            }
        })
    })
});

fn short_limits() -> RunManagerConfig {
    RunManagerConfig {
        time_limit: Duration::from_secs(1),
        stop_grace: Duration::from_millis(800),
        ..RunManagerConfig::default()
    }
}

fn wait_over(run: &futurescope::runs::Run, limit: Duration) {
    let deadline = Instant::now() + limit;
    while !run.is_over() {
        assert!(Instant::now() < deadline, "run {} still running after {limit:?}", run.id);
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn console_copies_count_against_the_budget_and_a_run_that_would_not_fit_waits() {
    use futurescope::runs::{CONSOLE_BYTES_PER_TASK, StartError};
    let per_run = 201 * CONSOLE_BYTES_PER_TASK; // 200 spawned + main
    let server = support::start(
        false,
        RunManagerConfig {
            // Room for one run's copies and a half.
            memory_budget: per_run * 3 / 2,
            console_task_retention: Some(Duration::from_secs(1)),
            ..short_limits()
        },
    );
    let runs = &server.state.runs;
    let first = runs.start_scenario(&SPAWNS_200, &Value::Null).unwrap();
    wait_over(&first, Duration::from_secs(10));
    assert_eq!(first.summary().status, RunState::Finished);
    assert_eq!(first.summary().counts.tasks, 201);
    assert_eq!(runs.memory().console, per_run, "the finished run's copies are held for the retention");
    // The same scenario with the same parameters is expected to spawn as many again: its copies
    // would not fit next to the held ones.
    match runs.start_scenario(&SPAWNS_200, &Value::Null) {
        Err(e @ StartError::ConsoleMemory { .. }) => {
            let text = e.to_string();
            assert!(text.contains("TOKIO_CONSOLE_RETENTION"), "{text}");
        }
        other => panic!("expected a console memory refusal, got {:?}", other.map(|r| r.id)),
    }
    // Past the retention (plus console-subscriber's publish tick) the copies are released.
    let deadline = Instant::now() + Duration::from_secs(60);
    let second = loop {
        match runs.start_scenario(&SPAWNS_200, &Value::Null) {
            Ok(run) => break run,
            Err(StartError::ConsoleMemory { .. }) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(100))
            }
            Err(e) => panic!("still refused after the retention: {e}"),
        }
    };
    wait_over(&second, Duration::from_secs(10));
    assert_eq!(second.summary().status, RunState::Finished);
}

#[test]
fn room_for_a_run_is_made_before_it_starts() {
    use futurescope::runs::RunManager;
    support::install(false);
    // How much the log of one run of the scenario takes.
    let calibration = RunManager::new(futurescope_recorder::Recorder::global(), short_limits());
    let probe = calibration.start_scenario(&SPAWNS_200, &Value::Null).unwrap();
    wait_over(&probe, Duration::from_secs(10));
    let log_bytes = probe.log.approx_bytes();
    drop(calibration);
    // Room for one such log and a half: a second run is expected to need a whole one, so the
    // first is evicted when the second starts, not only once the second has ended.
    let runs = RunManager::new(
        futurescope_recorder::Recorder::global(),
        RunManagerConfig { memory_budget: log_bytes * 3 / 2, ..short_limits() },
    );
    let first = runs.start_scenario(&SPAWNS_200, &Value::Null).unwrap();
    wait_over(&first, Duration::from_secs(10));
    assert!(runs.get(first.id).is_some(), "one run's log fits the budget");
    let second = runs.start_scenario(&SPAWNS_200, &Value::Null).unwrap();
    assert!(runs.get(first.id).is_none(), "the first run is evicted as the second starts");
    assert!(runs.get(second.id).is_some());
    wait_over(&second, Duration::from_secs(10));
    assert_eq!(second.summary().status, RunState::Finished);
}

#[test]
fn a_panicking_scenario_is_a_failed_run_with_the_panic_message() {
    let server = support::start(false, short_limits());
    let run = server.state.runs.start_scenario(&PANICS, &Value::Null).unwrap();
    wait_over(&run, Duration::from_secs(10));
    let s = run.summary();
    assert_eq!(s.status, RunState::Failed);
    assert!(s.error.as_deref().unwrap().contains("boom: scenario bug"), "{:?}", s.error);
    let events = run.log.to_json_values();
    assert!(events.iter().any(|e| e["k"] == "done" && e["outcome"] == "panicked"), "the task's end says panicked");
}

#[test]
fn a_hanging_scenario_is_cancellable_and_bounded_by_the_time_limit() {
    let server = support::start(false, RunManagerConfig { time_limit: Duration::from_secs(30), ..short_limits() });
    let run = server.state.runs.start_scenario(&HANGS, &Value::Null).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert!(!run.is_over());
    server.state.runs.cancel(run.id);
    wait_over(&run, Duration::from_secs(5));
    assert_eq!(run.summary().status, RunState::Cancelled);

    let server = support::start(false, short_limits());
    let run = server.state.runs.start_scenario(&HANGS, &Value::Null).unwrap();
    wait_over(&run, Duration::from_secs(10));
    let s = run.summary();
    assert_eq!(s.status, RunState::Failed);
    assert!(s.error.as_deref().unwrap().contains("time limit"), "{:?}", s.error);
}

#[test]
fn blocked_threads_cannot_hang_the_server_or_other_runs() {
    let server = support::start(false, short_limits());
    let stuck_worker = server.state.runs.start_scenario(&BLOCKS_WORKER, &Value::Null).unwrap();
    let stuck_thread = server.state.runs.start_scenario(&BLOCKS_RUN_THREAD, &Value::Null).unwrap();
    // Meanwhile, another run goes through normally.
    let fine = server.state.runs.start("lazy-future", &json!({"delay_ms": 20})).unwrap();
    wait_over(&fine, Duration::from_secs(20));
    assert_eq!(fine.summary().status, RunState::Finished);
    // The stuck ones end: one when its runtime is shut down past the grace, one abandoned.
    wait_over(&stuck_worker, Duration::from_secs(10));
    wait_over(&stuck_thread, Duration::from_secs(10));
    assert_eq!(stuck_worker.summary().status, RunState::Failed);
    let s = stuck_thread.summary();
    assert_eq!(s.status, RunState::Failed);
    assert!(s.error.as_deref().unwrap().contains("abandoned"), "{:?}", s.error);
    // The server still answers.
    let body = std::net::TcpStream::connect(server.addr).map(|mut s| {
        use std::io::{Read, Write};
        write!(s, "GET /api/health HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", server.addr).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    });
    assert!(body.unwrap().contains("\"ok\":true"));
}

static CHATTY_PARAMS: [ParamSpec; 1] = [ParamSpec::int("yields", 200_000, 1, 10_000_000, "yields")];

static CHATTY: std::sync::LazyLock<Scenario> = std::sync::LazyLock::new(|| Scenario {
    params: &CHATTY_PARAMS,
    ..faulty("chatty", |ctx, params| {
        let n = params.int("yields");
        ctx.block_on(Flavor::MultiThread { workers: 2 }, "chatty", async move {
            for _ in 0..n {
                tokio::task::yield_now().await;
            }
        })
    })
});

#[tokio::test]
async fn a_client_that_stops_reading_does_not_slow_the_others_and_is_let_go() {
    futurescope::observe::quiet_thread();
    let server =
        support::start_with(false, RunManagerConfig::default(), |s| s.ws_send_timeout = Duration::from_secs(1));
    let connect = || tokio_tungstenite::connect_async(format!("ws://{}/ws", server.addr));
    let (mut stalled, _) = connect().await.unwrap();
    let (mut reader, _) = connect().await.unwrap();
    let run = server.state.runs.start_scenario(&CHATTY, &json!({"yields": 300_000})).unwrap();
    let sub = json!({"type": "subscribe", "run": run.id}).to_string();
    stalled.send(Message::text(sub.clone())).await.unwrap();
    reader.send(Message::text(sub)).await.unwrap();

    // The reading client gets the whole run while the other reads nothing.
    let mut received = 0usize;
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(60), reader.next()).await.unwrap().unwrap().unwrap();
        let Message::Text(t) = msg else { continue };
        let v: Value = serde_json::from_str(t.as_str()).unwrap();
        match v["type"].as_str().unwrap() {
            "batch" => received += v["events"].as_array().unwrap().len(),
            "end" => break,
            _ => {}
        }
    }
    assert_eq!(received, run.log.len());
    assert!(received > 1_000_000, "the run is large enough to fill the stalled client's socket: {received}");

    // The server lets the stalled client go once its socket stayed full for the send timeout
    // (1 s here); it held no copy of the events meanwhile (a client's position is an index
    // into the log). Seen from the server: only the reading client is still connected.
    let connections = server.state.ws_connections.clone();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while connections.load(std::sync::atomic::Ordering::Relaxed) > 1 {
        assert!(std::time::Instant::now() < deadline, "the stalled client was not let go");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // And the stalled client, reading at last, gets only what was in flight: not the run.
    let mut cut = 0usize;
    while let Ok(Some(Ok(msg))) = tokio::time::timeout(Duration::from_secs(2), stalled.next()).await {
        if let Message::Text(t) = msg {
            cut += t.as_str().matches("{\"k\":").count();
        }
    }
    assert!(cut < received, "the stalled client was cut off ({cut} of {received} events)");
    drop(reader);
}

#[tokio::test]
async fn beyond_loopback_a_token_is_required() {
    support::install(false);
    let addr: std::net::SocketAddr = "10.1.2.3:6680".parse().unwrap();
    let mut state = support::state_for(addr, RunManagerConfig::default(), None);
    state.access = Arc::new(AccessPolicy::new(addr, Some("s3cret".into())));
    let app = futurescope::app(AppState { ..state });
    let req = |uri: &str, cookie: Option<&str>| {
        let mut b = Request::get(uri).header(header::HOST, "10.1.2.3:6680");
        if let Some(c) = cookie {
            b = b.header(header::COOKIE, c);
        }
        b.body(Body::empty()).unwrap()
    };
    let resp = app.clone().oneshot(req("/api/scenarios", None)).await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = app.clone().oneshot(req("/api/scenarios?token=wrong", None)).await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = app.clone().oneshot(req("/?token=s3cret", None)).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let cookie = resp.headers().get(header::SET_COOKIE).unwrap().to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let pair = cookie.split(';').next().unwrap();
    let resp = app.clone().oneshot(req("/api/scenarios", Some(pair))).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_futurescope"))
}

#[test]
fn binding_beyond_loopback_needs_the_opt_in() {
    let out = binary().args(["--bind", "0.0.0.0:0", "--no-console"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a loopback address") && err.contains("--allow-remote"), "{err}");
}

#[test]
fn unknown_scenarios_and_bad_params_on_the_command_line() {
    let out = binary().args(["run", "no-such"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown scenario `no-such`"));
    let out = binary().args(["run", "lazy-future", "--param", "delay_ms=5"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("from 10 to 2000, got 5"));
}

#[test]
fn sigterm_shuts_down_gracefully() {
    let mut child = binary()
        .args(["--bind", "127.0.0.1:0", "--no-console"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.contains("dashboard on http://127.0.0.1:"), "{first}");
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{status:?}");
            break;
        }
        assert!(Instant::now() < deadline, "did not exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn chrome_export_is_well_formed() {
    let server = support::start(false, RunManagerConfig::default());
    let run = server.state.runs.start("actors-mpsc", &Value::Null).unwrap();
    wait_over(&run, Duration::from_secs(30));
    let trace: Value = serde_json::from_str(&futurescope::export::chrome_trace(&run.log, "actors-mpsc")).unwrap();
    let events = trace["traceEvents"].as_array().unwrap();
    let mut slices = 0;
    let mut starts = std::collections::HashMap::new();
    let mut finishes = std::collections::HashSet::new();
    for e in events {
        match e["ph"].as_str().unwrap() {
            "X" => {
                slices += 1;
                for k in ["ts", "dur", "pid", "tid", "name"] {
                    assert!(!e[k].is_null(), "slice without {k}: {e}");
                }
                assert!(e["dur"].as_f64().unwrap() >= 0.0);
            }
            "s" => {
                starts.insert(e["id"].as_u64().unwrap(), e["ts"].as_f64().unwrap());
            }
            "f" => {
                finishes.insert(e["id"].as_u64().unwrap());
            }
            _ => {}
        }
    }
    let polls = run.log.counts().polls as usize;
    assert_eq!(slices, 2 * polls, "each poll is a slice on its worker and on its task");
    assert!(!starts.is_empty(), "wakes are flows");
    for id in starts.keys() {
        assert!(finishes.contains(id), "flow {id} has no finish");
    }
    assert_eq!(starts.len(), finishes.len());
}

#[test]
fn a_saved_run_is_opened_from_the_command_line() {
    let dir = std::env::temp_dir().join(format!("futurescope-open-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("lazy.jsonl");
    let out = binary().args(["run", "lazy-future", "--param", "delay_ms=10", "--out"]).arg(&file).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let saved = std::fs::read_to_string(&file).unwrap();

    let mut child = binary()
        .arg("open")
        .arg(&file)
        .args(["--bind", "127.0.0.1:0", "--no-console"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first.split("dashboard on ").nth(1).unwrap().to_owned();
    assert!(url.ends_with("/?opened=1"), "{url}");
    let addr = url.trim_start_matches("http://").split('/').next().unwrap().to_owned();
    let body = {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        write!(s, "GET /api/opened HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    };
    child.kill().unwrap();
    let _ = child.wait();
    assert!(body.ends_with(&saved), "the opened run is served as saved");

    std::fs::write(dir.join("junk.jsonl"), "hello\n").unwrap();
    let out = binary()
        .arg("open")
        .arg(dir.join("junk.jsonl"))
        .args(["--bind", "127.0.0.1:0", "--no-console"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a saved run"));
    let _ = std::fs::remove_dir_all(&dir);
}

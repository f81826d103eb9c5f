//! Watching your own program: unmodified `#[tokio::main]` programs with `futurescope::init()`
//! (or `futurescope::layer()` in their own registry) as their first line, each run as a child
//! process (this test binary started again with `FUTURESCOPE_TEST_CHILD` set), seen from
//! outside over HTTP, the WebSocket and tokio-console's gRPC API while they run.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use console_api::field::{Name, Value as FieldValue};
use console_api::instrument::InstrumentRequest;
use console_api::instrument::instrument_client::InstrumentClient;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

const CHILD: &str = "FUTURESCOPE_TEST_CHILD";
/// Tasks the workload spawns from its one spawn site.
const TASKS: usize = 20;

// ---- the child programs -------------------------------------------------------------------

/// Runs the child program named by `FUTURESCOPE_TEST_CHILD` (a no-op in a normal test run).
#[test]
fn child() {
    match std::env::var(CHILD).as_deref() {
        Ok("init") => init_main(),
        Ok("layered") => layered_main(),
        Ok("parked") => parked_main(),
        _ => {}
    }
}

#[tokio::main]
async fn init_main() {
    let _fs = futurescope::init();
    workload().await;
}

#[tokio::main]
async fn layered_main() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let console_addr: SocketAddr = std::env::var("CHILD_CONSOLE_BIND").unwrap().parse().unwrap();
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .with(console_subscriber::ConsoleLayer::builder().server_addr(console_addr).spawn())
        .with(futurescope::layer())
        .init();
    workload().await;
}

/// The workload, with one more task parked for the test's snapshot: a program's own async
/// fn, waiting on a `Notify` nobody notifies.
#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn parked_main() {
    let _fs = futurescope::init();
    // Boxed as a `dyn Future`: tokio cuts each trace at its per-task root frame, and a task's
    // future inlined into that frame would be cut with it (README, "Task dumps").
    let parked: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> = Box::pin(async {
        parked_here(std::sync::Arc::new(tokio::sync::Notify::new())).await;
    });
    tokio::spawn(parked);
    workload().await;
}

#[inline(never)]
async fn parked_here(notify: std::sync::Arc<tokio::sync::Notify>) {
    notify.notified().await;
}

/// `TASKS` tasks from one spawn site, each sleeping twice; then it keeps running.
async fn workload() {
    tracing::info!("workload starts");
    let handles: Vec<_> = (0..TASKS)
        .map(|_| {
            tokio::spawn(async {
                tokio::time::sleep(Duration::from_millis(5)).await;
                tokio::time::sleep(Duration::from_millis(5)).await;
            })
        })
        .collect();
    for h in handles {
        h.await.unwrap();
    }
    eprintln!("workload done");
    // A long-lived program: still running while the test looks at it.
    tokio::time::sleep(Duration::from_secs(120)).await;
}

// ---- the parent side ----------------------------------------------------------------------

struct Program {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Program {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts child program `name` with `env`, and waits for its dashboard and its workload.
fn start(name: &str, env: &[(&str, &str)]) -> Program {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "child", "--nocapture"])
        .env(CHILD, name)
        .env("FUTURESCOPE_BIND", "127.0.0.1:0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut addr = None;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let line = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())).expect("the child's output");
        if let Some(rest) = line.split("live on http://").nth(1) {
            addr = Some(rest.split('/').next().unwrap().parse().unwrap());
        }
        if line.contains("workload done") {
            break;
        }
    }
    Program { child, addr: addr.expect("the child printed its dashboard's address") }
}

/// POSTs an empty body to `path`; the status code and the JSON answer.
fn post(addr: SocketAddr, path: &str) -> (u16, Value) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(s, "POST {path} HTTP/1.0\r\nHost: {addr}\r\nOrigin: http://{addr}\r\nContent-Length: 0\r\n\r\n").unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    let (head, body) = body.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

fn get(addr: SocketAddr, path: &str) -> Value {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    // HTTP/1.0: the body comes unchunked, until the server closes.
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    let (head, body) = body.split_once("\r\n\r\n").unwrap();
    assert!(head.lines().next().unwrap().contains(" 200 "), "{path}: {head}");
    if path.ends_with("/events") {
        return Value::Array(
            body.lines().filter(|l| !l.is_empty()).map(|l| serde_json::from_str(l).unwrap()).collect(),
        );
    }
    serde_json::from_str(body).unwrap()
}

/// The program's run, once its workload's tasks are all recorded as done; and its events.
fn recorded(addr: SocketAddr) -> (Value, Vec<Value>) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let runs = get(addr, "/api/runs");
        let run = runs.as_array().unwrap().first().expect("the program's run").clone();
        let id = run["id"].as_u64().unwrap();
        let events = get(addr, &format!("/api/runs/{id}/events")).as_array().unwrap().clone();
        let done = workload_tasks(&events[1..]).values().filter(|t| t.done).count();
        if done == TASKS || Instant::now() > deadline {
            return (run, events);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[derive(Default, Debug)]
struct TaskSeen {
    loc: String,
    polls: usize,
    ready: usize,
    done: bool,
}

/// The workload's tasks (spawned in `workload`, in this file), by task id.
fn workload_tasks(events: &[Value]) -> HashMap<u64, TaskSeen> {
    let mut tasks: HashMap<u64, TaskSeen> = HashMap::new();
    for e in events {
        let task = e["task"].as_u64().unwrap_or(0);
        match e["k"].as_str().unwrap_or("") {
            "spawn" if e["loc"].as_str().unwrap_or("").contains("tests/program.rs") => {
                tasks.insert(task, TaskSeen { loc: e["loc"].as_str().unwrap().to_owned(), ..TaskSeen::default() });
            }
            "poll_end" => {
                if let Some(t) = tasks.get_mut(&task) {
                    t.polls += 1;
                    t.ready += usize::from(e["ready"] == true);
                }
            }
            "done" if e["outcome"] == "completed" => {
                if let Some(t) = tasks.get_mut(&task) {
                    t.done = true;
                }
            }
            _ => {}
        }
    }
    tasks
}

fn check_workload(events: &[Value]) -> HashMap<u64, TaskSeen> {
    let tasks = workload_tasks(events);
    assert_eq!(tasks.len(), TASKS, "every task of the workload is recorded: {tasks:?}");
    for (id, t) in &tasks {
        // Three polls (two sleeps), or two when a sleep's deadline passed before it was first
        // polled (a busy machine).
        assert!(matches!(t.polls, 2 | 3), "task {id}: {t:?}");
        assert_eq!(t.ready, 1, "task {id}: its last poll is ready");
        assert!(t.done, "task {id} completed");
    }
    tasks
}

/// Tasks console-subscriber at `addr` reports: tokio id -> "file:line:col", and their polls.
async fn console_tasks(addr: &str, want: usize) -> (HashMap<u64, String>, HashMap<u64, u64>) {
    let mut client = InstrumentClient::connect(format!("http://{addr}")).await.expect("connecting to console");
    let mut updates = client.watch_updates(InstrumentRequest {}).await.unwrap().into_inner();
    let mut field_names: HashMap<u64, Vec<String>> = HashMap::new();
    let mut seen = HashMap::new();
    let mut span_of: HashMap<u64, u64> = HashMap::new();
    let mut stats: HashMap<u64, u64> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline && (seen.len() < want || stats.len() < want) {
        let Ok(Some(update)) =
            tokio::time::timeout(Duration::from_secs(3), updates.message()).await.map(|r| r.unwrap())
        else {
            continue;
        };
        if let Some(meta) = &update.new_metadata {
            for m in &meta.metadata {
                if let (Some(id), Some(md)) = (&m.id, &m.metadata) {
                    field_names.insert(id.id, md.field_names.clone());
                }
            }
        }
        let Some(tasks) = update.task_update else { continue };
        for (span, s) in &tasks.stats_update {
            if let Some(id) = span_of.get(span)
                && s.dropped_at.is_some()
            {
                stats.insert(*id, s.poll_stats.as_ref().map_or(0, |p| p.polls));
            }
        }
        for task in tasks.new_tasks {
            let meta_id = task.metadata.as_ref().map(|m| m.id).unwrap_or(0);
            let span = task.id.as_ref().map_or(0, |i| i.id);
            for f in &task.fields {
                let fname = match &f.name {
                    Some(Name::StrName(s)) => s.clone(),
                    Some(Name::NameIdx(i)) => field_names
                        .get(&meta_id)
                        .and_then(|n| n.get(usize::try_from(*i).unwrap_or(usize::MAX)))
                        .cloned()
                        .unwrap_or_default(),
                    None => String::new(),
                };
                if let ("task.id", Some(FieldValue::U64Val(id))) = (fname.as_str(), &f.value)
                    && let Some(l) = &task.location
                {
                    let loc = format!(
                        "{}:{}:{}",
                        l.file.clone().unwrap_or_default(),
                        l.line.unwrap_or(0),
                        l.column.unwrap_or(0)
                    );
                    if loc.contains("tests/program.rs") {
                        seen.insert(*id, loc);
                        span_of.insert(span, *id);
                    }
                }
            }
        }
        // Stats of new tasks come in the same update as the task.
        for (span, s) in &tasks.stats_update {
            if let Some(id) = span_of.get(span)
                && s.dropped_at.is_some()
            {
                stats.insert(*id, s.poll_stats.as_ref().map_or(0, |p| p.polls));
            }
        }
    }
    (seen, stats)
}

#[tokio::test]
async fn an_unmodified_tokio_main_with_init_is_watched_live_with_tokio_consoles_ids() {
    let program = start("init", &[("FUTURESCOPE_CONSOLE_BIND", "127.0.0.1:0")]);
    let addr = program.addr;
    let (run, events) = tokio::task::spawn_blocking(move || recorded(addr)).await.unwrap();
    assert_eq!(run["status"], "running", "{run}");
    assert_eq!(run["scenario"], Value::Null);
    assert_eq!(run["program"]["pid"], program.child.id());
    assert_eq!(events[0]["format"], "futurescope-events", "the saved-run header");
    let ours = check_workload(&events[1..]);

    // Worker lanes name their runtime and worker.
    let lanes: Vec<&str> = events.iter().filter(|e| e["k"] == "worker").filter_map(|e| e["name"].as_str()).collect();
    assert!(lanes.iter().any(|n| n.contains("runtime ") && n.contains(" worker ")), "{lanes:?}");

    // Live over the WebSocket: the program's run replays and keeps streaming.
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws")).await.unwrap();
    let id = run["id"].as_u64().unwrap();
    ws.send(Message::text(json!({"type": "subscribe", "run": id}).to_string())).await.unwrap();
    let mut spawns = 0;
    let deadline = Instant::now() + Duration::from_secs(20);
    while spawns < TASKS && Instant::now() < deadline {
        let Ok(Some(Ok(Message::Text(t)))) = tokio::time::timeout(Duration::from_secs(5), ws.next()).await else {
            continue;
        };
        let m: Value = serde_json::from_str(t.as_str()).unwrap();
        assert_ne!(m["type"], "end", "a program's run has no end while it runs");
        if m["type"] == "batch" {
            spawns += m["events"].as_array().unwrap().iter().filter(|e| e["k"] == "spawn").count();
        }
    }
    assert!(spawns >= TASKS, "the run's spawns stream over /ws ({spawns})");

    // tokio-console, attached to the same process, names the same tasks at the same places.
    let console = get(addr, "/api/console");
    let console_addr = console["addr"].as_str().or(console["address"].as_str()).expect("console is on").to_owned();
    let (theirs, _) = console_tasks(&console_addr, TASKS).await;
    let ours: HashMap<u64, String> = ours.into_iter().map(|(id, t)| (id, t.loc)).collect();
    assert_eq!(ours, theirs, "task ids and spawn locations: futurescope vs tokio-console");
}

#[tokio::test]
async fn a_program_with_its_own_fmt_and_console_layers_records_the_same() {
    let console_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let console_bind = format!("127.0.0.1:{console_port}");
    let program = start("layered", &[("CHILD_CONSOLE_BIND", &console_bind)]);
    let addr = program.addr;
    let (run, events) = tokio::task::spawn_blocking(move || recorded(addr)).await.unwrap();
    assert_eq!(run["status"], "running");
    let ours = check_workload(&events[1..]);
    let (theirs, their_polls) = console_tasks(&console_bind, TASKS).await;
    let our_polls: HashMap<u64, u64> = ours.iter().map(|(id, t)| (*id, t.polls as u64)).collect();
    let ours: HashMap<u64, String> = ours.into_iter().map(|(id, t)| (id, t.loc)).collect();
    assert_eq!(ours, theirs, "task ids and spawn locations: futurescope vs the program's own console-subscriber");
    // console-subscriber counts every enter of a task's span as a poll, the one that drops the
    // finished future included; futurescope tells that one apart (HACKING: "The drop is not a
    // poll"), so each completed task has exactly one poll less here.
    let their_real_polls: HashMap<u64, u64> = their_polls.into_iter().map(|(id, p)| (id, p - 1)).collect();
    assert_eq!(our_polls, their_real_polls, "polls per task: futurescope vs console-subscriber (less its drop)");
}

/// GET `path`: the status code and the JSON body.
fn get_status(addr: SocketAddr, path: &str) -> (u16, Value) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    let (head, body) = body.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_str(body).unwrap_or_else(|e| panic!("{path}: {e}: {body}")))
}

#[test]
fn the_source_endpoint_serves_the_programs_own_files_at_spawn_locations_and_nothing_else() {
    let program = start("init", &[]);
    let addr = program.addr;
    let (run, events) = recorded(addr);
    let id = run["id"].as_u64().unwrap();
    let ours = check_workload(&events[1..]);
    let loc = &ours.values().next().expect("the workload's tasks").loc;
    let (file, line) = {
        let mut parts = loc.rsplitn(3, ':');
        let (_col, line, file) = (parts.next(), parts.next().unwrap(), parts.next().unwrap());
        (file.to_owned(), line.parse::<usize>().unwrap())
    };
    assert!(file.ends_with("tests/program.rs"), "{loc}");

    // The file of a spawn location: its text, from disk, with the spawn at its line.
    let (status, body) = get_status(addr, &format!("/api/runs/{id}/source?file={file}"));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["file"], file.as_str());
    let text = body["text"].as_str().expect("the file's text");
    assert_eq!(text, std::fs::read_to_string(body["path"].as_str().unwrap()).unwrap());
    assert!(text.lines().nth(line - 1).unwrap().contains("tokio::spawn"), "line {line} spawns the task");

    // Nothing else on disk: a file no spawn names, a path that climbs out, a non-Rust file.
    for other in ["backend/server/src/api.rs", "../../../../etc/passwd", "Cargo.toml"] {
        let (status, body) = get_status(addr, &format!("/api/runs/{id}/source?file={other}"));
        assert_eq!(status, 404, "{other}: {body}");
        assert!(body["error"].as_str().unwrap().contains("is not the file of a spawn location"), "{body}");
    }
    // No such run; no file asked for.
    assert_eq!(get_status(addr, "/api/runs/999/source?file=x.rs").0, 404);
    assert_eq!(get_status(addr, &format!("/api/runs/{id}/source")).0, 400);
}

#[tokio::test]
async fn a_snapshot_of_a_program_shows_its_own_tasks_at_their_lines() {
    let program = start("parked", &[]);
    let addr = program.addr;
    let (run, _) = tokio::task::spawn_blocking(move || recorded(addr)).await.unwrap();
    let id = run["id"].as_u64().unwrap();
    // init() registered the program's #[tokio::main] runtime when its threads first polled.
    let (status, snap) =
        tokio::task::spawn_blocking(move || post(addr, &format!("/api/runs/{id}/snapshot"))).await.unwrap();
    assert_eq!(status, 200, "{snap}");
    assert!(snap["t"].as_u64().is_some(), "{snap}");
    let tasks = snap["tasks"].as_array().unwrap();
    let parked: Vec<&Value> = tasks
        .iter()
        .filter(|t| {
            t["frames"].as_array().unwrap().iter().any(|f| f["fn"].as_str().unwrap_or("").contains("parked_here"))
        })
        .collect();
    assert_eq!(parked.len(), 1, "one task waits in parked_here: {snap}");
    let frames = parked[0]["frames"].as_array().unwrap();
    let at = frames.iter().find(|f| f["fn"].as_str().unwrap().contains("parked_here")).unwrap();
    assert!(at["loc"].as_str().unwrap().contains("tests/program.rs:"), "{at}");
    // The leaf under it is tokio's Notified.
    assert!(
        frames.iter().any(|f| f["fn"].as_str().unwrap().contains("Notified")),
        "the leaf future is tokio's Notified: {frames:?}"
    );
    // The snapshot is an event of the program's run too (once the collector has stored it).
    let stored = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let events = get(addr, &format!("/api/runs/{id}/events"));
            let found = events.as_array().unwrap().iter().any(|e| e["k"] == "snapshot" && e["reason"] == "manual");
            if found || Instant::now() > deadline {
                return found;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    })
    .await
    .unwrap();
    assert!(stored, "a snapshot event in the run");
}

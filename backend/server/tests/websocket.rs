//! The WebSocket protocol with a real client (tokio-tungstenite) against a real server on
//! 127.0.0.1:0: hello, subscribe with replay, batches, end, errors, refusals, many clients.

mod support;

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use futurescope::runs::RunManagerConfig;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(addr: std::net::SocketAddr) -> Ws {
    let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws")).await.expect("connecting");
    ws
}

async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(20), ws.next())
            .await
            .expect("a message within 20 s")
            .unwrap()
            .unwrap();
        if let Message::Text(t) = msg {
            return serde_json::from_str(t.as_str()).unwrap();
        }
    }
}

/// Reads until the `end` of `run`; returns (events, end message).
async fn collect_run(ws: &mut Ws, run: u64) -> (Vec<Value>, Value) {
    let mut events = Vec::new();
    loop {
        let m = next_json(ws).await;
        match m["type"].as_str().unwrap() {
            "batch" if m["run"] == run => events.extend(m["events"].as_array().unwrap().iter().cloned()),
            "end" if m["run"] == run => return (events, m),
            _ => {}
        }
    }
}

fn start_run(server: &support::TestServer, scenario: &str, params: Value) -> u64 {
    server.state.runs.start(scenario, &params).expect("the run starts").id
}

#[tokio::test]
async fn hello_subscribe_replay_and_end() {
    let server = support::start(false, RunManagerConfig::default());
    let mut ws = connect(server.addr).await;
    let hello = next_json(&mut ws).await;
    assert_eq!(hello["type"], "hello");
    assert_eq!(hello["v"], 1);

    let id = start_run(&server, "lazy-future", json!({"delay_ms": 30}));
    ws.send(Message::text(json!({"type": "subscribe", "run": id}).to_string())).await.unwrap();
    let (events, end) = collect_run(&mut ws, id).await;
    assert_eq!(end["status"], "finished", "{end}");
    let log = server.state.runs.get(id).unwrap().log.to_json_values();
    assert_eq!(events, log, "the stream is the whole log, in order");

    // A second subscription to the finished run replays it from its start.
    ws.send(Message::text(json!({"type": "subscribe", "run": id}).to_string())).await.unwrap();
    let (replay, _) = collect_run(&mut ws, id).await;
    assert_eq!(replay, log);
}

#[tokio::test]
async fn malformed_messages_get_an_error_and_the_connection_stays_usable() {
    let server = support::start(false, RunManagerConfig::default());
    let mut ws = connect(server.addr).await;
    assert_eq!(next_json(&mut ws).await["type"], "hello");
    for bad in ["not json", r#"{"type":"subscribe"}"#, r#"{"type":"launch","run":1}"#, "[]"] {
        ws.send(Message::text(bad)).await.unwrap();
        let m = next_json(&mut ws).await;
        assert_eq!(m["type"], "error", "{bad}: {m}");
        assert!(m["error"].as_str().unwrap().contains("expected"), "{m}");
    }
    ws.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
    assert_eq!(next_json(&mut ws).await["type"], "error");
    ws.send(Message::text(json!({"type": "subscribe", "run": 424242}).to_string())).await.unwrap();
    let m = next_json(&mut ws).await;
    assert!(m["error"].as_str().unwrap().contains("no run 424242"), "{m}");
    // Still usable.
    let id = start_run(&server, "lazy-future", json!({"delay_ms": 10}));
    ws.send(Message::text(json!({"type": "subscribe", "run": id}).to_string())).await.unwrap();
    let (events, end) = collect_run(&mut ws, id).await;
    assert_eq!(end["status"], "finished");
    assert!(!events.is_empty());
    // An oversized message closes the connection rather than being buffered.
    let huge = "x".repeat(100_000);
    let _ = ws.send(Message::text(huge)).await;
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return true,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert_eq!(closed, Ok(true));
}

#[tokio::test]
async fn a_cross_origin_upgrade_is_refused() {
    let server = support::start(false, RunManagerConfig::default());
    let mut req = format!("ws://{}/ws", server.addr).into_client_request().unwrap();
    req.headers_mut().insert("origin", "http://evil.example".parse().unwrap());
    let err = tokio_tungstenite::connect_async(req).await.expect_err("refused");
    match err {
        tokio_tungstenite::tungstenite::Error::Http(resp) => assert_eq!(resp.status(), 403),
        other => panic!("expected an HTTP refusal, got {other:?}"),
    }
    let mut req = format!("ws://{}/ws", server.addr).into_client_request().unwrap();
    req.headers_mut().insert("origin", format!("http://{}", server.addr).parse().unwrap());
    assert!(tokio_tungstenite::connect_async(req).await.is_ok(), "the dashboard's own origin is accepted");
}

#[tokio::test]
async fn fifty_clients_watching_one_run_all_get_the_whole_stream() {
    let server = support::start(false, RunManagerConfig::default());
    let mut clients = Vec::new();
    for _ in 0..50 {
        let mut ws = connect(server.addr).await;
        assert_eq!(next_json(&mut ws).await["type"], "hello");
        clients.push(ws);
    }
    let id = start_run(&server, "lazy-future", json!({"delay_ms": 100}));
    for ws in clients.iter_mut() {
        ws.send(Message::text(json!({"type": "subscribe", "run": id}).to_string())).await.unwrap();
    }
    let results = futures::future::join_all(clients.iter_mut().map(|ws| collect_run(ws, id))).await;
    let log = server.state.runs.get(id).unwrap().log.to_json_values();
    for (events, end) in results {
        assert_eq!(end["status"], "finished");
        assert_eq!(events, log);
    }
}

#[tokio::test]
async fn the_dashboard_never_records_itself() {
    let server = support::start(false, RunManagerConfig::default());
    let mut ws = connect(server.addr).await;
    next_json(&mut ws).await;
    let id = start_run(&server, "lazy-future", json!({"delay_ms": 200}));
    ws.send(Message::text(json!({"type": "subscribe", "run": id}).to_string())).await.unwrap();
    // Exercise the server while the run records: HTTP requests and the WebSocket stream.
    for _ in 0..20 {
        let _ = reqwest_like_get(server.addr, "/api/scenarios").await;
    }
    let (events, _) = collect_run(&mut ws, id).await;
    let spawns: Vec<&Value> = events.iter().filter(|e| e["k"] == "spawn").collect();
    assert!(!spawns.is_empty());
    for s in spawns {
        let loc = s["loc"].as_str().unwrap();
        assert!(loc.starts_with("scenarios/"), "a task from outside the scenario was recorded: {s}");
    }
    let lanes: Vec<&Value> = events.iter().filter(|e| e["k"] == "worker").collect();
    for l in lanes {
        assert!(!l["name"].as_str().unwrap().starts_with("futurescope"), "a dashboard thread appears: {l}");
    }
}

/// A minimal HTTP GET over a raw socket (keeps the test's dependencies small).
async fn reqwest_like_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

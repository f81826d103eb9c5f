//! Issue 15: the default configuration as a trusted server. Run ids across a real restart, a
//! remote Host with and without the token, the console bind refusal, the subscribe burst, a
//! half-sent request, WebSocket close codes, SIGTERM's goodbye, JSON errors, port clashes.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use futures::{SinkExt, StreamExt};
use futurescope::AccessPolicy;
use futurescope::runs::RunManagerConfig;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;
use tower::ServiceExt;

fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_futurescope"))
}

/// Starts the binary on free ports; returns it and its dashboard address.
fn serve(extra: &[&str]) -> (Child, String) {
    let mut child = binary()
        .args(["--bind", "127.0.0.1:0", "--no-console"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first.split("dashboard on ").nth(1).unwrap().to_owned();
    let addr = url.trim_start_matches("http://").split('/').next().unwrap().to_owned();
    std::thread::spawn(move || for _ in lines {});
    (child, addr)
}

fn http(addr: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out.split(' ').nth(1).unwrap().parse().unwrap();
    let body = out.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    // Chunked bodies: keep the JSON line.
    let body = body.lines().find(|l| l.starts_with('{') || l.starts_with('[')).unwrap_or("").to_owned();
    (status, body)
}

fn stop(mut child: Child) {
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = child.wait();
}

#[test]
fn run_ids_of_an_earlier_server_are_gone_not_confused() {
    let (first, addr) = serve(&[]);
    let (status, body) = http(&addr, "POST", "/api/runs", r#"{"scenario":"lazy-future","params":{"delay_ms":10}}"#);
    assert_eq!(status, 201, "{body}");
    let (_, listed) = http(&addr, "GET", "/api/runs", "");
    let listed: Value = serde_json::from_str(&listed).unwrap();
    let old_instance = listed[0]["instance"].as_str().unwrap().to_owned();
    assert!(old_instance.len() >= 8 && old_instance.chars().all(|c| c.is_ascii_hexdigit()), "{old_instance}");
    assert_eq!(listed[0]["id"], 1);
    let (status, _) = http(&addr, "GET", &format!("/api/runs/1?instance={old_instance}"), "");
    assert_eq!(status, 200, "the current instance's run");
    stop(first);

    // A real restart: run 1 exists again, but it is another run.
    let (second, addr) = serve(&[]);
    let (status, _) = http(&addr, "POST", "/api/runs", r#"{"scenario":"lazy-future","params":{"delay_ms":10}}"#);
    assert_eq!(status, 201);
    let (status, body) = http(&addr, "GET", &format!("/api/runs/1?instance={old_instance}"), "");
    assert_eq!(status, 410, "{body}");
    let e: Value = serde_json::from_str(&body).unwrap();
    assert!(e["error"].as_str().unwrap().contains("run 1 belongs to an earlier server"), "{e}");
    let (status, body) = http(&addr, "GET", &format!("/api/runs/99?instance={old_instance}"), "");
    assert_eq!(status, 410, "{body}");
    let (_, now) = http(&addr, "GET", "/api/runs/1", "");
    let now: Value = serde_json::from_str(&now).unwrap();
    assert_ne!(now["instance"], old_instance);
    let (status, _) = http(&addr, "GET", &format!("/api/runs/99?instance={}", now["instance"].as_str().unwrap()), "");
    assert_eq!(status, 404);
    let (status, saved) = http(&addr, "GET", "/api/runs/1/events", "");
    assert_eq!(status, 200);
    assert_eq!(serde_json::from_str::<Value>(&saved).unwrap()["instance"], now["instance"], "saved-run header");

    // Over the WebSocket: the hello names the instance; an old instance's subscribe is refused.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws")).await.unwrap();
        let hello = next_json(&mut ws).await;
        assert_eq!(hello["instance"], now["instance"]);
        ws.send(Message::text(json!({"type":"subscribe","run":1,"instance":old_instance}).to_string())).await.unwrap();
        let m = next_json(&mut ws).await;
        assert_eq!(m["type"], "error", "{m}");
        assert!(m["error"].as_str().unwrap().contains("earlier server"), "{m}");
        ws.send(Message::text(json!({"type":"subscribe","run":1,"instance":now["instance"]}).to_string()))
            .await
            .unwrap();
        let m = next_json(&mut ws).await;
        assert_eq!((m["type"].as_str(), &m["instance"]), (Some("run"), &now["instance"]), "{m}");
    });
    stop(second);
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(30), ws.next()).await.unwrap().unwrap().unwrap();
        if let Message::Text(t) = msg {
            return serde_json::from_str(t.as_str()).unwrap();
        }
    }
}

#[tokio::test]
async fn a_remote_host_is_accepted_with_the_token_only() {
    support::install(false);
    let addr: std::net::SocketAddr = "0.0.0.0:6680".parse().unwrap();
    let mut state = support::state_for(addr, RunManagerConfig::default(), None);
    let mut policy = AccessPolicy::new(addr, Some("s3cret".into()));
    let names = futurescope::guard::machine_names(addr.ip());
    policy.allow_names(&names, addr.port());
    policy.allow_names(&["dash.example".into()], addr.port());
    state.access = Arc::new(policy);
    let app = futurescope::app(state);
    let get = |host: String, uri: &str| Request::get(uri).header(header::HOST, host).body(Body::empty()).unwrap();
    let machine = names.iter().find(|n| n.parse::<std::net::Ipv4Addr>().is_ok()).cloned();
    let mut hosts = vec!["dash.example:6680".to_owned()];
    hosts.extend(machine.map(|ip| format!("{ip}:6680")));
    for host in hosts {
        let resp = app.clone().oneshot(get(host.clone(), "/api/scenarios")).await.unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{host} without the token");
        let resp = app.clone().oneshot(get(host.clone(), "/api/scenarios?token=s3cret")).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{host} with the token");
    }
    let resp = app.clone().oneshot(get("0.0.0.0:6680".into(), "/?token=s3cret")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::MISDIRECTED_REQUEST, "0.0.0.0 is nobody's name");
    let resp = app.clone().oneshot(get("evil.example:6680".into(), "/?token=s3cret")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::MISDIRECTED_REQUEST);
}

#[test]
fn the_printed_remote_url_is_not_0_0_0_0_and_works() {
    let mut child = binary()
        .args(["--bind", "0.0.0.0:0", "--no-console", "--allow-remote", "--public-host", "dash.example"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first.split("dashboard on ").nth(1).unwrap().to_owned();
    assert!(!url.contains("0.0.0.0") && url.contains("?token="), "{url}");
    let port = url.split("/?").next().unwrap().rsplit(':').next().unwrap().to_owned();
    let token = url.split("token=").nth(1).unwrap().split('&').next().unwrap().to_owned();
    let mut s = std::net::TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
    write!(s, "GET /api/health?token={token} HTTP/1.1\r\nHost: dash.example:{port}\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    stop(child);
}

#[test]
fn a_console_beyond_loopback_needs_the_opt_in() {
    let out = binary().args(["--bind", "127.0.0.1:0", "--console-bind", "0.0.0.0:0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("console-subscriber") && err.contains("--allow-remote") && err.contains("authentication"),
        "{err}"
    );
}

#[test]
fn ports_in_use_are_all_named_and_a_loopback_neighbour_is_refused() {
    let dash = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let console = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (d, c) = (dash.local_addr().unwrap(), console.local_addr().unwrap());
    let out = binary().args(["--bind", &d.to_string(), "--console-bind", &c.to_string()]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&d.to_string()) && err.contains(&c.to_string()), "both ports named: {err}");

    // [::1]:P beside 127.0.0.1:P.
    if std::net::TcpListener::bind(("::1", 0)).is_ok() {
        let out = binary().args(["--bind", &format!("[::1]:{}", d.port()), "--no-console"]).output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&format!("127.0.0.1:{}", d.port())), "{err}");
    }
}

#[tokio::test]
async fn every_error_is_json_including_the_body_limit() {
    let server = support::start(false, RunManagerConfig::default());
    let mut s = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let req = format!(
        "POST /api/runs HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n",
        server.addr
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut out)).await;
    let out = String::from_utf8_lossy(&out);
    assert!(out.starts_with("HTTP/1.1 413"), "{out}");
    assert!(out.to_ascii_lowercase().contains("content-type: application/json"), "{out}");
    let body: Value = serde_json::from_str(out.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert!(body["error"].as_str().unwrap().contains("64 KiB"), "{body}");
    // An unknown method on a route: 405, JSON too.
    let (status, body) = http(&server.addr.to_string(), "DELETE", "/api/scenarios", "");
    assert_eq!(status, 405);
    assert!(serde_json::from_str::<Value>(&body).unwrap()["error"].is_string(), "{body}");
}

#[tokio::test]
async fn a_half_sent_request_is_closed_after_the_header_timeout() {
    support::install(false);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let state = support::state_for(addr, RunManagerConfig::default(), None);
    let limits = futurescope::ServeLimits { header_read_timeout: Duration::from_secs(1), ..Default::default() };
    std::thread::spawn(move || {
        let rt = futurescope::observe::server_runtime().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            futurescope::serve(listener, state, limits, std::future::pending()).await
        });
    });
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET /api/health HTTP/1.1\r\nHost: {addr}\r\n").as_bytes()).await.unwrap();
    let started = Instant::now();
    let mut buf = Vec::new();
    // The server ends the connection (EOF or a 408) instead of waiting for ever.
    let read = tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the half-sent request was still open after 30 s");
    assert!(started.elapsed() >= Duration::from_millis(900), "closed by the timeout, not at once");
    // A whole request on a fresh connection is still served.
    let (status, _) = http(&addr.to_string(), "GET", "/api/health", "");
    assert_eq!(status, 200);
}

/// A raw WebSocket client: the handshake, then frames written by hand.
async fn raw_ws(addr: std::net::SocketAddr) -> tokio::net::TcpStream {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        s.read_exact(&mut b).await.unwrap();
        head.push(b[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&head));
    s
}

fn frame(opcode: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mut f = vec![0x80 | opcode];
    let mask_bit = if masked { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => f.push(mask_bit | n as u8),
        n => {
            f.push(mask_bit | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
    }
    if masked {
        let key = [1u8, 2, 3, 4];
        f.extend_from_slice(&key);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    } else {
        f.extend_from_slice(payload);
    }
    f
}

/// Reads server frames until a close frame; returns its code (None: the TCP connection ended
/// without one).
async fn close_code(s: &mut tokio::net::TcpStream) -> Option<u16> {
    loop {
        let mut h = [0u8; 2];
        tokio::time::timeout(Duration::from_secs(30), s.read_exact(&mut h)).await.ok()?.ok()?;
        let mut len = (h[1] & 0x7f) as u64;
        if len == 126 {
            let mut b = [0u8; 2];
            s.read_exact(&mut b).await.ok()?;
            len = u16::from_be_bytes(b) as u64;
        } else if len == 127 {
            let mut b = [0u8; 8];
            s.read_exact(&mut b).await.ok()?;
            len = u64::from_be_bytes(b);
        }
        let mut payload = vec![0u8; len as usize];
        s.read_exact(&mut payload).await.ok()?;
        if h[0] & 0x0f == 0x8 {
            return Some(u16::from_be_bytes([payload[0], payload[1]]));
        }
    }
}

#[tokio::test]
async fn bad_websocket_messages_get_close_frames_with_their_codes() {
    let server = support::start(false, RunManagerConfig::default());
    let cases: [(&str, Vec<u8>, u16); 3] = [
        ("oversize", frame(0x1, &vec![b'x'; 5000], true), 1009),
        ("invalid UTF-8", frame(0x1, &[0xff, 0xfe, 0xfd], true), 1007),
        ("unmasked (a protocol error)", frame(0x1, b"{}", false), 1002),
    ];
    for (what, bytes, code) in cases {
        let mut s = raw_ws(server.addr).await;
        s.write_all(&bytes).await.unwrap();
        assert_eq!(close_code(&mut s).await, Some(code), "{what}");
    }
}

#[test]
fn sigterm_flushes_the_ends_then_says_going_away() {
    let (child, addr) = serve(&[]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws")).await.unwrap();
        assert_eq!(next_json(&mut ws).await["type"], "hello");
        // A run that would go on for a minute: SIGTERM cancels it, the client still gets its end.
        let (status, body) =
            http(&addr, "POST", "/api/runs", r#"{"scenario":"lost-wakeup","params":{"show_for_ms":30000}}"#);
        assert_eq!(status, 201, "{body}");
        let run = serde_json::from_str::<Value>(&body).unwrap()["run"].as_u64().unwrap();
        ws.send(Message::text(json!({"type":"subscribe","run":run}).to_string())).await.unwrap();
        loop {
            if next_json(&mut ws).await["type"] == "batch" {
                break;
            }
        }
        // SAFETY: signalling our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let mut end = None;
        let close = loop {
            let msg = tokio::time::timeout(Duration::from_secs(30), ws.next()).await.unwrap();
            match msg {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(t.as_str()).unwrap();
                    if v["type"] == "end" {
                        end = Some(v);
                    }
                }
                Some(Ok(Message::Close(frame))) => break frame,
                Some(Ok(_)) => {}
                other => panic!("the connection ended without a close frame: {other:?}"),
            }
        };
        let end = end.expect("the run's end came before the goodbye");
        assert_eq!(end["status"], "cancelled", "{end}");
        let close = close.expect("a close frame with a code");
        assert_eq!(u16::from(close.code), 1001);
    });
    let mut child = child;
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn a_subscribe_burst_costs_about_one_replay() {
    let server = support::start(false, RunManagerConfig::default());
    let run = server.state.runs.start("spawn-many", &json!({})).unwrap();
    support::wait_over(&server.state, run.id, Duration::from_secs(120));
    let mut one_replay = String::new();
    run.log.encode_range(0, usize::MAX, ",", &mut one_replay);
    let one_replay = one_replay.len();

    let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws", server.addr)).await.unwrap();
    let (mut tx, mut rx) = ws.split();
    // 500 subscribe/unsubscribe pairs in one go, then one subscribe that is read to its end.
    let pairs = (0..500).flat_map(|_| {
        [
            Message::text(json!({"type":"subscribe","run":run.id}).to_string()),
            Message::text(json!({"type":"unsubscribe","run":run.id}).to_string()),
        ]
    });
    let mut sent = 0usize;
    for m in pairs.chain([Message::text(json!({"type":"subscribe","run":run.id}).to_string())]) {
        sent += m.len();
        tx.feed(m).await.unwrap();
    }
    tx.flush().await.unwrap();
    let mut received = 0usize;
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(60), rx.next()).await.unwrap().unwrap().unwrap();
        let Message::Text(t) = msg else { continue };
        received += t.len();
        if !t.as_str().starts_with("{\"type\":\"batch\"") && t.as_str().contains("\"type\":\"end\"") {
            break;
        }
    }
    // Before: every subscribe replayed the run at once (500 replays, 6 GB for a large run).
    assert!(
        received < 4 * one_replay + 500 * 300,
        "{sent} bytes sent made the server send {received} bytes; one replay is {one_replay}"
    );
}

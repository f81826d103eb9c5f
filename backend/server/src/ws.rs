//! `/ws`: streams runs' events to a browser (protocol in docs/protocol.md).
//!
//! Each connection is a receive task (parses client messages, answers junk with an error
//! message) and a send loop (hello, run notices, and every `BATCH_EVERY` the new events of each
//! subscribed run, read from the run's log by index). A subscriber's position is an index into
//! the log, so a replay is just starting at 0, and a slow client costs the server no memory: it
//! falls behind, and if one send stays blocked for `AppState::ws_send_timeout` it is
//! disconnected (the browser reconnects and replays).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::{broadcast, mpsc};

use crate::AppState;
use crate::runs::{Notice, Run};

/// How often new events are sent.
const BATCH_EVERY: Duration = Duration::from_millis(30);
/// Most events in one batch message.
const MAX_BATCH: usize = 50_000;
/// Most events sent to one client per tick, over all its subscriptions (then it waits a tick).
const MAX_PER_TICK: usize = 400_000;
/// Largest client message accepted.
pub const MAX_CLIENT_MESSAGE: usize = 4096;
/// Most runs one connection may subscribe to at once.
const MAX_SUBSCRIPTIONS: usize = 16;

/// Most WebSocket connections open at once; more are refused (503) until one closes.
pub const MAX_CONNECTIONS: usize = 64;
/// After a shutdown starts, how long a connection may keep streaming its runs' last events.
const SHUTDOWN_FLUSH: Duration = Duration::from_secs(5);

pub async fn upgrade(ws: WebSocketUpgrade, State(state): State<AppState>) -> Response {
    if state.ws_connections.load(std::sync::atomic::Ordering::Relaxed) >= MAX_CONNECTIONS {
        return crate::api::ApiError::Unavailable(format!(
            "at most {MAX_CONNECTIONS} WebSocket connections at once; close a tab and retry"
        ))
        .into_response();
    }
    ws.max_message_size(MAX_CLIENT_MESSAGE)
        .max_frame_size(MAX_CLIENT_MESSAGE)
        .on_upgrade(move |socket| serve(socket, state))
}

/// A message from the browser.
#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum ClientMessage {
    /// `instance` (optional) is the server instance the client saw the run on: a run of an
    /// earlier server process is refused instead of confused with this one's run of that id.
    Subscribe {
        run: u64,
        #[serde(default)]
        instance: Option<String>,
    },
    Unsubscribe {
        run: u64,
    },
    /// This connection drives stepped run `run` (`token` is its step token): while it is open the
    /// run is not let go for want of a driver.
    Drive {
        run: u64,
        token: String,
    },
}

/// Parses a client message, or says what is wrong with it.
pub fn parse_client_message(text: &str) -> Result<ClientMessage, String> {
    serde_json::from_str(text).map_err(|e| {
        format!(
            "could not understand the message ({e}); expected {{\"type\":\"subscribe\",\"run\":ID}}, \
             {{\"type\":\"unsubscribe\",\"run\":ID}} or {{\"type\":\"drive\",\"run\":ID,\"token\":T}}"
        )
    })
}

enum Command {
    Client(ClientMessage),
    Error(String),
    /// The client broke the protocol: close with this code and reason.
    Close(u16, &'static str),
}

/// WebSocket close codes (RFC 6455, section 7.4.1).
pub mod close_code {
    pub const GOING_AWAY: u16 = 1001;
    pub const PROTOCOL_ERROR: u16 = 1002;
    pub const INVALID_DATA: u16 = 1007;
    pub const TOO_BIG: u16 = 1009;
}

/// The close frame a read error calls for, or None when the connection is simply gone.
fn close_for(error: axum::Error) -> Option<(u16, &'static str)> {
    use tungstenite::Error as E;
    match *error.into_inner().downcast::<E>().ok()? {
        E::Capacity(_) => Some((close_code::TOO_BIG, "message too big: at most 4 KiB")),
        E::Utf8(_) => Some((close_code::INVALID_DATA, "text message is not valid UTF-8")),
        E::Protocol(_) => Some((close_code::PROTOCOL_ERROR, "WebSocket protocol error")),
        _ => None,
    }
}

struct Subscription {
    run: Arc<Run>,
    cursor: usize,
    /// The step gate's version last sent (stepped runs only).
    step_version: Option<u64>,
    /// Held while the run is running: the recorder drains for a live viewer.
    _live: Option<futurescope_recorder::LiveViewer>,
}

/// The stepped runs this connection drives; dropping it tells each the driver is gone.
#[derive(Default)]
struct Driving(Vec<Arc<Run>>);

impl Drop for Driving {
    fn drop(&mut self) {
        for run in &self.0 {
            if let Some(step) = &run.step {
                step.detach();
            }
        }
    }
}

/// Counts a connection in `AppState::ws_connections` while it is open.
struct Connected(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl Drop for Connected {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

async fn serve(socket: WebSocket, state: AppState) {
    state.ws_connections.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let _connected = Connected(state.ws_connections.clone());
    let (sink, mut stream) = socket.split();
    let mut sink = Client { sink, send_timeout: state.ws_send_timeout };
    let (commands, mut command_rx) = mpsc::channel::<Command>(32);

    // Receive task: the only reader of the socket.
    let receiver = tokio::spawn(async move {
        while let Some(msg) = stream.next().await {
            let cmd = match msg {
                Ok(Message::Text(text)) => match parse_client_message(text.as_str()) {
                    Ok(m) => Command::Client(m),
                    Err(e) => Command::Error(e),
                },
                Ok(Message::Binary(_)) => Command::Error("binary messages are not understood; send JSON text".into()),
                Ok(Message::Close(_)) => break,
                Ok(Message::Ping(_) | Message::Pong(_)) => continue,
                Err(e) => match close_for(e) {
                    Some((code, reason)) => Command::Close(code, reason),
                    None => break,
                },
            };
            let last = matches!(cmd, Command::Close(..));
            if commands.send(cmd).await.is_err() || last {
                break;
            }
        }
    });

    let mut notices = state.runs.subscribe_notices();
    let mut shutdown = state.runs.shutdown_signal();
    let hello = json!({
        "type": "hello",
        "v": 1,
        "server": concat!("futurescope ", env!("CARGO_PKG_VERSION")),
        "instance": state.runs.instance(),
        "console": state.console,
        "runs": state.runs.list().iter().map(|r| r.summary()).collect::<Vec<_>>(),
    });
    let mut subs: Vec<Subscription> = Vec::new();
    let mut driving = Driving::default();
    let mut tick = tokio::time::interval(BATCH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Once the server shuts down: stream what the (cancelled) runs still record, their `end`s,
    // then say goodbye with "going away".
    let mut closing: Option<tokio::time::Instant> = None;
    let mut ok = send_text(&mut sink, hello.to_string()).await;
    while ok {
        tokio::select! {
            cmd = command_rx.recv() => {
                let Some(cmd) = cmd else { break };
                if let Command::Close(code, reason) = cmd {
                    send_close(&mut sink, code, reason).await;
                    break;
                }
                ok = handle_command(&state, &mut subs, &mut driving, cmd, &mut sink).await;
            }
            notice = notices.recv() => {
                ok = match notice {
                    Ok(Notice::Started(id)) => match state.runs.get(id) {
                        Some(run) => send_text(&mut sink, run_message(&run).to_string()).await,
                        None => true,
                    },
                    Ok(Notice::Ended(_)) => true,
                    Ok(Notice::Evicted { run, reason }) => {
                        subs.retain(|s| s.run.id != run);
                        send_text(&mut sink, json!({"type": "evicted", "run": run, "reason": reason}).to_string()).await
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => true,
                    Err(broadcast::error::RecvError::Closed) => false,
                };
            }
            changed = shutdown.changed(), if closing.is_none() => {
                if changed.is_err() || *shutdown.borrow() {
                    closing = Some(tokio::time::Instant::now() + SHUTDOWN_FLUSH);
                }
            }
            _ = tick.tick() => {
                ok = send_batches(&mut subs, &mut sink).await;
                if ok && closing.is_some_and(|by| subs.is_empty() || tokio::time::Instant::now() >= by) {
                    send_close(&mut sink, close_code::GOING_AWAY, "the server is shutting down").await;
                    break;
                }
            }
        }
    }
    receiver.abort();
}

type Sink = Client;

/// The client's sink and how long a send may stay blocked before the client is let go.
struct Client {
    sink: futures::stream::SplitSink<WebSocket, Message>,
    send_timeout: Duration,
}

async fn send_text(client: &mut Client, text: String) -> bool {
    let send = client.sink.send(Message::Text(Utf8Bytes::from(text)));
    matches!(tokio::time::timeout(client.send_timeout, send).await, Ok(Ok(())))
}

async fn send_close(client: &mut Client, code: u16, reason: &'static str) {
    let frame = axum::extract::ws::CloseFrame { code, reason: Utf8Bytes::from_static(reason) };
    let _ = tokio::time::timeout(client.send_timeout, client.sink.send(Message::Close(Some(frame)))).await;
    let _ = tokio::time::timeout(client.send_timeout, client.sink.close()).await;
}

fn run_message(run: &Run) -> serde_json::Value {
    let s = run.summary();
    json!({"type": "run", "run": s.id, "instance": s.instance, "scenario": s.scenario, "program": s.program, "params": s.params, "status": s.status})
}

/// Acts on a client message. A subscribe only registers (or restarts) the subscription: the
/// next tick sends, so a burst of subscribe/unsubscribe pairs costs at most one tick's sending,
/// whatever its length.
async fn handle_command(
    state: &AppState,
    subs: &mut Vec<Subscription>,
    driving: &mut Driving,
    cmd: Command,
    sink: &mut Sink,
) -> bool {
    match cmd {
        Command::Error(e) => send_text(sink, json!({"type": "error", "error": e}).to_string()).await,
        Command::Close(..) => false,
        Command::Client(ClientMessage::Subscribe { run, instance }) => {
            if let Some(instance) = instance
                && let Err(e) = crate::api::check_instance(state, run, &instance)
            {
                let msg = json!({"type": "error", "error": e.to_string(), "run": run, "instance": instance});
                return send_text(sink, msg.to_string()).await;
            }
            let Some(found) = state.runs.get(run) else {
                let e = format!("no run {run} (it never existed or was evicted)");
                return send_text(sink, json!({"type": "error", "error": e, "run": run}).to_string()).await;
            };
            if let Some(existing) = subs.iter_mut().find(|s| s.run.id == run) {
                // One subscription per run: subscribing again restarts its replay.
                existing.cursor = 0;
                existing.step_version = None;
            } else if subs.len() >= MAX_SUBSCRIPTIONS {
                let e = format!("at most {MAX_SUBSCRIPTIONS} subscriptions per connection; unsubscribe first");
                return send_text(sink, json!({"type": "error", "error": e, "run": run}).to_string()).await;
            } else {
                let live = (!found.is_over()).then(|| state.runs.watch_live());
                subs.push(Subscription { run: found.clone(), cursor: 0, step_version: None, _live: live });
            }
            send_text(sink, run_message(&found).to_string()).await
        }
        Command::Client(ClientMessage::Unsubscribe { run }) => {
            subs.retain(|s| s.run.id != run);
            true
        }
        Command::Client(ClientMessage::Drive { run, token }) => {
            let refused = match state.runs.get(run) {
                None => Some(format!("no run {run} (it never existed or was evicted)")),
                Some(found) => match &found.step {
                    None => Some(format!("run {run} is not in step mode")),
                    Some(step) if !step.token_ok(&token) => {
                        Some(format!("that is not run {run}'s step token: only its driver may drive it"))
                    }
                    Some(step) => {
                        if !driving.0.iter().any(|r| r.id == run) {
                            step.attach();
                            driving.0.push(found.clone());
                        }
                        None
                    }
                },
            };
            match refused {
                Some(e) => send_text(sink, json!({"type": "error", "error": e, "run": run}).to_string()).await,
                None => send_text(sink, json!({"type": "driving", "run": run}).to_string()).await,
            }
        }
    }
}

/// Sends each subscription's new events; ends the subscriptions whose run is over and sent.
async fn send_batches(subs: &mut Vec<Subscription>, sink: &mut Sink) -> bool {
    let mut budget = MAX_PER_TICK;
    let mut i = 0;
    while i < subs.len() {
        let sub = &mut subs[i];
        // Read "over" before the length: a run is over only once its log is complete.
        let over = sub.run.is_over();
        let len = sub.run.log.len();
        while sub.cursor < len && budget > 0 {
            let n = (len - sub.cursor).min(MAX_BATCH).min(budget);
            let mut text = String::with_capacity(n * 70 + 64);
            text.push_str(&format!(r#"{{"type":"batch","run":{},"events":["#, sub.run.id));
            let next = sub.run.log.encode_range(sub.cursor, n, ",", &mut text);
            text.push_str("]}");
            budget -= next - sub.cursor;
            sub.cursor = next;
            if !send_text(sink, text).await {
                return false;
            }
        }
        if let Some(step) = &sub.run.step {
            let version = step.gate.version();
            if sub.step_version != Some(version) {
                sub.step_version = Some(version);
                let mut msg = step.state_json(&sub.run);
                msg["type"] = json!("step");
                if !send_text(sink, msg.to_string()).await {
                    return false;
                }
            }
        }
        if over && sub.cursor >= len {
            let s = sub.run.summary();
            let end = json!({"type": "end", "run": s.id, "status": s.status, "error": s.error, "counts": s.counts, "duration_ns": s.duration_ns});
            if !send_text(sink, end.to_string()).await {
                return false;
            }
            subs.remove(i);
        } else {
            i += 1;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_two_messages() {
        assert_eq!(
            parse_client_message(r#"{"type":"subscribe","run":3}"#),
            Ok(ClientMessage::Subscribe { run: 3, instance: None })
        );
        assert_eq!(
            parse_client_message(r#"{"type":"subscribe","run":3,"instance":"ab12"}"#),
            Ok(ClientMessage::Subscribe { run: 3, instance: Some("ab12".into()) })
        );
        assert_eq!(
            parse_client_message(r#"{"type":"unsubscribe","run":3}"#),
            Ok(ClientMessage::Unsubscribe { run: 3 })
        );
        assert_eq!(
            parse_client_message(r#"{"type":"drive","run":3,"token":"ab"}"#),
            Ok(ClientMessage::Drive { run: 3, token: "ab".into() })
        );
    }

    #[test]
    fn rejects_junk_with_a_reason() {
        for bad in [
            "",
            "{",
            "null",
            "[]",
            r#"{"type":"subscribe"}"#,
            r#"{"type":"subscribe","run":-1}"#,
            r#"{"type":"nope"}"#,
            r#"{"type":"subscribe","run":1,"x":2}"#,
            r#"{"type":"subscribe","run":"1"}"#,
        ] {
            let e = parse_client_message(bad).unwrap_err();
            assert!(e.contains("expected {\"type\":\"subscribe\""), "{bad}: {e}");
        }
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Any text at all gets an answer, never a panic; valid messages round-trip.
        #[test]
        fn any_text_is_parsed_or_refused(text in ".{0,200}") {
            let _ = parse_client_message(&text);
        }

        #[test]
        fn json_shaped_junk_is_refused_with_the_expected_forms(kind in "[a-z]{0,12}", run in proptest::num::i64::ANY, extra in proptest::option::of("[a-z]{1,5}")) {
            let mut v = serde_json::json!({"type": kind, "run": run});
            if let Some(x) = &extra { v[x.as_str()] = serde_json::json!(1); }
            match parse_client_message(&v.to_string()) {
                Ok(ClientMessage::Subscribe { run: r, .. }) | Ok(ClientMessage::Unsubscribe { run: r }) => {
                    prop_assert!(kind == "subscribe" || kind == "unsubscribe");
                    prop_assert_eq!(r as i64, run);
                    prop_assert!(extra.is_none() || extra.as_deref() == Some("run") || extra.as_deref() == Some("type"));
                }
                Ok(ClientMessage::Drive { .. }) => prop_assert!(false, "a drive message needs a string token"),
                Err(e) => prop_assert!(e.contains("expected")),
            }
        }
    }
}

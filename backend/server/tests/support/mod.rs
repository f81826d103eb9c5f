//! Test support: a real dashboard server on 127.0.0.1:0, on its own quiet thread and runtime,
//! exactly as `futurescope serve` runs it.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futurescope::runs::{RunManager, RunManagerConfig};
use futurescope::{AccessPolicy, AppState, observe};
use futurescope_recorder::Recorder;

pub struct TestServer {
    pub addr: SocketAddr,
    pub state: AppState,
}

static CONSOLE: OnceLock<Option<observe::ConsoleInfo>> = OnceLock::new();

/// Installs the process's dispatch once: with console-subscriber when `console` (the first
/// caller decides for the whole test binary).
pub fn install(console: bool) -> Option<observe::ConsoleInfo> {
    CONSOLE
        .get_or_init(|| {
            let addr = console.then(|| "127.0.0.1:0".parse().unwrap());
            observe::install(addr).expect("installing the dispatch")
        })
        .clone()
}

pub fn state_for(addr: SocketAddr, config: RunManagerConfig, console: Option<&observe::ConsoleInfo>) -> AppState {
    AppState {
        runs: RunManager::new(Recorder::global(), config),
        access: Arc::new(AccessPolicy::new(addr, None)),
        console: console.map(|c| c.addr.to_string()),
        console_clients: console.map(|c| c.clients.clone()),
        ws_send_timeout: futurescope::WS_SEND_TIMEOUT,
        opened: None,
        ws_connections: Default::default(),
    }
}

/// Starts a server; it runs until the test process exits.
pub fn start(console: bool, config: RunManagerConfig) -> TestServer {
    start_with(console, config, |_| {})
}

/// Starts a server after `adjust` has changed its state (limits, timeouts).
pub fn start_with(console: bool, config: RunManagerConfig, adjust: impl FnOnce(&mut AppState)) -> TestServer {
    let info = install(console);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut state = state_for(addr, config, info.as_ref());
    adjust(&mut state);
    let for_thread = state.clone();
    std::thread::spawn(move || {
        let rt = observe::server_runtime().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, futurescope::app(for_thread)).await.unwrap();
        });
    });
    TestServer { addr, state }
}

/// Waits until run `id` is over (bounded).
pub fn wait_over(state: &AppState, id: u64, limit: Duration) {
    let run = state.runs.get(id).expect("the run exists");
    let deadline = std::time::Instant::now() + limit;
    while !run.is_over() {
        assert!(std::time::Instant::now() < deadline, "run {id} did not end within {limit:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

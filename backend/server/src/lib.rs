//! futurescope: a localhost dashboard that shows async Rust running: every poll, wake and
//! waker operation of a scenario's tokio tasks, live, on a browser timeline; or of your own
//! program's, with `futurescope::init()` at the top of its `main` (see `program`).
//!
//! Layout:
//! - `cli`: the command line (`serve`, `list`, `run`, `open`); `main.rs` only calls it.
//! - `observe`: installs the process's tracing dispatch (the recorder, with or without
//!   console-subscriber) and keeps the dashboard's own threads out of it.
//! - `runs`: the run manager: starts scenarios on their own threads and runtimes, cancels
//!   them, enforces time limits, keeps finished runs within a memory budget.
//! - `api`: the HTTP handlers and the error type they answer with.
//! - `step`: step mode's driver, handlers and state (the gate is the recorder's).
//! - `ws`: the WebSocket stream of a run's events.
//! - `page`: the askama page and the embedded frontend and static files.
//! - `guard`: who may talk to the dashboard (Host, Origin, token).
//! - `export`: Chrome trace JSON.
//! - `program`: `init()` / `layer()` / `Builder`: the dashboard for the calling process.
//!
//! `app(state)` builds the whole router, so tests drive it with `tower::ServiceExt::oneshot`.

pub mod api;
pub mod cli;
pub mod export;
pub mod guard;
pub mod observe;
pub mod page;
pub mod program;
pub mod runs;
pub mod step;
pub mod ws;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderName, HeaderValue};
use axum::routing::{get, post};
use tower_http::set_header::SetResponseHeaderLayer;

#[cfg(not(tokio_unstable))]
compile_error!(
    "futurescope needs tokio's unstable APIs (task tracing spans, waker events, runtime hooks): \
     build with `--cfg tokio_unstable`. Add to `.cargo/config.toml` at the root of your workspace:\n\
     [build]\n\
     rustflags = [\"--cfg\", \"tokio_unstable\"]\n\
     (or set RUSTFLAGS=\"--cfg tokio_unstable\"); tokio's `tracing` feature is enabled by futurescope itself."
);

pub use guard::AccessPolicy;
pub use program::{Builder, Futurescope, FuturescopeLayer, InitError, init, layer, save};
pub use runs::{RunManager, RunManagerConfig};

/// Caps glibc's malloc arenas. Every run starts and stops runtime threads, and glibc gives
/// new threads new arenas (up to 8 per core) that keep freed memory: the soak benchmark's
/// memory crept up for minutes without this, and stays flat with it.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator tunable; called before the process starts threads.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub runs: Arc<RunManager>,
    pub access: Arc<AccessPolicy>,
    /// The console-subscriber gRPC address, when it is on.
    pub console: Option<String>,
    /// How many tokio-console clients are connected right now (when it is on).
    pub console_clients: Option<Arc<std::sync::atomic::AtomicUsize>>,
    /// A WebSocket client whose socket accepts nothing for this long is disconnected.
    pub ws_send_timeout: std::time::Duration,
    /// A saved run given to `futurescope open FILE`, served at `/api/opened`.
    pub opened: Option<Arc<OpenedRun>>,
    /// WebSocket connections open right now.
    pub ws_connections: Arc<std::sync::atomic::AtomicUsize>,
}

/// A saved run (JSON lines with the `futurescope-events` header) opened from the command line.
#[derive(Debug)]
pub struct OpenedRun {
    pub file_name: String,
    pub body: String,
}

/// The default `AppState::ws_send_timeout`.
pub const WS_SEND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The dashboard's router: page, assets, API and WebSocket, behind the access guard.
/// A header set on every response that does not set it itself.
fn always(name: &'static str, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(HeaderName::from_static(name), HeaderValue::from_static(value))
}

pub fn app(state: AppState) -> Router {
    let api = Router::new()
        .route("/api/scenarios", get(api::scenarios))
        .route("/api/runs", get(api::list_runs).post(api::create_run))
        .route("/api/runs/{id}", get(api::run_status))
        .route("/api/runs/{id}/cancel", post(api::cancel_run))
        .route("/api/runs/{id}/snapshot", post(api::snapshot_run))
        .route("/api/runs/{id}/events", get(api::run_events))
        .route("/api/runs/{id}/export", get(api::run_export))
        .route("/api/runs/{id}/source", get(api::run_source))
        .route("/api/runs/{id}/step", get(step::state).post(step::step))
        .route("/api/runs/{id}/step-to-wake", post(step::to_wake))
        .route("/api/runs/{id}/run-until", post(step::until_task))
        .route("/api/runs/{id}/continue", post(step::resume))
        .route("/api/runs/{id}/pause", post(step::pause))
        .route("/api/console", get(api::console))
        .route("/api/opened", get(api::opened))
        .route("/api/health", get(api::health));
    Router::new()
        .route("/", get(page::index))
        .route("/assets/{*path}", get(page::asset))
        .route("/static/{*path}", get(page::static_file))
        .route("/ws", get(ws::upgrade))
        .merge(api)
        // Keep other origins out of the page: no framing (clickjacking), no shared browsing
        // context, no cross-origin subresources (everything the page loads is its own).
        // Together they make the page cross-origin isolated, which also gives it the browser's
        // fine-grained timer: frame times are not rounded to 0.1 ms.
        .layer(always("content-security-policy", "frame-ancestors 'none'"))
        .layer(always("cross-origin-opener-policy", "same-origin"))
        .layer(always("cross-origin-embedder-policy", "require-corp"))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(64 * 1024))
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard::check))
        .with_state(state)
}

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
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
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
        .layer(tower_http::limit::RequestBodyLimitLayer::new(MAX_REQUEST_BODY))
        // A client that stops sending its body half way is answered (and let go) after this.
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(BODY_READ_TIMEOUT))
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard::check))
        .layer(axum::middleware::map_response(json_errors))
        .with_state(state)
}

/// Largest request body accepted.
pub const MAX_REQUEST_BODY: usize = 64 * 1024;
/// How long a request body may take to arrive.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Every error is JSON `{"error": "..."}`: the answers of layers and extractors that answer in
/// plain text (the body limit's 413, an unknown method's 405, a bad upgrade) are rewritten.
async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json =
        response.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.map(|b| String::from_utf8_lossy(&b).trim().to_owned());
    let message = match text {
        _ if status == StatusCode::PAYLOAD_TOO_LARGE => {
            format!("the request body is larger than {} KiB", MAX_REQUEST_BODY >> 10)
        }
        Ok(text) if !text.is_empty() => text,
        _ => status.canonical_reason().unwrap_or("error").to_owned(),
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Response::from_parts(parts, axum::body::Body::from(serde_json::json!({ "error": message }).to_string()))
}

/// Limits of the HTTP server loop (`serve`).
#[derive(Clone, Debug)]
pub struct ServeLimits {
    /// A connection that has not sent a whole request head within this is closed (this also
    /// ends idle keep-alive connections).
    pub header_read_timeout: Duration,
    /// Most HTTP connections at once; further ones wait in the listen queue.
    pub max_connections: usize,
    /// After shutdown starts, how long open connections get to finish.
    pub shutdown_grace: Duration,
}

impl Default for ServeLimits {
    fn default() -> Self {
        ServeLimits {
            header_read_timeout: Duration::from_secs(10),
            max_connections: 256,
            shutdown_grace: Duration::from_secs(8),
        }
    }
}

/// Serves `app(state)` on `listener` until `shutdown` resolves, then shuts down gracefully:
/// stops accepting, cancels the runs, lets WebSocket clients receive their runs' last events
/// and `end`s and a "going away" close, and lets HTTP requests in flight finish (all bounded by
/// `limits.shutdown_grace`).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    limits: ServeLimits,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let runs = state.runs.clone();
    let ws_connections = state.ws_connections.clone();
    let router = app(state);
    let permits = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            () = &mut shutdown => break,
            p = permits.clone().acquire_owned() => p.expect("the semaphore is never closed"),
        };
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => {
                    // Out of file descriptors, or a connection reset before it was accepted.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let service = hyper_util::service::TowerToHyperService::new(router.clone());
        let mut stopped = stopped.clone();
        let header_timeout = limits.header_read_timeout;
        tokio::spawn(async move {
            let _permit = permit;
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder.timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(header_timeout);
            let conn = builder.serve_connection(hyper_util::rt::TokioIo::new(stream), service).with_upgrades();
            tokio::pin!(conn);
            let mut stopping = false;
            loop {
                tokio::select! {
                    _ = conn.as_mut() => break,
                    _ = stopped.changed(), if !stopping => stopping = true,
                }
                if stopping {
                    conn.as_mut().graceful_shutdown();
                }
            }
        });
    }
    drop(listener);
    runs.shut_down();
    stop.send_replace(true);
    let deadline = tokio::time::Instant::now() + limits.shutdown_grace;
    while (permits.available_permits() < limits.max_connections
        || ws_connections.load(std::sync::atomic::Ordering::Relaxed) > 0)
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

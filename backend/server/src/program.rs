//! Watching your own program: `futurescope::init()` at the top of `main` serves the dashboard
//! for the calling process, which is one run (status `running`) for as long as it lives.
//!
//! What `init` does:
//! - switches the recorder to polls from tokio's tracing alone (`set_tracing_polls`), so
//!   runtimes the program builds itself (`#[tokio::main]` included, and those built later)
//!   are recorded without hooks, and `block_on` futures become tasks;
//! - makes a run for the program that every thread working for no other run records into;
//! - installs the recorder as the global tracing subscriber (with console-subscriber beside it
//!   when `FUTURESCOPE_CONSOLE_BIND` or `Builder::console_bind` asks for it);
//! - serves the dashboard on its own thread and runtime, whose threads are never recorded;
//! - keeps the run within a retention window (`Builder::retention`, `retention_bytes`;
//!   `FUTURESCOPE_RETENTION=10m`, `FUTURESCOPE_RETENTION_MIB=256`), so a program that runs
//!   for days does not grow without bound (see the recorder's `retain` module).
//! - registers each runtime the program builds for task dumps (snapshots) when the recorder
//!   first sees one of its threads poll (`dump::adopt_runtimes`).
//!
//! A program that installs its own subscriber uses `futurescope::layer()` in its registry
//! instead (which serves the dashboard the same way). The access rules are the binary's:
//! loopback only unless `allow_remote` (then a token, printed at start, is required), and
//! `Host` / `Origin` must name the dashboard.

use futurescope_recorder::LockUnpoisoned;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futurescope_recorder::{Recorder, RecorderLayer, Retention};
use tracing_core::span::{Attributes, Id};
use tracing_core::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

use crate::observe::{self, ConsoleInfo};
use crate::runs::{ProgramInfo, Run, RunManager, RunManagerConfig};
use crate::{AccessPolicy, AppState};

/// The dashboard's address unless `FUTURESCOPE_BIND` or `Builder::bind` says otherwise.
pub const DEFAULT_BIND: &str = "127.0.0.1:6680";

/// Why `try_init` could not start.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("futurescope is already watching this process (init() or layer() was called before)")]
    AlreadyStarted,
    #[error("FUTURESCOPE_BIND / FUTURESCOPE_CONSOLE_BIND must be an address like 127.0.0.1:6680, got `{0}`")]
    BadAddress(String),
    #[error(
        "refusing to listen on {0} (not a loopback address): anyone who can reach it could see the program; \
         call Builder::allow_remote(true) to do it anyway (a token is then required)"
    )]
    NotLoopback(SocketAddr),
    #[error("cannot listen on {addr}: {source} (set FUTURESCOPE_BIND=127.0.0.1:PORT to use another port)")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error(transparent)]
    Console(#[from] observe::ObserveError),
    #[error(
        "a global tracing subscriber is already installed: add futurescope::layer() to your own \
         tracing_subscriber::registry() instead of calling futurescope::init()"
    )]
    SubscriberInstalled,
    #[error("cannot start the dashboard's thread: {0}")]
    Thread(std::io::Error),
    #[error(
        "FUTURESCOPE_RETENTION must be a duration like 90s, 10m or 1h, and FUTURESCOPE_RETENTION_MIB a number of \
         MiB (at least 16), got `{0}`"
    )]
    BadRetention(String),
}

/// Settings for watching this process. `Builder::new()` reads `FUTURESCOPE_BIND`,
/// `FUTURESCOPE_CONSOLE_BIND`, `FUTURESCOPE_RETENTION` and `FUTURESCOPE_RETENTION_MIB`; the
/// methods override them.
#[derive(Debug, Clone)]
pub struct Builder {
    bind: Result<SocketAddr, String>,
    console_bind: Option<Result<SocketAddr, String>>,
    allow_remote: bool,
    /// How much of its history the program's run keeps (see `retention`).
    retention: Result<Retention, String>,
}

/// A duration as `FUTURESCOPE_RETENTION` spells it: `90s`, `10m`, `1h`, `500ms`, or seconds.
fn parse_duration(v: &str) -> Option<Duration> {
    let v = v.trim();
    let split = v.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(v.len());
    let (number, unit) = v.split_at(split);
    let number: f64 = number.parse().ok()?;
    let secs = match unit.trim() {
        "" | "s" => number,
        "ms" => number / 1e3,
        "m" | "min" => number * 60.0,
        "h" => number * 3600.0,
        _ => return None,
    };
    (secs.is_finite() && secs > 0.0).then(|| Duration::from_secs_f64(secs))
}

/// The retention `FUTURESCOPE_RETENTION` / `FUTURESCOPE_RETENTION_MIB` ask for.
fn env_retention() -> Result<Retention, String> {
    let mut retention = Retention::DEFAULT;
    if let Ok(v) = std::env::var("FUTURESCOPE_RETENTION") {
        retention.max_age = parse_duration(&v).ok_or(v)?;
    }
    if let Ok(v) = std::env::var("FUTURESCOPE_RETENTION_MIB") {
        let mib: usize = v.trim().parse().ok().filter(|&m| m >= 16).ok_or(v)?;
        retention.max_bytes = mib << 20;
    }
    Ok(retention)
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

fn env_addr(name: &str) -> Option<Result<SocketAddr, String>> {
    let v = std::env::var(name).ok()?;
    let v = v.trim().to_owned();
    Some(v.parse().map_err(|_| v))
}

impl Builder {
    pub fn new() -> Builder {
        Builder {
            bind: env_addr("FUTURESCOPE_BIND").unwrap_or_else(|| Ok(DEFAULT_BIND.parse().expect("a valid address"))),
            console_bind: env_addr("FUTURESCOPE_CONSOLE_BIND"),
            allow_remote: false,
            retention: env_retention(),
        }
    }

    /// Keeps the last `window` of the program's events (default 10 minutes): older ones are
    /// evicted in chunks, counted, and the page says "showing the last N minutes". Tasks
    /// still alive keep their spawn (name and location) however old it is.
    pub fn retention(mut self, window: Duration) -> Builder {
        let bytes = self.retention.as_ref().map_or(Retention::DEFAULT.max_bytes, |r| r.max_bytes);
        self.retention = Ok(Retention { max_age: window, max_bytes: bytes });
        self
    }

    /// Caps what the program's run keeps at about `bytes` (default 256 MiB; at least 16 MiB),
    /// evicting its oldest events first, however recent.
    pub fn retention_bytes(mut self, bytes: usize) -> Builder {
        let age = self.retention.as_ref().map_or(Retention::DEFAULT.max_age, |r| r.max_age);
        self.retention = Ok(Retention { max_age: age, max_bytes: bytes.max(16 << 20) });
        self
    }

    /// Serves the dashboard on `addr` (port 0: any free port; `Futurescope::addr` tells).
    pub fn bind(mut self, addr: SocketAddr) -> Builder {
        self.bind = Ok(addr);
        self
    }

    /// Also serves console-subscriber on `addr`, for `tokio-console` (only with `init`: with
    /// `layer`, add console-subscriber's own layer to your registry).
    pub fn console_bind(mut self, addr: SocketAddr) -> Builder {
        self.console_bind = Some(Ok(addr));
        self
    }

    /// Allows a non-loopback `bind`; a token printed at start is then required.
    pub fn allow_remote(mut self, allow: bool) -> Builder {
        self.allow_remote = allow;
        self
    }

    /// Installs the recorder as the global tracing subscriber and serves the dashboard.
    /// Panics with the reason when it cannot (see `try_init`).
    pub fn init(self) -> Futurescope {
        self.try_init().unwrap_or_else(|e| panic!("futurescope: {e}"))
    }

    /// Like `init`, returning why it could not start instead of panicking.
    pub fn try_init(self) -> Result<Futurescope, InitError> {
        if tracing::dispatcher::has_been_set() {
            return Err(InitError::SubscriberInstalled);
        }
        let console = match self.console_bind.clone() {
            // console-subscriber's own variable: a tokio-console recording of the program.
            Some(Ok(addr)) => {
                Some(observe::console_layer(addr, std::env::var_os("TOKIO_CONSOLE_RECORD_PATH").map(Into::into))?)
            }
            Some(Err(bad)) => return Err(InitError::BadAddress(bad)),
            None => None,
        };
        let info = console.as_ref().map(|(_, info)| info.clone());
        let dashboard = self.start(info)?;
        let installed = match console {
            Some((console, _)) => tracing::subscriber::set_global_default(
                tracing_subscriber::registry().with(console).with(RecorderLayer::new()),
            ),
            None => tracing::subscriber::set_global_default(futurescope_recorder::RecorderSubscriber::new()),
        };
        if installed.is_err() {
            return Err(InitError::SubscriberInstalled);
        }
        Ok(Futurescope { dashboard })
    }

    /// Serves the dashboard and returns the recorder as a layer for the program's own
    /// registry (next to `fmt`, console-subscriber, ...). The dashboard serves for the rest of
    /// the process. Panics with the reason when it cannot start.
    pub fn layer(self) -> FuturescopeLayer {
        let dashboard = self.start(None).unwrap_or_else(|e| panic!("futurescope: {e}"));
        FuturescopeLayer { inner: RecorderLayer::new(), _dashboard: dashboard }
    }

    fn start(&self, console: Option<ConsoleInfo>) -> Result<Arc<Dashboard>, InitError> {
        let bind = self.bind.clone().map_err(InitError::BadAddress)?;
        let retention = self.retention.clone().map_err(InitError::BadRetention)?;
        if !bind.ip().is_loopback() && !self.allow_remote {
            return Err(InitError::NotLoopback(bind));
        }
        let mut result = Err(InitError::AlreadyStarted);
        DASHBOARD.get_or_init(|| match Dashboard::start(bind, console, retention) {
            Ok(d) => {
                let d = Arc::new(d);
                result = Ok(d.clone());
                Some(d)
            }
            Err(e) => {
                result = Err(e);
                None
            }
        });
        result
    }
}

/// Serves the dashboard for this process (`Builder::new().init()`): see the module docs.
/// Keep the guard (`let _fs = futurescope::init();`): dropping it stops the dashboard.
pub fn init() -> Futurescope {
    Builder::new().init()
}

/// The recorder as a layer for your own `tracing_subscriber::registry()`, serving the
/// dashboard for the rest of the process (`Builder::new().layer()`).
pub fn layer() -> FuturescopeLayer {
    Builder::new().layer()
}

/// Saves what this process recorded so far to `path`, in the saved-run format (a header line,
/// then one event per line) that `futurescope open` and the dashboard's file picker open.
pub fn save(path: impl AsRef<Path>) -> std::io::Result<()> {
    match DASHBOARD.get().and_then(|d| d.as_ref()) {
        Some(d) => d.save(path.as_ref()),
        None => Err(std::io::Error::other("futurescope is not watching this process: call futurescope::init() first")),
    }
}

static DASHBOARD: OnceLock<Option<Arc<Dashboard>>> = OnceLock::new();

/// The dashboard serving this process: its thread, address and run.
struct Dashboard {
    addr: SocketAddr,
    token: Option<String>,
    run: Arc<Run>,
    stop: std::sync::Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
}

impl Dashboard {
    fn start(bind: SocketAddr, console: Option<ConsoleInfo>, retention: Retention) -> Result<Dashboard, InitError> {
        let recorder = Recorder::global();
        futurescope_recorder::set_tracing_polls(true);
        let log = recorder.begin_run();
        log.set_retention(retention);
        recorder.set_default_run(log.id);
        // Its runtimes are built later, by the program: each is registered for snapshots
        // when the recorder first sees one of its threads poll.
        futurescope_recorder::dump::adopt_runtimes(log.id);
        let token = (!bind.ip().is_loopback()).then(crate::cli::random_token);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let for_thread = token.clone();
        std::thread::Builder::new()
            .name("futurescope-dashboard".into())
            .spawn(move || {
                let rt = match observe::server_runtime() {
                    Ok(rt) => rt,
                    Err(source) => {
                        let _ = ready_tx.send(Err(InitError::Thread(source)));
                        return;
                    }
                };
                rt.block_on(async move {
                    let listener = match tokio::net::TcpListener::bind(bind).await {
                        Ok(l) => l,
                        Err(source) => {
                            let _ = ready_tx.send(Err(InitError::Bind { addr: bind, source }));
                            return;
                        }
                    };
                    let addr = listener.local_addr().unwrap_or(bind);
                    let runs = RunManager::new(recorder, RunManagerConfig::default());
                    let run = runs.add_program(log, ProgramInfo::current());
                    let state = AppState {
                        runs,
                        access: Arc::new(AccessPolicy::new(addr, for_thread)),
                        console: console.as_ref().map(|c| c.addr.to_string()),
                        console_clients: console.as_ref().map(|c| c.clients.clone()),
                        ws_send_timeout: crate::WS_SEND_TIMEOUT,
                        opened: None,
                        ws_connections: Default::default(),
                    };
                    let _ = ready_tx.send(Ok((addr, run)));
                    let serve = axum::serve(listener, crate::app(state));
                    // Not graceful: an open WebSocket would keep it waiting for ever.
                    tokio::select! {
                        _ = serve => {}
                        _ = stop_rx => {}
                    }
                });
                rt.shutdown_background();
            })
            .map_err(InitError::Thread)?;
        let (addr, run) = ready_rx.recv().map_err(|_| InitError::Thread(std::io::Error::other("it exited")))??;
        let dashboard = Dashboard { addr, token, run, stop: std::sync::Mutex::new(Some(stop_tx)) };
        let program = dashboard.run.program().map(|p| format!("{} (pid {})", p.binary, p.pid)).unwrap_or_default();
        eprintln!("futurescope: watching {program} live on {}", dashboard.url());
        Ok(dashboard)
    }

    fn url(&self) -> String {
        match &self.token {
            Some(t) => format!("http://{}/?run={}&token={t}", self.addr, self.run.id),
            None => format!("http://{}/?run={}", self.addr, self.run.id),
        }
    }

    fn save(&self, path: &Path) -> std::io::Result<()> {
        futurescope_recorder::Recorder::global().flush();
        let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
        crate::api::write_saved_run(&self.run, &mut out)?;
        out.flush()
    }

    fn stop(&self) {
        if let Some(stop) = self.stop.lock_unpoisoned().take() {
            let _ = stop.send(());
        }
    }
}

/// The guard `init` returns: the dashboard serves while it lives.
#[must_use = "the dashboard stops when this guard is dropped: `let _fs = futurescope::init();`"]
pub struct Futurescope {
    dashboard: Arc<Dashboard>,
}

impl Futurescope {
    /// Where the dashboard listens.
    pub fn addr(&self) -> SocketAddr {
        self.dashboard.addr
    }

    /// The page showing this program (with the token, when one is required).
    pub fn url(&self) -> String {
        self.dashboard.url()
    }

    /// The program's run id (as `GET /api/runs` lists it).
    pub fn run_id(&self) -> u64 {
        self.dashboard.run.id
    }

    /// Saves what was recorded so far (see `futurescope::save`).
    pub fn save(&self, path: impl AsRef<Path>) -> std::io::Result<()> {
        self.dashboard.save(path.as_ref())
    }
}

impl Drop for Futurescope {
    fn drop(&mut self) {
        self.dashboard.stop();
    }
}

/// The recorder as a `tracing_subscriber` layer (see `layer`); the dashboard serves for as
/// long as the process runs.
pub struct FuturescopeLayer {
    inner: RecorderLayer,
    _dashboard: Arc<Dashboard>,
}

impl FuturescopeLayer {
    /// Where the dashboard listens.
    pub fn addr(&self) -> SocketAddr {
        self._dashboard.addr
    }
}

impl<S> Layer<S> for FuturescopeLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        self.inner.on_new_span(attrs, id, ctx);
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        self.inner.on_event(event, ctx);
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        self.inner.on_enter(id, ctx);
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        self.inner.on_exit(id, ctx);
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        self.inner.on_close(id, ctx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_durations_as_the_environment_spells_them() {
        assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("10m"), Some(Duration::from_secs(600)));
        assert_eq!(parse_duration(" 1h "), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("45"), Some(Duration::from_secs(45)));
        assert_eq!(parse_duration("1.5m"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("ten minutes"), None);
        assert_eq!(parse_duration("0s"), None);
        assert_eq!(parse_duration("5d"), None);
    }
}

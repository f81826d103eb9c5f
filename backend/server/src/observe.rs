//! What the process's tracing sees: the recorder (and console-subscriber, when on) for the
//! scenarios' runtimes, and nothing at all for the dashboard's own threads.
//!
//! The dispatch is the global default, so every thread a scenario starts records without
//! ceremony. The dashboard's threads (its server runtime, the console gRPC server, the main
//! thread) opt out with `quiet_thread`, which makes a no-op subscriber their default: their
//! tasks create no spans and their wakes are never seen, so neither this dashboard nor
//! tokio-console shows the dashboard itself.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use futurescope_recorder::{RecorderLayer, RecorderSubscriber};
use tracing_subscriber::layer::SubscriberExt;

thread_local! {
    static QUIET: RefCell<Option<tracing::subscriber::DefaultGuard>> = const { RefCell::new(None) };
}

/// Makes this thread invisible to the recorder and to console-subscriber, for its whole life.
pub fn quiet_thread() {
    QUIET.with(|q| {
        let mut q = q.borrow_mut();
        if q.is_none() {
            *q = Some(tracing::subscriber::set_default(tracing::subscriber::NoSubscriber::default()));
        }
    });
}

/// The dashboard's own runtime: two workers whose threads (like the calling thread, made
/// quiet here) are never recorded.
pub fn server_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    quiet_thread();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("futurescope-http")
        .on_thread_start(quiet_thread)
        .enable_all()
        .build()
}

/// The console-subscriber side, when it is on.
#[derive(Clone, Debug)]
pub struct ConsoleInfo {
    pub addr: SocketAddr,
    /// gRPC connections open right now (tokio-console clients).
    pub clients: Arc<AtomicUsize>,
    /// How long console-subscriber keeps a finished task (and its two histograms).
    pub retention: std::time::Duration,
}

/// console-subscriber's retention of finished tasks unless `TOKIO_CONSOLE_RETENTION` says
/// otherwise. Its own default is an hour, during which each finished task keeps about 55 KiB
/// (two HDR histograms): one spawn-many run would hold half a GiB for an hour. A tokio-console
/// client that is attached keeps finished tasks on its own side, so a short retention on the
/// server only shortens what a client attaching later still sees.
pub const DEFAULT_CONSOLE_RETENTION: std::time::Duration = std::time::Duration::from_secs(30);

/// The retention to give console-subscriber: `TOKIO_CONSOLE_RETENTION` (`30s`, `500ms`, `5m`,
/// `1h`, or plain seconds) or `DEFAULT_CONSOLE_RETENTION`.
pub fn console_retention() -> std::time::Duration {
    std::env::var("TOKIO_CONSOLE_RETENTION").ok().and_then(|v| parse_duration(&v)).unwrap_or(DEFAULT_CONSOLE_RETENTION)
}

/// `30s`, `500ms`, `5m`, `1h` or plain seconds.
pub fn parse_duration(text: &str) -> Option<std::time::Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: f64 = number.parse().ok()?;
    let seconds = match unit.trim() {
        "" | "s" => n,
        "ms" => n / 1e3,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        _ => return None,
    };
    (seconds.is_finite() && seconds >= 0.0).then(|| std::time::Duration::from_secs_f64(seconds))
}

impl ConsoleInfo {
    pub fn connected_clients(&self) -> usize {
        self.clients.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn retention_values() {
        assert_eq!(super::parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(super::parse_duration("45"), Some(Duration::from_secs(45)));
        assert_eq!(super::parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(super::parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(super::parse_duration("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(super::parse_duration("soon"), None);
        assert_eq!(super::parse_duration("-1s"), None);
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    #[error("cannot listen for tokio-console on {addr}: {source} (use --console-bind ADDR or --no-console)")]
    ConsoleBind { addr: SocketAddr, source: std::io::Error },
    #[error("a global tracing subscriber was already installed")]
    AlreadyInstalled,
}

/// Installs the global dispatch. With `console` set, console-subscriber's layer and the
/// recorder's share one registry and the gRPC server listens there (on its own quiet thread).
pub fn install(console: Option<SocketAddr>) -> Result<Option<ConsoleInfo>, ObserveError> {
    install_with(console, console_retention())
}

/// Like `install`, with console-subscriber keeping finished tasks for `retention`.
pub fn install_with(
    console: Option<SocketAddr>,
    retention: std::time::Duration,
) -> Result<Option<ConsoleInfo>, ObserveError> {
    install_full(console, None, retention)
}

/// Like `install`; with `recording`, console-subscriber also writes its own recording (JSON
/// lines) to that file, for comparison with the dashboard's.
pub fn install_with_recording(
    console: Option<SocketAddr>,
    recording: Option<std::path::PathBuf>,
) -> Result<Option<ConsoleInfo>, ObserveError> {
    install_full(console, recording, console_retention())
}

fn install_full(
    console: Option<SocketAddr>,
    recording: Option<std::path::PathBuf>,
    retention: std::time::Duration,
) -> Result<Option<ConsoleInfo>, ObserveError> {
    let Some(addr) = console else {
        tracing::subscriber::set_global_default(RecorderSubscriber::new())
            .map_err(|_| ObserveError::AlreadyInstalled)?;
        return Ok(None);
    };
    let (console_layer, info) = console_layer_with(addr, recording, retention)?;
    let registry = tracing_subscriber::registry().with(console_layer).with(RecorderLayer::new());
    tracing::subscriber::set_global_default(registry).map_err(|_| ObserveError::AlreadyInstalled)?;
    Ok(Some(info))
}

/// console-subscriber's layer, with its gRPC server listening on `addr` on a quiet thread of
/// its own; with `recording`, it also writes its own recording to that file.
pub fn console_layer(
    addr: SocketAddr,
    recording: Option<std::path::PathBuf>,
) -> Result<(console_subscriber::ConsoleLayer, ConsoleInfo), ObserveError> {
    console_layer_with(addr, recording, console_retention())
}

/// `console_layer`, keeping finished tasks for `retention`.
pub fn console_layer_with(
    addr: SocketAddr,
    recording: Option<std::path::PathBuf>,
    retention: std::time::Duration,
) -> Result<(console_subscriber::ConsoleLayer, ConsoleInfo), ObserveError> {
    let listener = std::net::TcpListener::bind(addr).map_err(|source| ObserveError::ConsoleBind { addr, source })?;
    let local = listener.local_addr().map_err(|source| ObserveError::ConsoleBind { addr, source })?;
    listener.set_nonblocking(true).map_err(|source| ObserveError::ConsoleBind { addr, source })?;
    let mut builder = console_subscriber::ConsoleLayer::builder().retention(retention);
    if let Some(path) = recording {
        builder = builder.recording_path(path);
    }
    let (console_layer, server) = builder.build();
    let clients = Arc::new(AtomicUsize::new(0));
    let counter = clients.clone();
    std::thread::Builder::new()
        .name("futurescope-console".into())
        .spawn(move || {
            quiet_thread();
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("building the console server's runtime failed: out of file descriptors?");
            rt.block_on(serve_console(listener, server, counter));
        })
        .expect("the OS refused the console server thread");
    Ok((console_layer, ConsoleInfo { addr: local, clients, retention }))
}

async fn serve_console(listener: std::net::TcpListener, server: console_subscriber::Server, clients: Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::from_std(listener).expect("a bound std listener converts");
    let console_subscriber::ServerParts { instrument_server, aggregator, .. } = server.into_parts();
    tokio::spawn(aggregator.run());
    let incoming = futures::stream::unfold((listener, clients), |(listener, clients)| async move {
        let accepted = listener.accept().await.map(|(stream, _)| CountedStream::new(stream, clients.clone()));
        Some((accepted, (listener, clients)))
    });
    let _ = tonic::transport::Server::builder().add_service(instrument_server).serve_with_incoming(incoming).await;
}

/// A TCP connection that counts itself in `clients` while it is open.
struct CountedStream {
    inner: tokio::net::TcpStream,
    clients: Arc<AtomicUsize>,
}

impl CountedStream {
    fn new(inner: tokio::net::TcpStream, clients: Arc<AtomicUsize>) -> Self {
        clients.fetch_add(1, Ordering::Relaxed);
        CountedStream { inner, clients }
    }
}

impl Drop for CountedStream {
    fn drop(&mut self) {
        self.clients.fetch_sub(1, Ordering::Relaxed);
    }
}

impl tokio::io::AsyncRead for CountedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for CountedStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

impl tonic::transport::server::Connected for CountedStream {
    type ConnectInfo = ();

    fn connect_info(&self) -> Self::ConnectInfo {}
}

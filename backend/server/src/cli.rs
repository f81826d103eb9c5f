//! The command line: `futurescope [serve]`, `list`, `run NAME`.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use futurescope_recorder::Recorder;

use crate::runs::{RunManager, RunManagerConfig, RunState};
use crate::{AccessPolicy, AppState, observe};

#[derive(Parser, Debug)]
#[command(
    name = "futurescope",
    version,
    about = "See async Rust run: a live timeline of tokio tasks, polls, wakes and await points"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the dashboard (the default).
    Serve(ServeArgs),
    /// List the scenarios.
    List {
        /// Print the catalogue as JSON (as /api/scenarios does).
        #[arg(long)]
        json: bool,
    },
    /// Run one scenario headless and write its events.
    Run(RunArgs),
    /// Serve the dashboard with a saved run (from the dashboard's Save, `/events`, or
    /// `futurescope run --out`) loaded.
    Open {
        /// The saved run (JSON lines).
        file: std::path::PathBuf,
        #[command(flatten)]
        serve: ServeArgs,
    },
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address for the dashboard.
    #[arg(long, default_value = "127.0.0.1:6680")]
    bind: SocketAddr,
    /// Address for console-subscriber's gRPC server (tokio-console connects here).
    #[arg(long, default_value = "127.0.0.1:6669")]
    console_bind: SocketAddr,
    /// Do not serve console-subscriber (the recorder then runs alone, with less overhead).
    #[arg(long)]
    no_console: bool,
    /// Open the dashboard in a browser.
    #[arg(long)]
    open: bool,
    /// Allow binding a non-loopback address (dashboard or console); a token printed at start is
    /// then required on every dashboard request. The dashboard then answers to the machine's
    /// addresses and host name too.
    #[arg(long)]
    allow_remote: bool,
    /// With --allow-remote: another name the dashboard is reached as (a DNS name, or
    /// `name:port` behind a proxy); repeatable.
    #[arg(long = "public-host", value_name = "HOST")]
    public_host: Vec<String>,
    /// Cancel runs that take longer than this many seconds.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    time_limit: u64,
    /// Keep finished runs until their logs take this many MiB, then evict the oldest.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u64).range(16..=65536))]
    memory_budget_mib: u64,
}

#[derive(Args, Debug)]
struct RunArgs {
    /// Scenario name (see `futurescope list`).
    name: String,
    /// A parameter, as name=value (repeatable).
    #[arg(long = "param", value_parser = parse_pair)]
    params: Vec<(String, String)>,
    /// Output format.
    #[arg(long, value_enum, default_value = "jsonl")]
    format: Format,
    /// Write here instead of standard output.
    #[arg(long)]
    out: Option<std::path::PathBuf>,
    /// Cancel the run after this many seconds.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    time_limit: u64,
    /// Also record the run with console-subscriber into this file (its own JSON-lines
    /// format, which the dashboard can import), to compare the two recordings.
    #[arg(long)]
    console_recording: Option<std::path::PathBuf>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum Format {
    Jsonl,
    Chrome,
}

fn parse_pair(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .ok_or_else(|| format!("expected name=value, got `{s}`"))
}

pub fn main() -> ExitCode {
    crate::tune_allocator();
    let cli = Cli::parse();
    let result = match cli.command {
        None => serve(cli.serve),
        Some(Command::Serve(args)) => serve(args),
        Some(Command::List { json }) => list(json),
        Some(Command::Run(args)) => run(args),
        Some(Command::Open { file, serve: args }) => open(&file).and_then(|opened| serve_with(args, Some(opened))),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("futurescope: {e}");
            ExitCode::from(2)
        }
    }
}

fn list(json: bool) -> Result<ExitCode, String> {
    if json {
        println!("{}", serde_json::to_string_pretty(&crate::api::scenarios_json()).expect("catalogue serializes"));
        return Ok(ExitCode::SUCCESS);
    }
    let mut topic = "";
    for s in futurescope_scenarios::catalogue() {
        if s.topic != topic {
            topic = s.topic;
            println!("\n{topic}");
        }
        println!("  {:<32} {}", s.name, s.summary);
    }
    Ok(ExitCode::SUCCESS)
}

fn run(args: RunArgs) -> Result<ExitCode, String> {
    let scenario = futurescope_scenarios::find(&args.name)
        .ok_or_else(|| format!("unknown scenario `{}`; `futurescope list` shows them", args.name))?;
    let params = futurescope_scenarios::Params::from_pairs(scenario.params, &args.params).map_err(|e| e.to_string())?;
    let console = args.console_recording.as_ref().map(|_| "127.0.0.1:0".parse().expect("a valid address"));
    observe::install_with_recording(console, args.console_recording.clone()).map_err(|e| e.to_string())?;
    observe::quiet_thread();
    let config = RunManagerConfig { time_limit: Duration::from_secs(args.time_limit), ..RunManagerConfig::default() };
    let manager = RunManager::new(Recorder::global(), config);
    let run = manager.start(scenario.name, &params.to_json()).map_err(|e| e.to_string())?;
    while !run.is_over() {
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut out: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).map_err(|e| format!("cannot write {}: {e}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let write = |out: &mut Box<dyn Write>| -> std::io::Result<()> {
        match args.format {
            Format::Jsonl => crate::api::write_saved_run(&run, out)?,
            Format::Chrome => writeln!(out, "{}", crate::export::chrome_trace(&run.log, scenario.name))?,
        }
        out.flush()
    };
    write(&mut out).map_err(|e| format!("writing the events failed: {e}"))?;
    if args.console_recording.is_some() {
        // console-subscriber's recorder thread writes asynchronously; give it a moment to flush.
        std::thread::sleep(Duration::from_millis(500));
    }
    let s = run.summary();
    eprintln!(
        "futurescope: {} {:?} in {:.1} ms: {} events, {} tasks, {} polls, {} wakes, {} dropped{}",
        scenario.name,
        s.status,
        s.duration_ns as f64 / 1e6,
        s.counts.events,
        s.counts.tasks,
        s.counts.polls,
        s.counts.wakes,
        s.counts.dropped,
        s.error.map(|e| format!(": {e}")).unwrap_or_default()
    );
    Ok(if s.status == RunState::Finished { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

pub(crate) fn random_token() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut out = String::new();
    for i in 0..4u64 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(i ^ std::process::id() as u64);
        h.write_u128(
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0),
        );
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out
}

/// Reads and checks a saved run: futurescope's saved-run format (a header line, then the
/// events), or a tokio-console recording (console-subscriber's `recording_path`), which the
/// page converts as its file picker does.
fn open(path: &std::path::Path) -> Result<Arc<crate::OpenedRun>, String> {
    let body = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let header: serde_json::Value = body
        .lines()
        .find(|l| !l.trim().is_empty())
        .and_then(|l| serde_json::from_str(l).ok())
        .ok_or_else(|| format!("{} is not a saved run: its first line is not JSON", path.display()))?;
    let saved_run = header["format"] == "futurescope-events" && header["v"] == 1;
    if !saved_run && !is_console_recording(&header) {
        return Err(format!(
            "{} is not a saved futurescope run (v1) nor a tokio-console recording: its first line should be \
             {{\"format\":\"futurescope-events\",\"v\":1,...}} or a console recording's {{\"v\":1}}",
            path.display()
        ));
    }
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    Ok(Arc::new(crate::OpenedRun { file_name, body }))
}

/// A tokio-console recording's first line: its header `{"v":1}`, or (a recording without
/// one) a record, an object with one key naming its kind.
fn is_console_recording(first: &serde_json::Value) -> bool {
    let Some(obj) = first.as_object() else { return false };
    match obj.keys().map(String::as_str).collect::<Vec<_>>()[..] {
        ["v"] => obj["v"] == 1,
        [kind] => ["Spawn", "Enter", "Exit", "Close", "Waker"].contains(&kind),
        _ => false,
    }
}

fn serve(args: ServeArgs) -> Result<ExitCode, String> {
    serve_with(args, None)
}

fn serve_with(args: ServeArgs, opened: Option<Arc<crate::OpenedRun>>) -> Result<ExitCode, String> {
    if !args.bind.ip().is_loopback() && !args.allow_remote {
        return Err(format!(
            "refusing to listen on {} (not a loopback address): anyone who can reach it could start runs. \
             Pass --allow-remote to do it anyway (a token will then be required).",
            args.bind
        ));
    }
    if !args.no_console && !args.console_bind.ip().is_loopback() && !args.allow_remote {
        return Err(format!(
            "refusing to serve console-subscriber on {} (not a loopback address): its gRPC has no \
             authentication, shows every task's name and spawn location, and lets any client pause \
             the recording. Pass --allow-remote to do it anyway, or --no-console.",
            args.console_bind
        ));
    }
    if !args.public_host.is_empty() && !args.allow_remote {
        return Err("--public-host only makes sense with --allow-remote".into());
    }
    // Bind the dashboard first and then the console, so an error names every port in use.
    let dashboard = bind_dashboard(args.bind);
    let console = if args.no_console { None } else { Some(args.console_bind) };
    let console = match (dashboard.as_ref(), observe::install_with(console, crate::observe::console_retention())) {
        (Ok(_), Ok(c)) => c,
        (Err(d), Err(c)) => return Err(format!("{d}; and {c}")),
        (Err(d), Ok(_)) => return Err(d.clone()),
        (Ok(_), Err(c)) => return Err(c.to_string()),
    };
    let listener = dashboard?;
    observe::quiet_thread();
    let token = (!args.bind.ip().is_loopback()).then(random_token);

    let rt = observe::server_runtime().map_err(|e| format!("cannot start the server runtime: {e}"))?;
    rt.block_on(async move {
        // Signal handlers first: a SIGTERM right after the URL is printed must be graceful too.
        let signals = ShutdownSignals::install().map_err(|e| format!("cannot install signal handlers: {e}"))?;
        let listener = tokio::net::TcpListener::from_std(listener).map_err(|e| e.to_string())?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let config = RunManagerConfig {
            time_limit: Duration::from_secs(args.time_limit),
            memory_budget: (args.memory_budget_mib as usize) << 20,
            console_task_retention: console.as_ref().map(|c| c.retention),
            ..RunManagerConfig::default()
        };
        let runs = RunManager::new(Recorder::global(), config);
        let mut access = AccessPolicy::new(addr, token.clone());
        // The names a browser elsewhere uses for this machine: the first one goes in the URL.
        let mut names = Vec::new();
        if token.is_some() {
            names.extend(args.public_host.iter().cloned());
            names.extend(crate::guard::machine_names(addr.ip()));
            access.allow_names(&names, addr.port());
        }
        let state = AppState {
            runs: runs.clone(),
            access: Arc::new(access),
            console: console.as_ref().map(|c| c.addr.to_string()),
            console_clients: console.as_ref().map(|c| c.clients.clone()),
            ws_send_timeout: crate::WS_SEND_TIMEOUT,
            opened: opened.clone(),
            ws_connections: Default::default(),
        };
        let host_for = |name: &str| match name.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V6(ip)) => format!("[{ip}]:{}", addr.port()),
            Ok(std::net::IpAddr::V4(ip)) => format!("{ip}:{}", addr.port()),
            Err(_) if name.contains(':') => name.to_owned(),
            Err(_) => format!("{name}:{}", addr.port()),
        };
        let hosts: Vec<String> = if token.is_some() && !names.is_empty() {
            names.iter().map(|n| host_for(n)).collect()
        } else if addr.ip().is_unspecified() {
            vec![format!("127.0.0.1:{}", addr.port())]
        } else {
            vec![addr.to_string()]
        };
        let url_for = |host: &str| {
            let mut url = match &token {
                Some(t) => format!("http://{host}/?token={t}"),
                None => format!("http://{host}/"),
            };
            if opened.is_some() {
                url.push_str(if token.is_some() { "&opened=1" } else { "?opened=1" });
            }
            url
        };
        let url = url_for(&hosts[0]);
        // Whoever started us may stop reading stdout; that must not stop the dashboard.
        let mut stdout = std::io::stdout();
        let _ = writeln!(stdout, "futurescope {}: dashboard on {url}", env!("CARGO_PKG_VERSION"));
        for other in hosts.iter().skip(1) {
            let _ = writeln!(stdout, "futurescope: also reachable as {}", url_for(other));
        }
        let _ = match &console {
            Some(c) => writeln!(stdout, "futurescope: tokio-console can attach with: tokio-console http://{}", c.addr),
            None => writeln!(stdout, "futurescope: console-subscriber is off (--no-console)"),
        };
        let _ = stdout.flush();
        if args.open {
            let _ = std::process::Command::new("xdg-open").arg(&url).spawn();
        }
        crate::serve(listener, state, crate::ServeLimits::default(), signals.wait()).await;
        Ok::<_, String>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Binds the dashboard's listener. A loopback address is refused when a server already listens
/// on the other loopback family's address with the same port (`[::1]:P` beside
/// `127.0.0.1:P`): `localhost:P` would reach either, and a user expects one dashboard per port.
fn bind_dashboard(addr: SocketAddr) -> Result<std::net::TcpListener, String> {
    let in_use =
        |e: std::io::Error| format!("cannot listen on {addr}: {e} (is another futurescope running? use --bind ADDR)");
    if addr.ip().is_loopback() && addr.port() != 0 {
        let other: SocketAddr = match addr {
            SocketAddr::V4(_) => (std::net::Ipv6Addr::LOCALHOST, addr.port()).into(),
            SocketAddr::V6(_) => (std::net::Ipv4Addr::LOCALHOST, addr.port()).into(),
        };
        if std::net::TcpStream::connect_timeout(&other, Duration::from_millis(300)).is_ok() {
            return Err(format!(
                "cannot listen on {addr}: a server already listens on {other}, and localhost:{} reaches \
                 both (is another futurescope running? use --bind ADDR with another port)",
                addr.port()
            ));
        }
    }
    let listener = std::net::TcpListener::bind(addr).map_err(in_use)?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    Ok(listener)
}

/// ctrl-c and SIGTERM, listened for from before the server starts.
struct ShutdownSignals {
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl ShutdownSignals {
    fn install() -> std::io::Result<ShutdownSignals> {
        Ok(ShutdownSignals {
            #[cfg(unix)]
            terminate: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?,
        })
    }

    /// Resolves on ctrl-c or SIGTERM (`serve` then cancels the runs and says goodbye).
    async fn wait(mut self) {
        let ctrl_c = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        #[cfg(unix)]
        let terminate = async {
            self.terminate.recv().await;
        };
        #[cfg(not(unix))]
        let terminate = std::future::pending::<()>();
        tokio::select! {
            () = ctrl_c => {}
            () = terminate => {}
        }
        eprintln!("futurescope: shutting down; cancelling running runs");
    }
}

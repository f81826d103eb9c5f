//! `server`: a realistic server workload watched four ways. A TCP echo server (the shape of
//! examples/echo-server: an accept loop spawning one task per connection) runs in a child
//! process per mode: bare, watched with `futurescope::init()`, with console-subscriber, and
//! with both (`futurescope::layer()` next to console-subscriber in one registry). This process
//! is the client: it opens a new connection per request at a fixed rate (open loop: each
//! request has a due time, and its latency is measured from then, so a server that falls
//! behind is not excused by the client waiting for it), sends 64 bytes and reads them back.
//! A fifth mode, `layer`, is `futurescope::layer()` alone in a registry: the same recorder
//! behind tracing-subscriber's registry instead of the lean subscriber `init()` installs.
//! Rounds are interleaved (every mode once, then again), each after a warm-up; per mode it
//! reports the median of the rounds' throughput, p50 and p99 separately, the p99's spread over
//! the rounds, and the child's resident memory (at the round's start and end, and its largest
//! sample). Where the mode serves a dashboard, the program run's log size (what its retention
//! window bounds) is read from it at both ends too, which splits the memory into the log and
//! the rest of the process.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(clap::Args)]
pub struct Args {
    /// Requests per second (one connection each).
    #[arg(long, default_value_t = 2000.0)]
    rate: f64,
    /// Seconds of load per round.
    #[arg(long, default_value_t = 5.0)]
    secs: f64,
    /// Rounds per mode (interleaved); medians are reported.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Seconds of load before each round is measured (connections, the child's runtime, the
    /// recorder's buffers).
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Modes to run, comma-separated (of bare, futurescope, layer, console, both).
    #[arg(long, value_delimiter = ',', default_values_t = MODES.map(String::from))]
    modes: Vec<String>,
    /// Seconds between samples of the child's resident memory during a round.
    #[arg(long, default_value_t = 1.0)]
    rss_every: f64,
    /// Print one JSON line instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
pub struct ChildArgs {
    #[arg(long)]
    mode: String,
}

const MODES: [&str; 5] = ["bare", "futurescope", "layer", "console", "both"];
const REQUEST: [u8; 64] = [b'x'; 64];

pub fn run(args: Args) {
    let exe = std::env::current_exe().expect("the bench binary knows its own path");
    let client = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("building the client's runtime");
    let modes: Vec<&str> = args.modes.iter().map(String::as_str).collect();
    if let Some(bad) = modes.iter().find(|m| !MODES.contains(m)) {
        panic!("unknown mode {bad} (modes: {})", MODES.join(", "));
    }
    let mut rounds: Vec<Vec<Value>> = vec![Vec::new(); modes.len()];
    for _ in 0..args.rounds {
        for (i, mode) in modes.iter().enumerate() {
            let mut child = Command::new(&exe)
                .args(["server-child", "--mode", mode])
                .env("FUTURESCOPE_BIND", "127.0.0.1:0")
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("starting the server child");
            let mut line = String::new();
            BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line).expect("the child's address");
            let mut words = line.split_whitespace();
            let addr: SocketAddr =
                words.next().and_then(|a| a.parse().ok()).unwrap_or_else(|| panic!("{mode}: no address: {line:?}"));
            // The dashboard's address where the mode serves one: the run's log size is read
            // from it, to tell the log (which the retention window bounds) from the rest.
            let dashboard: Option<SocketAddr> = words.next().and_then(|a| a.parse().ok());
            client.block_on(load(addr, args.rate, args.warmup));
            let pid = child.id();
            let first = rss_mib(pid);
            let log_first = dashboard.and_then(|d| client.block_on(log_mib(d)));
            let rss_every = Duration::from_secs_f64(args.rss_every.max(0.05));
            let peak = std::sync::Arc::new(std::sync::Mutex::new(0.0f64));
            let mut round = client.block_on(async {
                let sampled = peak.clone();
                let sampler = tokio::spawn(async move {
                    loop {
                        tokio::time::sleep(rss_every).await;
                        if let Some(mib) = rss_mib(pid) {
                            let mut p = sampled.lock().unwrap_or_else(|e| e.into_inner());
                            *p = p.max(mib);
                        }
                    }
                });
                let round = load(addr, args.rate, args.secs).await;
                sampler.abort();
                round
            });
            let last = rss_mib(pid);
            let log_last = dashboard.and_then(|d| client.block_on(log_mib(d)));
            let mib = |v: Option<f64>| v.map_or(Value::Null, |v| json!((v * 10.0).round() / 10.0));
            round["log_first_mib"] = mib(log_first);
            round["log_mib"] = mib(log_last);
            round["rest_first_mib"] = mib(first.zip(log_first).map(|(r, l)| r - l));
            round["rest_mib"] = mib(last.zip(log_last).map(|(r, l)| r - l));
            round["rss_first_mib"] = first.map_or(Value::Null, Value::from);
            round["rss_mib"] = last.map_or(Value::Null, Value::from);
            let peak = *peak.lock().unwrap_or_else(|e| e.into_inner());
            round["rss_peak_mib"] = json!(last.map_or(peak, |l| l.max(peak)));
            let _ = child.kill();
            let _ = child.wait();
            rounds[i].push(round);
        }
    }
    let mut result = json!({
        "workload": format!(
            "TCP echo server, a task per connection, 2 workers; {} new connections/s of 64 bytes, {} s per round after {} s of warm-up, {} rounds interleaved",
            args.rate, args.secs, args.warmup, args.rounds
        ),
    });
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    };
    for (i, mode) in modes.iter().enumerate() {
        let of = |key: &str| rounds[i].iter().map(|r| r[key].as_f64().unwrap_or(0.0)).collect::<Vec<f64>>();
        let p99s = of("p99_us");
        result[*mode] = json!({
            "throughput": median(&mut of("throughput")),
            "p50_us": median(&mut of("p50_us")),
            "p99_us": median(&mut p99s.clone()),
            "p99_us_min": p99s.iter().copied().fold(f64::INFINITY, f64::min),
            "p99_us_max": p99s.iter().copied().fold(0.0, f64::max),
            "errors": rounds[i].iter().map(|r| r["errors"].as_u64().unwrap_or(0)).sum::<u64>(),
            "rss_first_mib": median(&mut of("rss_first_mib")),
            "rss_mib": median(&mut of("rss_mib")),
            "rss_peak_mib": of("rss_peak_mib").into_iter().fold(0.0, f64::max),
            "log_first_mib": median(&mut of("log_first_mib")),
            "log_mib": median(&mut of("log_mib")),
            "rest_first_mib": median(&mut of("rest_first_mib")),
            "rest_mib": median(&mut of("rest_mib")),
            "rounds": rounds[i],
        });
    }
    let ratio = |r: &Value, mode: &str, key: &str| {
        json!(r[mode][key].as_f64().unwrap_or(0.0) / r["bare"][key].as_f64().unwrap_or(1.0))
    };
    if modes.contains(&"bare") {
        for mode in modes.iter().filter(|m| **m != "bare") {
            result[format!("{mode}_throughput_x_bare")] = ratio(&result, mode, "throughput");
            result[format!("{mode}_p99_x_bare")] = ratio(&result, mode, "p99_us");
            // Each round against bare's round of the same pass (run a few seconds apart), which
            // a machine that drifts during the benchmark affects less than the medians' ratio.
            let p99s = |i: usize| rounds[i].iter().map(|r| r["p99_us"].as_f64().unwrap_or(0.0));
            let bare = modes.iter().position(|m| *m == "bare").expect("checked above");
            let mine = modes.iter().position(|m| m == mode).expect("a listed mode");
            let mut by_round: Vec<f64> = p99s(mine).zip(p99s(bare)).map(|(p, b)| p / b).collect();
            result[format!("{mode}_p99_x_bare_by_round")] = json!(median(&mut by_round));
        }
    }
    if args.json {
        println!("{result}");
        return;
    }
    println!("{}", result["workload"].as_str().unwrap_or_default());
    println!("| mode | requests/s | p50 | p99 (median) | p99 over the rounds | errors | RSS (first, last, peak) |");
    println!("|---|---|---|---|---|---|---|");
    for mode in &modes {
        let r = &result[*mode];
        let f = |k: &str| r[k].as_f64().unwrap_or(0.0);
        println!(
            "| {mode} | {:.0} | {:.0} µs | {:.0} µs | {:.0} to {:.0} µs | {} | {:.1}, {:.1}, {:.1} MiB |",
            f("throughput"),
            f("p50_us"),
            f("p99_us"),
            f("p99_us_min"),
            f("p99_us_max"),
            r["errors"],
            f("rss_first_mib"),
            f("rss_mib"),
            f("rss_peak_mib")
        );
    }
    for mode in modes.iter().filter(|m| result[**m]["log_mib"].as_f64().is_some_and(|l| l > 0.0)) {
        let f = |k: &str| result[*mode][k].as_f64().unwrap_or(0.0);
        println!(
            "{mode}: the run's log {:.1} -> {:.1} MiB (its retention window bounds it), the rest of the process {:.1} -> {:.1} MiB",
            f("log_first_mib"),
            f("log_mib"),
            f("rest_first_mib"),
            f("rest_mib")
        );
    }
    for mode in modes.iter().filter(|m| **m != "bare" && modes.contains(&"bare")) {
        let x = |k: String| result[k].as_f64().unwrap_or(0.0);
        println!(
            "{mode} against bare: throughput {:.3}x, p99 {:.3}x (medians), {:.3}x (median of the rounds' ratios)",
            x(format!("{mode}_throughput_x_bare")),
            x(format!("{mode}_p99_x_bare")),
            x(format!("{mode}_p99_x_bare_by_round")),
        );
    }
}

/// One request: a new connection, 64 bytes out, 64 back.
async fn request(addr: SocketAddr) -> std::io::Result<()> {
    let mut conn = TcpStream::connect(addr).await?;
    conn.set_nodelay(true)?;
    conn.write_all(&REQUEST).await?;
    let mut buf = [0; 64];
    conn.read_exact(&mut buf).await?;
    Ok(())
}

/// `rate` requests per second for `secs`, each measured from its due time.
async fn load(addr: SocketAddr, rate: f64, secs: f64) -> Value {
    let n = (rate * secs).round() as u64;
    let start = tokio::time::Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for i in 0..n {
        let due = start + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(due).await;
        set.spawn(async move {
            let ok = request(addr).await.is_ok();
            (due.elapsed(), ok)
        });
    }
    let mut latencies = Vec::with_capacity(n as usize);
    let mut errors = 0u64;
    while let Some(done) = set.join_next().await {
        let (latency, ok) = done.expect("request tasks do not panic");
        if ok {
            latencies.push(latency.as_nanos() as u64);
        } else {
            errors += 1;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |&ns| ns as f64 / 1e3)
    };
    json!({
        "requests": n,
        "ok": latencies.len(),
        "errors": errors,
        "throughput": latencies.len() as f64 / elapsed,
        "p50_us": pct(0.50),
        "p99_us": pct(0.99),
        "max_us": latencies.last().map_or(0.0, |&ns| ns as f64 / 1e3),
    })
}

/// The server, watched as `mode` says; prints its address, then serves until killed.
pub fn child(args: ChildArgs) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let console = || console_subscriber::ConsoleLayer::builder().server_addr(([127, 0, 0, 1], 0)).spawn();
    // Kept for the life of the process (dropping it stops the dashboard).
    let mut dashboard = None;
    let _fs = match args.mode.as_str() {
        "bare" => None,
        "futurescope" => {
            let fs = futurescope::init();
            dashboard = Some(fs.addr());
            Some(fs)
        }
        "layer" => {
            let layer = futurescope::layer();
            dashboard = Some(layer.addr());
            tracing_subscriber::registry().with(layer).init();
            None
        }
        "console" => {
            tracing_subscriber::registry().with(console()).init();
            None
        }
        "both" => {
            let layer = futurescope::layer();
            dashboard = Some(layer.addr());
            tracing_subscriber::registry().with(console()).with(layer).init();
            None
        }
        other => panic!("unknown mode {other}"),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("building the server's runtime");
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binding the echo server");
        let addr = listener.local_addr().expect("its address");
        match dashboard {
            Some(d) => println!("{addr} {d}"),
            None => println!("{addr}"),
        }
        loop {
            let Ok((socket, _)) = listener.accept().await else { continue };
            tokio::spawn(echo(socket));
        }
    });
}

async fn echo(mut socket: TcpStream) -> std::io::Result<()> {
    let mut buf = [0; 1024];
    loop {
        let n = socket.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        socket.write_all(&buf[..n]).await?;
    }
}

/// The size of the watched program's run log, MiB, as its retention window counts it (from
/// the dashboard's `GET /api/runs`: `retention.held_bytes`).
async fn log_mib(dashboard: SocketAddr) -> Option<f64> {
    let mut conn = TcpStream::connect(dashboard).await.ok()?;
    let request = format!("GET /api/runs HTTP/1.1\r\nHost: {dashboard}\r\nConnection: close\r\n\r\n");
    conn.write_all(request.as_bytes()).await.ok()?;
    let mut response = Vec::new();
    conn.read_to_end(&mut response).await.ok()?;
    let response = String::from_utf8(response).ok()?;
    let body = response.split_once("\r\n\r\n")?.1;
    let runs: Value = serde_json::from_str(body).ok()?;
    let program = runs.as_array()?.iter().find(|r| !r["program"].is_null())?;
    Some(program["retention"]["held_bytes"].as_f64()? / (1024.0 * 1024.0))
}

/// A process's resident memory, MiB (Linux).
fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some((kb / 1024.0 * 10.0).round() / 10.0)
}

//! `soak`: the dashboard in its default configuration (console-subscriber on, the default
//! memory budget and console retention), every scenario in a loop, and 5 WebSocket clients
//! that subscribe to every run and read it all. Memory must stay flat after warm-up and
//! within what the budget accounts for plus a stated margin: the process's RSS is sampled
//! after each run next to the budget's accounting (kept logs + console-subscriber's copies of
//! tasks), and the soak fails if the second half's median RSS grows past the first half's, or if
//! any sample exceeds the baseline plus the budget plus the margin.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use futurescope::runs::{RunManager, RunManagerConfig, RunState, StartError};
use futurescope::{AccessPolicy, AppState, observe};
use futurescope_recorder::Recorder;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

#[derive(clap::Args)]
pub struct Args {
    /// How long to soak.
    #[arg(long, default_value_t = 600)]
    seconds: u64,
    /// The memory budget (the binary's default: 1024 MiB).
    #[arg(long, default_value_t = 1024)]
    budget_mib: usize,
    /// Reading WebSocket clients.
    #[arg(long, default_value_t = 5)]
    clients: usize,
    /// Serve without console-subscriber (as `--no-console`).
    #[arg(long)]
    no_console: bool,
    #[arg(long)]
    json: bool,
}

/// RSS may exceed the baseline plus what the budget accounts for by this share of the budget
/// (allocator slack: freed memory glibc keeps for reuse, fragmentation between runs).
const MARGIN: f64 = 0.25;

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// Bytes the allocator has handed out and not had back (glibc), MiB: RSS above this is
/// allocator slack, below the accounting an undercount.
fn heap_in_use_mib() -> f64 {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallinfo2 only reads the allocator's statistics.
    unsafe {
        let mi = libc::mallinfo2();
        (mi.uordblks + mi.hblkhd) as f64 / 1048576.0
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    0.0
}

/// A client like the page: subscribes to every run it hears of and reads everything.
async fn reader(addr: std::net::SocketAddr, events: Arc<AtomicU64>) {
    let Ok((ws, _)) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws")).await else { return };
    let (mut tx, mut rx) = ws.split();
    while let Some(Ok(msg)) = rx.next().await {
        let Message::Text(text) = msg else { continue };
        let text = text.as_str();
        if text.starts_with("{\"type\":\"batch\"") {
            events.fetch_add(text.matches("{\"k\":").count() as u64, Ordering::Relaxed);
        } else if text.contains("\"type\":\"run\"") {
            // serde_json sorts keys: "type" is not first.
            let Ok(v) = serde_json::from_str::<Value>(text) else { continue };
            if v["type"] != "run" || v["status"] != "running" {
                continue;
            }
            let sub = json!({"type": "subscribe", "run": v["run"], "instance": v["instance"]});
            if tx.send(Message::text(sub.to_string())).await.is_err() {
                return;
            }
        }
    }
}

pub fn run(args: Args) -> bool {
    let console = (!args.no_console).then(|| "127.0.0.1:0".parse().expect("an address"));
    let console = observe::install(console).expect("first subscriber of the soak process");
    observe::quiet_thread();
    let runs = RunManager::new(
        Recorder::global(),
        RunManagerConfig {
            memory_budget: args.budget_mib << 20,
            console_task_retention: console.as_ref().map(|c| c.retention),
            ..RunManagerConfig::default()
        },
    );
    let rt = observe::server_runtime().expect("the server runtime");
    let events_read = Arc::new(AtomicU64::new(0));
    let state_runs = runs.clone();
    let clients = args.clients;
    let reads = events_read.clone();
    let console_addr = console.as_ref().map(|c| c.addr.to_string());
    let _server = rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binding loopback");
        let addr = listener.local_addr().expect("local addr");
        let state = AppState {
            runs: state_runs,
            access: Arc::new(AccessPolicy::new(addr, None)),
            console: console_addr,
            console_clients: None,
            ws_send_timeout: futurescope::WS_SEND_TIMEOUT,
            opened: None,
            ws_connections: Default::default(),
        };
        let server = tokio::spawn(futurescope::serve(
            listener,
            state,
            futurescope::ServeLimits::default(),
            std::future::pending(),
        ));
        for _ in 0..clients {
            tokio::spawn(reader(addr, reads.clone()));
        }
        // The server runs until the benchmark's process ends.
        server.abort_handle()
    });
    // The recorder faults its warm buffers in when it starts (in the background): measure the
    // memory from there, so the baseline includes them.
    while !Recorder::global().is_warm() {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(300));
    let baseline = rss_mib();
    let start = Instant::now();
    let until = start + Duration::from_secs(args.seconds);
    // (seconds, RSS MiB, accounted MiB)
    let mut samples: Vec<(f64, f64, f64)> = Vec::new();
    // The scenario each sample follows.
    let mut after: Vec<&'static str> = Vec::new();
    let mut heap: Vec<f64> = Vec::new();
    let mut by_status = std::collections::BTreeMap::<String, u64>::new();
    let (mut count, mut waits, mut tasks) = (0u64, 0u64, 0u64);
    'outer: loop {
        for scenario in futurescope_scenarios::catalogue() {
            if Instant::now() >= until {
                break 'outer;
            }
            let heap_before = heap_in_use_mib();
            let run = loop {
                match runs.start(scenario.name, &Value::Null) {
                    Ok(run) => break run,
                    // console-subscriber's copies fill the budget: wait as a user would be told to.
                    Err(StartError::ConsoleMemory { .. }) => {
                        if Instant::now() >= until {
                            break 'outer;
                        }
                        waits += 1;
                        std::thread::sleep(Duration::from_millis(500));
                    }
                    Err(e) => panic!("{}: {e}", scenario.name),
                }
            };
            while !run.is_over() {
                std::thread::sleep(Duration::from_millis(10));
            }
            let s = run.summary();
            *by_status.entry(format!("{:?}", s.status).to_lowercase()).or_default() += 1;
            if s.status != RunState::Finished {
                eprintln!("soak: {} ended {:?}: {:?}", scenario.name, s.status, s.error);
            }
            count += 1;
            tasks += s.counts.tasks;
            let m = runs.memory();
            samples.push((start.elapsed().as_secs_f64(), rss_mib(), (m.logs + m.console) as f64 / 1048576.0));
            after.push(scenario.name);
            if std::env::var_os("SOAK_PER_RUN").is_some() {
                eprintln!(
                    "{:<32} heap +{:>7.2} MiB, accounted {:>7.2} MiB, events {}",
                    scenario.name,
                    heap_in_use_mib() - heap_before,
                    run.log.approx_bytes() as f64 / 1048576.0,
                    s.counts.events
                );
            }
            heap.push(heap_in_use_mib());
        }
    }
    let half = samples.len() / 2;
    let peak = |s: &[(f64, f64, f64)]| s.iter().map(|x| x.1).fold(0.0, f64::max);
    let (first, second) = (peak(&samples[..half.max(1).min(samples.len())]), peak(&samples[half..]));
    let limit = baseline + args.budget_mib as f64 * (1.0 + MARGIN);
    // Flat: no sustained growth, the second half's median RSS stays within 10% (and 64 MiB) of
    // the first half's. A transient peak (a 10,000-task run's copies not yet reused) is bounded
    // by `within` instead, like every sample.
    let median = |s: &[(f64, f64, f64)]| {
        let mut v: Vec<f64> = s.iter().map(|x| x.1).collect();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    };
    let (first_median, second_median) = (median(&samples[..half.max(1).min(samples.len())]), median(&samples[half..]));
    let flat = second_median <= first_median * 1.1 + 64.0;
    let within = samples.iter().all(|s| s.1 <= limit);
    // RSS above the baseline against what the budget accounts for, at the samples where the
    // accounting is largest (the budget is then nearly full).
    let worst_gap = samples.iter().map(|s| s.1 - baseline - s.2).fold(f64::MIN, f64::max);
    let m = runs.memory();
    let result = json!({
        "configuration": if args.no_console { "--no-console" } else { "default (console-subscriber on)" },
        "console_retention_s": console.as_ref().map(|c| c.retention.as_secs_f64()),
        "seconds": args.seconds,
        "runs": count,
        "tasks_spawned": tasks,
        "statuses": by_status,
        "waits_for_console_memory": waits,
        "ws_clients": args.clients,
        "ws_events_read": events_read.load(Ordering::Relaxed),
        "kept_runs": runs.list().len(),
        "accounted_logs_mib": m.logs as f64 / 1048576.0,
        "accounted_console_mib": m.console as f64 / 1048576.0,
        "budget_mib": args.budget_mib,
        "rss_baseline_mib": baseline,
        "rss_peak_first_half_mib": first,
        "rss_peak_second_half_mib": second,
        "rss_median_first_half_mib": first_median,
        "rss_median_second_half_mib": second_median,
        "rss_last_mib": samples.last().map(|s| s.1),
        "rss_limit_mib": limit,
        "rss_above_accounting_max_mib": worst_gap,
        "flat": flat,
        "within_budget_and_margin": within,
    });
    if args.json {
        println!("{result}");
    } else {
        println!("{}", serde_json::to_string_pretty(&result).expect("json"));
        let step = (samples.len() / 20).max(1);
        let shown: Vec<_> = samples
            .iter()
            .zip(&heap)
            .step_by(step)
            .map(|(s, h)| format!("{:.0}s {:.0}/{:.0}/{:.0}", s.0, s.1, h, s.2))
            .collect();
        println!("samples (time, RSS / heap in use / accounted, MiB): {}", shown.join(", "));
        let mut gaps: Vec<(f64, usize)> = samples.iter().enumerate().map(|(i, s)| (s.1 - baseline - s.2, i)).collect();
        gaps.sort_by(|a, b| b.0.total_cmp(&a.0));
        let top: Vec<_> = gaps
            .iter()
            .take(5)
            .map(|&(gap, i)| format!("{:.0} MiB after {} at {:.0}s", gap, after[i], samples[i].0))
            .collect();
        println!("largest RSS above the accounting: {}", top.join(", "));
    }
    flat && within && !by_status.contains_key("failed")
}

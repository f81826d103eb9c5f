//! `stream`: events per second from the recorder to one WebSocket client on loopback.
//!
//! Runs the dashboard's server in this process (its own quiet runtime, as `futurescope serve`
//! does), starts a scenario that polls as fast as its pacing allows for `--seconds`, and
//! connects a real WebSocket client that subscribes and counts the events it receives. A
//! second client connects, subscribes and never reads, to show a stalled client neither loses
//! the first client anything nor grows the server without bound.
//!
//! The live lag is each event's age when the reading client receives it: the recorder's clock
//! at arrival minus the event's time. `--hog N` keeps N more threads spinning at normal
//! priority meanwhile (nobody records them), so the machine is saturated as a busy program
//! would leave it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use futurescope::runs::{RunManager, RunManagerConfig};
use futurescope::{AccessPolicy, AppState, observe};
use futurescope_recorder::Recorder;
use futurescope_scenarios::{Flavor, ParamSpec, Params, RunContext, Scenario, ScenarioError, spawn_named};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

#[derive(clap::Args)]
pub struct Args {
    /// How long the scenario produces events.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Tasks polling in the firehose.
    #[arg(long, default_value_t = 64)]
    tasks: i64,
    /// Yields per task between 1 ms pauses (sets the event rate).
    #[arg(long, default_value_t = 12)]
    burst: i64,
    /// Threads that spin for the whole run (a CPU hog beside the workload).
    #[arg(long, default_value_t = 0)]
    hog: usize,
    #[arg(long)]
    json: bool,
}

/// Event ages in whole milliseconds (index: ms, value: events).
#[derive(Default)]
struct LagHistogram {
    ms: Vec<u64>,
    total: u64,
}

impl LagHistogram {
    fn add(&mut self, lag_ns: u64, events: u64) {
        let ms = (lag_ns / 1_000_000) as usize;
        if self.ms.len() <= ms {
            self.ms.resize(ms + 1, 0);
        }
        self.ms[ms] += events;
        self.total += events;
    }

    /// The age at or below which `q` of the events arrived, ms (the bucket's upper edge).
    fn quantile(&self, q: f64) -> u64 {
        let want = (self.total as f64 * q).ceil() as u64;
        let mut seen = 0;
        for (ms, n) in self.ms.iter().enumerate() {
            seen += n;
            if seen >= want.max(1) {
                return ms as u64 + 1;
            }
        }
        self.ms.len() as u64
    }
}

/// The times (`"t":`) of the events in a batch.
fn event_times(text: &str) -> impl Iterator<Item = u64> + '_ {
    text.match_indices("\"t\":")
        .filter_map(|(i, _)| text[i + 4..].split(|ch: char| !ch.is_ascii_digit()).next()?.parse::<u64>().ok())
}

static FIREHOSE: Scenario = Scenario {
    name: "bench-firehose",
    title: "Firehose (benchmark)",
    topic: "Benchmarks",
    summary: "Many tasks yielding in paced bursts: a steady, high event rate.",
    description: "A benchmark workload, not a lesson.",
    source: "",
    file: "backend/bench/src/stream.rs",
    open_futures: &[],
    params: &[
        ParamSpec::int("seconds", 10, 1, 120, "how long"),
        ParamSpec::int("tasks", 64, 1, 10_000, "tasks"),
        ParamSpec::int("burst", 12, 1, 10_000, "yields between pauses"),
    ],
    step_time: futurescope_scenarios::StepTime::Paused,
    run: firehose,
};

fn firehose(ctx: &RunContext, params: &Params) -> Result<(), ScenarioError> {
    let until = Instant::now() + Duration::from_secs(params.int("seconds") as u64);
    let (tasks, burst) = (params.int("tasks"), params.int("burst"));
    ctx.block_on(Flavor::MultiThread { workers: 2 }, "firehose", async move {
        let handles: Vec<_> = (0..tasks)
            .map(|i| {
                spawn_named(&format!("firehose-{i}"), async move {
                    while Instant::now() < until {
                        for _ in 0..burst {
                            tokio::task::yield_now().await;
                        }
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                })
            })
            .collect();
        for h in handles {
            let _ = h.await;
        }
    })
}

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

fn count_events(text: &str) -> (u64, u64) {
    let events = text.matches("{\"k\":").count() as u64;
    let dropped: u64 = text
        .match_indices("{\"k\":\"dropped\"")
        .filter_map(|(i, _)| {
            let rest = &text[i..];
            let c = rest.find("\"count\":")? + 8;
            rest[c..].split(|ch: char| !ch.is_ascii_digit()).next()?.parse::<u64>().ok()
        })
        .sum();
    (events, dropped)
}

pub fn run(args: Args) {
    observe::install(None).expect("first subscriber of the bench process");
    let hog_stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let hogs: Vec<_> = (0..args.hog)
        .map(|_| {
            let stop = hog_stop.clone();
            std::thread::spawn(move || {
                let mut x = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                }
            })
        })
        .collect();
    let rt = observe::server_runtime().expect("bench server runtime");
    let result = rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binding loopback");
        let addr = listener.local_addr().expect("local addr");
        let runs = RunManager::new(
            Recorder::global(),
            RunManagerConfig { time_limit: Duration::from_secs(args.seconds + 60), ..RunManagerConfig::default() },
        );
        let state = AppState { runs: runs.clone(), access: Arc::new(AccessPolicy::new(addr, None)), console: None, console_clients: None, ws_send_timeout: futurescope::WS_SEND_TIMEOUT, opened: None, ws_connections: Default::default() };
        tokio::spawn(async move { axum::serve(listener, futurescope::app(state)).await });
        let rss_before = rss_bytes();

        let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws")).await.expect("connecting");
        let (mut stalled, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws")).await.expect("connecting");
        let run = runs
            .start_scenario(&FIREHOSE, &json!({"seconds": args.seconds, "tasks": args.tasks, "burst": args.burst}))
            .expect("starting the firehose");
        let sub = json!({"type": "subscribe", "run": run.id}).to_string();
        ws.send(Message::text(sub.clone())).await.expect("subscribing");
        stalled.send(Message::text(sub)).await.expect("subscribing the stalled client");

        let (mut received, mut dropped_seen, mut first, mut peak_rss) = (0u64, 0u64, None, 0u64);
        let mut last = Instant::now();
        let mut lag = LagHistogram::default();
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(args.seconds + 60), ws.next())
                .await
                .expect("the stream does not stall")
                .expect("the stream stays open")
                .expect("a valid message");
            let Message::Text(text) = msg else { continue };
            let text = text.as_str();
            if text.starts_with("{\"type\":\"batch\"") {
                first.get_or_insert_with(Instant::now);
                let now = futurescope_recorder::clock::now().saturating_sub(run.log.start);
                for t in event_times(text) {
                    lag.add(now.saturating_sub(t), 1);
                }
                let (n, d) = count_events(text);
                received += n;
                dropped_seen += d;
                last = Instant::now();
                peak_rss = peak_rss.max(rss_bytes());
            } else if text.contains("\"type\":\"end\"") {
                break;
            }
        }
        let secs = last.duration_since(first.unwrap_or(last)).as_secs_f64().max(1e-9);
        let counts = run.log.counts();
        let log_bytes = run.log.approx_bytes();
        drop(stalled);
        json!({
            "workload": format!("{} tasks yielding {} times per ms for {} s, multi_thread 2 workers; server, recorder, client and workload share 2 cores{}", args.tasks, args.burst, args.seconds, if args.hog > 0 { format!(" with {} spinning hog threads", args.hog) } else { String::new() }),
            "events_recorded": counts.events,
            "events_received": received,
            "recorder_dropped": counts.dropped,
            "dropped_events_seen_by_client": dropped_seen,
            "stream_seconds": secs,
            "events_per_second": received as f64 / secs,
            "retained_bytes_per_event": log_bytes as f64 / counts.events.max(1) as f64,
            "rss_before_mb": rss_before as f64 / 1048576.0,
            "rss_peak_mb": peak_rss as f64 / 1048576.0,
            "hog_threads": args.hog,
            "live_lag_ms": {"p50": lag.quantile(0.5), "p99": lag.quantile(0.99), "max": lag.quantile(1.0)},
        })
    });
    hog_stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for h in hogs {
        let _ = h.join();
    }
    if args.json {
        println!("{result}");
    } else {
        println!("{}", serde_json::to_string_pretty(&result).expect("json"));
    }
}

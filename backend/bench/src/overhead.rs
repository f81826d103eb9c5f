//! `overhead`: the recorder's cost on a poll-heavy workload, against bare tokio and against
//! console-subscriber, each mode in a child process of its own.

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futurescope_recorder::{Recorder, RecorderLayer, RecorderSubscriber};
use serde_json::{Value, json};
use tracing_subscriber::layer::SubscriberExt;

#[derive(clap::Args)]
pub struct Args {
    /// Rounds per mode (interleaved); the median is reported.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    #[arg(long, default_value_t = 1000)]
    tasks: usize,
    #[arg(long, default_value_t = 1000)]
    yields: usize,
    /// Modes to run, comma-separated, of bare, recorder, console, recorder_console and
    /// recorder_unwatched (the recorder without its watcher of open polls, as with
    /// `FUTURESCOPE_POLL_WATCHER=0`: the watcher's cost is recorder against it).
    #[arg(long, value_delimiter = ',', default_value = "bare,recorder,console,recorder_console")]
    modes: Vec<String>,
    /// Print one JSON line instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
pub struct ChildArgs {
    #[arg(long)]
    mode: String,
    #[arg(long)]
    tasks: usize,
    #[arg(long)]
    yields: usize,
}

const MODES: [&str; 5] = ["bare", "recorder", "console", "recorder_console", "recorder_unwatched"];

/// The ratios reported: (name, mode, against).
const RATIOS: [(&str, &str, &str); 3] = [
    ("recorder_x_bare", "recorder", "bare"),
    ("recorder_console_x_console", "recorder_console", "console"),
    ("recorder_x_recorder_unwatched", "recorder", "recorder_unwatched"),
];

pub fn run(args: Args) {
    if let Some(bad) = args.modes.iter().find(|m| !MODES.contains(&m.as_str())) {
        eprintln!("unknown mode {bad:?}: the modes are {}", MODES.join(", "));
        std::process::exit(2);
    }
    let exe = std::env::current_exe().expect("the bench binary knows its own path");
    let mut samples: Vec<Vec<Value>> = vec![Vec::new(); args.modes.len()];
    for _ in 0..args.rounds {
        for (i, mode) in args.modes.iter().enumerate() {
            let mut child = Command::new(&exe);
            child.args(["overhead-child", "--tasks", &args.tasks.to_string(), "--yields", &args.yields.to_string()]);
            match mode.as_str() {
                "recorder_unwatched" => child.args(["--mode", "recorder"]).env("FUTURESCOPE_POLL_WATCHER", "0"),
                _ => child.args(["--mode", mode]).env_remove("FUTURESCOPE_POLL_WATCHER"),
            };
            let out = child.output().expect("running a bench child process");
            assert!(out.status.success(), "{mode} child failed: {}", String::from_utf8_lossy(&out.stderr));
            let line = String::from_utf8_lossy(&out.stdout);
            let v: Value = serde_json::from_str(line.trim()).expect("the child prints one JSON line");
            samples[i].push(v);
        }
    }
    // Each mode's median round (by wall time): its time and the rest of what it printed.
    let medians: Vec<(&str, f64, &Value)> = args
        .modes
        .iter()
        .zip(&samples)
        .map(|(mode, rounds)| {
            let mut s: Vec<&Value> = rounds.iter().collect();
            s.sort_by(|a, b| a["ms"].as_f64().partial_cmp(&b["ms"].as_f64()).expect("times are numbers"));
            let m = s[s.len() / 2];
            (mode.as_str(), m["ms"].as_f64().expect("ms"), m)
        })
        .collect();
    let of = |mode: &str| medians.iter().find(|m| m.0 == mode);
    let mut result = serde_json::Map::new();
    result.insert(
        "workload".into(),
        format!("{} tasks x {} yield_now, multi_thread runtime with 2 workers, release", args.tasks, args.yields)
            .into(),
    );
    result.insert("rounds".into(), args.rounds.into());
    for &(mode, ms, v) in &medians {
        result.insert(format!("{mode}_ms"), ms.into());
        if mode.starts_with("recorder") {
            for key in ["events", "polls", "wakes", "dropped"] {
                result.insert(format!("{mode}_{key}"), v[key].clone());
            }
        }
    }
    let cpu = |mode: &str| {
        let i = args.modes.iter().position(|m| m == mode)?;
        median_of(&samples[i], "worker_cpu_ms")
    };
    let mut cpu_ratios = serde_json::Map::new();
    for (name, mode, against) in RATIOS {
        if let (Some(a), Some(b)) = (of(mode), of(against)) {
            result.insert(name.into(), (a.1 / b.1).into());
        }
        if let (Some(a), Some(b)) = (cpu(mode), cpu(against)) {
            cpu_ratios.insert(name.into(), (a / b).into());
        }
    }
    let per_mode = |f: &dyn Fn(usize) -> Value| -> Value {
        args.modes.iter().enumerate().map(|(i, m)| (m.clone(), f(i))).collect::<serde_json::Map<_, _>>().into()
    };
    result.insert(
        "worker_cpu_ms".into(),
        per_mode(&|i| median_of(&samples[i], "worker_cpu_ms").map_or(Value::Null, Value::from)),
    );
    result.insert("worker_cpu_ratios".into(), cpu_ratios.into());
    result.insert("samples_ms".into(), per_mode(&|i| samples[i].iter().map(|v| v["ms"].clone()).collect::<Value>()));
    let result = Value::from(result);
    if args.json {
        println!("{result}");
    } else {
        println!("{}", serde_json::to_string_pretty(&result).expect("json"));
    }
}

async fn workload(tasks: usize, yields: usize) {
    let mut handles = Vec::with_capacity(tasks);
    for _ in 0..tasks {
        handles.push(tokio::spawn(async move {
            for _ in 0..yields {
                tokio::task::yield_now().await;
            }
        }));
    }
    for h in handles {
        h.await.expect("workload tasks do not panic");
    }
}

fn runtime(record_run: Option<u16>) -> tokio::runtime::Runtime {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    b.worker_threads(2).enable_all();
    if let Some(run) = record_run {
        futurescope_recorder::instrument(&mut b, run);
    }
    b.build().expect("building the bench runtime")
}

pub fn child(args: ChildArgs) {
    let recorder_on = args.mode.contains("recorder");
    match args.mode.as_str() {
        "bare" => {}
        "recorder" => tracing::subscriber::set_global_default(RecorderSubscriber::new()).expect("first subscriber"),
        "console" => {
            let console = console_subscriber::ConsoleLayer::builder().server_addr(([127, 0, 0, 1], 0)).spawn();
            tracing::subscriber::set_global_default(tracing_subscriber::registry().with(console))
                .expect("first subscriber");
        }
        "recorder_console" => {
            let console = console_subscriber::ConsoleLayer::builder().server_addr(([127, 0, 0, 1], 0)).spawn();
            let registry = tracing_subscriber::registry().with(console).with(RecorderLayer::new());
            tracing::subscriber::set_global_default(registry).expect("first subscriber");
        }
        other => panic!("unknown mode {other}"),
    }
    let log = recorder_on.then(|| Recorder::global().begin_run());
    // The recorder faults its warm buffers in when it starts (in the background); a program
    // that runs for longer than a benchmark round never notices.
    while recorder_on && !Recorder::global().is_warm() {
        std::thread::sleep(Duration::from_millis(1));
    }
    let rt = runtime(log.as_ref().map(|l| l.id));
    let _ctx = log.as_ref().map(|l| futurescope_recorder::RunContextGuard::enter(l.id));
    // Warm up the runtime's threads and the recorder's buffers.
    rt.block_on(workload(args.tasks.min(50), 10));
    let cpu_before = worker_cpu_ns();
    let start = Instant::now();
    rt.block_on(workload(args.tasks, args.yields));
    let ms = start.elapsed().as_secs_f64() * 1e3;
    let worker_cpu_ms = cpu_before.zip(worker_cpu_ns()).map(|(a, b)| b.saturating_sub(a) as f64 / 1e6);
    rt.shutdown_timeout(Duration::from_secs(1));
    let counts = log.as_ref().map(|l| {
        Recorder::global().finish_run(l);
        l.counts()
    });
    let log: Option<Arc<_>> = log;
    drop(log);
    let v = match counts {
        Some(c) => {
            json!({"mode": args.mode, "ms": ms, "worker_cpu_ms": worker_cpu_ms, "events": c.events, "polls": c.polls, "wakes": c.wakes, "dropped": c.dropped})
        }
        None => json!({"mode": args.mode, "ms": ms, "worker_cpu_ms": worker_cpu_ms}),
    };
    println!("{v}");
}

/// The median of the numeric field `key` over `samples` (None if no sample has it).
fn median_of(samples: &[Value], key: &str) -> Option<f64> {
    let mut v: Vec<f64> = samples.iter().filter_map(|s| s[key].as_f64()).collect();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied()
}

/// CPU time the runtime's worker threads have used so far (Linux: `/proc/self/task/*/schedstat`),
/// which, unlike wall time, does not count time other processes took the cores.
fn worker_cpu_ns() -> Option<u64> {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let dir = task.ok()?.path();
        let comm = std::fs::read_to_string(dir.join("comm")).ok()?;
        if !comm.contains("worker") {
            continue;
        }
        let stat = std::fs::read_to_string(dir.join("schedstat")).ok()?;
        total += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total)
}

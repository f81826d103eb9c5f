//! `snapshot`: what one task dump costs: how long the run's workers are held (tokio pauses
//! every worker while one of them re-polls each task in trace mode), and how long resolving
//! the symbols takes afterwards on the snapshot thread, for N tasks sleeping on a 2-worker
//! runtime that the recorder observes.

use std::collections::HashSet;
use std::time::Duration;

use futurescope_recorder::dump::{self, Reason};
use futurescope_recorder::{Recorder, RecorderSubscriber};
use serde_json::json;

#[derive(clap::Args)]
pub struct Args {
    /// Task counts to measure, comma-separated.
    #[arg(long, default_value = "10,10000", value_delimiter = ',')]
    tasks: Vec<usize>,
    /// Snapshots per task count; the median is reported.
    #[arg(long, default_value_t = 7)]
    rounds: usize,
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) {
    let _ = tracing::subscriber::set_global_default(RecorderSubscriber::new());
    let recorder = Recorder::global();
    let mut rows = Vec::new();
    for &n in &args.tasks {
        let log = recorder.begin_run();
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(2).enable_all();
        futurescope_recorder::instrument(&mut b, log.id);
        let rt = b.build().expect("a runtime");
        let registration = dump::register_runtime(log.id, rt.handle());
        rt.block_on(async {
            for _ in 0..n {
                tokio::spawn(tokio::time::sleep(Duration::from_secs(3600)));
            }
            // Let every task reach its first sleep.
            tokio::time::sleep(Duration::from_millis(200)).await;
        });
        let (mut pause, mut resolve) = (Vec::new(), Vec::new());
        let mut traced = 0;
        let mut trees = 0;
        for _ in 0..args.rounds {
            let snap = dump::take_blocking(log.clone(), Reason::Manual).expect("a snapshot");
            pause.push(snap.pause_ns);
            resolve.push(snap.resolve_ns);
            traced = snap.tasks.iter().filter(|t| !t.frames.is_empty()).count();
            trees = snap.tasks.iter().map(|t| format!("{:?}", t.frames)).collect::<HashSet<_>>().len();
            // The traced tasks are polled once more for real afterwards; let that settle.
            std::thread::sleep(Duration::from_millis(100));
        }
        drop(registration);
        rt.shutdown_timeout(Duration::from_secs(1));
        recorder.finish_run(&log);
        rows.push(json!({
            "tasks": n,
            "traced": traced,
            "distinct_trees": trees,
            "pause_ms_median": median(&mut pause) as f64 / 1e6,
            "resolve_ms_median": median(&mut resolve) as f64 / 1e6,
        }));
    }
    if args.json {
        println!("{}", json!({ "snapshot": rows }));
    } else {
        println!("{:>8} {:>8} {:>6} {:>12} {:>12}", "tasks", "traced", "trees", "pause ms", "resolve ms");
        for r in &rows {
            println!(
                "{:>8} {:>8} {:>6} {:>12.2} {:>12.2}",
                r["tasks"],
                r["traced"],
                r["distinct_trees"],
                r["pause_ms_median"].as_f64().unwrap_or(0.0),
                r["resolve_ms_median"].as_f64().unwrap_or(0.0)
            );
        }
    }
}

fn median(v: &mut [u64]) -> u64 {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or(0)
}

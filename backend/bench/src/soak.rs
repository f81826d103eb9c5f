//! `soak`: runs every scenario in a loop for a while, with a small memory budget for kept runs,
//! and shows the process's memory staying flat (finished runs are evicted, threads and
//! buffers are reused). Fails if memory in the second half of the soak grows well past the
//! first half's peak, which is what a leak looks like.

use std::time::{Duration, Instant};

use futurescope::observe;
use futurescope::runs::{RunManager, RunManagerConfig, RunState};
use futurescope_recorder::Recorder;
use serde_json::{Value, json};

#[derive(clap::Args)]
pub struct Args {
    /// How long to soak.
    #[arg(long, default_value_t = 300)]
    seconds: u64,
    /// Memory budget for kept runs, MiB.
    #[arg(long, default_value_t = 64)]
    budget_mib: usize,
    #[arg(long)]
    json: bool,
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

pub fn run(args: Args) -> bool {
    observe::install(None).expect("first subscriber of the soak process");
    observe::quiet_thread();
    let runs = RunManager::new(
        Recorder::global(),
        RunManagerConfig {
            time_limit: Duration::from_secs(20),
            memory_budget: args.budget_mib << 20,
            max_running: 1,
            ..RunManagerConfig::default()
        },
    );
    // The recorder faults its warm buffers in when it starts (in the background): measure the
    // memory from there, so the baseline includes them.
    while !Recorder::global().is_warm() {
        std::thread::sleep(Duration::from_millis(10));
    }
    let start = Instant::now();
    let until = start + Duration::from_secs(args.seconds);
    let mut samples: Vec<(f64, f64)> = Vec::new();
    let mut by_status = std::collections::BTreeMap::<String, u64>::new();
    let mut count = 0u64;
    'outer: loop {
        for scenario in futurescope_scenarios::catalogue() {
            if Instant::now() >= until {
                break 'outer;
            }
            let run = runs.start(scenario.name, &Value::Null).expect("catalogue scenarios start with defaults");
            // lost-wakeup hangs by design: cancel it once its lint had time to appear.
            let cancel_after =
                if scenario.name == "lost-wakeup" { Some(Instant::now() + Duration::from_millis(1500)) } else { None };
            while !run.is_over() {
                if cancel_after.is_some_and(|t| Instant::now() >= t) {
                    runs.cancel(run.id);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let status = run.summary().status;
            *by_status.entry(format!("{status:?}").to_lowercase()).or_default() += 1;
            if status == RunState::Failed {
                eprintln!("soak: {} failed: {:?}", scenario.name, run.summary().error);
            }
            count += 1;
            samples.push((start.elapsed().as_secs_f64(), rss_mib()));
        }
    }
    let half = samples.len() / 2;
    let peak = |s: &[(f64, f64)]| s.iter().map(|x| x.1).fold(0.0, f64::max);
    let (first, second) = (peak(&samples[..half.max(1).min(samples.len())]), peak(&samples[half..]));
    let flat = second <= first * 1.5 + 64.0;
    let result = json!({
        "seconds": args.seconds,
        "runs": count,
        "statuses": by_status,
        "kept_runs": runs.list().len(),
        "kept_runs_mib": runs.list().iter().map(|r| r.log.approx_bytes()).sum::<usize>() as f64 / 1048576.0,
        "budget_mib": args.budget_mib,
        "rss_first_mib": samples.first().map(|s| s.1),
        "rss_peak_first_half_mib": first,
        "rss_peak_second_half_mib": second,
        "rss_last_mib": samples.last().map(|s| s.1),
        "flat": flat,
    });
    if args.json {
        println!("{result}");
    } else {
        println!("{}", serde_json::to_string_pretty(&result).expect("json"));
        println!("rss samples (s, MiB): {:?}", samples.iter().step_by((samples.len() / 20).max(1)).collect::<Vec<_>>());
    }
    flat && !by_status.contains_key("failed")
}

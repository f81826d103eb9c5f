//! `probe`: what an await-point probe costs per poll.
//!
//! With the recorder on, the same task polls `yields` times through `yield_now`, once bare and
//! once with each `.await` labelled (`await_point`) inside a probed future, the way
//! `#[instrument]` rewrites an async fn. Rounds alternate; the medians' difference divided by
//! the number of polls is the probe's cost per poll (one `state` event each).

use std::time::{Duration, Instant};

use futurescope_recorder::{AwaitPointExt, Recorder, RecorderSubscriber, RunContextGuard, probed, site};
use serde_json::json;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, default_value_t = 9)]
    rounds: usize,
    #[arg(long, default_value_t = 200_000)]
    yields: usize,
    #[arg(long)]
    json: bool,
}

async fn bare(n: usize) {
    for _ in 0..n {
        tokio::task::yield_now().await;
    }
}

async fn labelled(n: usize) {
    probed(site!("labelled()"), async move {
        for _ in 0..n {
            tokio::task::yield_now().await_point(site!("yield_now().await")).await;
        }
    })
    .await
}

pub fn run(args: Args) {
    tracing::subscriber::set_global_default(RecorderSubscriber::new()).expect("first subscriber of the bench process");
    let recorder = Recorder::global();
    let time = |probe: bool| -> (f64, u64) {
        let log = recorder.begin_run();
        let mut b = tokio::runtime::Builder::new_current_thread();
        b.enable_all();
        futurescope_recorder::instrument(&mut b, log.id);
        let rt = b.build().expect("bench runtime");
        let _ctx = RunContextGuard::enter(log.id);
        let n = args.yields;
        let start = Instant::now();
        rt.block_on(async move {
            let h = if probe { tokio::spawn(labelled(n)) } else { tokio::spawn(bare(n)) };
            h.await.expect("bench task");
        });
        let ms = start.elapsed().as_secs_f64() * 1e3;
        rt.shutdown_timeout(Duration::from_secs(1));
        recorder.finish_run(&log);
        let states = log.to_json_values().iter().filter(|e| e["k"] == "state").count() as u64;
        (ms, states)
    };
    let (mut plain, mut probed_ms, mut states) = (Vec::new(), Vec::new(), 0);
    for _ in 0..args.rounds {
        plain.push(time(false).0);
        let (ms, s) = time(true);
        probed_ms.push(ms);
        states = s;
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).expect("times are numbers"));
        v[v.len() / 2]
    };
    let (p, q) = (median(&mut plain), median(&mut probed_ms));
    let result = json!({
        "workload": format!("one task, {} yield_now polls, current_thread runtime, recorder on", args.yields),
        "rounds": args.rounds,
        "bare_ms": p,
        "probed_ms": q,
        "state_events": states,
        "probe_ns_per_poll": (q - p) * 1e6 / args.yields as f64,
        "bare_ns_per_poll": p * 1e6 / args.yields as f64,
    });
    if args.json {
        println!("{result}");
    } else {
        println!("{}", serde_json::to_string_pretty(&result).expect("json"));
    }
}

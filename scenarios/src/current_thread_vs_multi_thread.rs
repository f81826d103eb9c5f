//! # current-thread-vs-multi-thread: one workload, two schedulers
//!
//! Seed topic: "Executor (runtime) of your choice" and "Applications like Nginx and Node.js are
//! largely single-threaded (at least in terms of compute) but handle large I/O"; "C# Tasks are
//! inherently parallel capable. How? A Task is a unit of computation that can be stolen by a
//! thread in a thread pool." Tokio offers both: a current_thread runtime is the Node.js model,
//! a multi_thread runtime is the work-stealing pool.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futurescope_recorder::{AwaitPointExt, site};

use crate::{Flavor, ParamSpec, Params, RunContext, Scenario, ScenarioError, StepTime, mark, spawn_named};

pub static SCENARIO: Scenario = Scenario {
    name: "current-thread-vs-multi-thread",
    title: "current_thread vs multi_thread runtime",
    topic: "Runtimes, executors of your choice; Node/Nginx single-threaded",
    summary: "The same jobs on a current_thread runtime (one lane) and on a multi_thread one (several lanes, tasks stolen between workers).",
    description: "\
The workload is the same twice: `jobs` tasks, each running `rounds` rounds of a little CPU work \
(`work_us` of spinning, standing in for parsing a request) followed by a short \
`tokio::time::sleep` (standing in for waiting on I/O). Part 1 runs it on a current_thread \
runtime: every poll of every job, and of `main`, lies on one lane, the thread that called \
`block_on`. Jobs take turns; while one computes, the others wait even if they were woken. \
That is the Node.js and Nginx-worker model: one thread, many connections, fine as long as each \
turn is short.

Part 2 runs the same jobs on a multi_thread runtime with `workers` worker threads, one lane \
each. The polls spread over the lanes, and you can follow a single job hopping between them: \
after a sleep, the woken jobs are queued on whichever worker ran the timer (or in the shared \
injection queue), and idle workers steal from the busy ones, so a job's next poll often runs \
on a different thread from its last one (the task is `Send`, which is what makes that legal). \
(So that this shows even on a machine too busy to give both workers a core at once, part 2's \
jobs go on past `rounds` until some job has been seen on two workers.) \
Compare the two marks reporting the elapsed time: with real CPU work in each turn, the pool \
finishes sooner when the machine has idle cores to give its workers. \
The part 2 mark says how many CPU cores the machine has. With fewer cores than `workers`, the \
operating system takes turns between the worker threads, and a job's `work_us` of spinning can \
then last over 10 ms of wall time because its thread was descheduled in the middle: such polls \
are flagged `long_poll` (drawn on the job's lane; hover it), and rightly, since for that long \
nothing else ran on that worker. They are the OS's doing, not the job's: with a free core per \
worker there are none, and on a current_thread runtime there is one thread to deschedule. \
The lesson: the runtime is a choice. current_thread is simpler, needs no `Send`, and is enough \
for I/O-bound work; multi_thread buys parallelism by moving tasks between threads.",
    source: include_str!("current_thread_vs_multi_thread.rs"),
    file: "scenarios/src/current_thread_vs_multi_thread.rs",
    open_futures: &[],
    params: &[
        ParamSpec::int("jobs", 8, 1, 32, "how many tasks run the workload"),
        ParamSpec::int("rounds", 10, 1, 50, "compute-then-sleep rounds per job"),
        ParamSpec::int("work_us", 2000, 0, 3000, "CPU time per round, in microseconds"),
        ParamSpec::int("workers", 4, 2, 8, "worker threads of the multi_thread runtime"),
    ],
    step_time: StepTime::Real(
        "part 2 needs several workers (tokio pauses time only on a current-thread runtime), and \
         each job computes for real; with several workers, each stops before its own next poll",
    ),
    run,
};

/// Spins for `d` without yielding: work the scheduler cannot interrupt.
fn compute_for(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

/// Which workers the jobs of one part ran on, as they see it (`tokio::runtime::worker_index`).
#[derive(Default)]
struct Spread {
    /// Bit `i` set: some job ran on worker `i`.
    workers: AtomicU64,
    /// Some job ran on two different workers.
    moved: AtomicBool,
}

impl Spread {
    /// On a multi_thread runtime, true once the work has visibly spread and moved.
    fn shown(&self) -> bool {
        self.moved.load(Ordering::Relaxed) && self.workers.load(Ordering::Relaxed).count_ones() > 1
    }
}

/// One job: compute, wait, repeat. On the multi_thread runtime a job goes on past `rounds`
/// (up to 20 times as many) until work has been seen on two workers and moving between them,
/// so the lesson shows even on a machine too busy to run both workers at first.
async fn job(rounds: usize, work: Duration, spread: Arc<Spread>, multi: bool) {
    let mut mine = 0u64;
    for round in 0.. {
        if let Some(w) = tokio::runtime::worker_index() {
            mine |= 1 << (w % 64);
            spread.workers.fetch_or(1 << (w % 64), Ordering::Relaxed);
            if mine.count_ones() > 1 {
                spread.moved.store(true, Ordering::Relaxed);
            }
        }
        if round >= rounds && (!multi || spread.shown() || round >= rounds * 20) {
            break;
        }
        compute_for(work);
        tokio::time::sleep(Duration::from_millis(1))
            .await_point(site!("sleep(1ms).await  // waiting on \"I/O\""))
            .await;
    }
}

/// The whole workload: `jobs` tasks named after the runtime they run on.
async fn workload(flavor: &'static str, jobs: usize, rounds: usize, work: Duration) {
    let started = Instant::now();
    let spread = Arc::new(Spread::default());
    let multi = flavor == "multi_thread";
    let handles: Vec<_> = (0..jobs)
        .map(|i| spawn_named(&format!("{flavor} job {i}"), job(rounds, work, spread.clone(), multi)))
        .collect();
    for handle in handles {
        handle.await.expect("a job does not panic");
    }
    mark(format!("{flavor}: {jobs} jobs done in {:.1} ms", started.elapsed().as_secs_f64() * 1e3));
}

fn run(ctx: &RunContext, params: &Params) -> Result<(), ScenarioError> {
    let jobs = params.usize("jobs");
    let rounds = params.usize("rounds");
    let work = Duration::from_micros(params.int("work_us") as u64);
    let workers = params.usize("workers");

    ctx.mark("part 1: current_thread runtime");
    ctx.block_on(Flavor::CurrentThread, "current", workload("current_thread", jobs, rounds, work))?;

    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    ctx.mark(format!("part 2: multi_thread runtime, {workers} workers on {cores} CPU cores"));
    ctx.block_on(Flavor::MultiThread { workers }, "multi", workload("multi_thread", jobs, rounds, work))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::time::Duration;

    use serde_json::{Value, json};

    use crate::testing::{query::*, record};

    fn lanes_of(ev: &[Value], tasks: &[u64]) -> BTreeSet<u64> {
        tasks.iter().flat_map(|&t| polls(ev, t)).map(|(_, _, worker)| worker).collect()
    }

    #[test]
    fn one_lane_on_current_thread_several_and_a_stolen_task_on_multi_thread() {
        let jobs = 6;
        let rec = record(
            "current-thread-vs-multi-thread",
            json!({"jobs": jobs, "rounds": 40, "work_us": 200, "workers": 3}),
            Duration::from_secs(20),
        );
        rec.result.as_ref().expect("the scenario completes");
        let ev = &rec.events;
        assert_well_formed(ev);

        // Part 1: every job, and main, on the one thread that called block_on.
        let current = tasks_with_prefix(ev, "current_thread job ");
        assert_eq!(current.len(), jobs);
        let mains = tasks_named(ev, "main");
        let mut part1 = current.clone();
        part1.push(mains[0]);
        let lanes1 = lanes_of(ev, &part1);
        assert_eq!(lanes1.len(), 1, "current_thread polls on lanes {lanes1:?}");

        // Part 2: the jobs use several worker lanes, all of them the runtime's workers...
        let multi = tasks_with_prefix(ev, "multi_thread job ");
        assert_eq!(multi.len(), jobs);
        let lanes2 = lanes_of(ev, &multi);
        assert!(lanes2.len() > 1, "multi_thread polls on lanes {lanes2:?}");
        assert!(lanes2.len() <= 3, "more lanes than workers: {lanes2:?}");
        for lane in &lanes2 {
            let worker = of_kind(ev, "worker").into_iter().find(|w| w["worker"].as_u64() == Some(*lane)).unwrap();
            assert!(worker["name"].as_str().unwrap().starts_with("multi-"), "{worker}");
        }
        assert!(lanes1.is_disjoint(&lanes2), "part 1's thread is not one of part 2's workers");
        // ...and at least one job was polled on two different workers: it moved.
        let moved = multi.iter().filter(|&&t| lanes_of(ev, &[t]).len() > 1).count();
        assert!(moved >= 1, "no job moved between workers");

        // The parts do not overlap: part 1's runtime was gone before part 2 began.
        let part2 = first_t(ev, |e| e["k"] == "mark" && e["label"].as_str().unwrap().starts_with("part 2:"))
            .expect("part 2 mark");
        assert!(current.iter().flat_map(|&t| polls(ev, t)).all(|p| p.1 <= part2));
        assert!(multi.iter().flat_map(|&t| polls(ev, t)).all(|p| p.0 >= part2));

        // Each job was suspended at its sleep and resumed, on either runtime.
        for &t in current.iter().chain(&multi) {
            assert!(polls(ev, t).len() >= 2, "task {t} never yielded");
        }
    }
}

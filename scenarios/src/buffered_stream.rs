//! # buffered-stream: `requests.map(process).buffered(n)`, and head-of-line blocking
//!
//! Seed topic: "the need for Streams in futures": a pipelined protocol processes requests in
//! order but reads and parses up to 32 ahead, with `requests.map(|req| service.process(req))
//! .buffered(32)`. `buffered(n)` keeps up to `n` of the `process` futures in flight, all
//! inside the one task that polls the stream, and yields their results in the order of the
//! requests. `buffer_unordered(n)` yields each result as soon as it is ready.

use std::time::Duration;

use futures::StreamExt;
use futures::stream;
use futurescope_recorder::{AwaitPointExt, probed, site};

use crate::{Flavor, ParamSpec, Params, RunContext, Scenario, ScenarioError, StepTime, mark, spawn_named};

pub static SCENARIO: Scenario = Scenario {
    name: "buffered-stream",
    title: "Streams: buffered(n) versus buffer_unordered(n)",
    topic: "Streams: requests.map(process).buffered(32)",
    summary: "At most n process futures in flight inside one task; buffered keeps order and waits behind a slow one.",
    description: "\
`requests` numbered 0, 1, 2, ... go through `stream::iter(requests).map(process).buffered(n)` \
inside the task `buffered`; every `process(req)` takes `fast_ms`, except request `slow_index`, \
which takes `slow_ms`. Each `process` future is a probe (`process(req)`): it starts when \
`buffered` pulls the request from the stream and ends `ready` when its work is done. None of \
them is a task: the stream polls them all from inside the one task, so count the open probes \
at any instant: never more than `n`. The consumer marks each result as it receives it \
(`buffered: got 3`), in request order. Look at the requests right after the slow one: they \
finish quickly, but their results wait in the buffer until the slow one is done (head-of-line \
blocking), and while they wait they occupy the buffer, so no new request is started: for most \
of the slow request's time only it is in flight.

The second part does the same with `buffer_unordered(n)` (task `buffer_unordered`): results \
are marked in completion order, so the slow request's result comes last among its \
neighbours, and the buffer keeps admitting new requests in the slots the fast ones free: \
`n - 1` of them flow around the slow one. That is the trade-off of the seed note's \
`buffered(32)`: a pipelined protocol must answer in order, so it accepts head-of-line \
blocking; when order does not matter, `buffer_unordered` keeps the pipe full. Either way the \
concurrency is bounded by `n` and lives in one task, with no spawn and no `Send` needed.",
    source: include_str!("buffered_stream.rs"),
    file: "scenarios/src/buffered_stream.rs",
    params: &[
        ParamSpec::choice(
            "variant",
            "both",
            &["both", "buffered", "buffer_unordered"],
            "which combinator (both: buffered, then buffer_unordered)",
        ),
        ParamSpec::int("requests", 12, 2, 200, "how many requests go through the stream"),
        ParamSpec::int("n", 3, 1, 32, "how many process futures may be in flight at once"),
        ParamSpec::int("slow_index", 1, 0, 199, "which request is slow (none if past the last one)"),
        ParamSpec::int("fast_ms", 30, 1, 1000, "how long a normal request takes"),
        ParamSpec::int("slow_ms", 300, 1, 3000, "how long the slow request takes"),
    ],
    step_time: StepTime::Paused,
    run,
};

/// Serving one request: pretend I/O of `cost`.
async fn process(req: usize, cost: Duration) -> usize {
    tokio::time::sleep(cost).await_point(site!("sleep(cost).await  // the request's I/O")).await;
    req
}

#[derive(Clone, Copy)]
struct Settings {
    requests: usize,
    n: usize,
    slow_index: usize,
    fast: Duration,
    slow: Duration,
}

impl Settings {
    fn cost(&self, req: usize) -> Duration {
        if req == self.slow_index { self.slow } else { self.fast }
    }
}

async fn consume(ordered: bool, s: Settings) -> Vec<usize> {
    let label = if ordered { "buffered" } else { "buffer_unordered" };
    let requests = stream::iter(0..s.requests);
    // Each `process` future is a probe, started when the combinator pulls its request.
    let processed = requests.map(move |req| probed(site!("process(req)"), process(req, s.cost(req))));
    let mut results = Vec::with_capacity(s.requests);
    if ordered {
        let mut responses = processed.buffered(s.n);
        while let Some(r) = responses.next().await_point(site!("responses.next().await")).await {
            mark(format!("{label}: got {r}"));
            results.push(r);
        }
    } else {
        let mut responses = processed.buffer_unordered(s.n);
        while let Some(r) = responses.next().await_point(site!("responses.next().await")).await {
            mark(format!("{label}: got {r}"));
            results.push(r);
        }
    }
    results
}

fn run(ctx: &RunContext, params: &Params) -> Result<(), ScenarioError> {
    let s = Settings {
        requests: params.usize("requests"),
        n: params.usize("n"),
        slow_index: params.usize("slow_index"),
        fast: Duration::from_millis(params.int("fast_ms") as u64),
        slow: Duration::from_millis(params.int("slow_ms") as u64),
    };
    let parts: &[bool] = match params.choice("variant") {
        "buffered" => &[true],
        "buffer_unordered" => &[false],
        _ => &[true, false],
    };
    ctx.block_on(Flavor::MultiThread { workers: 2 }, "stream", async move {
        for &ordered in parts {
            let name = if ordered { "buffered" } else { "buffer_unordered" };
            mark(format!("requests.map(process).{name}({})", s.n));
            let consumer = probed(site!("consume(responses)"), consume(ordered, s));
            let results = spawn_named(name, consumer).await.expect("the consumer does not panic");
            mark(format!("{name}: results in the order {results:?}"));
        }
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::{Value, json};

    use crate::testing::{query::*, record};

    const N: usize = 3;
    const REQUESTS: usize = 10;
    const SLOW: usize = 1;

    /// The `process(req)` probes started inside `task`, in request order (the combinators pull
    /// requests in order), each as (start, ready) times.
    fn process_probes(ev: &[Value], task: u64) -> Vec<(u64, u64)> {
        futures_named(ev, "process(req)")
            .into_iter()
            .filter_map(|f| {
                let of = |label: &str| first_t(ev, |e| e["k"] == "state" && e["future"] == f && e["label"] == label);
                let start = of("start")?;
                let first = ev.iter().find(|e| e["k"] == "state" && e["future"] == f).unwrap();
                (first["task"] == task).then(|| (start, of("ready").expect("every request finishes")))
            })
            .collect()
    }

    /// The most probes open at once.
    fn max_in_flight(probes: &[(u64, u64)]) -> usize {
        let mut edges: Vec<(u64, i32)> = probes.iter().flat_map(|&(s, e)| [(s, 1), (e, -1)]).collect();
        // At equal times, count the end first: a slot freed and refilled in one poll is not n + 1.
        edges.sort();
        let (mut open, mut max) = (0i32, 0i32);
        for (_, d) in edges {
            open += d;
            max = max.max(open);
        }
        max as usize
    }

    /// The results the consumer marked, in the order it got them, with the mark's time.
    fn results(ev: &[Value], prefix: &str) -> Vec<(usize, u64)> {
        of_kind(ev, "mark")
            .into_iter()
            .filter_map(|m| {
                let n = m["label"].as_str()?.strip_prefix(prefix)?.parse().ok()?;
                Some((n, m["t"].as_u64().unwrap()))
            })
            .collect()
    }

    #[test]
    fn buffered_keeps_n_in_flight_in_one_task_in_order_and_blocks_behind_the_slow_one() {
        let rec = record(
            "buffered-stream",
            json!({
                "variant": "both", "requests": REQUESTS, "n": N,
                "slow_index": SLOW, "fast_ms": 10, "slow_ms": 250,
            }),
            Duration::from_secs(10),
        );
        rec.result.as_ref().expect("the scenario completes");
        let ev = &rec.events;
        assert_well_formed(ev);

        // buffered: every process future runs inside the one task, at most N at once (and the
        // buffer does fill up), results in request order.
        let task = task_named(ev, "buffered");
        let probes = process_probes(ev, task);
        assert_eq!(probes.len(), REQUESTS);
        assert!(
            of_kind(ev, "state")
                .iter()
                .filter(|s| futures_named(ev, "process(req)").contains(&s["future"].as_u64().unwrap()))
                .all(|s| s["task"] == task || s["task"] == task_named(ev, "buffer_unordered")),
            "process futures are not tasks"
        );
        assert_eq!(max_in_flight(&probes), N);
        let got = results(ev, "buffered: got ");
        assert_eq!(got.iter().map(|r| r.0).collect::<Vec<_>>(), (0..REQUESTS).collect::<Vec<_>>());
        // Head-of-line: the fast requests admitted with the slow one finished long before it, but
        // their results came only after it; and no request beyond the buffer started meanwhile.
        let slow_ready = probes[SLOW].1;
        for req in SLOW + 1..SLOW + N {
            assert!(probes[req].1 < slow_ready, "request {req} finished before the slow one");
            assert!(got[req].1 >= slow_ready, "but its result waited for it");
        }
        let admitted_late = SLOW + N;
        assert!(probes[admitted_late].0 >= slow_ready, "request {admitted_late} waited for a slot");

        // buffer_unordered: same bound, but results in completion order: the slow one comes after
        // requests admitted later than it, which kept flowing around it.
        let task = task_named(ev, "buffer_unordered");
        let probes = process_probes(ev, task);
        assert_eq!(probes.len(), REQUESTS);
        assert_eq!(max_in_flight(&probes), N);
        let got = results(ev, "buffer_unordered: got ");
        let order: Vec<usize> = got.iter().map(|r| r.0).collect();
        let slow_pos = order.iter().position(|&r| r == SLOW).unwrap();
        assert!(order[..slow_pos].iter().any(|&r| r >= SLOW + N), "later requests overtook the slow one: {order:?}");
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(sorted, (0..REQUESTS).collect::<Vec<_>>(), "every result arrived once");
    }
}

//! # buffered-stream: `requests.map(process).buffered(n)`, and head-of-line blocking
//!
//! Seed topic: "the need for Streams in futures": a pipelined protocol processes requests in
//! order but reads and parses up to 32 ahead, with `requests.map(|req| service.process(req))
//! .buffered(32)`. `buffered(n)` keeps up to `n` of the `process` futures in flight, all
//! inside the one task that polls the stream, and yields their results in the order of the
//! requests. `buffer_unordered(n)` yields each result as soon as it is ready.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::StreamExt;
use futures::stream;
use futurescope_recorder::{AwaitPointExt, ProbeHandle, probed, site};

use crate::{Flavor, ParamSpec, Params, RunContext, Scenario, ScenarioError, StepTime, mark, spawn_named};

pub static SCENARIO: Scenario = Scenario {
    name: "buffered-stream",
    title: "Streams: buffered(n) versus buffer_unordered(n)",
    topic: "Streams: requests.map(process).buffered(32)",
    summary: "At most n process futures in flight inside one task; buffered keeps order and waits behind a slow one.",
    description: "\
`requests` numbered 0, 1, 2, ... go through `stream::iter(requests).map(process).buffered(n)` \
inside the task `buffered`; every `process(req)` takes `fast_ms`, except request `slow_index`, \
which takes `slow_ms`. Each request is a probe (`process(req)`): it starts when `buffered` \
pulls the request from the stream, is suspended at its `sleep(cost)` while the work goes on, \
then sits at `result waits in the buffer` from the moment its future is ready until the \
consumer takes the result, and ends `ready` then. None of them is a task: the stream polls \
them all from inside the one task, so count the open future rows under `consume(responses)` \
at any instant: never more than `n` (the count is drawn on that row). The consumer marks each \
result as it receives it (`buffered: got 3`), in request order. Look at the requests right \
after the slow one: their work is done quickly, but their results wait in the buffer until \
the slow one is done (head-of-line blocking: the long `result waits in the buffer` \
segments), and while they wait they occupy the buffer, so no new request is started: for \
most of the slow request's time only it is in flight.

The second part does the same with `buffer_unordered(n)` (task `buffer_unordered`): results \
are taken in completion order, the moment they are ready (no result waits across a poll), \
so the slow request's result comes last among its neighbours, and the buffer keeps admitting \
new requests in the slots the fast ones free: `n - 1` of them flow around the slow one. That \
is the trade-off of the seed note's `buffered(32)`: a pipelined protocol must answer in \
order, so it accepts head-of-line blocking; when order does not matter, `buffer_unordered` \
keeps the pipe full. Either way the concurrency is bounded by `n` and lives in one task, \
with no spawn and no `Send` needed.",
    source: include_str!("buffered_stream.rs"),
    file: "scenarios/src/buffered_stream.rs",
    open_futures: &["buffered", "buffer_unordered"],
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

/// The label of a request whose `process` future is ready but whose result the consumer has
/// not taken yet (it sits in the stream's buffer).
pub const WAITING: &str = "result waits in the buffer";

/// One request's life as a probe: `start` when the stream pulls it, `process`'s await points
/// while it works, `WAITING` once `process` is ready, `ready` when the consumer takes the
/// result (`Response::take`). A plain `probed(process)` would end at the first of the last two:
/// the wait in the buffer (head-of-line blocking) would not be seen.
struct Request<F> {
    probe: Option<ProbeHandle>,
    process: Pin<Box<F>>,
}

fn request<F: Future<Output = usize>>(process: F) -> Request<F> {
    Request { probe: Some(ProbeHandle::start(site!("process(req)"))), process: Box::pin(process) }
}

impl<F: Future<Output = usize>> Future for Request<F> {
    type Output = Response;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Response> {
        let this = &mut *self;
        let probe = this.probe.as_ref().expect("a request is not polled after it is ready");
        let process = &mut this.process;
        match probe.enter(|| process.as_mut().poll(cx)) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(req) => {
                let probe = this.probe.take().expect("checked above");
                probe.set_state(site!(WAITING));
                Poll::Ready(Response { req, probe })
            }
        }
    }
}

/// A request's result, in the stream's buffer until the consumer takes it.
struct Response {
    req: usize,
    probe: ProbeHandle,
}

impl Response {
    fn take(mut self) -> usize {
        self.probe.ready();
        self.req
    }
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
    let processed = requests.map(move |req| request(process(req, s.cost(req))));
    let mut results = Vec::with_capacity(s.requests);
    if ordered {
        let mut responses = processed.buffered(s.n);
        while let Some(r) = responses.next().await_point(site!("responses.next().await")).await {
            let r = r.take();
            mark(format!("{label}: got {r}"));
            results.push(r);
        }
    } else {
        let mut responses = processed.buffer_unordered(s.n);
        while let Some(r) = responses.next().await_point(site!("responses.next().await")).await {
            let r = r.take();
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
    /// The requests of `task`: (start, work done, result taken), in request order.
    fn process_probes(ev: &[Value], task: u64) -> Vec<(u64, u64, u64)> {
        futures_named(ev, "process(req)")
            .into_iter()
            .filter_map(|f| {
                let of = |label: &str| first_t(ev, |e| e["k"] == "state" && e["future"] == f && e["label"] == label);
                let start = of("start")?;
                let first = ev.iter().find(|e| e["k"] == "state" && e["future"] == f).unwrap();
                let done = of(super::WAITING).expect("every request's work is done");
                (first["task"] == task).then(|| (start, done, of("ready").expect("every result is taken")))
            })
            .collect()
    }

    /// How many requests' results waited in the buffer while the task was not being polled.
    fn waited_across_polls(ev: &[Value], task: u64, probes: &[(u64, u64, u64)]) -> usize {
        let ends: Vec<u64> = polls(ev, task).iter().map(|p| p.1).collect();
        probes.iter().filter(|&&(_, done, taken)| ends.iter().any(|&e| done <= e && e < taken)).count()
    }

    fn max_in_flight(probes: &[(u64, u64, u64)]) -> usize {
        let mut edges: Vec<(u64, i32)> = probes.iter().flat_map(|&(s, _, e)| [(s, 1), (e, -1)]).collect();
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
        let slow_done = probes[SLOW].1;
        for req in SLOW + 1..SLOW + N {
            assert!(probes[req].1 < slow_done, "request {req} finished before the slow one");
            assert!(got[req].1 >= slow_done, "but its result waited for it");
            assert!(probes[req].2 >= slow_done, "and its probe shows it waiting in the buffer");
        }
        let admitted_late = SLOW + N;
        assert!(probes[admitted_late].0 >= slow_done, "request {admitted_late} waited for a slot");
        assert!(waited_across_polls(ev, task, &probes) >= N - 1, "results wait in the buffer between polls");

        // buffer_unordered: same bound, but results in completion order: the slow one comes after
        // requests admitted later than it, which kept flowing around it.
        let task = task_named(ev, "buffer_unordered");
        let probes = process_probes(ev, task);
        assert_eq!(probes.len(), REQUESTS);
        assert_eq!(max_in_flight(&probes), N);
        assert_eq!(waited_across_polls(ev, task, &probes), 0, "buffer_unordered hands each result over at once");
        let got = results(ev, "buffer_unordered: got ");
        let order: Vec<usize> = got.iter().map(|r| r.0).collect();
        let slow_pos = order.iter().position(|&r| r == SLOW).unwrap();
        assert!(order[..slow_pos].iter().any(|&r| r >= SLOW + N), "later requests overtook the slow one: {order:?}");
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(sorted, (0..REQUESTS).collect::<Vec<_>>(), "every result arrived once");
    }
}

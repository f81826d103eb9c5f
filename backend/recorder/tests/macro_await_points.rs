//! `#[instrument]` (crate futurescope-macros) as the recorder sees it: the `state` events of
//! instrumented async fns, their await-point labels and lines, and how they nest.
//!
//! Expected lines are found by searching this file's own text, so the assertions name real
//! lines of `.await`s and survive edits above them.

use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futurescope_recorder::instrument;
use serde_json::Value;

mod support;

const THIS_FILE: &str = include_str!("macro_await_points.rs");

/// The 1-based number of the only line of this file (outside these searches) that contains
/// `needle`.
fn line_of(needle: &str) -> u64 {
    let mut found =
        THIS_FILE.lines().enumerate().filter(|(_, line)| line.contains(needle) && !line.contains("line_of("));
    let (index, _) = found.next().unwrap_or_else(|| panic!("no line contains {needle:?}"));
    assert!(found.next().is_none(), "more than one line contains {needle:?}");
    index as u64 + 1
}

/// Runs `main` as task "main" on a fresh current-thread runtime with paused time and returns
/// the run's events.
fn record<F: Future<Output = ()> + Send + 'static>(main: F) -> Vec<Value> {
    support::install_recorder();
    let mut builder = tokio::runtime::Builder::new_current_thread();
    builder.start_paused(true);
    support::record_on(builder, main)
}

fn states(events: &[Value]) -> Vec<&Value> {
    events.iter().filter(|e| e["k"] == "state").collect()
}

/// The probe whose `start` event is labelled `name`.
fn start_of<'a>(events: &'a [Value], name: &str) -> &'a Value {
    states(events)
        .into_iter()
        .find(|e| e["label"] == "start" && e["name"] == name)
        .unwrap_or_else(|| panic!("no probe named {name:?} started"))
}

/// `(label, line of loc)` of each state of the probe `future`, in order.
fn states_of(events: &[Value], future: &Value) -> Vec<(String, Option<u64>)> {
    states(events)
        .into_iter()
        .filter(|e| e["future"] == *future)
        .map(|e| {
            let line = e["loc"].as_str().map(|loc| {
                assert!(loc.contains("macro_await_points.rs:"), "loc {loc} names this file");
                loc.rsplit(':').next().unwrap().parse().unwrap()
            });
            (e["label"].as_str().unwrap().to_owned(), line)
        })
        .collect()
}

fn state(label: &str, line: u64) -> (String, Option<u64>) {
    (label.to_owned(), Some(line))
}

fn end(label: &str) -> (String, Option<u64>) {
    (label.to_owned(), None)
}

#[instrument]
async fn sample() -> u32 {
    tokio::task::yield_now().await; // await: yield
    #[rustfmt::skip]
    let () = tokio::time::sleep(Duration::from_millis(20))
        .await; // await: sleep over two lines
    let ready_at_once = async { 7 }.await; // await: never pending
    ready_at_once
}

#[test]
fn each_await_is_labelled_with_its_expression_and_its_own_line() {
    let events = record(async {
        assert_eq!(sample().await, 7);
    });
    let probe = start_of(&events, "sample()");
    assert!(probe["parent"].is_null(), "a top-level fn has no parent probe: {probe}");
    assert_eq!(
        states_of(&events, &probe["future"]),
        vec![
            state("start", line_of("async fn sample()")),
            state("tokio::task::yield_now().await", line_of("// await: yield")),
            state("tokio::time::sleep(Duration::from_millis(20)).await", line_of("// await: sleep over two lines")),
            // `async { 7 }.await` was ready at its first poll: never suspended there.
            end("ready"),
        ]
    );
}

#[instrument]
async fn outer() -> u32 {
    let a = inner(1).await; // await: first inner
    tokio::task::yield_now().await; // await: outer's own
    a + inner(2).await // await: second inner
}

#[instrument(name = "inner step")]
async fn inner(n: u32) -> u32 {
    tokio::time::sleep(Duration::from_millis(5)).await; // await: inner sleep
    n * 10
}

#[test]
fn nested_instrumented_fns_are_child_probes_of_the_fn_that_awaits_them() {
    let events = record(async {
        assert_eq!(outer().await, 30);
    });
    let outer_probe = start_of(&events, "outer()");
    let outer_id = &outer_probe["future"];
    let inner_starts: Vec<&Value> =
        states(&events).into_iter().filter(|e| e["label"] == "start" && e["name"] == "inner step").collect();
    assert_eq!(inner_starts.len(), 2);
    for start in &inner_starts {
        assert_eq!(start["parent"], *outer_id, "inner's parent is outer: {start}");
        assert_ne!(start["future"], *outer_id);
        assert_eq!(start["task"], outer_probe["task"]);
        assert_eq!(
            states_of(&events, &start["future"]),
            vec![
                state("start", line_of("async fn inner(n: u32)")),
                state("tokio::time::sleep(Duration::from_millis(5)).await", line_of("// await: inner sleep")),
                end("ready"),
            ]
        );
    }
    assert_eq!(
        states_of(&events, outer_id),
        vec![
            state("start", line_of("async fn outer()")),
            state("inner(1).await", line_of("// await: first inner")),
            state("tokio::task::yield_now().await", line_of("// await: outer's own")),
            state("inner(2).await", line_of("// await: second inner")),
            end("ready"),
        ]
    );
}

#[futurescope_recorder::instrument]
async fn waits_forever() {
    std::future::pending::<()>().await; // await: forever
}

#[test]
fn an_instrumented_fn_dropped_while_suspended_is_cancelled() {
    let events = record(async {
        let timed_out = tokio::time::timeout(Duration::from_millis(10), waits_forever()).await;
        assert!(timed_out.is_err());
    });
    let probe = start_of(&events, "waits_forever()");
    assert_eq!(
        states_of(&events, &probe["future"]),
        vec![
            state("start", line_of("async fn waits_forever()")),
            state("std::future::pending::<()>().await", line_of("// await: forever")),
            // When the deadline wakes it, `timeout` polls the inner future once more before
            // giving up: a second pending poll at the same await point.
            state("std::future::pending::<()>().await", line_of("// await: forever")),
            end("cancelled"),
        ]
    );
}

// The forms below only have to compile (and run once): generics, methods, trait impls,
// lifetimes, coercions to the declared return type, `?`, and futures that stay `Send`.

struct Counter {
    hits: u32,
}

impl Counter {
    #[instrument]
    async fn bump(&mut self, by: u32) -> u32 {
        tokio::task::yield_now().await;
        self.hits += by;
        self.hits
    }

    #[instrument]
    async fn name<'a>(&self, prefix: &'a str) -> &'a str {
        tokio::task::yield_now().await;
        if self.hits == 0 {
            return "none";
        }
        prefix
    }

    #[instrument]
    async fn shared(self: Arc<Self>) -> u32 {
        tokio::task::yield_now().await;
        self.hits
    }
}

#[instrument]
async fn largest<'a, T>(items: &'a [T]) -> Option<T>
where
    T: PartialOrd + Copy + Send + Display + 'a,
{
    tokio::task::yield_now().await;
    items.iter().copied().fold(None, |best, x| match best {
        Some(b) if b >= x => Some(b),
        _ => Some(x),
    })
}

trait Shape {
    fn area(&self) -> f64;
}

struct Square(f64);

impl Shape for Square {
    fn area(&self) -> f64 {
        self.0 * self.0
    }
}

/// Both returns coerce `Box<Square>` to the declared `Box<dyn Shape + Send>`.
#[instrument]
async fn boxed_shape(side: f64) -> Box<dyn Shape + Send> {
    if side < 0.0 {
        return Box::new(Square(0.0));
    }
    tokio::task::yield_now().await;
    Box::new(Square(side))
}

#[instrument]
async fn parse_after_yield(text: &str) -> Result<u32, Box<dyn std::error::Error + Send + Sync>> {
    tokio::task::yield_now().await;
    let n: u32 = text.trim().parse()?;
    Ok(n)
}

#[instrument]
async fn shown(value: impl Display + Send) -> impl Display {
    tokio::task::yield_now().await;
    format!("<{value}>")
}

trait Fetch {
    async fn fetch(&self, key: u32) -> String;
}

impl Fetch for Counter {
    #[instrument]
    async fn fetch(&self, key: u32) -> String {
        tokio::task::yield_now().await;
        format!("{key}:{}", self.hits)
    }
}

/// A future that is `IntoFuture` but not `Future`: awaiting it must still work.
struct Request(u32);

impl std::future::IntoFuture for Request {
    type Output = u32;
    type IntoFuture = std::future::Ready<u32>;
    fn into_future(self) -> Self::IntoFuture {
        std::future::ready(self.0)
    }
}

#[instrument]
async fn send_request() -> u32 {
    Request(41).await + 1
}

#[test]
fn generic_method_trait_and_coercing_forms_compile_and_run() {
    let events = record(async {
        let mut counter = Counter { hits: 0 };
        assert_eq!(counter.name("c").await, "none");
        assert_eq!(counter.bump(2).await, 2);
        assert_eq!(counter.name("c").await, "c");
        assert_eq!(counter.fetch(9).await, "9:2");
        assert_eq!(Arc::new(counter).shared().await, 2);
        assert_eq!(largest(&[3, 9, 4]).await, Some(9));
        assert_eq!(boxed_shape(2.0).await.area(), 4.0);
        assert_eq!(boxed_shape(-1.0).await.area(), 0.0);
        assert_eq!(parse_after_yield(" 12 ").await.unwrap(), 12);
        assert!(parse_after_yield("x").await.is_err());
        assert_eq!(shown(5).await.to_string(), "<5>");
        assert_eq!(send_request().await, 42);
        // Instrumented futures stay `Send`: they can be spawned onto a multi-thread runtime.
        let spawned = tokio::spawn(async { Counter { hits: 1 }.bump(1).await });
        assert_eq!(spawned.await.unwrap(), 2);
    });
    for name in ["bump()", "name()", "shared()", "largest()", "boxed_shape()", "fetch()", "send_request()"] {
        start_of(&events, name);
    }
    // `Request(41)` is ready at once, so its await point never shows up as a suspension.
    let request = start_of(&events, "send_request()");
    let request_states: Vec<String> =
        states_of(&events, &request["future"]).into_iter().map(|(label, _)| label).collect();
    assert_eq!(request_states, ["start", "ready"]);
}

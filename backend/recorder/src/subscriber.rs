//! `RecorderSubscriber`: the recorder as a whole tracing subscriber, for when nothing else
//! (console-subscriber, a fmt layer) shares the process's tracing.
//!
//! It is much cheaper than a `Registry` with a layer, because it keeps no per-span storage:
//! it hands out span ids that *are* the tokio task ids (with a flag bit for blocking tasks), so
//! a waker event's `task.id` (which tokio fills with the span id) names the task directly and
//! enter/exit need no lookup. It enables only tokio's task spans and waker events; every other
//! callsite is disabled at registration and costs nothing afterwards.

use std::sync::atomic::{AtomicU64, Ordering};

use tracing_core::span::{Attributes, Id, Record};
use tracing_core::subscriber::Interest;
use tracing_core::{Event, LevelFilter, Metadata, Subscriber};

use crate::callsites::{self, SpawnFieldsVisitor, TaskSpanKind, WakerOpVisitor};
use crate::capture::{self, SpanTask};

/// Span ids of `block_on` futures carry this bit next to the task id.
const BLOCK_ON_BIT: u64 = 1 << 61;
/// Span ids of blocking-pool tasks carry this bit next to the task id.
const BLOCKING_BIT: u64 = 1 << 62;
/// Span ids of spans that are not tasks of the program (worker threads, `block_on`).
const IGNORED_BIT: u64 = 1 << 63;
const TASK_MASK: u64 = !(BLOCK_ON_BIT | BLOCKING_BIT | IGNORED_BIT);

/// What a span id handed out by `new_span` names.
fn span_task(id: u64) -> SpanTask {
    let task = id & TASK_MASK;
    if id & IGNORED_BIT != 0 {
        SpanTask::None
    } else if id & BLOCKING_BIT != 0 {
        SpanTask::Blocking(task)
    } else if id & BLOCK_ON_BIT != 0 {
        SpanTask::BlockOn(task)
    } else {
        SpanTask::Async(task)
    }
}

/// A tracing subscriber that records tokio task activity and nothing else.
#[derive(Debug, Default)]
pub struct RecorderSubscriber {
    next_ignored: AtomicU64,
}

impl RecorderSubscriber {
    pub fn new() -> Self {
        Self::default()
    }
}

impl Subscriber for RecorderSubscriber {
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        if self.enabled(meta) { Interest::always() } else { Interest::never() }
    }

    fn enabled(&self, meta: &Metadata<'_>) -> bool {
        callsites::is_spawn_span(meta) || callsites::is_waker_event(meta)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::TRACE)
    }

    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        if callsites::is_spawn_span(attrs.metadata()) {
            let mut fields = SpawnFieldsVisitor::default();
            attrs.record(&mut fields);
            let (task, kind, info) = fields.finish();
            if task != 0 && task & !TASK_MASK == 0 {
                match kind {
                    TaskSpanKind::Async => {
                        capture::spawned(task, info);
                        return Id::from_u64(task);
                    }
                    TaskSpanKind::Blocking => {
                        capture::spawned(task, info);
                        return Id::from_u64(task | BLOCKING_BIT);
                    }
                    TaskSpanKind::BlockOn if capture::tracing_polls() => {
                        capture::spawned(task, info);
                        return Id::from_u64(task | BLOCK_ON_BIT);
                    }
                    TaskSpanKind::BlockOn | TaskSpanKind::Ignored => {}
                }
            }
        }
        Id::from_u64(IGNORED_BIT | (self.next_ignored.fetch_add(1, Ordering::Relaxed) + 1))
    }

    fn record(&self, _span: &Id, _values: &Record<'_>) {}

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, event: &Event<'_>) {
        // Only waker events are enabled (`enabled` is asked before an event reaches here), so
        // the target needs no second look on this, the hottest, path.
        debug_assert!(callsites::is_waker_event(event.metadata()));
        let mut visitor = WakerOpVisitor::default();
        event.record(&mut visitor);
        if let Some(op) = visitor.op
            && visitor.span_id & IGNORED_BIT == 0
        {
            capture::waker_op(op, visitor.span_id & TASK_MASK);
        }
    }

    fn enter(&self, span: &Id) {
        let id = span.into_u64();
        if id & IGNORED_BIT == 0 {
            capture::span_enter(id, || span_task(id));
        }
    }

    fn exit(&self, span: &Id) {
        let id = span.into_u64();
        if id & IGNORED_BIT == 0 {
            capture::span_exit(id, || span_task(id));
        }
    }

    fn try_close(&self, span: Id) -> bool {
        // Only tokio's task spans are enabled here, and each has one handle (its task's
        // `Instrumented`), so the first close is the last.
        let id = span.into_u64();
        if id & IGNORED_BIT == 0 {
            capture::span_closed(span_task(id));
        }
        false
    }
}

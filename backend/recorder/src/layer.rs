//! `RecorderLayer`: the recorder as a `tracing_subscriber` layer, for a registry it shares with
//! other layers (console-subscriber's `ConsoleLayer` in the dashboard).
//!
//! The registry assigns span ids, so waker records carry the woken task's span id (flagged) and
//! the collector maps it to the task id from the spawn records, off the hot path. The layer
//! keeps a `TaskSpan` in each task span's extensions (created in `on_new_span`) only to
//! recognise blocking-pool tasks when a span is entered outside a poll. Inside a poll the
//! first enter is the task's own span and needs no lookup (see `capture.rs`). Callsites the
//! recorder does not want are ignored in the hooks, not disabled, so other layers still see them.

use tracing_core::span::{Attributes, Id};
use tracing_core::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::callsites::{self, SpawnFieldsVisitor, TaskSpanKind, WakerOpVisitor};
use crate::capture::{self, SpanTask};

/// Per-span data: which task a `runtime.spawn` span belongs to.
#[derive(Clone, Copy, Debug)]
struct TaskSpan {
    task: u64,
    kind: TaskSpanKind,
}

/// Records tokio task activity from inside a `tracing_subscriber::Registry`.
#[derive(Debug, Default, Clone, Copy)]
pub struct RecorderLayer {
    _private: (),
}

impl RecorderLayer {
    pub fn new() -> Self {
        Self::default()
    }
}

fn task_span<S>(ctx: &Context<'_, S>, id: &Id) -> Option<TaskSpan>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    ctx.span(id)?.extensions().get::<TaskSpan>().copied()
}

fn span_task<S>(ctx: &Context<'_, S>, id: &Id) -> SpanTask
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    match task_span(ctx, id) {
        Some(TaskSpan { task, kind: TaskSpanKind::Blocking }) => SpanTask::Blocking(task),
        Some(TaskSpan { task, kind: TaskSpanKind::Async }) => SpanTask::Async(task),
        Some(TaskSpan { task, kind: TaskSpanKind::BlockOn }) => SpanTask::BlockOn(task),
        _ => SpanTask::None,
    }
}

impl<S> Layer<S> for RecorderLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if !callsites::is_spawn_span(attrs.metadata()) {
            return;
        }
        let mut fields = SpawnFieldsVisitor::default();
        attrs.record(&mut fields);
        let (task, kind, mut info) = fields.finish();
        if task == 0 {
            return;
        }
        let recorded = match kind {
            TaskSpanKind::Ignored => false,
            TaskSpanKind::BlockOn => capture::tracing_polls(),
            TaskSpanKind::Async | TaskSpanKind::Blocking => true,
        };
        if !recorded {
            return;
        }
        info.span = Some(id.into_u64());
        capture::spawned(task, info);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(TaskSpan { task, kind });
        }
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if !callsites::is_waker_event(event.metadata()) {
            return;
        }
        let mut visitor = WakerOpVisitor::default();
        event.record(&mut visitor);
        let Some(op) = visitor.op else { return };
        // No span lookup here (it is the costliest part of a registry): the collector maps the
        // span id to the task from the spawn records, in time order.
        if visitor.span_id & capture::SPAN_ID_FLAG == 0 {
            capture::waker_op(op, visitor.span_id | capture::SPAN_ID_FLAG);
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        capture::span_enter(id.into_u64(), || span_task(&ctx, id));
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        capture::span_exit(id.into_u64(), || span_task(&ctx, id));
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        capture::span_closed(span_task(&ctx, &id));
    }
}

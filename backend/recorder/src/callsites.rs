//! What tokio's instrumentation looks like, and visitors named for what they extract from it.
//!
//! Shared by both ways of attaching the recorder (`subscriber::RecorderSubscriber` and
//! `layer::RecorderLayer`), so the knowledge of tokio's span and event fields lives here only.

use std::fmt;

use tracing_core::Metadata;
use tracing_core::field::{Field, Visit};

use crate::buffer::SpawnInfo;
use crate::capture::WakerOp;

/// Name of the span tokio creates for every task (`tokio::task` and `tokio::task::blocking`).
pub(crate) const SPAWN_SPAN_NAME: &str = "runtime.spawn";
/// Target of tokio's waker-operation events.
pub(crate) const WAKER_TARGET: &str = "tokio::task::waker";

pub(crate) fn is_spawn_span(meta: &Metadata<'_>) -> bool {
    meta.is_span() && meta.name() == SPAWN_SPAN_NAME && meta.target().starts_with("tokio::task")
}

pub(crate) fn is_waker_event(meta: &Metadata<'_>) -> bool {
    meta.is_event() && meta.target() == WAKER_TARGET
}

/// Extracts a task's identity and metadata from its `runtime.spawn` span.
#[derive(Default, Debug)]
pub(crate) struct SpawnFieldsVisitor {
    pub task_id: u64,
    pub info: SpawnInfo,
    /// The blocking closure's type name: tells a runtime's own worker threads (which tokio runs
    /// as blocking tasks for their whole life) from user `spawn_blocking` calls.
    pub func: String,
    loc_file: String,
    loc_line: u64,
    loc_col: u64,
}

impl SpawnFieldsVisitor {
    pub(crate) fn finish(mut self) -> (u64, TaskSpanKind, SpawnInfo) {
        if !self.loc_file.is_empty() {
            self.info.loc = format!("{}:{}:{}", self.loc_file, self.loc_line, self.loc_col);
        }
        let kind = match self.info.kind.as_str() {
            "blocking" if self.func.starts_with("tokio::runtime::") => TaskSpanKind::Ignored,
            "blocking" => TaskSpanKind::Blocking,
            "block_on" => TaskSpanKind::BlockOn,
            _ => TaskSpanKind::Async,
        };
        (self.task_id, kind, self.info)
    }
}

/// How the recorder treats a task span.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TaskSpanKind {
    /// Polled by the scheduler: polls come from the runtime's poll hooks, or from tracing.
    Async,
    /// A `spawn_blocking` closure: its one run is the span's enter/exit.
    Blocking,
    /// A future run by `block_on`: a task to tokio-console, and to the recorder when polls
    /// are taken from tracing (`capture::set_tracing_polls`).
    BlockOn,
    /// A runtime's worker thread: not a task of the program.
    Ignored,
}

impl Visit for SpawnFieldsVisitor {
    fn record_u64(&mut self, field: &Field, value: u64) {
        match field.name() {
            "task.id" => self.task_id = value,
            "size.bytes" => self.info.size = Some(value),
            "loc.line" => self.loc_line = value,
            "loc.col" => self.loc_col = value,
            _ => {}
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.record_u64(field, value.max(0) as u64);
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "loc.file" => self.loc_file = value.to_owned(),
            "task.name" => self.info.name = value.to_owned(),
            "kind" => self.info.kind = value.to_owned(),
            "fn" => self.func = value.to_owned(),
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match field.name() {
            "task.name" => self.info.name = format!("{value:?}"),
            "kind" => self.info.kind = format!("{value:?}"),
            "fn" => self.func = format!("{value:?}"),
            "loc.file" => self.loc_file = format!("{value:?}").trim_matches('"').to_owned(),
            _ => {}
        }
    }
}

/// The operation a waker event's `op` names: one of tokio's four, told apart by length and one
/// byte first (this runs for every waker operation), then checked in full.
fn parse_waker_op(op: &str) -> Option<WakerOp> {
    match (op.len(), op.as_bytes().get(6)) {
        (11, _) if op == "waker.clone" => Some(WakerOp::Clone),
        (17, _) if op == "waker.wake_by_ref" => Some(WakerOp::WakeByRef),
        (10, Some(b'd')) if op == "waker.drop" => Some(WakerOp::Drop),
        (10, Some(b'w')) if op == "waker.wake" => Some(WakerOp::Wake),
        _ => None,
    }
}

/// Extracts the operation and the woken task's span id from a `tokio::task::waker` event.
#[derive(Default)]
pub(crate) struct WakerOpVisitor {
    pub op: Option<WakerOp>,
    pub span_id: u64,
}

impl Visit for WakerOpVisitor {
    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "task.id" {
            self.span_id = value;
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "op" {
            self.op = parse_waker_op(value);
        }
    }

    fn record_debug(&mut self, _field: &Field, _value: &dyn fmt::Debug) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waker_ops_parse_exactly() {
        assert_eq!(parse_waker_op("waker.clone"), Some(WakerOp::Clone));
        assert_eq!(parse_waker_op("waker.drop"), Some(WakerOp::Drop));
        assert_eq!(parse_waker_op("waker.wake"), Some(WakerOp::Wake));
        assert_eq!(parse_waker_op("waker.wake_by_ref"), Some(WakerOp::WakeByRef));
        for other in ["", "waker.", "waker.dropx", "waker.clonf", "waker.wakf", "xaker.drop", "waker.wake_by_rex"] {
            assert_eq!(parse_waker_op(other), None, "{other}");
        }
    }
}

//! futurescope-recorder: records what a tokio runtime's tasks do (spawns, polls and the worker
//! that ran them, wakes and who woke whom, waker clones and drops, task ends, and where each
//! probed future is suspended) cheaply enough to leave on, and keeps it as compact per-run logs
//! that render to the wire format of `docs/protocol.md`.
//!
//! Layout, in the order data flows:
//! - `runtime`: attaches the recorder to a `tokio::runtime::Builder` (poll/terminate hooks,
//!   the run context of its threads), and `task_id_u64`.
//! - `subscriber` / `layer`: the tracing side. `RecorderSubscriber` is a whole, minimal
//!   subscriber (fastest); `RecorderLayer` sits in a `Registry` next to console-subscriber.
//!   Both only classify tokio's callsites (`callsites`) and call into `capture`.
//! - `capture`: the hot path, one thread-local per thread, writing `record::RawRecord`s into
//!   `buffer`'s per-thread chunks. No lock, no shared queue, no allocation per event.
//! - `collector`: one thread that drains the chunks, orders records by time, routes them to
//!   runs and stores them (`log::RunLog`), deriving `lint`s on the way.
//! - `probe`: await-point probes (`state` events); `site!` names an await point.
//! - `step`: step mode's gate, which holds each poll of a stepped run until it is allowed.
//! - `retain`: the retention window of a long-lived run (a watched program): eviction of its
//!   oldest events in chunks, with what readers still need carried over.
//! - `causes`: the watcher of open polls, which samples the kernel's figures for a thread
//!   whose poll runs long and says why it was long (`poll_cause` events), off the hot path.
//! - `dump`: task dumps (tokio's `Handle::dump`) of a run's runtimes, symbolized into await
//!   trees (`snapshot` events), on a thread of their own.
//!
//! What it leaves to others: serving, streaming and drawing (crate `futurescope`), the
//! scenarios, and the choice of runtime flavour. It needs `--cfg tokio_unstable` and tokio's
//! `tracing` feature.

#[cfg(not(tokio_unstable))]
compile_error!(
    "futurescope-recorder needs tokio's unstable APIs (task tracing spans, waker events, runtime hooks): \
     build with `--cfg tokio_unstable`. Add to `.cargo/config.toml` at the root of your workspace:\n\
     [build]\n\
     rustflags = [\"--cfg\", \"tokio_unstable\"]\n\
     (or set RUSTFLAGS=\"--cfg tokio_unstable\"); tokio's `tracing` feature is enabled by this crate's own \
     dependency on tokio."
);

mod buffer;
mod callsites;
mod capture;
mod causes;
pub mod clock;
mod collector;
pub mod dump;
pub mod event;
mod idmap;
pub mod layer;
pub mod lint;
pub mod local;
pub mod log;
pub mod probe;
mod record;
pub mod retain;
pub mod runtime;
mod stacks;
pub mod step;
pub mod subscriber;
pub mod sync;

pub use buffer::SpawnInfo;
pub use capture::set_tracing_polls;
pub use collector::{LiveViewer, Recorder, RecorderConfig};
pub use event::{
    Cause, EventKind, Frame, HotFrame, LaneKind, PollCause, Snapshot, SnapshotReason, SnapshotTask, Stack, StackFrame,
    Stored, StoredEvent, TaskState, WakeOp, WireEvent,
};
pub use futurescope_macros::instrument;
pub use layer::RecorderLayer;
pub use lint::{LintRule, LintThresholds};
pub use local::poll_recorded;
pub use log::{RunCounts, RunLog, ThreadLane};
pub use probe::{AwaitPointExt, ProbeHandle, ProbeSite, probed};
pub use record::{Outcome, ProbeState};
pub use retain::Retention;
pub use runtime::{Hooks, RunContextGuard, enter_as_runtime_thread, instrument, record, spawn_thread, task_id_u64};
pub use step::StepGate;
pub use subscriber::RecorderSubscriber;
pub use sync::{LockUnpoisoned, Unpoisoned};

/// The task being polled on this thread right now, as tokio numbers it.
pub fn current_task() -> Option<u64> {
    capture::current_task()
}

/// Puts an annotation on the run's time axis ("phase 2: with spawn_blocking").
pub fn mark(label: impl Into<String>) {
    capture::mark(label.into());
}

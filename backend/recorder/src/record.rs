//! The fixed-size record the hot path writes, and the wider one the collector reads it into.
//!
//! A `RawRecord` is 32 bytes, `Copy`, and holds no pointers to heap data, so writing one is a
//! handful of stores into a preallocated chunk. It leaves out what the collector knows without
//! it: the thread (each thread has its own buffer). What a field means depends on `kind`; the
//! collector (see `collector.rs`) is the only reader and the only place that interprets it,
//! after `Record::decode` has added the thread.

/// What happened. The discriminants are stable only inside one process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[repr(u8)]
pub(crate) enum RecordKind {
    /// Never written; the value zeroed slots hold.
    #[default]
    Empty = 0,
    /// `task` was spawned; `a` = parent task (0: none), `b` = side-table sequence number.
    Spawn,
    /// A poll of `task` began.
    PollStart,
    /// That poll returned; flags: `FLAG_READY`, `FLAG_DROP` (the "poll" only dropped a cancelled future).
    PollEnd,
    /// `task` was woken; `a` = waking task (0: a driver or plain thread), flags: `FLAG_BY_REF`.
    Wake,
    /// A waker of `task` was cloned.
    WakerClone,
    /// A waker of `task` was dropped.
    WakerDrop,
    /// Probe `a` in `task` entered state `flags` (a `ProbeState`) at site `b` (0: none). A
    /// `ProbeState::Start` with a parent probe is followed, in the same chunk, by a
    /// `StateParent` record.
    State,
    /// The parent probe (`a`) of the `State` record just before it.
    StateParent,
    /// `task` ended; flags = `Outcome`.
    Done,
    /// A scenario's annotation; `b` = side-table sequence number.
    Mark,
    /// The tracing span of `task` closed (recorded only where polls come from tracing alone,
    /// see `capture.rs`); the collector turns it into a `Done`.
    Closed,
    /// Never written by a thread: the collector makes it for a snapshot handed to
    /// `Recorder::push_snapshot` (`c` = its sequence number), so it is ordered with the rest.
    Snapshot,
    /// Never written by a thread: the collector makes it for a long poll's cause the watcher
    /// found (`causes.rs`; `c` = its sequence number, `b` = the poll's thread).
    PollCause,
}

pub(crate) const FLAG_READY: u8 = 1;
pub(crate) const FLAG_DROP: u8 = 2;
pub(crate) const FLAG_BY_REF: u8 = 1;
/// On `PollEnd`: the poll unwound (tracing-only polls; see `capture.rs`).
pub(crate) const FLAG_PANICKED: u8 = 4;
/// On `PollStart` / `PollEnd`: seen from tokio's tracing alone, without poll hooks, so it may
/// be the enter/exit that drops the future; the collector decides (see `collector::classify`).
pub(crate) const FLAG_TENTATIVE: u8 = 8;

/// One recorded occurrence, as the hot path writes it. See `RecordKind` for `a` and `b`.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
pub(crate) struct RawRecord {
    /// Raw clock ticks (`clock::ticks`) when written; the collector converts them to
    /// nanoseconds since the recorder's epoch as it reads them.
    pub t: u64,
    pub task: u64,
    pub a: u64,
    pub b: u32,
    /// The run this thread was working for when it wrote the record (0: unknown; the
    /// collector then routes by task id).
    pub run: u16,
    pub kind: RecordKind,
    pub flags: u8,
}

const _: () = assert!(std::mem::size_of::<RawRecord>() == 32);

/// A record as the collector handles it: the raw one with its thread, and the side-table
/// sequence number or parent probe in a field of its own.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Record {
    pub t: u64,
    pub task: u64,
    pub a: u64,
    /// Side-table sequence number (`Spawn`, `Mark`) or parent probe (`State`).
    pub c: u64,
    /// The global index of the thread that wrote it (for `State`: the site id).
    pub b: u32,
    pub run: u16,
    pub kind: RecordKind,
    pub flags: u8,
}

impl Record {
    /// `raw` as written by thread `thread`.
    #[inline]
    pub(crate) fn decode(raw: RawRecord, thread: u32) -> Record {
        let (b, c) = match raw.kind {
            RecordKind::Spawn | RecordKind::Mark => (thread, u64::from(raw.b)),
            RecordKind::State => (raw.b, 0),
            _ => (thread, 0),
        };
        Record { t: raw.t, task: raw.task, a: raw.a, c, b, run: raw.run, kind: raw.kind, flags: raw.flags }
    }
}

/// How a task ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum Outcome {
    Completed = 0,
    Cancelled = 1,
    Panicked = 2,
}

impl Outcome {
    pub(crate) fn from_flags(f: u8) -> Outcome {
        match f {
            1 => Outcome::Cancelled,
            2 => Outcome::Panicked,
            _ => Outcome::Completed,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::Cancelled => "cancelled",
            Outcome::Panicked => "panicked",
        }
    }
}

/// The state a probed future is in, as carried by `RecordKind::State`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ProbeState {
    /// Created, not yet polled past its first await point.
    Start = 0,
    /// Suspended at an await point (the record names its site).
    Suspended = 1,
    Ready = 2,
    /// Dropped before it was ready.
    Cancelled = 3,
    Panicked = 4,
}

impl ProbeState {
    pub(crate) fn from_flags(f: u8) -> ProbeState {
        match f {
            0 => ProbeState::Start,
            1 => ProbeState::Suspended,
            2 => ProbeState::Ready,
            3 => ProbeState::Cancelled,
            _ => ProbeState::Panicked,
        }
    }

    pub fn as_label(self) -> &'static str {
        match self {
            ProbeState::Start => "start",
            ProbeState::Suspended => "suspended",
            ProbeState::Ready => "ready",
            ProbeState::Cancelled => "cancelled",
            ProbeState::Panicked => "panicked",
        }
    }
}

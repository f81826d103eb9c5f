//! The fixed-size record the hot path writes, before the collector turns it into a wire event.
//!
//! A `RawRecord` is 40 bytes, `Copy`, and holds no pointers to heap data, so writing one is a
//! handful of stores into a preallocated chunk. What a field means depends on `kind`; the
//! collector (see `collector.rs`) is the only reader and the only place that interprets it.

/// What happened. The discriminants are stable only inside one process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[repr(u8)]
pub(crate) enum RecordKind {
    /// Never written; the value zeroed slots hold.
    #[default]
    Empty = 0,
    /// `task` was spawned; `a` = parent task (0: none), `b` = thread, `c` = side-table sequence number.
    Spawn,
    /// A poll of `task` began on thread `b` (a global thread index).
    PollStart,
    /// That poll returned; flags: `FLAG_READY`, `FLAG_DROP` (the "poll" only dropped a cancelled future).
    PollEnd,
    /// `task` was woken on thread `b`; `a` = waking task (0: a driver or plain thread), flags: `FLAG_BY_REF`.
    Wake,
    /// A waker of `task` was cloned.
    WakerClone,
    /// A waker of `task` was dropped.
    WakerDrop,
    /// Probe `a` in `task` entered state `flags` (a `ProbeState`); `c` = site id or, for
    /// `ProbeState::Start`, the parent probe (0: none), with the site id in `b`.
    State,
    /// `task` ended; flags = `Outcome`.
    Done,
    /// A scenario's annotation; `b` = thread, `c` = side-table sequence number.
    Mark,
}

pub(crate) const FLAG_READY: u8 = 1;
pub(crate) const FLAG_DROP: u8 = 2;
pub(crate) const FLAG_BY_REF: u8 = 1;

/// One recorded occurrence. See `RecordKind` for the meaning of `a`, `b` and `c`.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
pub(crate) struct RawRecord {
    /// Raw clock ticks (`clock::ticks`) when written; the collector converts them to
    /// nanoseconds since the recorder's epoch as it reads them.
    pub t: u64,
    pub task: u64,
    pub a: u64,
    pub c: u64,
    pub b: u32,
    /// The run this thread was working for when it wrote the record (0: unknown; the
    /// collector then routes by task id).
    pub run: u16,
    pub kind: RecordKind,
    pub flags: u8,
}

const _: () = assert!(std::mem::size_of::<RawRecord>() == 40);

/// How a task ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

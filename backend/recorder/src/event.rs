//! The event model: what a run's events are, on the wire and in memory.
//!
//! - `WireEvent` is the one definition of the events of `docs/protocol.md`: one variant per
//!   kind, with named fields in wire order. Serialized with serde it is exactly the JSON the
//!   dashboard, saved runs and other tools read (the golden sample `docs/golden-events.jsonl`
//!   holds one event of every kind and is checked against it); it parses back the same.
//! - `EventKind` names the kinds once; `StoredEvent` is how a run keeps an event (30 bytes,
//!   strings in the run's side tables), and `Stored` is its typed view: a stored event is
//!   written only with `StoredEvent::new(t, Stored::..)` and read only with
//!   `StoredEvent::get`, so what each packed field means is written down in one place
//!   (`pack` / `get` below).
//!
//! Adding a kind (recipe in docs/HACKING.md): a variant here in `EventKind`, `WireEvent` and
//! `Stored` (with its packing), its decoding in `log.rs`, its producer, and its consumers.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::lint::LintRule;
use crate::record::{Outcome, ProbeState};

/// What an event is. Its wire name (`k`) is `as_str`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum EventKind {
    /// A thread's lane (wire kind `worker`, kept for compatibility: any thread, not only a
    /// runtime worker, gets one).
    #[serde(rename = "worker")]
    Lane,
    Spawn,
    PollStart,
    PollEnd,
    Wake,
    WakerClone,
    WakerDrop,
    State,
    Done,
    Lint,
    Dropped,
    Mark,
    /// Added in v1 (issue #17): what every live task was doing at one moment.
    Snapshot,
    /// Added in v1 (issue #16): a long-lived run's oldest events were evicted (retention).
    Evicted,
    /// Added in v1 (issue #18): why a long poll was long (on CPU, blocked, waiting for a CPU).
    PollCause,
}

impl EventKind {
    /// Every kind, in declaration order.
    pub const ALL: [EventKind; 15] = [
        EventKind::Lane,
        EventKind::Spawn,
        EventKind::PollStart,
        EventKind::PollEnd,
        EventKind::Wake,
        EventKind::WakerClone,
        EventKind::WakerDrop,
        EventKind::State,
        EventKind::Done,
        EventKind::Lint,
        EventKind::Dropped,
        EventKind::Mark,
        EventKind::Snapshot,
        EventKind::Evicted,
        EventKind::PollCause,
    ];

    /// The wire name, the `k` of the event's JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Lane => "worker",
            EventKind::Spawn => "spawn",
            EventKind::PollStart => "poll_start",
            EventKind::PollEnd => "poll_end",
            EventKind::Wake => "wake",
            EventKind::WakerClone => "waker_clone",
            EventKind::WakerDrop => "waker_drop",
            EventKind::State => "state",
            EventKind::Done => "done",
            EventKind::Lint => "lint",
            EventKind::Dropped => "dropped",
            EventKind::Mark => "mark",
            EventKind::Snapshot => "snapshot",
            EventKind::Evicted => "evicted",
            EventKind::PollCause => "poll_cause",
        }
    }
}

/// What kind of thread a lane is (the `kind` of a `worker` event).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LaneKind {
    /// A runtime's worker thread (or the thread driving a current-thread runtime).
    Worker,
    /// A thread of tokio's blocking pool.
    Blocking,
    /// A plain thread (a scenario's own, or one that wakes tasks from outside the runtime).
    Thread,
}

impl LaneKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LaneKind::Worker => "worker",
            LaneKind::Blocking => "blocking",
            LaneKind::Thread => "thread",
        }
    }
}

/// How a wake used its waker (the `op` of a `wake` event).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WakeOp {
    /// `Waker::wake`: consumes the waker.
    Wake,
    WakeByRef,
}

/// Why a snapshot was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotReason {
    /// Asked for (the dashboard's button, the API).
    Manual,
    /// A `lost_wake` lint fired.
    LostWake,
    /// The run was cancelled.
    Cancelled,
    /// The run reached its time limit.
    TimeLimit,
    /// Taken every so often while the run goes on.
    Interval,
}

/// What a task was doing when a snapshot was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    /// Not scheduled: waiting to be woken.
    Idle,
    /// Woken, waiting for a worker.
    Scheduled,
    /// Being polled.
    Running,
}

/// One frame of a task's logical stack: an `async fn` or probed future and where it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frame {
    #[serde(rename = "fn")]
    pub function: String,
    /// `file:line`.
    pub loc: String,
    /// Where the frame sits in the task's await tree (0: the task's own future). Frames are
    /// in pre-order, so the branches of a `join!`/`select!` follow their common parent (added
    /// in v1).
    #[serde(default)]
    pub depth: u32,
}

/// One task in a snapshot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotTask {
    pub task: u64,
    pub state: TaskState,
    /// Outermost first.
    pub frames: Vec<Frame>,
}

/// What a snapshot's producer hands the recorder (`Recorder::push_snapshot`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub reason: SnapshotReason,
    pub tasks: Vec<SnapshotTask>,
}

/// What a long poll's thread mostly did, from the kernel's scheduling figures (the `cause`
/// of a `poll_cause` event).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// Running on a CPU: the future's own work.
    OnCpu,
    /// Asleep in the kernel: a blocking system call (sleep, read, a lock's futex).
    Blocked,
    /// Runnable but not running: the OS gave the CPU to something else. The machine's doing,
    /// not the code's.
    Runnable,
}

impl Cause {
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::OnCpu => "on_cpu",
            Cause::Blocked => "blocked",
            Cause::Runnable => "runnable",
        }
    }
}

/// Why one long poll was long: the kernel's figures for its thread while the poll was open,
/// from `/proc/self/task/TID/{schedstat,stat,syscall,wchan}` (`causes.rs`). The three times
/// add up to the part of the poll the watcher observed (from its first sample to its last).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollCause {
    /// The poll's start (ns since the run started; the `t` of its `poll_start`).
    pub since: u64,
    pub cause: Cause,
    /// ns on a CPU.
    pub on_cpu: u64,
    /// ns runnable, waiting for a CPU.
    pub runnable: u64,
    /// ns asleep in the kernel.
    pub blocked: u64,
    /// The system call the thread was seen blocked in most (`clock_nanosleep`, `futex`, ...).
    pub syscall: Option<String>,
    /// The kernel function it was sleeping in then (`/proc/.../wchan`), where readable.
    pub wchan: Option<String>,
    /// How many times the thread was sampled.
    pub samples: u32,
    /// The thread's user stacks sampled during the poll (`stacks.rs`), distinct stacks with
    /// how many samples each was, most first; empty where stacks are not taken (added in v1,
    /// issue #18).
    #[serde(default)]
    pub stacks: Vec<Stack>,
    /// The program's own frame most of the stacks were in (added in v1, issue #18).
    #[serde(default)]
    pub hot: Option<HotFrame>,
}

/// One frame of a sampled stack.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct StackFrame {
    #[serde(rename = "fn")]
    pub function: String,
    /// `file:line`, where the debug info says.
    pub loc: Option<String>,
}

/// A stack sampled `n` times during one poll.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stack {
    pub n: u32,
    /// Outermost first: from the frame the runtime polled the task in to the interrupted one.
    pub frames: Vec<StackFrame>,
    /// The index in `frames` of the innermost frame of the program's own code (not the
    /// standard library, tokio, futurescope or a system library).
    pub own: Option<u32>,
}

/// The program's own frame the most samples of a poll were in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HotFrame {
    #[serde(rename = "fn")]
    pub function: String,
    pub loc: Option<String>,
    /// How many samples it was the innermost own frame of.
    pub n: u32,
}

/// One event as `docs/protocol.md` defines it. Field order is wire order; `None` is `null`
/// except where a field is left out when absent (`drop`, `name`, `since`). `lane` fields are
/// the wire's `worker`: the lane of the thread, whatever kind of thread it is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "k", rename_all = "snake_case")]
pub enum WireEvent<'a> {
    #[serde(rename = "worker")]
    Lane {
        t: u64,
        #[serde(rename = "worker")]
        lane: u32,
        name: Cow<'a, str>,
        kind: LaneKind,
    },
    Spawn {
        t: u64,
        task: u64,
        name: Cow<'a, str>,
        /// `task`, `blocking`, `local` or `block_on`.
        kind: Cow<'a, str>,
        /// `file:line:col` of the spawn site.
        loc: Cow<'a, str>,
        size: Option<u64>,
        parent: Option<u64>,
    },
    PollStart {
        t: u64,
        task: u64,
        #[serde(rename = "worker")]
        lane: u32,
    },
    PollEnd {
        t: u64,
        task: u64,
        #[serde(rename = "worker")]
        lane: u32,
        ready: bool,
        /// Added in v1: the "poll" only dropped a cancelled task's future.
        #[serde(default, skip_serializing_if = "is_false")]
        drop: bool,
    },
    Wake {
        t: u64,
        task: u64,
        by: Option<u64>,
        op: WakeOp,
        #[serde(rename = "worker")]
        lane: Option<u32>,
    },
    WakerClone {
        t: u64,
        task: u64,
    },
    WakerDrop {
        t: u64,
        task: u64,
    },
    State {
        t: u64,
        task: Option<u64>,
        future: u32,
        parent: Option<u32>,
        label: Cow<'a, str>,
        loc: Option<Cow<'a, str>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<Cow<'a, str>>,
    },
    Done {
        t: u64,
        task: u64,
        outcome: Outcome,
    },
    Lint {
        t: u64,
        task: Option<u64>,
        rule: LintRule,
        detail: Cow<'a, str>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since: Option<u64>,
    },
    Dropped {
        t: u64,
        count: u64,
    },
    Mark {
        t: u64,
        task: Option<u64>,
        label: Cow<'a, str>,
    },
    Snapshot {
        t: u64,
        reason: SnapshotReason,
        tasks: Cow<'a, [SnapshotTask]>,
    },
    /// Added in v1: everything before `before` (ns since the run started) was evicted to keep
    /// the run within its retention window, except the lanes and the spawns of tasks whose end
    /// is not evicted yet; `events` and `tasks` (finished tasks gone) count what went, so far.
    Evicted {
        t: u64,
        before: u64,
        events: u64,
        tasks: u64,
    },
    /// Added in v1 (issue #18), right after a long poll ended.
    PollCause {
        t: u64,
        task: u64,
        #[serde(rename = "worker")]
        lane: u32,
        #[serde(flatten)]
        cause: Cow<'a, PollCause>,
    },
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl WireEvent<'_> {
    pub fn kind(&self) -> EventKind {
        match self {
            WireEvent::Lane { .. } => EventKind::Lane,
            WireEvent::Spawn { .. } => EventKind::Spawn,
            WireEvent::PollStart { .. } => EventKind::PollStart,
            WireEvent::PollEnd { .. } => EventKind::PollEnd,
            WireEvent::Wake { .. } => EventKind::Wake,
            WireEvent::WakerClone { .. } => EventKind::WakerClone,
            WireEvent::WakerDrop { .. } => EventKind::WakerDrop,
            WireEvent::State { .. } => EventKind::State,
            WireEvent::Done { .. } => EventKind::Done,
            WireEvent::Lint { .. } => EventKind::Lint,
            WireEvent::Dropped { .. } => EventKind::Dropped,
            WireEvent::Mark { .. } => EventKind::Mark,
            WireEvent::Snapshot { .. } => EventKind::Snapshot,
            WireEvent::Evicted { .. } => EventKind::Evicted,
            WireEvent::PollCause { .. } => EventKind::PollCause,
        }
    }

    pub fn t(&self) -> u64 {
        match *self {
            WireEvent::Lane { t, .. }
            | WireEvent::Spawn { t, .. }
            | WireEvent::PollStart { t, .. }
            | WireEvent::PollEnd { t, .. }
            | WireEvent::Wake { t, .. }
            | WireEvent::WakerClone { t, .. }
            | WireEvent::WakerDrop { t, .. }
            | WireEvent::State { t, .. }
            | WireEvent::Done { t, .. }
            | WireEvent::Lint { t, .. }
            | WireEvent::Dropped { t, .. }
            | WireEvent::Mark { t, .. }
            | WireEvent::Snapshot { t, .. }
            | WireEvent::Evicted { t, .. } => t,
            WireEvent::PollCause { t, .. } => t,
        }
    }

    /// The task the event is about, if any (a wake's woken task, not its waker).
    pub fn task(&self) -> Option<u64> {
        match *self {
            WireEvent::Spawn { task, .. }
            | WireEvent::PollStart { task, .. }
            | WireEvent::PollEnd { task, .. }
            | WireEvent::Wake { task, .. }
            | WireEvent::WakerClone { task, .. }
            | WireEvent::WakerDrop { task, .. }
            | WireEvent::Done { task, .. }
            | WireEvent::PollCause { task, .. } => Some(task),
            WireEvent::State { task, .. } | WireEvent::Lint { task, .. } | WireEvent::Mark { task, .. } => task,
            WireEvent::Lane { .. }
            | WireEvent::Dropped { .. }
            | WireEvent::Snapshot { .. }
            | WireEvent::Evicted { .. } => None,
        }
    }

    /// The same event owning its strings.
    pub fn into_owned(self) -> WireEvent<'static> {
        fn own(s: Cow<'_, str>) -> Cow<'static, str> {
            Cow::Owned(s.into_owned())
        }
        match self {
            WireEvent::Lane { t, lane, name, kind } => WireEvent::Lane { t, lane, name: own(name), kind },
            WireEvent::Spawn { t, task, name, kind, loc, size, parent } => {
                WireEvent::Spawn { t, task, name: own(name), kind: own(kind), loc: own(loc), size, parent }
            }
            WireEvent::PollStart { t, task, lane } => WireEvent::PollStart { t, task, lane },
            WireEvent::PollEnd { t, task, lane, ready, drop } => WireEvent::PollEnd { t, task, lane, ready, drop },
            WireEvent::Wake { t, task, by, op, lane } => WireEvent::Wake { t, task, by, op, lane },
            WireEvent::WakerClone { t, task } => WireEvent::WakerClone { t, task },
            WireEvent::WakerDrop { t, task } => WireEvent::WakerDrop { t, task },
            WireEvent::State { t, task, future, parent, label, loc, name } => {
                WireEvent::State { t, task, future, parent, label: own(label), loc: loc.map(own), name: name.map(own) }
            }
            WireEvent::Done { t, task, outcome } => WireEvent::Done { t, task, outcome },
            WireEvent::Lint { t, task, rule, detail, since } => {
                WireEvent::Lint { t, task, rule, detail: own(detail), since }
            }
            WireEvent::Dropped { t, count } => WireEvent::Dropped { t, count },
            WireEvent::Mark { t, task, label } => WireEvent::Mark { t, task, label: own(label) },
            WireEvent::Snapshot { t, reason, tasks } => {
                WireEvent::Snapshot { t, reason, tasks: Cow::Owned(tasks.into_owned()) }
            }
            WireEvent::Evicted { t, before, events, tasks } => WireEvent::Evicted { t, before, events, tasks },
            WireEvent::PollCause { t, task, lane, cause } => {
                WireEvent::PollCause { t, task, lane, cause: Cow::Owned(cause.into_owned()) }
            }
        }
    }

    /// Appends the event's JSON to `out`.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        serde_json::to_writer(out, self).expect("a wire event always serializes (no maps with non-string keys)");
    }

    /// The event's JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a wire event always serializes (no maps with non-string keys)")
    }
}

/// A stored event, typed: what `StoredEvent` packs. Strings are indexes into the run's side
/// tables (`RunLogInner`); `lane` is the run's lane index of a thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stored {
    Lane {
        lane: u32,
    },
    Spawn {
        task: u64,
        parent: Option<u64>,
        spawn: u32,
    },
    PollStart {
        task: u64,
        lane: u32,
    },
    PollEnd {
        task: u64,
        lane: u32,
        ready: bool,
        drop: bool,
    },
    Wake {
        task: u64,
        by: Option<u64>,
        op: WakeOp,
        lane: Option<u32>,
    },
    WakerClone {
        task: u64,
    },
    WakerDrop {
        task: u64,
    },
    /// Probe `future` (a run-local id) of `task` entered `state` at probe site `site` (0: none).
    State {
        task: Option<u64>,
        future: u32,
        parent: Option<u32>,
        site: u32,
        state: ProbeState,
    },
    Done {
        task: u64,
        outcome: Outcome,
    },
    Lint {
        task: Option<u64>,
        since: Option<u64>,
        detail: u32,
        rule: LintRule,
    },
    Dropped {
        count: u64,
    },
    Mark {
        task: Option<u64>,
        label: u32,
    },
    Snapshot {
        snapshot: u32,
    },
    /// `tasks` saturates at `u32::MAX` in storage.
    Evicted {
        before: u64,
        events: u64,
        tasks: u32,
    },
    /// A long poll's cause: index into the run's cause table.
    PollCause {
        task: u64,
        lane: u32,
        cause: u32,
    },
}

/// One retained event, 30 bytes: packed to 2-byte alignment (its fields are only ever read by
/// value, and unaligned loads cost nothing measurable on the CPUs this runs on), so a run's
/// side tables (task names, locations, strings) fit in the 32 bytes per event budget too.
/// Written by `new` and read by `get`, the only two places that know the packing:
///
/// | kind | task | a | b | flags |
/// |---|---|---|---|---|
/// | Lane | - | - | lane | - |
/// | Spawn | task | parent (0: none) | spawn table index | - |
/// | PollStart | task | - | lane | - |
/// | PollEnd | task | - | lane | `READY`, `DROP` |
/// | Wake | task | waking task (0: none) | lane of the waking thread + 1 (0: unknown) | `BY_REF` |
/// | WakerClone, WakerDrop | task | - | - | - |
/// | State | task (0: none) | future id (low 32 bits), parent future id (high 32, 0: none) | site id | `ProbeState` |
/// | Done | task | - | - | `Outcome` |
/// | Lint | task (0: run-wide) | since + 1 (0: none) | string index | `LintRule` |
/// | Dropped | - | count | - | - |
/// | Mark | task (0: none) | - | string index | - |
/// | Snapshot | - | - | snapshot table index | - |
/// | Evicted | before | events | tasks | - |
/// | PollCause | task | lane | cause table index | - |
#[derive(Clone, Copy, Debug)]
#[repr(C, packed(2))]
pub struct StoredEvent {
    t: u64,
    task: u64,
    a: u64,
    b: u32,
    kind: EventKind,
    flags: u8,
}

const _: () = assert!(std::mem::size_of::<StoredEvent>() == 30);

/// `StoredEvent::flags` of a `PollEnd`: the task's future completed.
const READY: u8 = 1;
/// `StoredEvent::flags` of a `PollEnd`: the slice only dropped a cancelled task's future.
const DROP: u8 = 2;
/// `StoredEvent::flags` of a `Wake`: by reference (the waker lives on).
const BY_REF: u8 = 1;

fn or_zero(v: Option<u64>) -> u64 {
    v.unwrap_or(0)
}

fn nonzero(v: u64) -> Option<u64> {
    (v != 0).then_some(v)
}

impl StoredEvent {
    /// Packs `ev`, which happened at `t` (ns since the run started).
    #[inline]
    pub fn new(t: u64, ev: Stored) -> StoredEvent {
        let (kind, task, a, b, flags) = match ev {
            Stored::Lane { lane } => (EventKind::Lane, 0, 0, lane, 0),
            Stored::Spawn { task, parent, spawn } => (EventKind::Spawn, task, or_zero(parent), spawn, 0),
            Stored::PollStart { task, lane } => (EventKind::PollStart, task, 0, lane, 0),
            Stored::PollEnd { task, lane, ready, drop } => {
                let flags = if ready { READY } else { 0 } | if drop { DROP } else { 0 };
                (EventKind::PollEnd, task, 0, lane, flags)
            }
            Stored::Wake { task, by, op, lane } => {
                let flags = if op == WakeOp::WakeByRef { BY_REF } else { 0 };
                (EventKind::Wake, task, or_zero(by), lane.map_or(0, |l| l + 1), flags)
            }
            Stored::WakerClone { task } => (EventKind::WakerClone, task, 0, 0, 0),
            Stored::WakerDrop { task } => (EventKind::WakerDrop, task, 0, 0, 0),
            Stored::State { task, future, parent, site, state } => {
                let a = u64::from(future) | (u64::from(parent.unwrap_or(0)) << 32);
                (EventKind::State, or_zero(task), a, site, state as u8)
            }
            Stored::Done { task, outcome } => (EventKind::Done, task, 0, 0, outcome as u8),
            Stored::Lint { task, since, detail, rule } => {
                (EventKind::Lint, or_zero(task), since.map_or(0, |s| s + 1), detail, rule as u8)
            }
            Stored::Dropped { count } => (EventKind::Dropped, 0, count, 0, 0),
            Stored::Mark { task, label } => (EventKind::Mark, or_zero(task), 0, label, 0),
            Stored::Snapshot { snapshot } => (EventKind::Snapshot, 0, 0, snapshot, 0),
            Stored::Evicted { before, events, tasks } => (EventKind::Evicted, before, events, tasks, 0),
            Stored::PollCause { task, lane, cause } => (EventKind::PollCause, task, u64::from(lane), cause, 0),
        };
        StoredEvent { t, task, a, b, kind, flags }
    }

    /// When it happened, in ns since the run started.
    #[inline]
    pub fn t(&self) -> u64 {
        self.t
    }

    #[inline]
    pub fn kind(&self) -> EventKind {
        self.kind
    }

    /// The typed event.
    #[inline]
    pub fn get(&self) -> Stored {
        // By value: the fields of a packed struct cannot be borrowed.
        let StoredEvent { t: _, task, a, b, kind, flags } = *self;
        match kind {
            EventKind::Lane => Stored::Lane { lane: b },
            EventKind::Spawn => Stored::Spawn { task, parent: nonzero(a), spawn: b },
            EventKind::PollStart => Stored::PollStart { task, lane: b },
            EventKind::PollEnd => Stored::PollEnd { task, lane: b, ready: flags & READY != 0, drop: flags & DROP != 0 },
            EventKind::Wake => Stored::Wake {
                task,
                by: nonzero(a),
                op: if flags & BY_REF != 0 { WakeOp::WakeByRef } else { WakeOp::Wake },
                lane: b.checked_sub(1),
            },
            EventKind::WakerClone => Stored::WakerClone { task },
            EventKind::WakerDrop => Stored::WakerDrop { task },
            EventKind::State => Stored::State {
                task: nonzero(task),
                future: (a & 0xffff_ffff) as u32,
                parent: nonzero(a >> 32).map(|p| p as u32),
                site: b,
                state: ProbeState::from_flags(flags),
            },
            EventKind::Done => Stored::Done { task, outcome: Outcome::from_flags(flags) },
            EventKind::Lint => Stored::Lint {
                task: nonzero(task),
                since: a.checked_sub(1),
                detail: b,
                rule: LintRule::from_flags(flags),
            },
            EventKind::Dropped => Stored::Dropped { count: a },
            EventKind::Mark => Stored::Mark { task: nonzero(task), label: b },
            EventKind::Snapshot => Stored::Snapshot { snapshot: b },
            EventKind::Evicted => Stored::Evicted { before: task, events: a, tasks: b },
            EventKind::PollCause => Stored::PollCause { task, lane: a as u32, cause: b },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_wire_name_as_serde_spells_it() {
        for kind in EventKind::ALL {
            assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{}\"", kind.as_str()));
        }
    }

    #[test]
    fn packing_round_trips() {
        let cases = [
            Stored::Lane { lane: 3 },
            Stored::Spawn { task: 7, parent: None, spawn: 2 },
            Stored::Spawn { task: 7, parent: Some(1), spawn: 2 },
            Stored::PollStart { task: 7, lane: 0 },
            Stored::PollEnd { task: 7, lane: 1, ready: true, drop: false },
            Stored::PollEnd { task: 7, lane: 1, ready: false, drop: true },
            Stored::Wake { task: 7, by: Some(8), op: WakeOp::WakeByRef, lane: Some(0) },
            Stored::Wake { task: 7, by: None, op: WakeOp::Wake, lane: None },
            Stored::WakerClone { task: 7 },
            Stored::WakerDrop { task: 7 },
            Stored::State { task: None, future: 4, parent: Some(2), site: 9, state: ProbeState::Start },
            Stored::State { task: Some(7), future: u32::MAX, parent: None, site: 0, state: ProbeState::Panicked },
            Stored::Done { task: 7, outcome: Outcome::Cancelled },
            Stored::Lint { task: None, since: Some(0), detail: 1, rule: LintRule::LargeFuture },
            Stored::Lint { task: Some(7), since: None, detail: 1, rule: LintRule::SelfWake },
            Stored::Dropped { count: 12 },
            Stored::Mark { task: Some(7), label: 0 },
            Stored::Snapshot { snapshot: 5 },
            Stored::Evicted { before: 9_000, events: 1 << 40, tasks: 17 },
            Stored::PollCause { task: 7, lane: 2, cause: 3 },
        ];
        for ev in cases {
            let packed = StoredEvent::new(42, ev);
            assert_eq!(packed.get(), ev);
            assert_eq!(packed.t(), 42);
        }
    }
}

//! `RunLog`: one run's whole recorded history, compact, append-only, readable while it grows.
//!
//! Events are kept as 32-byte `StoredEvent`s; their strings (task names, spawn locations, lane
//! names, lint details, marks) live once in side tables the events index. The collector
//! appends a batch per drain under the log's lock; readers (WebSocket streams, the `/events`
//! endpoint, tests) copy or encode a range by index, so a reader's position is just an index
//! and a slow reader holds no memory of its own.
//!
//! The JSON produced here is the wire format of `docs/protocol.md`.

use std::borrow::Cow;
use std::sync::{Mutex, MutexGuard};

use serde::Serialize;

use crate::buffer::SpawnInfo;
use crate::event::{EventKind, LaneKind, PollCause, Snapshot, Stored, StoredEvent, WireEvent};
use crate::idmap::IdMap;
use crate::lint::LintState;
use crate::probe;
use crate::record::ProbeState;
use crate::sync::LockUnpoisoned;

/// A thread's lane: its row on the timeline, which its polls and wakes name (the wire's
/// `worker` field; any thread gets one, not only a runtime worker).
#[derive(Clone, Debug)]
pub struct ThreadLane {
    pub name: String,
    pub kind: LaneKind,
}

/// Figures kept up to date as events arrive (each derivable from the events).
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct RunCounts {
    pub events: u64,
    pub dropped: u64,
    pub tasks: u64,
    pub polls: u64,
    pub wakes: u64,
}

/// What the collector remembers of a task of the run.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct TaskFlags {
    pub blocking: bool,
    pub done: bool,
}

pub struct RunLog {
    pub id: u16,
    /// `clock::now()` when the run began; stored times are relative to it.
    pub start: u64,
    inner: Mutex<RunLogInner>,
}

/// Append-only storage in fixed-size chunks: growing never moves what is stored (no copy of a
/// large run's history on growth, and memory is given back in whole chunks).
#[derive(Default)]
pub struct EventStore {
    chunks: Vec<Vec<StoredEvent>>,
    len: usize,
}

const STORE_CHUNK: usize = 1 << 16;

impl EventStore {
    pub fn push(&mut self, ev: StoredEvent) {
        match self.chunks.last_mut() {
            // The first chunk grows as a vector does, so a small run stays small.
            Some(c) if c.len() < STORE_CHUNK => c.push(ev),
            Some(_) => {
                let mut c = Vec::with_capacity(STORE_CHUNK);
                c.push(ev);
                self.chunks.push(c);
            }
            None => self.chunks.push(vec![ev]),
        }
        self.len += 1;
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn get(&self, i: usize) -> Option<&StoredEvent> {
        self.chunks.get(i / STORE_CHUNK)?.get(i % STORE_CHUNK)
    }

    /// Events from index `from` to the end.
    pub fn iter_from(&self, from: usize) -> impl Iterator<Item = &StoredEvent> {
        let first = from / STORE_CHUNK;
        let skip = from % STORE_CHUNK;
        self.chunks
            .iter()
            .skip(first)
            .enumerate()
            .flat_map(move |(i, c)| c[if i == 0 { skip.min(c.len()) } else { 0 }..].iter())
    }

    pub fn iter(&self) -> impl Iterator<Item = &StoredEvent> {
        self.iter_from(0)
    }

    /// Bytes reserved for events.
    pub fn reserved_bytes(&self) -> usize {
        self.chunks.iter().map(|c| c.capacity()).sum::<usize>() * std::mem::size_of::<StoredEvent>()
    }
}

pub struct RunLogInner {
    pub events: EventStore,
    pub spawns: Vec<SpawnInfo>,
    pub strings: Vec<String>,
    pub lanes: Vec<ThreadLane>,
    pub snapshots: Vec<Snapshot>,
    /// Snapshots handed over but not stored yet: the collector stores each at its time, in
    /// order with the records it merges (`store_due_snapshots`).
    pub pending_snapshots: Vec<(u64, Snapshot)>,
    /// Long polls' causes (`poll_cause` events index it).
    pub causes: Vec<PollCause>,
    pub counts: RunCounts,
    pub finished: bool,
    pub(crate) lane_of_thread: IdMap<u32, u32>,
    /// The tasks spawned in this run, and what the collector needs to know of each.
    pub(crate) tasks: IdMap<u64, TaskFlags>,
    pub(crate) futures: IdMap<u64, u32>,
    pub(crate) lints: LintState,
}

impl RunLog {
    pub(crate) fn new(id: u16, start: u64) -> RunLog {
        RunLog {
            id,
            start,
            inner: Mutex::new(RunLogInner {
                events: EventStore::default(),
                spawns: Vec::new(),
                strings: Vec::new(),
                lanes: Vec::new(),
                snapshots: Vec::new(),
                pending_snapshots: Vec::new(),
                causes: Vec::new(),
                counts: RunCounts::default(),
                finished: false,
                lane_of_thread: IdMap::default(),
                tasks: IdMap::default(),
                futures: IdMap::default(),
                lints: LintState::default(),
            }),
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, RunLogInner> {
        // The collector never panics while holding the lock; if a reader did, the data is
        // still consistent (appends are whole events).
        self.inner.lock_unpoisoned()
    }

    pub fn len(&self) -> usize {
        self.lock().events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The lane of thread `thread` (a global thread index) in this run, once announced.
    pub fn lane_of(&self, thread: u32) -> Option<u32> {
        self.lock().lane_of_thread.get(&thread).copied()
    }

    pub fn is_finished(&self) -> bool {
        self.lock().finished
    }

    pub fn counts(&self) -> RunCounts {
        self.lock().counts
    }

    /// Events from index `from`, at most `max`, encoded as JSON objects separated by `sep`;
    /// returns the index after the last one encoded.
    pub fn encode_range(&self, from: usize, max: usize, sep: &str, out: &mut String) -> usize {
        let inner = self.lock();
        let end = inner.events.len().min(from.saturating_add(max));
        for (i, ev) in inner.events.iter_from(from).take(end.saturating_sub(from)).enumerate() {
            if i > 0 {
                out.push_str(sep);
            }
            inner.encode_event(ev, out);
        }
        end.max(from)
    }

    /// All events, typed (for tests, exports and other readers of a whole run).
    pub fn events(&self) -> Vec<WireEvent<'static>> {
        let inner = self.lock();
        inner.events.iter().map(|ev| inner.wire(ev).into_owned()).collect()
    }

    /// All events as wire JSON values (for tests and small exports).
    pub fn to_json_values(&self) -> Vec<serde_json::Value> {
        let inner = self.lock();
        inner.events.iter().map(|ev| to_value(&inner.wire(ev))).collect()
    }

    /// The lint events so far, as wire JSON values.
    pub fn lints_json(&self) -> Vec<serde_json::Value> {
        let inner = self.lock();
        inner.events.iter().filter(|e| e.kind() == EventKind::Lint).map(|ev| to_value(&inner.wire(ev))).collect()
    }

    /// Bytes this log holds (events and side tables), for the run store's memory budget.
    pub fn approx_bytes(&self) -> usize {
        let inner = self.lock();
        inner.events.reserved_bytes()
            + map_bytes::<u64, TaskFlags>(inner.tasks.capacity())
            + map_bytes::<u64, u32>(inner.futures.capacity())
            + map_bytes::<u32, u32>(inner.lane_of_thread.capacity())
            + inner.lints.approx_bytes()
            + inner.spawns.capacity() * std::mem::size_of::<SpawnInfo>()
            + inner
                .spawns
                .iter()
                .map(|s| {
                    alloc_bytes(s.name.capacity()) + alloc_bytes(s.loc.capacity()) + alloc_bytes(s.kind.capacity())
                })
                .sum::<usize>()
            + inner.strings.capacity() * std::mem::size_of::<String>()
            + inner.strings.iter().map(|s| alloc_bytes(s.capacity())).sum::<usize>()
            + inner.snapshots.iter().map(snapshot_bytes).sum::<usize>()
            + inner
                .causes
                .iter()
                .map(|c| 96 + c.syscall.as_ref().map_or(0, String::len) + c.wchan.as_ref().map_or(0, String::len))
                .sum::<usize>()
    }
}

/// What the allocator takes for a `n`-byte allocation (glibc: an 8-byte header, 16-byte
/// granules, 32 bytes at least); 0 for none. Many small strings cost twice their length.
pub(crate) fn alloc_bytes(n: usize) -> usize {
    if n == 0 { 0 } else { ((n + 8).div_ceil(16) * 16).max(32) }
}

/// A hash map's table for `capacity` entries: its buckets (a power of two, 8/7 of the
/// capacity) of one entry and one control byte each.
pub(crate) fn map_bytes<K, V>(capacity: usize) -> usize {
    if capacity == 0 {
        return 0;
    }
    let buckets = (capacity * 8 / 7).next_power_of_two();
    alloc_bytes(buckets * (std::mem::size_of::<(K, V)>() + 1))
}

fn to_value(ev: &WireEvent<'_>) -> serde_json::Value {
    serde_json::to_value(ev).expect("a wire event always serializes")
}

fn snapshot_bytes(s: &Snapshot) -> usize {
    std::mem::size_of::<Snapshot>()
        + alloc_bytes(s.tasks.capacity() * std::mem::size_of::<crate::event::SnapshotTask>())
        + s.tasks
            .iter()
            .map(|t| {
                alloc_bytes(t.frames.capacity() * std::mem::size_of::<crate::event::Frame>())
                    + t.frames
                        .iter()
                        .map(|f| alloc_bytes(f.function.capacity()) + alloc_bytes(f.loc.capacity()))
                        .sum::<usize>()
            })
            .sum::<usize>()
}

impl RunLog {
    /// Hands over a snapshot (task dump) taken at `taken` (ns since the run started): the
    /// collector stores it as a `snapshot` event in time order with the run's other events (at
    /// `taken`, or at the last stored event's time if the collector is already past it: the
    /// symbols are resolved after the dump). A finished run takes no more: then false.
    pub fn push_snapshot(&self, taken: u64, snapshot: Snapshot) -> bool {
        let mut inner = self.lock();
        if inner.finished {
            return false;
        }
        inner.pending_snapshots.push((taken, snapshot));
        true
    }
}

impl RunLogInner {
    /// Stores the handed-over snapshots taken at or before `until` (all of them if `None`).
    pub(crate) fn store_due_snapshots(&mut self, until: Option<u64>) {
        if self.pending_snapshots.is_empty() {
            return;
        }
        let last = self.events.len().checked_sub(1).and_then(|i| self.events.get(i)).map_or(0, |e| e.t());
        let mut pending = std::mem::take(&mut self.pending_snapshots);
        pending.sort_by_key(|(t, _)| *t);
        for (taken, snapshot) in pending {
            if until.is_some_and(|u| taken > u) {
                self.pending_snapshots.push((taken, snapshot));
                continue;
            }
            let idx = self.snapshots.len() as u32;
            self.snapshots.push(snapshot);
            self.events.push(StoredEvent::new(taken.max(last), Stored::Snapshot { snapshot: idx }));
            self.counts.events += 1;
        }
    }

    pub(crate) fn push_string(&mut self, s: String) -> u32 {
        self.strings.push(s);
        (self.strings.len() - 1) as u32
    }

    /// `ev` as the wire event it stands for, its strings borrowed from the side tables.
    pub fn wire(&self, ev: &StoredEvent) -> WireEvent<'_> {
        let t = ev.t();
        match ev.get() {
            Stored::Lane { lane } => {
                let l = &self.lanes[lane as usize];
                WireEvent::Lane { t, lane, name: Cow::Borrowed(&l.name), kind: l.kind }
            }
            Stored::Spawn { task, parent, spawn } => {
                let info = &self.spawns[spawn as usize];
                WireEvent::Spawn {
                    t,
                    task,
                    name: Cow::Borrowed(&info.name),
                    kind: Cow::Borrowed(&info.kind),
                    loc: Cow::Borrowed(&info.loc),
                    size: info.size,
                    parent,
                }
            }
            Stored::PollStart { task, lane } => WireEvent::PollStart { t, task, lane },
            Stored::PollEnd { task, lane, ready, drop } => WireEvent::PollEnd { t, task, lane, ready, drop },
            Stored::Wake { task, by, op, lane } => WireEvent::Wake { t, task, by, op, lane },
            Stored::WakerClone { task } => WireEvent::WakerClone { t, task },
            Stored::WakerDrop { task } => WireEvent::WakerDrop { t, task },
            Stored::State { task, future, parent, site, state } => {
                let site = probe::site(site);
                let label = match (state, site) {
                    (ProbeState::Suspended, Some(site)) => site.label,
                    _ => state.as_label(),
                };
                let loc = match site {
                    Some(site) if state != ProbeState::Ready && state != ProbeState::Cancelled => {
                        Some(Cow::Owned(format!("{}:{}", site.file, site.line)))
                    }
                    _ => None,
                };
                let name = match (state, site) {
                    (ProbeState::Start, Some(site)) => Some(Cow::Borrowed(site.label)),
                    _ => None,
                };
                WireEvent::State { t, task, future, parent, label: Cow::Borrowed(label), loc, name }
            }
            Stored::Done { task, outcome } => WireEvent::Done { t, task, outcome },
            Stored::Lint { task, since, detail, rule } => {
                WireEvent::Lint { t, task, rule, detail: Cow::Borrowed(&self.strings[detail as usize]), since }
            }
            Stored::Dropped { count } => WireEvent::Dropped { t, count },
            Stored::Mark { task, label } => {
                WireEvent::Mark { t, task, label: Cow::Borrowed(&self.strings[label as usize]) }
            }
            Stored::Snapshot { snapshot } => {
                let s = &self.snapshots[snapshot as usize];
                WireEvent::Snapshot { t, reason: s.reason, tasks: Cow::Borrowed(&s.tasks) }
            }
            Stored::PollCause { task, lane, cause } => {
                WireEvent::PollCause { t, task, lane, cause: Cow::Borrowed(&self.causes[cause as usize]) }
            }
        }
    }

    /// Appends one wire JSON object for `ev` to `out`.
    pub fn encode_event(&self, ev: &StoredEvent, out: &mut String) {
        // SAFETY: serde_json writes only UTF-8 (its input strings are `str`s, and it escapes
        // with ASCII), and a `Vec` writer cannot fail part-way, so `out` stays a valid `String`.
        self.wire(ev).write_json(unsafe { out.as_mut_vec() });
    }
}

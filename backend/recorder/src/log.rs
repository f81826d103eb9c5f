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
use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

use serde::Serialize;

use crate::buffer::SpawnInfo;
use crate::event::{EventKind, LaneKind, PollCause, Snapshot, Stored, StoredEvent, WireEvent};
use crate::idmap::IdMap;
use crate::lint::LintState;
use crate::probe;
use crate::record::ProbeState;
use crate::retain::{Evictions, Retention, Window};
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
    /// Events evicted by the run's retention window (added in v1; 0 without one).
    pub evicted: u64,
    /// Finished tasks whose events were all evicted (added in v1).
    pub evicted_tasks: u64,
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

/// Append-only storage in chunks: growing never moves what is stored (no copy of a large
/// run's history on growth), and memory is given back in whole chunks. A long-lived run's
/// oldest chunks can be evicted (`pop_front`, see `retain.rs`); indexes stay absolute (event
/// `i` is the run's `i`th event for ever), so a reader's position survives an eviction.
#[derive(Default)]
pub struct EventStore {
    /// Each chunk with the absolute index of its first event, oldest first.
    chunks: VecDeque<(usize, Vec<StoredEvent>)>,
    /// The absolute index of the first event kept (0 until something is evicted).
    first: usize,
    /// The absolute index after the last event.
    len: usize,
    /// The next push starts a new chunk (`seal`).
    sealed: bool,
    /// Events per chunk (0: `STORE_CHUNK`); smaller for a run with a retention window, so it
    /// evicts in finer steps.
    chunk_len: usize,
}

const STORE_CHUNK: usize = 1 << 16;
/// Events per chunk of a run with a retention window: it evicts in steps of 256 KiB.
const RETAINED_CHUNK: usize = 1 << 13;

impl EventStore {
    pub fn push(&mut self, ev: StoredEvent) {
        let start = self.len;
        let chunk_len = if self.chunk_len == 0 { STORE_CHUNK } else { self.chunk_len };
        match self.chunks.back_mut() {
            // The first chunk grows as a vector does, so a small run stays small.
            Some((_, c)) if c.len() < chunk_len && !self.sealed => c.push(ev),
            Some((_, c)) => {
                // A chunk sealed early (a quiet run's retention) starts as small as its last.
                let mut next = Vec::with_capacity(c.len().next_power_of_two().clamp(1024, chunk_len));
                next.push(ev);
                self.chunks.push_back((start, next));
            }
            None => self.chunks.push_back((start, vec![ev])),
        }
        self.sealed = false;
        self.len += 1;
    }

    /// The absolute index after the last event (events before `first()` may be evicted).
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The absolute index of the first event kept.
    pub fn first(&self) -> usize {
        self.first
    }

    fn chunk_of(&self, i: usize) -> Option<usize> {
        if i < self.first || i >= self.len {
            return None;
        }
        Some(self.chunks.partition_point(|(start, _)| *start <= i) - 1)
    }

    pub fn get(&self, i: usize) -> Option<&StoredEvent> {
        let k = self.chunk_of(i)?;
        let (start, c) = &self.chunks[k];
        c.get(i - start)
    }

    /// Events from absolute index `from` (or the first kept, if later) to the end.
    pub fn iter_from(&self, from: usize) -> impl Iterator<Item = &StoredEvent> {
        let from = from.max(self.first);
        let (first, skip) = match self.chunk_of(from) {
            Some(k) => (k, from - self.chunks[k].0),
            None => (self.chunks.len(), 0),
        };
        self.chunks
            .range(first..)
            .enumerate()
            .flat_map(move |(i, (_, c))| c[if i == 0 { skip.min(c.len()) } else { 0 }..].iter())
    }

    pub fn iter(&self) -> impl Iterator<Item = &StoredEvent> {
        self.iter_from(0)
    }

    /// Bytes reserved for events.
    pub fn reserved_bytes(&self) -> usize {
        self.chunks.iter().map(|(_, c)| c.capacity()).sum::<usize>() * std::mem::size_of::<StoredEvent>()
    }

    /// Chunks held (the one being appended to included).
    pub fn chunk_count(&self) -> usize {
        self.chunks.len()
    }

    /// The oldest chunk's events, if it is not the one being appended to.
    pub fn oldest_sealed(&self) -> Option<&[StoredEvent]> {
        (self.chunks.len() > 1 || (self.sealed && !self.chunks.is_empty())).then(|| &self.chunks[0].1[..])
    }

    /// Sets the events per chunk of the chunks started from now on.
    pub fn set_chunk_len(&mut self, len: usize) {
        self.chunk_len = len.max(1);
    }

    /// The first event of the chunk being appended to.
    pub fn last_chunk_first(&self) -> Option<&StoredEvent> {
        self.chunks.back().and_then(|(_, c)| c.first())
    }

    /// The next push starts a new chunk, so everything stored so far can be evicted.
    pub fn seal(&mut self) {
        self.sealed = true;
    }

    /// Removes the oldest chunk if it is sealed (see `oldest_sealed`).
    pub fn pop_front(&mut self) -> Option<Vec<StoredEvent>> {
        self.oldest_sealed()?;
        let (_, c) = self.chunks.pop_front()?;
        self.first = self.chunks.front().map_or(self.len, |(start, _)| *start);
        Some(c)
    }
}

pub struct RunLogInner {
    pub events: EventStore,
    pub spawns: Window<SpawnInfo>,
    pub strings: Window<String>,
    pub lanes: Vec<ThreadLane>,
    pub snapshots: Window<Snapshot>,
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
    /// The run's retention window (None: it keeps everything).
    pub(crate) retention: Option<Retention>,
    /// What the retention evicted and carried over.
    pub(crate) evicted: Evictions,
}

impl RunLog {
    pub(crate) fn new(id: u16, start: u64) -> RunLog {
        RunLog {
            id,
            start,
            inner: Mutex::new(RunLogInner {
                events: EventStore::default(),
                spawns: Window::default(),
                strings: Window::default(),
                lanes: Vec::new(),
                snapshots: Window::default(),
                pending_snapshots: Vec::new(),
                causes: Vec::new(),
                counts: RunCounts::default(),
                finished: false,
                lane_of_thread: IdMap::default(),
                tasks: IdMap::default(),
                futures: IdMap::default(),
                lints: LintState::default(),
                retention: None,
                evicted: Evictions::default(),
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
    /// returns the index after the last one encoded. A reader before the first kept event
    /// (see `retain.rs`) first gets the carried events it has not read and an `evicted`
    /// event, then continues from the first kept one.
    pub fn encode_range(&self, from: usize, max: usize, sep: &str, out: &mut String) -> usize {
        let inner = self.lock();
        let first = inner.events.first();
        let mut n = 0;
        let from = if from < first {
            for ev in inner.carried_from(from) {
                if n > 0 {
                    out.push_str(sep);
                }
                ev.write_json(unsafe_vec(out));
                n += 1;
            }
            first
        } else {
            from
        };
        let end = inner.events.len().min(from.saturating_add(max));
        for ev in inner.events.iter_from(from).take(end.saturating_sub(from)) {
            if n > 0 {
                out.push_str(sep);
            }
            inner.encode_event(ev, out);
            n += 1;
        }
        end.max(from)
    }

    /// All events kept (after what retention carried over), typed (for tests, exports and
    /// other readers of a whole run).
    pub fn events(&self) -> Vec<WireEvent<'static>> {
        let inner = self.lock();
        let carried = inner.carried_from(0);
        carried.into_iter().chain(inner.events.iter().map(|ev| inner.wire(ev).into_owned())).collect()
    }

    /// All events as wire JSON values (for tests and small exports).
    pub fn to_json_values(&self) -> Vec<serde_json::Value> {
        self.events().iter().map(to_value).collect()
    }

    /// Keeps this run within `retention` from now on (a long-lived run: see `retain.rs`).
    pub fn set_retention(&self, retention: Retention) {
        let mut inner = self.lock();
        inner.retention = Some(retention);
        inner.events.set_chunk_len(RETAINED_CHUNK);
    }

    /// The run's retention window, if it has one.
    pub fn retention(&self) -> Option<Retention> {
        self.lock().retention
    }

    /// The time of the first event kept (ns since the run started): 0 until retention evicted
    /// something.
    pub fn window_start(&self) -> u64 {
        self.lock().evicted.before
    }

    /// The lint events so far, as wire JSON values.
    pub fn lints_json(&self) -> Vec<serde_json::Value> {
        let inner = self.lock();
        inner.events.iter().filter(|e| e.kind() == EventKind::Lint).map(|ev| to_value(&inner.wire(ev))).collect()
    }

    /// Bytes this log holds (events and side tables), for the run store's memory budget.
    pub fn approx_bytes(&self) -> usize {
        self.lock().approx_bytes_inner()
    }
}

/// The bytes of `out`, to append JSON to.
fn unsafe_vec(out: &mut String) -> &mut Vec<u8> {
    // SAFETY: serde_json writes only UTF-8 (its input strings are `str`s, and it escapes
    // with ASCII), and a `Vec` writer cannot fail part-way, so `out` stays a valid `String`.
    unsafe { out.as_mut_vec() }
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
            let idx = self.snapshots.push(snapshot);
            self.events.push(StoredEvent::new(taken.max(last), Stored::Snapshot { snapshot: idx }));
            self.counts.events += 1;
        }
    }

    pub(crate) fn push_string(&mut self, s: String) -> u32 {
        self.strings.push(s)
    }

    /// Bytes this log holds (events, side tables, what retention carried over).
    pub(crate) fn approx_bytes_inner(&self) -> usize {
        self.events.reserved_bytes()
            + map_bytes::<u64, TaskFlags>(self.tasks.capacity())
            + map_bytes::<u64, u32>(self.futures.capacity())
            + map_bytes::<u32, u32>(self.lane_of_thread.capacity())
            + self.lints.approx_bytes()
            + self.spawns.bytes()
            + self.strings.bytes()
            + self.snapshots.bytes()
            + self.evicted.bytes()
            + self.causes.capacity() * std::mem::size_of::<PollCause>()
            + self
                .causes
                .iter()
                .map(|c| {
                    c.syscall.as_ref().map_or(0, |s| alloc_bytes(s.capacity()))
                        + c.wchan.as_ref().map_or(0, |s| alloc_bytes(s.capacity()))
                })
                .sum::<usize>()
    }

    /// The spawn locations (`file:line:col`) of the tasks the log knows, kept or carried over.
    pub fn spawn_locations(&self) -> impl Iterator<Item = &str> {
        let carried = self.evicted.carried.values().filter_map(|ev| match ev {
            WireEvent::Spawn { loc, .. } => Some(&**loc),
            _ => None,
        });
        self.spawns.iter().map(|s| s.loc.as_str()).chain(carried)
    }

    /// What a reader at absolute index `from`, before the first kept event, has not read of
    /// what retention carried over, then the `evicted` notice (nothing if `from` is kept).
    pub(crate) fn carried_from(&self, from: usize) -> Vec<WireEvent<'static>> {
        let first = self.events.first();
        if from >= first {
            return Vec::new();
        }
        let mut out: Vec<WireEvent<'static>> = self.evicted.carried.range(from..).map(|(_, ev)| ev.clone()).collect();
        let t = self.events.get(first).map_or(self.evicted.before, |e| e.t());
        out.extend(self.evicted.notice(t));
        out
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
                let info = &self.spawns[spawn];
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
                WireEvent::Lint { t, task, rule, detail: Cow::Borrowed(&self.strings[detail]), since }
            }
            Stored::Dropped { count } => WireEvent::Dropped { t, count },
            Stored::Mark { task, label } => WireEvent::Mark { t, task, label: Cow::Borrowed(&self.strings[label]) },
            Stored::Snapshot { snapshot } => {
                let s = &self.snapshots[snapshot];
                WireEvent::Snapshot { t, reason: s.reason, tasks: Cow::Borrowed(&s.tasks) }
            }
            Stored::Evicted { before, events, tasks } => {
                WireEvent::Evicted { t, before, events, tasks: u64::from(tasks) }
            }

            Stored::PollCause { task, lane, cause } => {
                WireEvent::PollCause { t, task, lane, cause: Cow::Borrowed(&self.causes[cause as usize]) }
            }
        }
    }

    /// Appends one wire JSON object for `ev` to `out`.
    pub fn encode_event(&self, ev: &StoredEvent, out: &mut String) {
        self.wire(ev).write_json(unsafe_vec(out));
    }
}

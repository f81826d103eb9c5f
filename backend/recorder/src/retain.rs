//! Retention: how a long-lived run (a program watched with `futurescope::init`) stays within
//! a window of time and bytes.
//!
//! A run with a `Retention` evicts its oldest events in whole chunks of its `EventStore` once
//! they are older than `max_age` (measured back from the newest stored event) or once the log
//! holds more than `max_bytes`. What a reader needs to make sense of the rest is carried over:
//! every lane (`worker` event), and the `spawn` of every task whose `done` is not evicted yet,
//! so a task alive for hours keeps its name and spawn site. Everything else that goes is
//! counted (`RunCounts::evicted`, `evicted_tasks`), and the stream says so with an `evicted`
//! event: one stored when an eviction happens (for readers following live), and one made up
//! for a reader that starts before the first kept event (after the carried events, before the
//! kept ones), so the page can say "showing the last N minutes".
//!
//! Side tables shrink with the events: spawns, strings and snapshots are pushed in the order
//! their events are stored, so the table entries of an evicted chunk are exactly those below
//! the first entry a kept event names (`Window::drop_before`). The collector also forgets the
//! evicted finished tasks (its task flags and lint state), which otherwise grow by one entry
//! per task for ever.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use crate::buffer::SpawnInfo;
use crate::event::{Snapshot, Stored, StoredEvent, WireEvent};
use crate::idmap::IdMap;
use crate::log::{RunLogInner, alloc_bytes};

/// How much of its history a long-lived run keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Events older than this, measured back from the newest event, are evicted.
    pub max_age: Duration,
    /// The log's approximate size (events and side tables) beyond which the oldest events are
    /// evicted, however recent (the newest chunk of 8,192 events stays, whatever its size).
    pub max_bytes: usize,
}

impl Retention {
    /// Ten minutes, 256 MiB.
    pub const DEFAULT: Retention = Retention { max_age: Duration::from_secs(600), max_bytes: 256 << 20 };
}

impl Default for Retention {
    fn default() -> Self {
        Retention::DEFAULT
    }
}

/// A side table whose oldest entries can be dropped: indexes stay absolute.
pub struct Window<T> {
    base: u32,
    items: VecDeque<T>,
    /// What the entries own on the heap (`Weigh::heap_bytes`), summed.
    heap_bytes: usize,
}

impl<T> Default for Window<T> {
    fn default() -> Self {
        Window { base: 0, items: VecDeque::new(), heap_bytes: 0 }
    }
}

/// The heap bytes an entry of a side table owns beyond its slot in the table (its strings and
/// vectors), for the run's memory accounting.
pub trait Weigh {
    fn heap_bytes(&self) -> usize;
}

impl Weigh for SpawnInfo {
    fn heap_bytes(&self) -> usize {
        alloc_bytes(self.name.capacity()) + alloc_bytes(self.loc.capacity()) + alloc_bytes(self.kind.capacity())
    }
}

impl Weigh for String {
    fn heap_bytes(&self) -> usize {
        alloc_bytes(self.capacity())
    }
}

impl Weigh for Snapshot {
    fn heap_bytes(&self) -> usize {
        alloc_bytes(self.tasks.capacity() * std::mem::size_of::<crate::event::SnapshotTask>())
            + self
                .tasks
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
}

impl<T: Weigh> Window<T> {
    /// Appends `item`; returns its (absolute) index.
    pub fn push(&mut self, item: T) -> u32 {
        self.heap_bytes += item.heap_bytes();
        self.items.push_back(item);
        self.base + self.items.len() as u32 - 1
    }

    pub fn get(&self, i: u32) -> Option<&T> {
        self.items.get(i.checked_sub(self.base)? as usize)
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.items.iter()
    }

    /// The absolute index the next push gets.
    pub fn end(&self) -> u32 {
        self.base + self.items.len() as u32
    }

    /// Drops the entries below absolute index `i`.
    pub fn drop_before(&mut self, i: u32) {
        while self.base < i {
            let Some(item) = self.items.pop_front() else { break };
            self.heap_bytes -= item.heap_bytes();
            self.base += 1;
        }
    }

    /// Gives back the deque's spare slots once they are most of it (after a burst the
    /// retention then trimmed; shrinking copies the entries, so not on every eviction).
    pub fn shrink_spare(&mut self) {
        if mostly_spare(self.items.capacity(), self.items.len()) {
            self.items.shrink_to_fit();
        }
    }

    /// Heap bytes of the table: its slots (the deque's capacity, which stays at its peak and
    /// is up to twice the entries kept) and what the kept entries own.
    pub fn bytes(&self) -> usize {
        alloc_bytes(self.items.capacity() * std::mem::size_of::<T>()) + self.heap_bytes
    }
}

impl<T> std::ops::Index<u32> for Window<T> {
    type Output = T;

    fn index(&self, i: u32) -> &T {
        let at =
            i.checked_sub(self.base).expect("a kept event names a side-table entry that was evicted (a retain.rs bug)");
        &self.items[at as usize]
    }
}

/// Whether a table's spare capacity is most of it, and giving it back (a copy or a rehash of
/// what it keeps) is worth doing.
pub(crate) fn mostly_spare(capacity: usize, len: usize) -> bool {
    capacity > 4 * len.max(1024)
}

/// What a run's retention removed so far, and what it carried over.
#[derive(Default)]
pub struct Evictions {
    /// Lanes and spawns of evicted chunks that readers still need, by absolute event index.
    pub(crate) carried: BTreeMap<usize, WireEvent<'static>>,
    /// The carried spawn of each task, by task id.
    carried_spawn: IdMap<u64, usize>,
    /// Events gone (not counting the carried ones).
    pub events: u64,
    /// Finished tasks whose every event is gone.
    pub tasks: u64,
    /// The time of the first kept event after the last eviction (ns since the run started).
    pub before: u64,
    /// Heap bytes of the carried events.
    carried_bytes: usize,
}

impl Evictions {
    /// The `evicted` event a reader starting before the first kept event gets at `t`.
    pub(crate) fn notice(&self, t: u64) -> Option<WireEvent<'static>> {
        (self.events > 0 || !self.carried.is_empty()).then_some(WireEvent::Evicted {
            t,
            before: self.before,
            events: self.events,
            tasks: self.tasks,
        })
    }

    pub(crate) fn bytes(&self) -> usize {
        self.carried_bytes
    }
}

fn carried_weight(ev: &WireEvent<'_>) -> usize {
    match ev {
        WireEvent::Spawn { name, kind, loc, .. } => 96 + name.len() + kind.len() + loc.len(),
        WireEvent::Lane { name, .. } => 64 + name.len(),
        _ => 64,
    }
}

impl RunLogInner {
    /// Applies the run's retention, if it has one: evicts the oldest chunks that are older
    /// than the window at `now` (ns since the run started: the collector's horizon) or over
    /// the byte budget.
    pub(crate) fn enforce_retention(&mut self, now: u64) {
        let Some(retention) = self.retention else { return };
        let Some(newest) = self.events.len().checked_sub(1).and_then(|i| self.events.get(i)).map(|e| e.t()) else {
            return;
        };
        let now = now.max(newest);
        let window = retention.max_age.as_nanos() as u64;
        let oldest_kept = now.saturating_sub(window);
        let mut evicted_any = false;
        loop {
            // The chunk being appended to is never evicted for bytes alone: at least the
            // newest events stay.
            let over_bytes = self.approx_bytes_inner() > retention.max_bytes && self.events.chunk_count() > 1;
            let Some(oldest) = self.events.oldest_sealed() else { break };
            let too_old = oldest.last().is_some_and(|e| e.t() < oldest_kept);
            if !(too_old || over_bytes) {
                break;
            }
            let start = self.events.first();
            let chunk = self.events.pop_front().expect("oldest_sealed said there is one");
            self.evict_chunk(start, &chunk);
            // Maps keep their peak capacity: give back what the evicted tasks held, once it is
            // most of it (shrinking is a rehash: not on every chunk).
            if mostly_spare(self.tasks.capacity(), self.tasks.len()) {
                self.tasks.shrink_to_fit();
                self.lints.shrink_to_fit();
            }
            self.spawns.shrink_spare();
            self.strings.shrink_spare();
            self.snapshots.shrink_spare();
            evicted_any = true;
        }
        // A quiet run fills a chunk slowly: the one being appended to is sealed once its first
        // event is an eighth of the window old, so eviction goes in steps of that much.
        let current_first = self.events.last_chunk_first().map(|e| e.t());
        if current_first.is_some_and(|t| now.saturating_sub(t) >= (window / 8).max(1)) {
            self.events.seal();
        }
        if evicted_any {
            self.evicted.before = self.events.get(self.events.first()).map_or(newest, |e| e.t());
            let tasks = u32::try_from(self.evicted.tasks).unwrap_or(u32::MAX);
            let ev = Stored::Evicted { before: self.evicted.before, events: self.evicted.events, tasks };
            self.events.push(StoredEvent::new(newest, ev));
            self.counts.events += 1;
            self.counts.evicted = self.evicted.events;
            self.counts.evicted_tasks = self.evicted.tasks;
        }
    }

    fn evict_chunk(&mut self, start: usize, chunk: &[StoredEvent]) {
        let (mut spawns, mut strings, mut snapshots) = (None, None, None);
        for (i, ev) in chunk.iter().enumerate() {
            let idx = start + i;
            match ev.get() {
                Stored::Lane { .. } => {
                    let wire = self.wire(ev).into_owned();
                    self.evicted.carried_bytes += carried_weight(&wire);
                    self.evicted.carried.insert(idx, wire);
                    continue;
                }
                Stored::Spawn { task, spawn, .. } => {
                    spawns = Some(spawn);
                    let wire = self.wire(ev).into_owned();
                    self.evicted.carried_bytes += carried_weight(&wire);
                    self.evicted.carried.insert(idx, wire);
                    self.evicted.carried_spawn.insert(task, idx);
                    continue;
                }
                Stored::Done { task, .. } => {
                    if let Some(at) = self.evicted.carried_spawn.remove(&task) {
                        if let Some(wire) = self.evicted.carried.remove(&at) {
                            self.evicted.carried_bytes -= carried_weight(&wire);
                        }
                        self.evicted.events += 1;
                    }
                    self.evicted.tasks += 1;
                    self.tasks.remove(&task);
                    self.lints.forget(task);
                }
                Stored::Lint { detail, .. } => strings = Some(detail),
                Stored::Mark { label, .. } => strings = Some(label),
                Stored::Snapshot { snapshot } => snapshots = Some(snapshot),
                _ => {}
            }
            self.evicted.events += 1;
        }
        if let Some(i) = spawns {
            self.spawns.drop_before(i + 1);
        }
        if let Some(i) = strings {
            self.strings.drop_before(i + 1);
        }
        if let Some(i) = snapshots {
            self.snapshots.drop_before(i + 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_side_table_counts_its_spare_slots_and_what_its_entries_own() {
        let mut spawns: Window<SpawnInfo> = Window::default();
        let loc = "examples/echo-server/src/main.rs:40:13".to_owned();
        for _ in 0..1025 {
            spawns.push(SpawnInfo { loc: loc.clone(), kind: "task".into(), ..SpawnInfo::default() });
        }
        // The deque doubled past 1,024 entries: its spare slots are memory held too.
        let slots = spawns.items.capacity() * std::mem::size_of::<SpawnInfo>();
        assert!(spawns.items.capacity() > 1025);
        let owned = 1025 * (alloc_bytes(loc.len()) + alloc_bytes(4));
        assert_eq!(spawns.bytes(), alloc_bytes(slots) + owned);
        // Dropping entries gives back what they own, not the slots (the deque keeps them).
        spawns.drop_before(1000);
        let owned = 25 * (alloc_bytes(loc.len()) + alloc_bytes(4));
        assert_eq!(spawns.bytes(), alloc_bytes(slots) + owned);
        // Until they are most of it, and a shrink is worth its copy.
        for _ in 0..5000 {
            spawns.push(SpawnInfo::default());
        }
        spawns.drop_before(3000);
        spawns.shrink_spare();
        let cap = spawns.items.capacity();
        assert!(cap >= 8192, "not shrunk while the spare slots are not most of it: {cap}");
        assert_eq!(spawns.bytes(), alloc_bytes(cap * std::mem::size_of::<SpawnInfo>()));
        spawns.drop_before(6020);
        spawns.shrink_spare();
        assert!(spawns.items.capacity() < 1024, "shrunk once they are: {}", spawns.items.capacity());
        assert!(spawns.get(6019).is_none() && spawns.get(6020).is_some(), "indexes stay absolute");
        assert_eq!(spawns.end(), 6025);
    }
}

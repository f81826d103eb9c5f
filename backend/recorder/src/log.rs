//! `RunLog`: one run's whole recorded history, compact, append-only, readable while it grows.
//!
//! Events are kept as 32-byte `StoredEvent`s; their strings (task names, spawn locations, lane
//! names, lint details, marks) live once in side tables the events index. The collector
//! appends a batch per drain under the log's lock; readers (WebSocket streams, the `/events`
//! endpoint, tests) copy or encode a range by index, so a reader's position is just an index
//! and a slow reader holds no memory of its own.
//!
//! The JSON produced here is the wire format of `docs/protocol.md`.

use std::fmt::Write as _;
use std::sync::{Mutex, MutexGuard};

use serde::Serialize;

use crate::buffer::SpawnInfo;
use crate::idmap::IdMap;
use crate::lint::{LintRule, LintState};
use crate::probe;
use crate::record::{Outcome, ProbeState};

/// What a stored event is. Field meanings per kind are in `StoredEvent`'s doc.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[repr(u8)]
pub enum EventKind {
    Worker,
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
}

/// One retained event, 30 bytes: packed to 2-byte alignment (its fields are only ever read by
/// value, and unaligned loads cost nothing measurable on the CPUs this runs on), so a run's
/// side tables (task names, locations, strings) fit in the 32 bytes per event budget too.
///
/// | kind | task | a | b | flags |
/// |---|---|---|---|---|
/// | Worker | - | - | lane | - |
/// | Spawn | task | parent (0: none) | spawn table index | - |
/// | PollStart | task | - | lane | - |
/// | PollEnd | task | - | lane | 1: ready, 2: only dropped a cancelled future |
/// | Wake | task | waking task (0: none) | lane of the waking thread + 1 (0: unknown) | 1: by ref |
/// | WakerClone, WakerDrop | task | - | - | - |
/// | State | task | future id (low 32 bits), parent future id (high 32) | site id | `ProbeState` |
/// | Done | task | - | - | `Outcome` |
/// | Lint | task (0: run-wide) | since + 1 (0: none) | string index | `LintRule` |
/// | Dropped | - | count | - | - |
/// | Mark | task | - | string index | - |
#[derive(Clone, Copy, Debug)]
#[repr(C, packed(2))]
pub struct StoredEvent {
    pub t: u64,
    pub task: u64,
    pub a: u64,
    pub b: u32,
    pub kind: EventKind,
    pub flags: u8,
}

const _: () = assert!(std::mem::size_of::<StoredEvent>() == 30);

/// A thread as the timeline shows it.
#[derive(Clone, Debug, Serialize)]
pub struct Lane {
    pub name: String,
    /// `worker`, `blocking` or `thread`.
    pub kind: &'static str,
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
    pub lanes: Vec<Lane>,
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
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
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

    /// All events as wire JSON values (for tests and small exports).
    pub fn to_json_values(&self) -> Vec<serde_json::Value> {
        let mut s = String::new();
        let n = self.encode_range(0, usize::MAX, "\n", &mut s);
        if n == 0 {
            return Vec::new();
        }
        s.lines().map(|l| serde_json::from_str(l).expect("the log encodes valid JSON")).collect()
    }

    /// The lint events so far, as wire JSON values.
    pub fn lints_json(&self) -> Vec<serde_json::Value> {
        let inner = self.lock();
        let mut out = Vec::new();
        for ev in inner.events.iter().filter(|e| e.kind == EventKind::Lint) {
            let mut s = String::new();
            inner.encode_event(ev, &mut s);
            out.push(serde_json::from_str(&s).expect("the log encodes valid JSON"));
        }
        out
    }

    /// Bytes this log holds (events and side tables), for the run store's memory budget.
    pub fn approx_bytes(&self) -> usize {
        let inner = self.lock();
        inner.events.reserved_bytes()
            + inner.tasks.capacity() * 24
            + inner.futures.capacity() * 16
            + inner.lints.tracked_tasks() * 96
            + inner.spawns.iter().map(|s| 64 + s.name.len() + s.loc.len() + s.kind.len()).sum::<usize>()
            + inner.strings.iter().map(|s| 24 + s.len()).sum::<usize>()
    }
}

fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn push_task_or_null(out: &mut String, task: u64) {
    if task == 0 {
        out.push_str("null");
    } else {
        let _ = write!(out, "{task}");
    }
}

impl RunLogInner {
    pub(crate) fn push_string(&mut self, s: String) -> u32 {
        self.strings.push(s);
        (self.strings.len() - 1) as u32
    }

    /// Appends one wire JSON object for `ev` to `out`.
    pub fn encode_event(&self, ev: &StoredEvent, out: &mut String) {
        // By value: the fields of a packed struct cannot be borrowed (as `write!` would).
        let StoredEvent { t, task, a, b, kind, flags } = *ev;
        match kind {
            EventKind::Worker => {
                let lane = &self.lanes[b as usize];
                let _ = write!(out, r#"{{"k":"worker","t":{t},"worker":{},"name":"#, b);
                push_json_str(out, &lane.name);
                let _ = write!(out, r#","kind":"{}"}}"#, lane.kind);
            }
            EventKind::Spawn => {
                let info = &self.spawns[b as usize];
                let _ = write!(out, r#"{{"k":"spawn","t":{t},"task":{},"name":"#, task);
                push_json_str(out, &info.name);
                out.push_str(r#","kind":"#);
                push_json_str(out, &info.kind);
                out.push_str(r#","loc":"#);
                push_json_str(out, &info.loc);
                out.push_str(r#","size":"#);
                match info.size {
                    Some(size) => {
                        let _ = write!(out, "{size}");
                    }
                    None => out.push_str("null"),
                }
                out.push_str(r#","parent":"#);
                push_task_or_null(out, a);
                out.push('}');
            }
            EventKind::PollStart => {
                let _ = write!(out, r#"{{"k":"poll_start","t":{t},"task":{},"worker":{}}}"#, task, b);
            }
            EventKind::PollEnd => {
                let ready = flags & 1 != 0;
                let _ = write!(out, r#"{{"k":"poll_end","t":{t},"task":{},"worker":{},"ready":{ready}"#, task, b);
                if flags & 2 != 0 {
                    out.push_str(r#","drop":true"#);
                }
                out.push('}');
            }
            EventKind::Wake => {
                let op = if flags & 1 != 0 { "wake_by_ref" } else { "wake" };
                let _ = write!(out, r#"{{"k":"wake","t":{t},"task":{},"by":"#, task);
                push_task_or_null(out, a);
                let _ = write!(out, r#","op":"{op}","worker":"#);
                if b == 0 {
                    out.push_str("null");
                } else {
                    let _ = write!(out, "{}", b - 1);
                }
                out.push('}');
            }
            EventKind::WakerClone => {
                let _ = write!(out, r#"{{"k":"waker_clone","t":{t},"task":{}}}"#, task);
            }
            EventKind::WakerDrop => {
                let _ = write!(out, r#"{{"k":"waker_drop","t":{t},"task":{}}}"#, task);
            }
            EventKind::State => {
                let future = a & 0xffff_ffff;
                let parent = a >> 32;
                let state = ProbeState::from_flags(flags);
                let site = probe::site(b);
                let _ = write!(out, r#"{{"k":"state","t":{t},"task":"#);
                push_task_or_null(out, task);
                let _ = write!(out, r#","future":{future},"parent":"#);
                push_task_or_null(out, parent);
                out.push_str(r#","label":"#);
                match (state, site) {
                    (ProbeState::Suspended, Some(site)) => push_json_str(out, site.label),
                    _ => push_json_str(out, state.as_label()),
                }
                out.push_str(r#","loc":"#);
                match site {
                    Some(site) if state != ProbeState::Ready && state != ProbeState::Cancelled => {
                        push_json_str(out, &format!("{}:{}", site.file, site.line))
                    }
                    _ => out.push_str("null"),
                }
                if let (ProbeState::Start, Some(site)) = (state, site) {
                    out.push_str(r#","name":"#);
                    push_json_str(out, site.label);
                }
                out.push('}');
            }
            EventKind::Done => {
                let outcome = Outcome::from_flags(flags).as_str();
                let _ = write!(out, r#"{{"k":"done","t":{t},"task":{},"outcome":"{outcome}"}}"#, task);
            }
            EventKind::Lint => {
                let rule = LintRule::from_flags(flags).as_str();
                let _ = write!(out, r#"{{"k":"lint","t":{t},"task":"#);
                push_task_or_null(out, task);
                let _ = write!(out, r#","rule":"{rule}","detail":"#);
                push_json_str(out, &self.strings[b as usize]);
                if a != 0 {
                    let _ = write!(out, r#","since":{}"#, a - 1);
                }
                out.push('}');
            }
            EventKind::Dropped => {
                let _ = write!(out, r#"{{"k":"dropped","t":{t},"count":{}}}"#, a);
            }
            EventKind::Mark => {
                let _ = write!(out, r#"{{"k":"mark","t":{t},"task":"#);
                push_task_or_null(out, task);
                out.push_str(r#","label":"#);
                push_json_str(out, &self.strings[b as usize]);
                out.push('}');
            }
        }
    }
}

// model.js — turns the wire events of one run (docs/protocol.md) into per-run state:
// tasks, worker threads, poll slices, scheduled intervals, wakes, waker counts, the await
// point state machines of probe futures, lints, marks and the summary figures.
//
// It validates every event against a table of legal task-phase transitions and records
// what it finds illegal (a count plus the first messages) instead of throwing, so a
// recorder bug shows up in the UI rather than as a blank page.
//
// It knows nothing about pixels or the DOM: time -> pixel mapping and sub-pixel merging
// are layout.js's, painting is draw.js's, fetching events is socket.js's and app.js's.
//
// Storage: poll slices and scheduled intervals live in growable columnar typed arrays
// (SliceColumn), one per worker lane and one per task lane, so a million events cost a
// few typed-array writes each and no object per slice. Tasks are referred to by a dense
// `index` (their spawn order in this run) inside those columns; `id` is the tokio task id.
//
// Definitions (every figure the UI shows is derived from these):
// - poll slice: [poll_start.t, poll_end.t] of one task on one worker. A slice still open
//   has end = OPEN (-1) and is drawn up to `endT`.
// - scheduled interval: the task is runnable but not running. It opens at `spawn` (a
//   spawned task is runnable at once), or at a `wake` received while not running, or at
//   the `poll_end` of a poll during which the task was woken (it cannot run again before
//   that poll returns); it closes at the next `poll_start` (or at `done`). Further wakes
//   while already scheduled do not move its start.
// - scheduling delay: the length of one scheduled interval that ended in a poll.
// - idle: the rest of the task's life (from spawn to done, or to `endT` while alive).
// - live wakers: waker_clone - waker_drop - wakes with op "wake" (Waker::wake consumes
//   the waker, and it can only be a clone: the Context only lends one).
//
// - drop slice: [poll_start.t, poll_end.t] of a `poll_end` with `drop: true`: tokio ran a
//   task that was cancelled while idle only to drop its future. It is the worker's time
//   spent dropping, not a poll: it is kept in `drops` columns (task and worker), never in
//   `polls` / `slices`, and counts in no poll figure (polls, busy, histograms, longest).
//   The scheduled interval that ended at its start is not a scheduling delay either.
//
// A `state` event with `task: null` is a probe polled outside any task; such probes are
// kept in `outside`, a task-like record that is not in `taskList`. Every probe's state
// history is kept (`ProbeRecord.history`): the timeline draws one lane per outside probe, and
// can colour a task lane by its root future's state.
//
// Wakes are indexed per woken task (`TaskRecord.wakeIndex`), wakes a plain thread (or a
// blocking-pool thread outside a task) made per waking thread (`ThreadRecord.wakeIndex`),
// and the remaining driver wakes (timer, I/O) separately (`RunModel.driverWakes`), all in
// time order, so a view finds the wakes of one lane in a time range by binary search
// instead of scanning every wake of the run.
//
// Streams that do not know threads (an imported tokio-console recording, see
// console-recording.js) send `poll_start` / `poll_end` with `worker: null`: such a poll
// has a task slice but no worker slice, and `NO_THREAD` stands for its thread.
import { PollCauses } from './poll-causes.js';

export const OPEN = -1;
/** The `worker` of a poll whose thread is not known (`worker: null` on the wire). */
export const NO_THREAD = -2;
/** Labels a probe reports when it is no longer suspended at an await point. */
export const TERMINAL_LABELS = new Set(['ready', 'cancelled', 'panicked']);
const MAX_VIOLATION_MESSAGES = 50;
/** Key of `wakesBy` for wakes from a driver (timer, I/O) or a thread outside any task. */
export const DRIVER = -1;

/** Growable columns of [start, end, ref] triples, kept sorted by start by the caller. */
export class SliceColumn {
  constructor(capacity = 8) {
    this.start = new Float64Array(capacity);
    this.end = new Float64Array(capacity);
    this.ref = new Int32Array(capacity);
    this.length = 0;
  }

  push(start, end, ref) {
    if (this.length === this.start.length) this.grow();
    const i = this.length++;
    this.start[i] = start;
    this.end[i] = end;
    this.ref[i] = ref;
    return i;
  }

  grow() {
    const cap = this.start.length * 2;
    const start = new Float64Array(cap);
    const end = new Float64Array(cap);
    const ref = new Int32Array(cap);
    start.set(this.start);
    end.set(this.end);
    ref.set(this.ref);
    this.start = start;
    this.end = end;
    this.ref = ref;
  }
}

/** A growable list of int32 (wake indices), in the order pushed. */
export class IndexList {
  constructor(capacity = 4) {
    this.items = new Int32Array(capacity);
    this.length = 0;
  }

  push(v) {
    if (this.length === this.items.length) {
      const next = new Int32Array(this.items.length * 2);
      next.set(this.items);
      this.items = next;
    }
    this.items[this.length++] = v;
  }
}

/** Growable columns of wakes, in stream (= time) order. */
export class WakeColumn {
  constructor(capacity = 64) {
    this.t = new Float64Array(capacity);
    this.task = new Int32Array(capacity); // woken task index
    this.by = new Int32Array(capacity); // waking task index, -1 = driver / plain thread
    this.byValue = new Uint8Array(capacity); // 1 for op "wake", 0 for "wake_by_ref"
    this.target = new Float64Array(capacity); // next poll_start of the woken task, OPEN until known
    this.thread = new Int32Array(capacity); // thread lane the wake happened on (wire `worker`), -1 unknown
    this.length = 0;
  }

  push(t, task, by, byValue, thread = -1) {
    if (this.length === this.t.length) this.grow();
    const i = this.length++;
    this.t[i] = t;
    this.task[i] = task;
    this.by[i] = by;
    this.byValue[i] = byValue;
    this.target[i] = OPEN;
    this.thread[i] = thread;
    return i;
  }

  grow() {
    const cap = this.t.length * 2;
    for (const [name, Ctor] of [
      ['t', Float64Array],
      ['task', Int32Array],
      ['by', Int32Array],
      ['byValue', Uint8Array],
      ['target', Float64Array],
      ['thread', Int32Array],
    ]) {
      const next = new Ctor(cap);
      next.set(this[name]);
      this[name] = next;
    }
  }
}

/*
 * The legal transitions. A task is in one phase at a time:
 *   absent    not spawned (yet) in this stream
 *   runnable  spawned, not being polled (idle or scheduled: wakes decide which)
 *   running   a poll is open
 *   done      `done` received and no poll open
 * Each row says, for one event kind, the phases it may arrive in and the phase after it
 * ('=' keeps the phase). Anything not in the table is a violation. Checks that need more
 * than the phase (worker of poll_end, poll after a ready poll) are in the handlers.
 */
export const LEGAL_TRANSITIONS = {
  spawn: { absent: 'runnable' },
  poll_start: { runnable: 'running' },
  poll_end: { running: 'runnable' }, // -> 'done' when `done` already arrived during the poll
  wake: { runnable: '=', running: '=', done: '=' }, // a leftover waker may wake a finished task
  waker_clone: { runnable: '=', running: '=', done: '=' },
  waker_drop: { runnable: '=', running: '=', done: '=' },
  state: { runnable: '=', running: '=', done: '=' }, // a probe dropped after the task ended
  done: { runnable: 'done', running: '=' }, // the recorder may report the end before poll_end
  lint: { runnable: '=', running: '=', done: '=' },
};

/** One probe future's state machine (a `state` event stream with one `future` id). */
class ProbeRecord {
  constructor(id, task, parent, t) {
    this.id = id;
    this.task = task; // task index
    this.parent = parent; // probe id or null
    this.movedFrom = null; // the task id it was created in, when first polled in another (spawned)
    this.name = null; // what the probe wraps, if the recorder says (`state.name`)
    this.firstLoc = null; // loc of its first state: where the future was created
    this.children = [];
    this.label = null; // current label
    this.node = null; // current entry of `states`
    this.loc = null; // loc of the current label
    this.since = t; // when it entered the current label
    this.firstT = t;
    this.ended = false; // reached ready/cancelled/panicked
    this.states = new Map(); // label -> {label, loc, count, ns, order}
    this.transitions = new Map(); // from.order * 65536 + to.order -> {from, to, count}
    this.history = null; // SliceColumn of [t, next t or OPEN, state order]
  }

  /** Time spent in `label` so far, counting the current stay up to `now`. */
  timeIn(label, now) {
    const s = this.states.get(label);
    if (!s) return 0;
    return s.ns + (label === this.label && !this.ended ? Math.max(0, now - this.since) : 0);
  }
}

class TaskRecord {
  constructor(index, id) {
    this.index = index;
    this.id = id;
    this.cut = false; // its history was cut by a retention window (see RunModel.cutWindow)
    this.wakersCut = false;
    this.wakersBeforeCut = 0; // clones made before a retention cut, found as they are used
    this.name = '';
    this.kind = 'task';
    this.loc = null;
    this.size = null;
    this.parent = null; // parent task id
    this.spawnT = OPEN;
    this.doneT = OPEN;
    this.outcome = null;
    this.phase = 'absent';
    this.readyReturned = false;

    this.polls = new SliceColumn(4); // start, end, worker
    this.drops = null; // SliceColumn of drop slices (start, end, worker), created on first
    this.sched = new SliceColumn(4); // start, end, cause (wake index, -1 = spawn)
    this.openThread = -1;
    this.openPollSlice = -1; // index into this.polls
    this.openThreadSlice = -1; // index into the worker's column
    this.schedOpenT = OPEN;
    this.schedCause = -1;
    this.wokenWhileRunning = false;
    this.pendingWakes = []; // wake indices waiting for the next poll_start

    this.busyNs = 0; // closed polls
    this.schedNs = 0; // closed scheduled intervals
    this.longestPollNs = 0;
    this.worstDelayNs = 0;

    this.wakes = 0;
    this.wakeIndex = new IndexList(4); // indices into RunModel.wakes of wakes of this task
    this.selfWakes = 0;
    this.wakesBy = new Map(); // waking task id, or DRIVER -> count
    this.wakerClones = 0;
    this.wakerDrops = 0;
    this.wakesByValue = 0;
    this.maxLiveWakers = 0;

    this.lints = [];
    this.probes = new Map(); // future id -> ProbeRecord
    this.probeRoots = []; // probe ids without a parent (or whose parent is unknown)
    this.probeVersion = 0; // bumped when a probe is added to (or moved out of) the task
    this.currentProbe = null; // the probe of the latest state event
  }

  get liveWakers() {
    return this.wakerClones - this.wakerDrops - this.wakesByValue + this.wakersBeforeCut;
  }

  get pollCount() {
    return this.polls.length;
  }

  /** A display name: the task's name, else its kind and spawn location. */
  get label() {
    if (this.name) return this.name;
    const file = this.loc ? String(this.loc).split('/').pop() : '';
    return file ? `${this.kind} @ ${file}` : `${this.kind} ${this.id}`;
  }

  /**
   * The await point the task is suspended at (or running from), or null: the latest state
   * of its most recently active probe, falling back to the enclosing probe when that one
   * has finished.
   */
  currentAwait() {
    let probe = this.currentProbe;
    while (probe && probe.ended) probe = probe.parent != null ? this.probes.get(probe.parent) : null;
    return probe ? { future: probe.id, label: probe.label, loc: probe.loc, since: probe.since } : null;
  }
}

class ThreadRecord {
  constructor(index) {
    this.index = index;
    this.name = `thread ${index}`;
    this.kind = 'worker';
    this.t = 0;
    this.announced = false;
    this.slices = new SliceColumn(64); // start, end, task index
    this.drops = null; // SliceColumn of drop slices (start, end, task index), created on first
    this.openTask = -1;
    this.busyNs = 0;
    // Indices into `slices` of closed polls of at least LONG_POLL_FLOOR_NS, so stalls can
    // be highlighted at any zoom without scanning every slice.
    this.longSlices = [];
    // Wakes this thread made outside any task while it is not a runtime worker (a plain
    // thread or a blocking-pool thread): indices into RunModel.wakes, in time order. They
    // are drawn on this thread's own lane; a runtime worker's are its drivers' (timer, I/O).
    this.wakeIndex = new IndexList(4);
  }
}

/**
 * Whether a thread is one of a runtime's worker threads (kind `worker`), as opposed to a
 * blocking-pool thread or a plain thread. Every thread is in `threads` (the wire calls them
 * all `worker`s: `worker` events, the `worker` field of polls and wakes).
 */
export function isRuntimeWorker(thread) {
  return thread.kind === 'worker';
}

/** Polls at least this long are indexed per worker (the stall threshold can't go lower). */
export const LONG_POLL_FLOOR_NS = 100_000;

/**
 * The state of one run, built by feeding it events in stream order with `ingest`.
 * `meta` is whatever the app knows about the run ({run, scenario, params, status}).
 */
export class RunModel {
  constructor(meta = {}) {
    this.meta = { run: null, scenario: null, params: {}, status: 'running', ...meta };
    this.tasks = new Map(); // task id -> TaskRecord
    this.taskList = []; // by index
    this.threads = new Map(); // worker index -> ThreadRecord
    this.threadList = []; // sorted by worker index
    this.wakes = new WakeColumn();
    this.driverWakes = new IndexList(64); // indices into `wakes` with no waking task nor thread lane of their own
    this.drops = 0; // drop slices (poll_end with drop: true), not counted in `polls`
    this.lints = [];
    this.marks = [];
    // `snapshot` events: {t, reason, tasks: [{task (id), state, frames: [{fn, loc, depth}]}]},
    // frames outermost first in pre-order, as the recorder sent them (depth: the frame's level
    // in the task's await tree; a v0 event without it is read as one path).
    this.snapshots = [];
    // `poll_cause` events: why each long poll was long, by task and poll start (poll-causes.js).
    this.pollCauses = new PollCauses();
    this.dropped = 0;
    this.eventCount = 0;
    this.endT = 0;
    this.lastT = 0;
    this.unknownKinds = new Map();
    this.violations = { count: 0, messages: [] };
    this.polls = 0;
    this.longestPoll = { ns: 0, task: -1, t: 0 };
    this.worstDelay = { ns: 0, task: -1, t: 0 };
    this.version = 0; // bumped on every ingest; views use it to know when to refresh
    // A long-lived run's retention window (retained-window.js, `evicted` events): where the
    // kept history begins (0: from the start), what the server evicted before it and what
    // this page dropped itself. A task whose history was cut is `cut` until its next event,
    // so the one illegal-looking transition at the cut (a poll_end whose poll_start is gone)
    // counts in `windowCuts`, not as a violation.
    this.windowStart = 0;
    this.evicted = { events: 0, tasks: 0 };
    this.trimmed = { events: 0, tasks: 0 };
    this.windowCuts = 0;
    // Probes polled outside any task (`state` with task null: a hand-written executor on a
    // plain thread). They live in this task-like record, which is not in `taskList`.
    this.probes = new Map(); // future id -> ProbeRecord, run-wide (ids are unique in a run)
    this.stateEvents = 0; // `state` events applied (views rebuild future rows when it moves)
    this.outside = new TaskRecord(-1, null);
    this.outside.name = 'outside any task';
    this.outside.phase = 'runnable';
  }

  /** Applies a batch of events (objects as on the wire). Never throws on bad events. */
  ingest(events) {
    for (let i = 0; i < events.length; i++) this.apply(events[i]);
    this.version++;
  }

  apply(e) {
    this.eventCount++;
    const t = typeof e.t === 'number' ? e.t : NaN;
    if (!(t >= 0)) {
      this.violate(e, 'event without a valid time `t`');
      return;
    }
    if (t < this.lastT) this.violate(e, `time went backwards (${t} after ${this.lastT})`);
    this.lastT = t;
    if (t > this.endT) this.endT = t;
    switch (e.k) {
      case 'worker':
        return this.onWorker(e, t);
      case 'spawn':
        return this.onSpawn(e, t);
      case 'poll_start':
        return this.onPollStart(e, t);
      case 'poll_end':
        return this.onPollEnd(e, t);
      case 'wake':
        return this.onWake(e, t);
      case 'waker_clone':
      case 'waker_drop':
        return this.onWaker(e, t);
      case 'state':
        return this.onState(e, t);
      case 'done':
        return this.onDone(e, t);
      case 'lint':
        return this.onLint(e, t);
      case 'dropped':
        this.dropped += e.count || 0;
        return;
      case 'mark':
        this.marks.push({ t, task: e.task ?? null, label: String(e.label ?? '') });
        return;
      case 'snapshot':
        return this.onSnapshot(e, t);
      case 'evicted':
        return this.onEvicted(e);
      case 'poll_cause':
        if (!this.pollCauses.add(e)) this.violate(e, 'poll_cause without task, since or a known cause');
        return;
      default:
        // Kinds may be added to the protocol; count what this version does not know.
        this.unknownKinds.set(e.k, (this.unknownKinds.get(e.k) || 0) + 1);
    }
  }

  /** The server evicted everything before `e.before` (counts so far in `events`, `tasks`). */
  onEvicted(e) {
    const before = Number(e.before) || 0;
    // Only a notice before any poll (a reader that starts after an eviction) cuts histories:
    // one received live follows events this model already has.
    if (this.polls === 0) this.cutWindow(before, this.trimmed);
    else this.windowStart = Math.max(this.windowStart, before);
    this.evicted = { events: Math.max(this.evicted.events, Number(e.events) || 0), tasks: Math.max(this.evicted.tasks, Number(e.tasks) || 0) };
  }

  /** The history before `t` is gone (`trimmed`: what this page dropped of it). */
  cutWindow(t, trimmed) {
    this.windowStart = Math.max(this.windowStart, t);
    this.trimmed = { ...trimmed };
    for (const task of this.taskList) {
      if (task.phase === 'done') continue;
      task.cut = true;
      task.wakersCut = true; // its waker clones before the cut are gone: counts can go below 0
    }
  }

  /** More wakers used than cloned: a violation, unless the task's clones were cut away. */
  wakerShort(task, e, message) {
    if (!task.wakersCut) this.violate(e, message);
    else {
      this.windowCuts++;
      task.wakersBeforeCut -= task.liveWakers; // a clone made before the cut: back to 0
    }
  }

  onSnapshot(e, t) {
    if (!Array.isArray(e.tasks)) {
      this.violate(e, 'snapshot without a `tasks` list');
      return;
    }
    const tasks = e.tasks.map((s) => ({
      task: s.task,
      state: String(s.state ?? ''),
      frames: Array.isArray(s.frames) ? s.frames.map((f, i) => ({ fn: String(f.fn ?? ''), loc: String(f.loc ?? ''), depth: Number.isInteger(f.depth) ? f.depth : i })) : [],
    }));
    this.snapshots.push({ t, reason: String(e.reason ?? ''), tasks });
  }

  violate(e, message) {
    this.violations.count++;
    if (this.violations.messages.length < MAX_VIOLATION_MESSAGES) {
      this.violations.messages.push({ t: e && typeof e.t === 'number' ? e.t : null, kind: e && e.k, message });
    }
  }

  /** Checks the event against LEGAL_TRANSITIONS; returns the task or null when illegal. */
  check(e, task) {
    const row = LEGAL_TRANSITIONS[e.k];
    const phase = task ? task.phase : 'absent';
    const cut = Boolean(task && task.cut);
    if (cut) task.cut = false;
    if (row[phase] !== undefined) return true;
    if (cut) {
      this.windowCuts++;
      return false;
    }
    const id = task ? task.id : e.task;
    const what = phase === 'absent' ? 'an unknown task' : phase === 'running' ? 'a running task' : `a ${phase} task`;
    this.violate(e, `${e.k} for ${what} (task ${id})`);
    return false;
  }

  /** The task for an id, created on first sight (a violation was recorded by the caller). */
  taskFor(id, t) {
    let task = this.tasks.get(id);
    if (task) return task;
    task = new TaskRecord(this.taskList.length, id);
    task.spawnT = t;
    task.phase = 'runnable';
    this.tasks.set(id, task);
    this.taskList.push(task);
    return task;
  }

  threadFor(index, e) {
    let w = this.threads.get(index);
    if (w) return w;
    w = new ThreadRecord(index);
    this.threads.set(index, w);
    this.threadList.push(w);
    this.threadList.sort((a, b) => a.index - b.index);
    if (e && e.k !== 'worker') this.violate(e, `thread ${index} used before its worker event`);
    return w;
  }

  onWorker(e, t) {
    const w = this.threadFor(e.worker, e);
    if (w.announced) this.violate(e, `worker ${e.worker} announced twice`);
    w.announced = true;
    w.name = e.name || w.name;
    w.kind = e.kind || w.kind;
    w.t = t;
  }

  onSpawn(e, t) {
    const existing = this.tasks.get(e.task);
    if (existing) {
      this.check(e, existing);
      return;
    }
    const task = this.taskFor(e.task, t);
    task.name = e.name || '';
    task.kind = e.kind || 'task';
    task.loc = e.loc ?? null;
    task.size = e.size ?? null;
    task.parent = e.parent ?? null;
    task.spawnT = t;
    task.phase = 'runnable';
    task.schedOpenT = t;
    task.schedCause = -1;
  }

  onPollStart(e, t) {
    let task = this.tasks.get(e.task);
    if (!this.check(e, task)) {
      // An unknown task is created so its polls still show; a poll inside an open poll
      // or after `done` is ignored (the open poll stays as it was).
      if (task) return;
      task = this.taskFor(e.task, t);
    }
    if (task.readyReturned) this.violate(e, `task ${task.id} polled again after a poll returned Ready`);
    const worker = e.worker == null ? null : this.threadFor(e.worker, e);
    if (worker && worker.openTask >= 0) {
      const other = this.taskList[worker.openTask];
      this.violate(e, `worker ${worker.index} starts task ${task.id} while task ${other.id}'s poll is open on it`);
      this.closeWorkerSlice(worker, t);
    }
    // Close the scheduled interval: this poll is what the wake was waiting for.
    // What the scheduled interval changed, undone if this turns out to be a drop.
    task.undoDelay = null;
    if (task.schedOpenT !== OPEN) {
      const delay = t - task.schedOpenT;
      task.sched.push(task.schedOpenT, t, task.schedCause);
      task.schedNs += delay;
      task.undoDelay = { task: task.worstDelayNs, run: this.worstDelay };
      if (delay > task.worstDelayNs) task.worstDelayNs = delay;
      if (delay > this.worstDelay.ns) this.worstDelay = { ns: delay, task: task.index, t: task.schedOpenT };
      task.schedOpenT = OPEN;
    }
    const pending = task.pendingWakes;
    for (let i = 0; i < pending.length; i++) this.wakes.target[pending[i]] = t;
    pending.length = 0;

    task.phase = 'running';
    task.openThread = worker ? worker.index : NO_THREAD;
    task.openPollSlice = task.polls.push(t, OPEN, task.openThread);
    task.openThreadSlice = worker ? worker.slices.push(t, OPEN, task.index) : -1;
    if (worker) worker.openTask = task.index;
    this.polls++;
  }

  closeWorkerSlice(worker, t) {
    const slices = worker.slices;
    for (let i = slices.length - 1; i >= 0; i--) {
      if (slices.end[i] === OPEN) {
        slices.end[i] = t;
        worker.busyNs += t - slices.start[i];
        break;
      }
    }
    worker.openTask = -1;
  }

  onPollEnd(e, t) {
    const task = this.tasks.get(e.task);
    if (!this.check(e, task)) return;
    const workerIndex = e.worker == null ? NO_THREAD : e.worker;
    if (task.openThread !== workerIndex) {
      const where = (w) => (w === NO_THREAD ? 'an unknown thread' : `worker ${w}`);
      this.violate(e, `poll_end of task ${task.id} on ${where(workerIndex)}, but its poll is open on ${where(task.openThread)}`);
      return;
    }
    const worker = workerIndex === NO_THREAD ? null : this.threads.get(workerIndex);
    if (e.drop === true) {
      this.closeDrop(task, worker, t);
      return;
    }
    const start = task.polls.start[task.openPollSlice];
    const ns = t - start;
    task.polls.end[task.openPollSlice] = t;
    task.busyNs += ns;
    if (ns > task.longestPollNs) task.longestPollNs = ns;
    if (ns > this.longestPoll.ns) this.longestPoll = { ns, task: task.index, t: start };
    if (worker && worker.openTask === task.index) {
      worker.slices.end[task.openThreadSlice] = t;
      worker.busyNs += ns;
      if (ns >= LONG_POLL_FLOOR_NS) worker.longSlices.push(task.openThreadSlice);
      worker.openTask = -1;
    }
    if (e.ready) task.readyReturned = true;
    this.afterPollEnd(task, t);
  }

  /**
   * The open "poll" of `task` was the drop of its future (poll_end with drop: true): its
   * slices move from the poll columns to the drop columns, and the poll count and the
   * scheduling delay it closed are taken back.
   */
  closeDrop(task, worker, t) {
    const start = task.polls.start[task.openPollSlice];
    // The open slice is the last one pushed (a task has one poll open at a time).
    if (task.openPollSlice === task.polls.length - 1) task.polls.length--;
    (task.drops ||= new SliceColumn(2)).push(start, t, task.openThread);
    if (worker && worker.openTask === task.index) {
      if (task.openThreadSlice === worker.slices.length - 1) worker.slices.length--;
      (worker.drops ||= new SliceColumn(8)).push(start, t, task.index);
      worker.openTask = -1;
    }
    this.polls--;
    this.drops++;
    const undo = task.undoDelay;
    if (undo) {
      task.worstDelayNs = undo.task;
      if (this.worstDelay.task === task.index && this.worstDelay.t + this.worstDelay.ns === start) this.worstDelay = undo.run;
      task.undoDelay = null;
    }
    this.afterPollEnd(task, t);
  }

  afterPollEnd(task, t) {
    task.openThread = -1;
    task.openPollSlice = -1;
    task.openThreadSlice = -1;
    if (task.doneT !== OPEN) {
      task.phase = 'done';
    } else {
      task.phase = 'runnable';
      if (task.wokenWhileRunning) {
        task.schedOpenT = t;
        task.schedCause = task.pendingWakes.length ? task.pendingWakes[0] : -1;
      }
    }
    task.wokenWhileRunning = false;
  }

  onWake(e, t) {
    const task = this.tasks.get(e.task);
    if (!this.check(e, task)) return;
    let byIndex = -1;
    let byKey = DRIVER;
    if (e.by != null) {
      const by = this.tasks.get(e.by);
      byKey = e.by;
      if (by) byIndex = by.index;
      else this.violate(e, `wake of task ${task.id} by unknown task ${e.by}`);
    }
    const byValue = e.op === 'wake' ? 1 : 0;
    const thread = e.worker != null ? this.threads.get(e.worker) : null;
    const w = this.wakes.push(t, task.index, byIndex, byValue, thread ? thread.index : -1);
    task.wakeIndex.push(w);
    if (byIndex < 0) {
      if (e.by == null && thread && !isRuntimeWorker(thread)) thread.wakeIndex.push(w);
      else this.driverWakes.push(w);
    }
    task.wakes++;
    if (e.by != null && e.by === task.id) task.selfWakes++;
    task.wakesBy.set(byKey, (task.wakesBy.get(byKey) || 0) + 1);
    if (byValue) {
      task.wakesByValue++;
      if (task.liveWakers < 0) this.wakerShort(task, e, `task ${task.id} woken by value with no live cloned waker`);
    }
    if (task.phase === 'done') return;
    task.pendingWakes.push(w);
    if (task.phase === 'running') {
      task.wokenWhileRunning = true;
    } else if (task.schedOpenT === OPEN) {
      task.schedOpenT = t;
      task.schedCause = w;
    }
  }

  onWaker(e, t) {
    const task = this.tasks.get(e.task);
    if (!this.check(e, task)) return;
    if (e.k === 'waker_clone') {
      task.wakerClones++;
      if (task.liveWakers > task.maxLiveWakers) task.maxLiveWakers = task.liveWakers;
    } else {
      task.wakerDrops++;
      if (task.liveWakers < 0) this.wakerShort(task, e, `waker_drop for task ${task.id} with no live cloned waker`);
    }
  }

  onState(e, t) {
    let task = e.task == null ? this.outside : this.tasks.get(e.task);
    if (!this.check(e, task)) return;
    const label = typeof e.label === 'string' ? e.label : String(e.label ?? '?');
    // Probe ids are unique in the run: look the probe up run-wide, not only in this task.
    let probe = this.probes.get(e.future);
    if (probe && probe.ended) {
      this.violate(e, `future ${probe.id} of task ${task.id} reports "${label}" after it finished as "${probe.label}"`);
      return;
    }
    if (probe) {
      const home = probe.task >= 0 ? this.taskList[probe.task] : this.outside;
      if (home !== task) {
        if (task === this.outside) {
          // Dropped outside any poll (recordings made before the recorder attributed such
          // drops to the probe's task): it still belongs to the task that polled it.
          task = home;
        } else if (probe.states.size === 1 && probe.label === 'start') {
          // Created in one task and first polled in another (a future handed to
          // tokio::spawn): it lives where it is polled, from its creation on.
          this.moveProbe(probe, home, task);
        } else {
          this.violate(e, `future ${probe.id} of task ${home.id} reports "${label}" in task ${task.id}`);
          task = home;
        }
      }
    }
    if (!probe) {
      // Created inside its parent's poll: a parent that so far was only created elsewhere
      // (handed to tokio::spawn, then polled here) is being polled in this task now.
      const above = e.parent != null ? this.probes.get(e.parent) : null;
      if (above && above.task !== task.index && task !== this.outside && !above.ended && above.states.size === 1 && above.label === 'start') {
        this.moveProbe(above, above.task >= 0 ? this.taskList[above.task] : this.outside, task);
      }
      probe = new ProbeRecord(e.future, task.index, e.parent ?? null, t);
      probe.name = e.name ?? null;
      probe.firstLoc = e.loc ?? null;
      task.probes.set(e.future, probe);
      this.probes.set(e.future, probe);
      const parent = probe.parent != null ? task.probes.get(probe.parent) : null;
      if (parent) parent.children.push(probe.id);
      else task.probeRoots.push(probe.id);
      task.probeVersion++;
    }
    let node = probe.states.get(label);
    if (!node) {
      node = { label, loc: e.loc ?? null, count: 0, ns: 0, order: probe.states.size };
      probe.states.set(label, node);
    }
    // Every probe keeps its states over time: lanes of futures outside tasks draw them, and
    // a task lane can show its root future's await point under its polls.
    this.stateEvents++;
    const h = (probe.history ||= new SliceColumn(4));
    if (h.length) h.end[h.length - 1] = t;
    h.push(t, OPEN, node.order);
    const prev = probe.node;
    if (prev) {
      prev.ns += t - probe.since;
      // Keyed by the two states' first-seen order: no string building per event.
      const key = prev.order * 65536 + node.order;
      const edge = probe.transitions.get(key);
      if (edge) edge.count++;
      else probe.transitions.set(key, { from: prev.label, to: label, count: 1 });
    }
    node.count++;
    if (e.loc != null) node.loc = e.loc;
    probe.node = node;
    probe.label = label;
    probe.loc = node.loc;
    probe.since = t;
    if (label === 'ready' || label === 'cancelled' || label === 'panicked') probe.ended = true;
    task.currentProbe = probe;
  }

  /** Moves a probe that was only created in `from` to `to`, as a root there. */
  moveProbe(probe, from, to) {
    from.probes.delete(probe.id);
    const parent = probe.parent != null ? from.probes.get(probe.parent) : null;
    if (parent) parent.children = parent.children.filter((id) => id !== probe.id);
    else from.probeRoots = from.probeRoots.filter((id) => id !== probe.id);
    if (from.currentProbe === probe) from.currentProbe = null;
    from.probeVersion++;
    probe.task = to.index;
    probe.parent = null;
    probe.movedFrom = from.id;
    to.probes.set(probe.id, probe);
    to.probeRoots.push(probe.id);
    to.probeVersion++;
  }

  onDone(e, t) {
    const task = this.tasks.get(e.task);
    if (!this.check(e, task)) return;
    if (task.doneT !== OPEN) {
      this.violate(e, `task ${task.id} done twice`);
      return;
    }
    task.doneT = t;
    task.outcome = e.outcome || 'completed';
    if (task.schedOpenT !== OPEN) {
      // Scheduled but never polled again (e.g. aborted while runnable).
      task.sched.push(task.schedOpenT, t, task.schedCause);
      task.schedNs += t - task.schedOpenT;
      task.schedOpenT = OPEN;
    }
    task.pendingWakes.length = 0;
    if (task.phase !== 'running') task.phase = 'done';
  }

  onLint(e, t) {
    const since = typeof e.since === 'number' && e.since <= t ? e.since : null;
    const lint = { t, since, task: e.task ?? null, rule: String(e.rule ?? 'lint'), detail: String(e.detail ?? '') };
    this.lints.push(lint);
    if (e.task == null) return;
    const task = this.tasks.get(e.task);
    if (!this.check(e, task)) return;
    task.lints.push(lint);
  }

  /**
   * The thread a wake came from when it has a lane of its own to start from: a wake outside
   * any task on a plain thread or a blocking-pool thread (see ThreadRecord.wakeIndex); null
   * for a task's wake and for a driver's (timer, I/O) on a runtime worker.
   */
  wakingThread(w) {
    if (this.wakes.by[w] >= 0 || this.wakes.thread[w] < 0) return null;
    const thread = this.threads.get(this.wakes.thread[w]);
    return thread && !isRuntimeWorker(thread) ? thread : null;
  }

  // ---- derived figures -------------------------------------------------------------

  /** Busy / scheduled / idle time and shares of one task at time `now` (default endT). */
  taskFigures(task, now = this.endT) {
    const end = task.doneT !== OPEN ? task.doneT : now;
    let busy = task.busyNs;
    if (task.openPollSlice >= 0) busy += Math.max(0, now - task.polls.start[task.openPollSlice]);
    let sched = task.schedNs;
    if (task.schedOpenT !== OPEN) sched += Math.max(0, now - task.schedOpenT);
    const life = Math.max(0, end - task.spawnT);
    const idle = Math.max(0, life - busy - sched);
    const share = (x) => (life > 0 ? x / life : 0);
    return {
      life,
      busy,
      scheduled: sched,
      idle,
      busyShare: share(busy),
      scheduledShare: share(sched),
      idleShare: share(idle),
      polls: task.polls.length,
      longestPoll: task.longestPollNs,
      worstDelay: task.worstDelayNs,
      meanPoll: task.polls.length ? busy / task.polls.length : 0,
    };
  }

  /** Poll durations of a task (closed polls), as a Float64Array. */
  pollDurations(task) {
    const n = task.polls.length;
    const out = [];
    for (let i = 0; i < n; i++) {
      const e = task.polls.end[i];
      if (e !== OPEN) out.push(e - task.polls.start[i]);
    }
    return Float64Array.from(out);
  }

  /** Scheduled-interval durations of a task that ended in a poll (scheduling delays). */
  scheduledDurations(task) {
    const n = task.sched.length;
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = task.sched.end[i] - task.sched.start[i];
    return out;
  }

  /** Run-wide figures for the summary bar. */
  summary() {
    let running = 0;
    let done = 0;
    for (const task of this.taskList) {
      if (task.doneT !== OPEN) done++;
      else running++;
    }
    return {
      tasks: this.taskList.length,
      alive: running,
      done,
      workers: this.threadList.length,
      polls: this.polls,
      wakes: this.wakes.length,
      longestPoll: this.longestPoll,
      worstDelay: this.worstDelay,
      events: this.eventCount,
      dropped: this.dropped,
      lints: this.lints.length,
      violations: this.violations.count,
      duration: this.endT,
    };
  }

  /** Time the task is at: 'running' | 'scheduled' | 'idle' | 'done' (live). */
  taskActivity(task) {
    if (task.phase === 'running') return 'running';
    if (task.phase === 'done' || task.doneT !== OPEN) return 'done';
    return task.schedOpenT !== OPEN ? 'scheduled' : 'idle';
  }
}

/**
 * One state diagram for all probes of a task that are the same future in the source
 * (same name and first location, under the same parent group): a loop that awaits
 * `rx.recv()` makes a new probe per iteration, and one diagram of all of them says more
 * than a hundred one-step diagrams. Counts and times are summed over the instances; the
 * current label is that of the most recently active unfinished instance.
 */
export class ProbeGroup {
  constructor(key, name) {
    this.key = key;
    this.name = name;
    this.ids = [];
    this.instances = 0;
    this.live = 0;
    this.states = new Map(); // label -> {label, loc, count, ns, order}
    this.transitions = new Map(); // "from\u0000to" -> {from, to, count}
    this.children = [];
    this.label = null;
    this.loc = null;
    this.since = -1;
    this.ended = true;
  }

  add(probe, now) {
    this.ids.push(probe.id);
    this.instances++;
    const nodes = [...probe.states.values()].sort((a, b) => a.order - b.order);
    for (const n of nodes) {
      let g = this.states.get(n.label);
      if (!g) {
        g = { label: n.label, loc: n.loc, count: 0, ns: 0, order: this.states.size };
        this.states.set(n.label, g);
      }
      g.count += n.count;
      g.ns += probe.timeIn(n.label, now);
      if (n.loc != null) g.loc = n.loc;
    }
    for (const e of probe.transitions.values()) {
      const key = `${e.from}\u0000${e.to}`;
      const g = this.transitions.get(key);
      if (g) g.count += e.count;
      else this.transitions.set(key, { from: e.from, to: e.to, count: e.count });
    }
    if (!probe.ended) {
      this.live++;
      this.ended = false;
    }
    // The live instance wins over finished ones; among equals, the most recent.
    const better = this.since < 0 || (!probe.ended && (this.ended || probe.since >= this.since)) || (this.ended && probe.ended && probe.since >= this.since);
    if (better) {
      this.label = probe.label;
      this.loc = probe.loc;
      this.since = probe.since;
    }
  }

  timeIn(label) {
    const s = this.states.get(label);
    return s ? s.ns : 0;
  }
}

/** The probes of `task` as a tree of ProbeGroups (see ProbeGroup), roots in first-seen order. */
export function probeGroups(task, now) {
  const roots = [];
  const groups = new Map();
  const groupOf = new Map(); // probe id -> group
  for (const probe of task.probes.values()) {
    const parent = probe.parent != null ? groupOf.get(probe.parent) : null;
    const key = `${parent ? parent.key : ''}/${probe.name ?? ''}\u0000${probe.firstLoc ?? (probe.name ? '' : `#${probe.id}`)}`;
    let g = groups.get(key);
    if (!g) {
      g = new ProbeGroup(key, probe.name);
      groups.set(key, g);
      (parent ? parent.children : roots).push(g);
    }
    g.add(probe, now);
    groupOf.set(probe.id, g);
  }
  return roots;
}

/**
 * Buckets durations into powers of two of nanoseconds (1 ns .. ~17 s) for histograms.
 * Returns {buckets: [{lo, hi, count}], max} covering only the occupied range.
 */
export function log2Histogram(durations) {
  const counts = new Array(36).fill(0);
  let lo = counts.length;
  let hi = -1;
  for (let i = 0; i < durations.length; i++) {
    const d = durations[i];
    const b = d < 1 ? 0 : Math.min(counts.length - 1, Math.floor(Math.log2(d)) + 1);
    counts[b]++;
    if (b < lo) lo = b;
    if (b > hi) hi = b;
  }
  const buckets = [];
  let max = 0;
  for (let b = lo; b <= hi; b++) {
    buckets.push({ lo: b === 0 ? 0 : 2 ** (b - 1), hi: 2 ** b, count: counts[b] });
    if (counts[b] > max) max = counts[b];
  }
  return { buckets, max };
}

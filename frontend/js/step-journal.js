// step-journal.js — what the step bar says about a stepped run, derived from the run's
// recorded events (docs/protocol.md, "Events") and the server's step state ("Step mode").
//
// The step state says which task each worker is about to poll and which poll the last step
// let through; everything the page says about those tasks (names, the await point a task is
// suspended at, who woke it and how long before, what the last step's poll did, the run
// queue, how many polls were recorded) comes from the events, so the step bar and the
// timeline cannot disagree. The journal keeps O(tasks) state: per task its current await
// point, its last wake and its last few polls with what happened inside them.
//
// Pure: no DOM, no fetch. The step bar (views/step-bar.js) feeds it and renders its answers.

const TERMINAL = new Set(['ready', 'cancelled', 'panicked']);
/** Closed polls kept per task (a step is matched against them by time). */
const KEPT_POLLS = 8;

export class StepJournal {
  constructor() {
    this.tasks = new Map(); // task id -> TaskNote
    this.threads = new Map(); // lane id -> {name, kind}
    this.futureNames = new Map(); // probe id -> its name (a spawned future's start is in its spawner)
    this.polls = 0; // poll_start events (drops excluded: they are not polls)
    this.wakes = 0;
    this.events = 0;
    this.lastT = 0;
  }

  task(id) {
    let t = this.tasks.get(id);
    if (!t) {
      t = { id, name: '', kind: 'task', loc: null, polls: 0, open: null, recent: [], runnableSince: null, lastWake: null, futures: new Map(), await: null, done: null, liveWakers: 0 };
      this.tasks.set(id, t);
    }
    return t;
  }

  /** Feeds events in stream order. */
  ingest(events) {
    for (const e of events) this.apply(e);
  }

  apply(e) {
    this.events++;
    if (typeof e.t === 'number' && e.t > this.lastT) this.lastT = e.t;
    switch (e.k) {
      case 'worker':
        this.threads.set(e.worker, { name: e.name || `thread ${e.worker}`, kind: e.kind || 'worker' });
        break;
      case 'spawn': {
        const t = this.task(e.task);
        t.name = e.name || '';
        t.kind = e.kind || 'task';
        t.loc = e.loc || null;
        // A spawned task is runnable until its first poll.
        if (t.polls === 0 && !t.open) t.runnableSince = e.t;
        break;
      }
      case 'poll_start': {
        if (e.task == null) break;
        const t = this.task(e.task);
        t.open = { start: e.t, end: null, worker: e.worker, ready: false, drop: false, clones: 0, drops: 0, woke: [], states: [], marks: [], wokenDuring: null, wakeAfter: null, awaitAtEnd: null };
        t.runnableSince = null;
        break;
      }
      case 'poll_end': {
        if (e.task == null) break;
        const t = this.task(e.task);
        const p = t.open || { start: e.t, worker: e.worker, clones: 0, drops: 0, woke: [], states: [], marks: [], wokenDuring: null, wakeAfter: null };
        p.end = e.t;
        p.ready = Boolean(e.ready);
        p.drop = Boolean(e.drop);
        p.awaitAtEnd = t.await;
        if (!p.drop) {
          t.polls++;
          this.polls++;
        }
        t.open = null;
        t.recent.push(p);
        if (t.recent.length > KEPT_POLLS) t.recent.shift();
        // Woken while it ran: runnable again from that wake.
        if (!p.ready && !p.drop && p.wokenDuring) t.runnableSince = p.wokenDuring.t;
        break;
      }
      case 'wake': {
        this.wakes++;
        const t = this.task(e.task);
        const wake = { t: e.t, by: e.by ?? null, op: e.op || 'wake', worker: e.worker ?? null };
        t.lastWake = wake;
        if (t.open) {
          if (!t.open.wokenDuring) t.open.wokenDuring = wake;
        } else if (t.runnableSince == null && !t.done) t.runnableSince = e.t;
        const last = t.recent[t.recent.length - 1];
        if (!t.open && last && !last.wakeAfter && !last.ready) last.wakeAfter = wake;
        if (wake.op === 'wake') t.liveWakers = Math.max(0, t.liveWakers - 1);
        if (e.by != null) {
          const waker = this.tasks.get(e.by);
          if (waker && waker.open) waker.open.woke.push({ task: e.task, op: wake.op });
        }
        break;
      }
      case 'waker_clone': {
        const t = this.task(e.task);
        t.liveWakers++;
        if (t.open) t.open.clones++;
        break;
      }
      case 'waker_drop': {
        const t = this.task(e.task);
        t.liveWakers = Math.max(0, t.liveWakers - 1);
        if (t.open) t.open.drops++;
        break;
      }
      case 'state': {
        if (e.name && !this.futureNames.has(e.future)) this.futureNames.set(e.future, e.name);
        if (e.task == null) break;
        const t = this.task(e.task);
        const prev = t.futures.get(e.future);
        const f = { id: e.future, label: e.label, loc: e.loc || null, name: e.name || (prev && prev.name) || this.futureNames.get(e.future) || null, parent: prev ? prev.parent : (e.parent ?? null), since: e.t };
        t.futures.set(e.future, f);
        if (t.open) t.open.states.push({ future: e.future, name: f.name, label: e.label, loc: f.loc });
        t.await = this.awaitOf(t, f);
        break;
      }
      case 'mark':
        if (e.task != null) {
          const t = this.task(e.task);
          if (t.open) t.open.marks.push(e.label);
        }
        break;
      case 'done': {
        const t = this.task(e.task);
        t.done = { t: e.t, outcome: e.outcome };
        t.runnableSince = null;
        break;
      }
      default:
        break;
    }
  }

  /** The await point of the latest state, or of the nearest enclosing future still going. */
  awaitOf(t, f) {
    let cur = f;
    const seen = new Set();
    while (cur && TERMINAL.has(cur.label) && cur.parent != null && !seen.has(cur.id)) {
      seen.add(cur.id);
      cur = t.futures.get(cur.parent);
    }
    if (!cur || TERMINAL.has(cur.label)) return null;
    return { future: cur.id, name: cur.name, label: cur.label, loc: cur.loc, since: cur.since };
  }

  /** A task's display name: its name, else its kind and id. */
  taskName(id) {
    const t = this.tasks.get(id);
    return t && t.name ? t.name : `${t ? t.kind : 'task'} ${id}`;
  }

  threadName(lane) {
    const th = lane == null ? null : this.threads.get(lane);
    return th ? th.name : null;
  }

  /** Who woke: {kind: 'task'|'thread'|'driver', name}. */
  waker(wake) {
    if (wake.by != null) return { kind: 'task', task: wake.by, name: this.taskName(wake.by) };
    const th = wake.worker == null ? null : this.threads.get(wake.worker);
    if (th && th.kind === 'thread') return { kind: 'thread', name: th.name };
    return { kind: 'driver', name: th ? th.name : null };
  }
}

/** What a waiting worker is about to poll: one entry per worker stopped at the gate, oldest first. */
export function describeNext(state, journal) {
  if (!state || !Array.isArray(state.waiting)) return [];
  return state.waiting.map((w) => {
    const t = journal.tasks.get(w.task);
    const entry = {
      task: w.task,
      name: journal.taskName(w.task),
      worker: w.worker ?? null,
      thread: journal.threadName(w.worker) || w.thread_name || `thread ${w.thread}`,
      since: w.since,
      known: Boolean(t),
      firstPoll: !t || (t.polls === 0 && !t.open),
      await: t ? t.await : null,
      woken: null,
    };
    if (t && t.lastWake && !entry.firstPoll) {
      const last = t.recent[t.recent.length - 1];
      // The wake that made it runnable: after its last poll began.
      if (!last || t.lastWake.t >= last.start) entry.woken = { ...journal.waker(t.lastWake), op: t.lastWake.op, t: t.lastWake.t, agoNs: Math.max(0, w.since - t.lastWake.t) };
    }
    return entry;
  });
}

/**
 * What the last step's poll did, from its events: null before any step; {pending: true}
 * while its events have not arrived yet.
 */
export function describeLastStep(state, journal) {
  const last = state && state.last_step;
  if (!last) return null;
  const t = journal.tasks.get(last.task);
  const base = { step: last.step, task: last.task, name: journal.taskName(last.task), thread: journal.threadName(last.worker) || last.thread_name };
  if (!t) return { ...base, pending: true };
  // The gate's window [start, end] encloses the poll's own poll_start.
  const poll = [...t.recent].reverse().find((p) => p.start >= last.start && p.start <= last.end);
  if (!poll) return { ...base, pending: true };
  const outcome = poll.ready ? 'ready' : poll.drop ? 'drop' : 'pending';
  const wakerNote = poll.ready || poll.drop ? null : wakerDestination(poll, t, journal);
  return {
    ...base,
    pending: false,
    outcome,
    ns: poll.end - poll.start,
    states: poll.states.map((s) => ({ ...s })),
    awaitAtEnd: poll.awaitAtEnd,
    marks: poll.marks.slice(),
    woke: poll.woke.map((w) => ({ task: w.task, name: journal.taskName(w.task), op: w.op })),
    clones: poll.clones,
    done: poll.ready && t.done ? t.done.outcome : null,
    waker: wakerNote,
  };
}

/** Where a Pending poll's waker went: {stored, selfWoken, usedBy?}. */
function wakerDestination(poll, t, journal) {
  const out = { cloned: poll.clones, held: t.liveWakers, selfWoken: Boolean(poll.wokenDuring && poll.wokenDuring.by === t.id), usedBy: null };
  const w = poll.wokenDuring || poll.wakeAfter;
  if (w) out.usedBy = { ...journal.waker(w), op: w.op, t: w.t, during: w === poll.wokenDuring };
  return out;
}

/** The run queue: tasks woken (or spawned) and not yet polled again, oldest first. */
export function runQueue(journal, { exclude = [] } = {}) {
  const skip = new Set(exclude.map(String));
  const out = [];
  for (const t of journal.tasks.values()) {
    if (t.runnableSince == null || t.done || t.open || skip.has(String(t.id))) continue;
    const woken = t.polls > 0 && t.lastWake ? journal.waker(t.lastWake) : null;
    out.push({ task: t.id, name: journal.taskName(t.id), since: t.runnableSince, spawned: t.polls === 0, woken });
  }
  out.sort((a, b) => a.since - b.since || a.task - b.task);
  return out;
}

/**
 * Tasks that may still be polled (not done, not blocking: those are not stepped), for "Run
 * until task X is polled": the `first` ones (`first` ids, e.g. the selected task and the next
 * ones, go first), at most `limit`, and how many more there are.
 */
export function liveTasks(journal, { first = [], limit = 200 } = {}) {
  const out = [];
  const seen = new Set();
  let more = 0;
  const add = (t) => {
    if (!t || t.done || t.kind === 'blocking' || seen.has(t.id)) return;
    seen.add(t.id);
    if (out.length < limit) out.push({ task: t.id, name: journal.taskName(t.id) });
    else more++;
  };
  for (const id of first) add(journal.tasks.get(id));
  for (const t of journal.tasks.values()) add(t);
  return { tasks: out, more };
}

/** Buttons the driver may press in `state` (an observer, `driving` false, may press none). */
export function allowedCommands(state, { driving, busy = false }) {
  const none = { step: false, toWake: false, until: false, resume: false, pause: false };
  if (!state || !driving || busy || state.mode === 'released' || state.status !== 'running') return none;
  const paused = state.mode === 'paused';
  const free = paused && !state.stepping;
  return { step: free, toWake: free, until: free, resume: state.mode !== 'running', pause: state.mode !== 'paused' };
}

/** One line for the bar's status: what the gate is doing. */
export function modeText(state) {
  if (!state) return '';
  switch (state.mode) {
    case 'paused':
      if (state.stepping) return 'stepping…';
      return stopText(state.stop);
    case 'until_wake':
      return 'running until a task is woken…';
    case 'until_task':
      return `running until task ${state.task} is polled…`;
    case 'running':
      return state.driver && state.driver.let_go ? 'running freely (the driver was gone too long, so the run was let go)' : 'running freely (Pause stops before the next poll)';
    case 'released':
      return 'over: nothing left to step';
    default:
      return String(state.mode);
  }
}

function stopText(stop) {
  if (!stop) return 'paused';
  switch (stop.why) {
    case 'start':
      return 'paused before the first poll';
    case 'step':
      return 'paused after a step';
    case 'wake':
      return `paused: a task was woken${stop.by != null ? ` by task ${stop.by}` : ''}`;
    case 'task':
      return `paused before task ${stop.task}'s poll`;
    case 'pause':
      return 'paused';
    default:
      return 'paused';
  }
}

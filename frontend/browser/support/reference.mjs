// Browser-test support: an independent reading of a run's recorded events (the JSON lines
// of GET /api/runs/{id}/events), written from the definitions in docs/protocol.md and
// the figure definitions the dashboard documents (poll slice, scheduled interval, idle),
// without using frontend/js. The browser tests compare what the page's model and the
// DOM show against these numbers.
//
// Definitions used:
// - poll: [poll_start.t, poll_end.t] of one task on one thread (`worker`).
// - scheduled: a task is runnable and not running. It becomes scheduled at `spawn`, at a
//   `wake` while it is neither running nor already scheduled, or at the `poll_end` of a
//   poll during which it was woken; it stops being scheduled at its next `poll_start`
//   (or at `done`). Wakes after `done` change nothing.
// - drop: a `poll_end` with `drop: true` closes a slice in which tokio only dropped a
//   cancelled task's future: it is not a poll (not in `polls`, the poll count, busy time
//   or the longest poll), and the scheduled interval that ended at its start did not end
//   in a poll (endedBy 'drop', so it is no scheduling delay).
// - outside: `state` events with task null are probes outside any task, analysed in
//   `outside` ({probes}) like a task's.
// - life: spawn to done (or to the last event's time while alive); idle = life - busy -
//   scheduled.

/** Analyses events in stream order. Returns {tasks, workers, endT, counts, outOfOrder, ...}. */
export function analyse(events) {
  const tasks = new Map();
  const workers = new Map();
  const counts = {};
  const outOfOrder = [];
  const lints = [];
  const marks = [];
  let endT = 0;
  let lastT = 0;
  let wakes = 0;
  let polls = 0;
  let dropped = 0;
  let drops = 0;
  const outside = { probes: new Map() };
  // Events about a task that was never spawned (nor polled) in this stream, e.g. a probe
  // `state` with task null (a future driven outside any tokio task).
  const orphans = [];
  const known = (e) => {
    if (tasks.has(e.task)) return tasks.get(e.task);
    orphans.push(e);
    return null;
  };
  const task = (id, t) => {
    let x = tasks.get(id);
    if (!x) {
      x = {
        id,
        name: '',
        kind: 'task',
        loc: null,
        parent: null,
        spawnT: t,
        doneT: null,
        outcome: null,
        polls: [],
        drops: [],
        sched: [],
        running: null, // open poll {start, worker}
        schedStart: null,
        wokenWhileRunning: false,
        wakes: 0,
        selfWakes: 0,
        wakesBy: new Map(), // waking task id, or 'driver'
        wakeList: [],
        wakerClones: 0,
        wakerDrops: 0,
        probes: new Map(),
        lints: [],
      };
      tasks.set(id, x);
    }
    return x;
  };
  const worker = (index) => {
    let w = workers.get(index);
    if (!w) {
      w = { index, name: null, kind: null, polls: [], drops: [] };
      workers.set(index, w);
    }
    return w;
  };
  events.forEach((e, i) => {
    counts[e.k] = (counts[e.k] || 0) + 1;
    if (e.t < lastT) outOfOrder.push({ index: i, k: e.k, t: e.t, after: lastT });
    lastT = Math.max(lastT, e.t);
    endT = Math.max(endT, e.t);
    switch (e.k) {
      case 'worker': {
        const w = worker(e.worker);
        w.name = e.name;
        w.kind = e.kind;
        break;
      }
      case 'spawn': {
        const x = task(e.task, e.t);
        Object.assign(x, { name: e.name || '', kind: e.kind || 'task', loc: e.loc ?? null, parent: e.parent ?? null, spawnT: e.t });
        x.schedStart = e.t;
        break;
      }
      case 'poll_start': {
        const x = task(e.task, e.t);
        polls++;
        if (x.schedStart !== null) {
          x.sched.push({ start: x.schedStart, end: e.t, endedBy: 'poll' });
          x.schedStart = null;
        }
        x.running = { start: e.t, worker: e.worker };
        break;
      }
      case 'poll_end': {
        const x = known(e);
        if (!x || !x.running) break;
        const p = { start: x.running.start, end: e.t, worker: x.running.worker, task: x.id, ready: Boolean(e.ready) };
        if (e.drop === true) {
          x.drops.push(p);
          worker(p.worker).drops.push(p);
          polls--;
          drops++;
          const s = x.sched[x.sched.length - 1];
          if (s && s.end === p.start && s.endedBy === 'poll') s.endedBy = 'drop';
        } else {
          x.polls.push(p);
          worker(p.worker).polls.push(p);
        }
        x.running = null;
        if (x.doneT === null && x.wokenWhileRunning) x.schedStart = e.t;
        x.wokenWhileRunning = false;
        break;
      }
      case 'wake': {
        const x = known(e);
        if (!x) break;
        wakes++;
        x.wakes++;
        const by = e.by == null ? 'driver' : e.by;
        if (e.by != null && e.by === e.task) x.selfWakes++;
        x.wakesBy.set(by, (x.wakesBy.get(by) || 0) + 1);
        x.wakeList.push({ t: e.t, by: e.by ?? null, op: e.op });
        if (x.doneT !== null) break;
        if (x.running) x.wokenWhileRunning = true;
        else if (x.schedStart === null) x.schedStart = e.t;
        break;
      }
      case 'waker_clone': {
        const x = known(e);
        if (x) x.wakerClones++;
        break;
      }
      case 'waker_drop': {
        const x = known(e);
        if (x) x.wakerDrops++;
        break;
      }
      case 'state': {
        const x = e.task == null ? outside : known(e);
        if (!x) break;
        let p = x.probes.get(e.future);
        if (!p) {
          p = { id: e.future, name: e.name ?? null, parent: e.parent ?? null, firstLoc: e.loc ?? null, counts: new Map(), labels: [], times: [] };
          x.probes.set(e.future, p);
        }
        p.counts.set(e.label, (p.counts.get(e.label) || 0) + 1);
        p.labels.push(e.label);
        p.times.push(e.t);
        break;
      }
      case 'done': {
        const x = known(e);
        if (!x) break;
        x.doneT = e.t;
        x.outcome = e.outcome;
        if (x.schedStart !== null) {
          x.sched.push({ start: x.schedStart, end: e.t, endedBy: 'done' });
          x.schedStart = null;
        }
        break;
      }
      case 'lint':
        lints.push(e);
        if (e.task != null && tasks.has(e.task)) tasks.get(e.task).lints.push(e);
        break;
      case 'mark':
        marks.push(e);
        break;
      case 'dropped':
        dropped += e.count || 0;
        break;
      default:
        break;
    }
  });
  return { tasks, workers, endT, counts, outOfOrder, orphans, outside, lints, marks, wakes, polls, drops, dropped, events: events.length };
}

/** Busy / scheduled / idle / life of a task of an analysis, at time `now` (default endT). */
export function taskFigures(run, x, now = run.endT) {
  const end = x.doneT !== null ? x.doneT : now;
  let busy = 0;
  let longest = 0;
  for (const p of x.polls) {
    busy += p.end - p.start;
    longest = Math.max(longest, p.end - p.start);
  }
  if (x.running) busy += Math.max(0, now - x.running.start);
  let scheduled = 0;
  let worstDelay = 0;
  for (const s of x.sched) {
    scheduled += s.end - s.start;
    // A scheduling delay is a scheduled interval that ended in a poll.
    if (s.endedBy === 'poll') worstDelay = Math.max(worstDelay, s.end - s.start);
  }
  if (x.schedStart !== null) scheduled += Math.max(0, now - x.schedStart);
  const life = Math.max(0, end - x.spawnT);
  return { life, busy, scheduled, idle: Math.max(0, life - busy - scheduled), polls: x.polls.length + (x.running ? 1 : 0), longest, worstDelay };
}

/** All closed polls of the run, longest first. */
export function pollsByLength(run) {
  const all = [];
  for (const x of run.tasks.values()) all.push(...x.polls);
  return all.sort((a, b) => b.end - b.start - (a.end - a.start));
}

/** Run-wide figures; the worst scheduling delay is the longest scheduled interval that ended in a poll. */
export function runFigures(run) {
  let longest = 0;
  let worst = 0;
  for (const x of run.tasks.values()) {
    for (const p of x.polls) longest = Math.max(longest, p.end - p.start);
    for (const s of x.sched) if (s.endedBy === 'poll') worst = Math.max(worst, s.end - s.start);
  }
  return { tasks: run.tasks.size, polls: run.polls, wakes: run.wakes, events: run.events, longestPoll: longest, worstDelay: worst, dropped: run.dropped, lints: run.lints.length };
}

const UNIT_NS = { ns: 1, 'µs': 1e3, us: 1e3, ms: 1e6, s: 1e9 };

/**
 * Reads a duration as the UI prints it ("300 ms", "1.47 ms", "845 µs", "0", "3.00 s")
 * into {ns, tol}: `tol` is half a unit of the last digit shown (the rounding the text
 * allows). Returns null for text that is not a duration.
 */
export function parseShownDuration(text) {
  const s = String(text).replace(/\u2009/g, ' ').trim();
  if (s === '0') return { ns: 0, tol: 0.5 };
  const m = /^(-?\d+(?:\.(\d+))?)\s*(ns|µs|us|ms|s)$/.exec(s);
  if (!m) return null;
  const unit = UNIT_NS[m[3]];
  const decimals = m[2] ? m[2].length : 0;
  return { ns: Number(m[1]) * unit, tol: 0.5 * 10 ** -decimals * unit + 1e-6 };
}

/** A count as the UI prints it (thin-space thousands separators) -> number. */
export function parseShownCount(text) {
  return Number(String(text).replace(/[\u2009\s,]/g, ''));
}

/** True when the shown text is `ns` within the rounding of the text (and of `extraNs`). */
export function shownDurationMatches(text, ns, extraNs = 0) {
  const p = parseShownDuration(text);
  return Boolean(p) && Math.abs(p.ns - ns) <= p.tol + extraNs;
}

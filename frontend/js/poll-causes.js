// Why a long poll was long (`poll_cause` events, issue #18): the recorder's watcher of open
// polls sampled the poll's thread and split the time it saw into on a CPU, asleep in the
// kernel (naming the system call) and runnable but waiting for a CPU. The model keeps each
// cause by task and poll start (`RunModel.pollCause`); this module words it for the tooltip,
// the task panel and the text alternative.

import { formatDuration } from './units.js';

/** Kept causes of one run: task id -> Map(poll start -> cause). */
export class PollCauses {
  constructor() {
    this.byTask = new Map();
    this.count = 0;
  }

  /** Takes a `poll_cause` event; false (and nothing kept) when it is malformed. */
  add(e) {
    if (typeof e.task !== 'number' || typeof e.since !== 'number' || !CAUSES.has(e.cause)) return false;
    const num = (v) => (typeof v === 'number' && v >= 0 ? v : 0);
    const cause = {
      t: e.t,
      task: e.task,
      since: e.since,
      cause: e.cause,
      onCpu: num(e.on_cpu),
      runnable: num(e.runnable),
      blocked: num(e.blocked),
      syscall: typeof e.syscall === 'string' ? e.syscall : null,
      wchan: typeof e.wchan === 'string' ? e.wchan : null,
      samples: num(e.samples),
    };
    let m = this.byTask.get(e.task);
    if (!m) this.byTask.set(e.task, (m = new Map()));
    m.set(e.since, cause);
    this.count++;
    return true;
  }

  /** The cause of task `task`'s poll that began at `start`, or null. */
  of(task, start) {
    return this.byTask.get(task)?.get(start) ?? null;
  }

  /** Task `task`'s causes in time order. */
  ofTask(task) {
    const m = this.byTask.get(task);
    return m ? [...m.values()].sort((a, b) => a.since - b.since) : [];
  }
}

const CAUSES = new Set(['on_cpu', 'blocked', 'runnable']);

/** The cause in a few words: "on CPU", "blocked in clock_nanosleep", "waiting for a CPU". */
export function causeLabel(c) {
  if (c.cause === 'on_cpu') return 'on CPU';
  if (c.cause === 'runnable') return 'waiting for a CPU';
  return c.syscall ? `blocked in ${c.syscall}` : 'blocked';
}

/** Whose doing the long poll was: the code's, or the machine's (waiting for a CPU). */
export function causeVerdict(c) {
  if (c.cause === 'runnable') return "the machine's doing, not the code's: the thread was runnable but not given a CPU (no long_poll lint)";
  if (c.cause === 'blocked') return 'a blocking call inside the poll';
  return 'CPU-heavy work inside the poll';
}

/** The observed split, largest first: [[label, ns, class], ...]. */
export function causeParts(c) {
  const parts = [
    ['on CPU', c.onCpu, 'cpu'],
    [c.syscall ? `blocked in ${c.syscall}` : 'blocked', c.blocked, 'blocked'],
    ['waiting for a CPU', c.runnable, 'runnable'],
  ];
  return parts.filter((p) => p[1] > 0).sort((a, b) => b[1] - a[1]);
}

/** The split as one line of text. */
export function causeSplitText(c) {
  const observed = c.onCpu + c.runnable + c.blocked;
  const parts = causeParts(c).map(([label, ns]) => `${label} ${formatDuration(ns)}`);
  return `${parts.join(', ') || 'nothing'} (of ${formatDuration(observed)} observed, ${c.samples} samples)`;
}

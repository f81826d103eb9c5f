// Why a long poll was long (`poll_cause` events, issue #18): the recorder's watcher of open
// polls sampled the poll's thread and split the time it saw into on a CPU, asleep in the
// kernel (naming the system call) and runnable but waiting for a CPU. The model keeps each
// cause by task and poll start (`RunModel.pollCause`); this module words it for the tooltip,
// the task panel and the text alternative. A cause also carries the thread's user stacks
// sampled during the poll (`stacks`: distinct stacks, outermost frame first, with sample
// counts and the index of the program's own innermost frame) and `hot`, the own frame most
// samples were in; `flameTree` merges the stacks into a flame graph's tree.

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
      stacks: Array.isArray(e.stacks) ? e.stacks.map(stackOf).filter(Boolean) : [],
      hot: frameOf(e.hot),
    };
    if (cause.hot) cause.hot.n = num(e.hot.n);
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

/** A frame `{fn, loc}` of the wire, or null. */
function frameOf(f) {
  if (!f || typeof f.fn !== 'string') return null;
  return { fn: f.fn, loc: typeof f.loc === 'string' ? f.loc : null };
}

/** A stack `{n, frames, own}` of the wire, or null when malformed. */
function stackOf(s) {
  if (!s || typeof s.n !== 'number' || s.n < 1 || !Array.isArray(s.frames)) return null;
  const frames = s.frames.map(frameOf);
  if (frames.some((f) => !f)) return null;
  const own = Number.isInteger(s.own) && s.own >= 0 && s.own < frames.length ? s.own : null;
  return { n: s.n, frames, own };
}

/** Stack samples taken of the poll. */
export function stackSamples(c) {
  return c.stacks.reduce((sum, s) => sum + s.n, 0);
}

/** The sampled stack that most samples were, or null. */
export function hottestStack(c) {
  return c.stacks.length ? c.stacks.reduce((a, b) => (b.n > a.n ? b : a)) : null;
}

/** A function's name made short: its last two path segments, generics left out. */
export function shortFn(name) {
  let s = String(name);
  // Generic arguments, innermost first, then a trait impl's `<X as Trait>` head.
  for (let prev = ''; prev !== s; ) {
    prev = s;
    s = s.replace(/<[^<>]*>/g, (m) => (/ as /.test(m) ? m.replace(/^<(.*) as .*>$/, '$1') : ''));
  }
  const parts = s.split('::').filter((p) => p && p !== '{{closure}}' && !/^\{/.test(p));
  const closure = /\{\{closure\}\}|\{async_(?:block|fn)#\d+\}/.test(name) ? ' {closure}' : '';
  return `${parts.slice(-2).join('::') || s}${closure}`;
}

/** The poll's stacks merged into a tree (outermost frame at the root): each node is
 * `{frame, n, own, hot, children}`; the root (`frame: null`) has every sample. */
export function flameTree(c) {
  const root = { frame: null, n: 0, own: false, hot: false, children: [] };
  const key = (f) => `${f.fn}\u0000${f.loc ?? ''}`;
  const hotKey = c.hot ? key(c.hot) : null;
  for (const s of c.stacks) {
    root.n += s.n;
    let node = root;
    s.frames.forEach((f, i) => {
      let child = node.children.find((ch) => key(ch.frame) === key(f));
      if (!child) {
        child = { frame: f, n: 0, own: false, hot: key(f) === hotKey, children: [] };
        node.children.push(child);
      }
      child.n += s.n;
      if (i === s.own) child.own = true;
      node = child;
    });
  }
  const sort = (n) => {
    n.children.sort((a, b) => b.n - a.n);
    n.children.forEach(sort);
  };
  sort(root);
  return root;
}

/** Where the program was, in words: "in stall at src/x.rs:12 (40 of 42 stack samples)". */
export function hotText(c) {
  if (!c.hot) return null;
  const at = c.hot.loc ? ` at ${c.hot.loc}` : '';
  return `in ${shortFn(c.hot.fn)}${at} (${c.hot.n} of ${stackSamples(c)} stack samples)`;
}

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

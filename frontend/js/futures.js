// futures.js — the future rows of a task lane: what each probe future was doing over time
// (its segments), how a task's futures pack into rows, and how many children a future (or
// the task, for its root futures) has in flight at any instant.
//
// Everything here is derived from the recorded events the model keeps: a probe's `state`
// history (ProbeRecord.history) and its task's polls (TaskRecord.polls, from poll_start /
// poll_end). It reads the model and never changes it (it caches what it derives on the
// records, keyed by how much of them it has seen); pixels are draw.js's.
//
// Segments of one probe's row, from its `start` event to its terminal event (or now):
// - start: created, never polled: from `start` to the first poll in which it reported.
// - await: suspended at an await point, from the state event that named it to the next.
// - polled: a poll of its task in which the probe reported a state (a suspended label, or
//   `ready` / `panicked`), from the poll's start (or the probe's creation, if later) to the
//   poll's end (or the probe's end, if sooner). A probe records a state each time it is
//   polled and returns, so these are the task polls that polled it; when it was polled
//   inside the task poll is not recorded, so the whole task poll is drawn (up to its last
//   state, when it is dropped later in that same poll). A `cancelled` event is a drop, not a
//   poll: it makes no polled segment.
// The end: `ready` (✓), `cancelled` (✕, at the await point it was suspended at when it was
// dropped) or `panicked`, at the terminal event's time.

import { OPEN } from './model.js';
import { lowerBound, upperBound } from './layout.js';

export const SEG_START = 0;
export const SEG_AWAIT = 1;
export const SEG_POLLED = 2;
export const SEG_NAMES = ['start', 'await', 'polled'];
const TERMINAL = new Set(['ready', 'cancelled', 'panicked']);

/** A probe's labels by first-seen order (history.ref is an order). */
export function labelsOf(probe) {
  const labels = [];
  for (const n of probe.states.values()) labels[n.order] = n.label;
  return labels;
}

/** Locations by first-seen order (the loc a label was last reported with). */
function locsOf(probe) {
  const locs = [];
  for (const n of probe.states.values()) locs[n.order] = n.loc;
  return locs;
}

/**
 * The segments of `probe` (in `task`, or null for a probe outside any task): {n, s, e,
 * kind, label (string per segment), loc, t0, tEnd (Infinity while alive), endLabel
 * (terminal label or null), atLabel (the label it was at when it ended), lastT (its last
 * event's time)}. Open segments end at Infinity: draw them up to "now". Cached on the probe
 * until its history or its task's polls change.
 */
export function probeSegments(task, probe) {
  const h = probe.history;
  const polls = task && task.index >= 0 ? task.polls : null;
  const n = h ? h.length : 0;
  const pollKey = polls ? polls.length * 2 + (task.openPollSlice >= 0 ? 1 : 0) : 0;
  const c = probe.segCache;
  if (c && c.n === n && c.pollKey === pollKey && c.task === probe.task) return c.segs;
  const segs = computeSegments(probe, h, n, polls);
  probe.segCache = { n, pollKey, task: probe.task, segs };
  return segs;
}

function computeSegments(probe, h, n, polls) {
  const labels = labelsOf(probe);
  const locs = locsOf(probe);
  const out = { n: 0, s: [], e: [], kind: [], label: [], loc: [], t0: n ? h.start[0] : 0, tEnd: Infinity, endLabel: null, atLabel: null, lastT: n ? h.start[n - 1] : 0 };
  if (!n) return out;
  const last = labels[h.ref[n - 1]];
  const ended = TERMINAL.has(last);
  const lifeEnd = ended ? h.start[n - 1] : Infinity;
  if (ended) {
    out.tEnd = lifeEnd;
    out.endLabel = last;
    out.atLabel = n >= 2 ? labels[h.ref[n - 2]] : null;
  }
  // Polled intervals: the task polls in which the probe reported a state other than start
  // or cancelled. The label is the last state it reported in that poll.
  const ps = [];
  const pe = [];
  const pl = [];
  let lastPoll = -1;
  if (polls && polls.length) {
    for (let i = 0; i < n; i++) {
      const label = labels[h.ref[i]];
      if (label === 'start' || label === 'cancelled') continue;
      const t = h.start[i];
      const k = upperBound(polls.start, polls.length, t) - 1;
      if (k < 0) continue;
      const end = polls.end[k] === OPEN ? Infinity : polls.end[k];
      if (end < t) continue;
      if (k === lastPoll) {
        pl[pl.length - 1] = i;
        continue;
      }
      lastPoll = k;
      ps.push(Math.max(polls.start[k], out.t0));
      pe.push(Math.min(end, lifeEnd));
      pl.push(i);
    }
  }
  // Dropped in the same task poll in which it last returned Pending (select! polled the
  // loser, then the winner was ready): its state event is when that poll of it returned, so
  // from there to the drop it was suspended at that await point, not being polled.
  if (out.endLabel === 'cancelled' && pl.length && ps[pl.length - 1] <= lifeEnd && pe[pl.length - 1] >= lifeEnd) {
    const k = pl.length - 1;
    if (!TERMINAL.has(labels[h.ref[pl[k]]])) pe[k] = Math.max(ps[k], h.start[pl[k]]);
  }
  // Base segments (start / await) with the polled intervals cut out, and the polled
  // intervals, in time order (they do not overlap).
  const items = [];
  for (let k = 0; k < ps.length; k++) items.push([ps[k], pe[k], SEG_POLLED, labels[h.ref[pl[k]]], locs[h.ref[pl[k]]]]);
  const lastBase = ended ? n - 1 : n;
  let q = 0;
  for (let i = 0; i < lastBase; i++) {
    const label = labels[h.ref[i]];
    const kind = label === 'start' ? SEG_START : SEG_AWAIT;
    const loc = locs[h.ref[i]];
    const s = h.start[i];
    const e = i + 1 < n ? h.start[i + 1] : Infinity;
    while (q < ps.length && pe[q] <= s) q++;
    let cur = s;
    for (let k = q; k < ps.length && ps[k] < e; k++) {
      if (ps[k] > cur) items.push([cur, ps[k], kind, label, loc]);
      cur = Math.max(cur, pe[k]);
    }
    if (cur < e) items.push([cur, e, kind, label, loc]);
  }
  items.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  for (const [s0, e0, kind, label, loc] of items) {
    out.s.push(s0);
    out.e.push(e0);
    out.kind.push(kind);
    out.label.push(label);
    out.loc.push(loc);
  }
  out.n = items.length;
  return out;
}

/** The segment of `segs` under time `t` (-1 if none). */
export function segmentAt(segs, t) {
  let lo = 0;
  let hi = segs.n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (segs.e[mid] < t) lo = mid + 1;
    else hi = mid;
  }
  // On a boundary, the segment that begins there.
  while (lo + 1 < segs.n && segs.e[lo] === t && segs.s[lo + 1] <= t) lo++;
  return lo < segs.n && segs.s[lo] <= t ? lo : -1;
}

/**
 * The future rows of `task`: its probes packed into rows as a flame chart packs depth. A
 * probe's children go in the rows right under it; siblings that overlap in time take
 * different rows, and a row whose futures have all ended is reused by a later sibling (with
 * its whole subtree). Returns {rows: [{ids: probe ids by start, t0: Float64Array of starts,
 * depth, name, names}], rowOf: Map id -> row, counts: Map parent id (or ROOTS) -> in-flight
 * step function {t: Float64Array, n: Int32Array, max}}. Cached on the task until its probes
 * change.
 */
export const ROOTS = -1;

export function packFutures(task, stateEvents) {
  const c = task.futureCache;
  if (c && c.key === stateEvents && c.version === task.probeVersion) return c.pack;
  const pack = onlyFuture(task) ? packOne(task, onlyFuture(task)) : computePack(task);
  task.futureCache = { key: stateEvents, version: task.probeVersion, pack };
  return pack;
}

function probeEnd(probe) {
  return probe.ended && probe.history && probe.history.length ? probe.history.start[probe.history.length - 1] : Infinity;
}

/** The task's one future when it has exactly one and no nesting (most tasks), else null. */
export function onlyFuture(task) {
  if (task.probes.size !== 1 || task.probeRoots.length !== 1) return null;
  const probe = task.probes.get(task.probeRoots[0]);
  return probe && !probe.children.length ? probe : null;
}

/**
 * computePack's result for a task with one future and no children, built without its
 * maps and sorts: opening every lane's rows of 10,000 such tasks at once was one long frame
 * (most of it the collector's, for those short-lived maps).
 */
function packOne(task, probe) {
  probe.childList = [];
  const name = probe.name || `future ${probe.id}`;
  const row = { ids: [probe.id], depth: 0, names: new Map([[name, 1]]), t0: Float64Array.of(probe.firstT), name };
  const end = probeEnd(probe);
  const open = end === Infinity;
  let step;
  if (open) step = { t: Float64Array.of(probe.firstT), n: Int32Array.of(1), max: 1 };
  else if (end === probe.firstT) step = { t: Float64Array.of(end), n: Int32Array.of(0), max: 0 }; // its end sorts first
  else step = { t: Float64Array.of(probe.firstT, end), n: Int32Array.of(1, 0), max: 1 };
  return { rows: [row], rowOf: new Map([[probe.id, 0]]), counts: new Map([[ROOTS, step]]) };
}

/** Exported for the tests, which check packOne against it. */
export function computePack(task) {
  const byStart = (a, b) => a.firstT - b.firstT || (a.id < b.id ? -1 : 1);
  const kids = (ids) => {
    const list = [];
    for (const id of ids) {
      const p = task.probes.get(id);
      if (p) list.push(p);
    }
    return list.sort(byStart);
  };
  const subEnd = new Map();
  const height = new Map();
  const offsets = new Map(); // probe id -> row offset among its siblings
  // Bottom-up: a probe's subtree height and end, its children's offsets.
  const measure = (probe) => {
    const children = kids(probe.children);
    let end = probeEnd(probe);
    for (const ch of children) {
      measure(ch);
      end = Math.max(end, subEnd.get(ch.id));
    }
    subEnd.set(probe.id, end);
    height.set(probe.id, 1 + placeSiblings(children, subEnd, height, offsets));
    probe.childList = children;
  };
  const roots = kids(task.probeRoots);
  for (const r of roots) measure(r);
  const total = placeSiblings(roots, subEnd, height, offsets);
  const rows = [];
  for (let i = 0; i < total; i++) rows.push({ ids: [], depth: Infinity, names: new Map() });
  const rowOf = new Map();
  const assign = (probe, row, depth) => {
    rowOf.set(probe.id, row);
    const r = rows[row];
    r.ids.push(probe.id);
    r.depth = Math.min(r.depth, depth);
    const name = probe.name || `future ${probe.id}`;
    r.names.set(name, (r.names.get(name) || 0) + 1);
    for (const ch of probe.childList) assign(ch, row + 1 + offsets.get(ch.id), depth + 1);
  };
  for (const r of roots) assign(r, offsets.get(r.id), 0);
  for (const r of rows) {
    r.ids.sort((a, b) => task.probes.get(a).firstT - task.probes.get(b).firstT);
    r.t0 = Float64Array.from(r.ids, (id) => task.probes.get(id).firstT);
    let best = null;
    for (const [name, count] of r.names) if (!best || count > best[1]) best = [name, count];
    r.name = best ? best[0] : '';
    if (r.depth === Infinity) r.depth = 0;
  }
  const counts = new Map();
  const countOf = (key, children) => {
    if (!children.length) return;
    const edges = [];
    for (const ch of children) {
      edges.push([ch.firstT, 1]);
      const e = probeEnd(ch);
      if (e !== Infinity) edges.push([e, -1]);
    }
    edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    const t = [];
    const n = [];
    let open = 0;
    let max = 0;
    for (const [at, d] of edges) {
      open += d;
      if (t.length && t[t.length - 1] === at) n[n.length - 1] = open;
      else {
        t.push(at);
        n.push(open);
      }
      if (open > max) max = open;
    }
    counts.set(key, { t: Float64Array.from(t), n: Int32Array.from(n), max });
  };
  countOf(ROOTS, roots);
  for (const p of task.probes.values()) if (p.childList) countOf(p.id, p.childList);
  return { rows, rowOf, counts };
}

/**
 * First-fit packing of sibling subtrees (sorted by start): each takes the lowest offset
 * where `height` consecutive rows are free at its start (a row is free once every subtree in
 * it has ended). Sets `offsets`; returns the rows used.
 */
function placeSiblings(list, subEnd, height, offsets) {
  const busy = []; // per row: until when it is taken
  for (const p of list) {
    const hgt = height.get(p.id);
    let r = 0;
    for (;;) {
      let ok = true;
      for (let k = r; k < r + hgt; k++) {
        if (k < busy.length && busy[k] > p.firstT) {
          ok = false;
          r = k + 1;
          break;
        }
      }
      if (ok) break;
    }
    offsets.set(p.id, r);
    const end = subEnd.get(p.id);
    for (let k = r; k < r + hgt; k++) busy[k] = end;
  }
  return busy.length;
}

/** The in-flight count of a step function at time `t` (0 before the first change). */
export function countAt(step, t) {
  if (!step) return 0;
  const i = upperBound(step.t, step.t.length, t) - 1;
  return i >= 0 ? step.n[i] : 0;
}

/** The probes of `row` that may intersect [t0, t1], as [k0, k1) into row.ids. */
export function visibleProbes(row, t0, t1) {
  let k0 = lowerBound(row.t0, row.t0.length, t0);
  if (k0 > 0) k0--; // the one before may reach into the range (a row's probes do not overlap)
  const k1 = upperBound(row.t0, row.t0.length, t1);
  return [k0, Math.max(k0, k1)];
}

/** The probe of `row` at time `t`: the last one started at or before it (null if none). */
export function probeAtRow(task, row, t) {
  const k = upperBound(row.t0, row.t0.length, t) - 1;
  return k >= 0 ? task.probes.get(row.ids[k]) : null;
}

/**
 * What a probe was doing at time `t` (Infinity: now), in words, for the tooltip and the text
 * alternative: {state: 'start' | 'await' | 'polled' | 'ready' | 'cancelled' | 'panicked' |
 * 'not created', label, loc, since, until, lastEvent: {label, t}}.
 */
export function probeStateAt(task, probe, t) {
  const segs = probeSegments(task, probe);
  const h = probe.history;
  const labels = labelsOf(probe);
  if (!h || !h.length || t < segs.t0) return { state: 'not created', label: null, since: segs.t0, until: segs.t0, lastEvent: null };
  const k = upperBound(h.start, h.length, t) - 1;
  const lastEvent = { label: labels[h.ref[k]], t: h.start[k] };
  if (segs.endLabel && t >= segs.tEnd) return { state: segs.endLabel, label: segs.atLabel, since: segs.tEnd, until: segs.tEnd, lastEvent };
  const i = segmentAt(segs, t);
  if (i < 0) return { state: 'await', label: lastEvent.label, since: lastEvent.t, until: Infinity, lastEvent };
  return { state: SEG_NAMES[segs.kind[i]], label: segs.label[i], loc: segs.loc[i], since: segs.s[i], until: segs.e[i], lastEvent };
}

/**
 * The marks `task` made in the poll that dropped a cancelled probe, after the drop: what
 * the task itself said the cancellation cost (e.g. "lost 2"). Empty for other probes.
 */
export function cancelNotes(model, task, probe) {
  const segs = probeSegments(task, probe);
  if (segs.endLabel !== 'cancelled' || !task || task.index < 0) return [];
  const t = segs.tEnd;
  const polls = task.polls;
  const k = upperBound(polls.start, polls.length, t) - 1;
  const end = k >= 0 ? (polls.end[k] === OPEN ? Infinity : polls.end[k]) : t;
  if (k < 0 || end < t) return [];
  const out = [];
  for (const m of model.marks) if (m.task === task.id && m.t >= t && m.t <= end) out.push(m);
  return out;
}

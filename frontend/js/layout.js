// layout.js — where things go on the timeline: the one time <-> pixel transform, the
// visible part of a lane's slices (binary search), the merging of slices narrower than a
// pixel, the lane list (worker lanes, the driver lane, task lanes) and which lanes are on
// screen; for the overview strip, its own transform (OverviewScale), the run's activity
// histogram and the long polls worth marking.
//
// Coordinate spaces: "time" is ns since run start; "timeline x" is CSS pixels from the
// left edge of the plotting area (right of the lane labels); "lane y" is CSS pixels from
// the top of the first lane, before vertical scrolling. Only `Viewport` (the timeline) and
// `OverviewScale` (the overview strip) convert time to x.
//
// It reads the model's columns but never changes the model, and never touches a canvas:
// painting is draw.js's.

import { OPEN, LONG_POLL_FLOOR_NS as LONG_POLL_FLOOR, isRuntimeWorker } from './model.js';
import { packFutures, onlyFuture } from './futures.js';

/** The horizontal view: the time at x = 0 and the ns one CSS pixel spans. */
export class Viewport {
  constructor(widthPx = 1000, t0 = 0, nsPerPx = 1000) {
    this.widthPx = widthPx;
    this.t0 = t0;
    this.nsPerPx = nsPerPx;
  }

  timeToX(t) {
    return (t - this.t0) / this.nsPerPx;
  }

  xToTime(x) {
    return this.t0 + x * this.nsPerPx;
  }

  get t1() {
    return this.t0 + this.widthPx * this.nsPerPx;
  }

  /** Zooms by `factor` (>1 zooms in) keeping the time under `x` where it is. */
  zoomAt(x, factor) {
    const t = this.xToTime(x);
    this.nsPerPx = clamp(this.nsPerPx / factor, MIN_NS_PER_PX, MAX_NS_PER_PX);
    this.t0 = t - x * this.nsPerPx;
  }

  panByPx(dx) {
    this.t0 -= dx * this.nsPerPx;
  }

  /** Shows [tStart, tEnd] across the whole width. */
  fit(tStart, tEnd) {
    const span = Math.max(tEnd - tStart, 1000);
    this.nsPerPx = clamp(span / Math.max(1, this.widthPx), MIN_NS_PER_PX, MAX_NS_PER_PX);
    this.t0 = tStart;
  }

  /** Keeps the zoom level and puts time `t` at the right edge. */
  alignRight(t) {
    this.t0 = t - this.widthPx * this.nsPerPx;
  }

  snapshot() {
    return { t0: this.t0, nsPerPx: this.nsPerPx, widthPx: this.widthPx, t1: this.t1 };
  }
}

export const MIN_NS_PER_PX = 0.01;
export const MAX_NS_PER_PX = 1e10;

function clamp(v, lo, hi) {
  return Math.min(hi, Math.max(lo, v));
}

/** First index i in [0, length) with arr[i] >= value (length if none). */
export function lowerBound(arr, length, value) {
  let lo = 0;
  let hi = length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (arr[mid] < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index i in [0, length) with arr[i] > value (length if none). */
export function upperBound(arr, length, value) {
  let lo = 0;
  let hi = length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (arr[mid] <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The slices of one lane that intersect [tStart, tEnd], as [i0, i1). Slices in a lane do
 * not overlap and are sorted by start, so only the slice just before the first start in
 * range can reach into it.
 */
export function visibleSliceRange(column, tStart, tEnd) {
  const n = column.length;
  let i0 = lowerBound(column.start, n, tStart);
  if (i0 > 0) {
    const prevEnd = column.end[i0 - 1];
    if (prevEnd === OPEN || prevEnd >= tStart) i0--;
  }
  const i1 = upperBound(column.start, n, tEnd);
  return [i0, Math.max(i0, i1)];
}

/**
 * The slice of a lane under time `t`, with `slackNs` of tolerance each side so thin
 * slices can be hovered; `nowT` is the end of open slices. Returns an index or -1.
 */
export function sliceAt(column, t, slackNs, nowT) {
  const n = column.length;
  const i = upperBound(column.start, n, t + slackNs) - 1;
  // Check the candidate and its predecessor (the nearest one wins).
  let best = -1;
  let bestDist = Infinity;
  for (let j = i; j >= 0 && j >= i - 1; j--) {
    const s = column.start[j];
    const e = column.end[j] === OPEN ? nowT : column.end[j];
    const dist = t < s ? s - t : t > e ? t - e : 0;
    if (dist <= slackNs && dist < bestDist) {
      best = j;
      bestDist = dist;
    }
  }
  return best;
}

/** Reusable output of mergeSlices: one rect per row, in time order. */
export class MergedRects {
  constructor(capacity = 1024) {
    this.alloc(capacity);
    this.length = 0;
  }

  alloc(cap) {
    const prev = this.start;
    const next = {
      start: new Float64Array(cap),
      end: new Float64Array(cap),
      ref: new Int32Array(cap),
      count: new Int32Array(cap),
      busy: new Float64Array(cap),
      first: new Int32Array(cap),
    };
    if (prev) for (const k of Object.keys(next)) next[k].set(this[k]);
    Object.assign(this, next);
  }

  reset() {
    this.length = 0;
  }

  push(start, end, ref, count, busy, first) {
    if (this.length === this.start.length) this.alloc(this.start.length * 2);
    const i = this.length++;
    this.start[i] = start;
    this.end[i] = end;
    this.ref[i] = ref;
    this.count[i] = count;
    this.busy[i] = busy;
    this.first[i] = first;
  }
}

/** `ref` of a merged rect whose slices belong to different tasks / workers. */
export const MIXED = -2;

/**
 * Turns the slices [i0, i1) of one lane into rects worth drawing at `nsPerPx`. A slice at
 * least `minPx` wide is kept as it is. Narrower slices are merged per pixel bucket: the
 * bucket is floor(start / nsPerPx), counted from time 0 (not from the viewport's left
 * edge), so panning never changes how slices are grouped. A slice joins the group
 * before it when it starts in the bucket where that group ends or in the next one; the
 * group's rect spans from its first start to its last end, at least one pixel.
 * `busy` is the summed duration of the merged slices, so the total busy time over all
 * rects equals that of the input slices. `nowT` is the end of an open slice.
 */
export function mergeSlices(column, i0, i1, nsPerPx, nowT, out, minPx = 1) {
  out.reset();
  const starts = column.start;
  const ends = column.end;
  const refs = column.ref;
  const minNs = minPx * nsPerPx;
  let gStart = 0;
  let gEnd = 0;
  let gRef = 0;
  let gCount = 0;
  let gBusy = 0;
  let gFirst = 0;
  let gEndBucket = 0;
  for (let i = i0; i < i1; i++) {
    const s = starts[i];
    const e = ends[i] === OPEN ? Math.max(s, nowT) : ends[i];
    const d = e - s;
    if (d >= minNs) {
      if (gCount) {
        out.push(gStart, Math.max(gEnd, gStart + nsPerPx), gRef, gCount, gBusy, gFirst);
        gCount = 0;
      }
      out.push(s, e, refs[i], 1, d, i);
      continue;
    }
    const bucket = Math.floor(s / nsPerPx);
    if (gCount && bucket <= gEndBucket + 1) {
      if (e > gEnd) {
        gEnd = e;
        gEndBucket = Math.floor(e / nsPerPx);
      }
      if (refs[i] !== gRef) gRef = MIXED;
      gCount++;
      gBusy += d;
    } else {
      if (gCount) out.push(gStart, Math.max(gEnd, gStart + nsPerPx), gRef, gCount, gBusy, gFirst);
      gStart = s;
      gEnd = e;
      gEndBucket = Math.floor(e / nsPerPx);
      gRef = refs[i];
      gCount = 1;
      gBusy = d;
      gFirst = i;
    }
  }
  if (gCount) out.push(gStart, Math.max(gEnd, gStart + nsPerPx), gRef, gCount, gBusy, gFirst);
  return out;
}

export const LANE_HEIGHT = { thread: 24, driver: 16, task: 20, probe: 20, future: 16, collapsed: 6, header: 18 };

/** With grouping on, a spawn site with at least this many tasks is one lane. */
export const GROUP_MIN_TASKS = 4;

/** The key a task's spawn site groups by (its kind and spawn location), or null without one. */
export function siteKey(task) {
  return task.loc ? `${task.kind}@${task.loc}` : null;
}

/**
 * The lanes in display order: thread lanes (runtime workers, blocking-pool threads, plain
 * threads: kind `thread`, `lane.thread` a model ThreadRecord), then the driver lane (wakes that came from a
 * timer or the I/O reactor rather than a task or a thread of its own lane; only when there
 * are such wakes), then one lane per probe future polled
 * outside any task (`model.outside`, nested probes under their parent, `depth` set), then
 * one lane per task in spawn order.
 * `opts`: {hidden: Set of lane keys, collapsed: Set of lane keys, collapseTasks: bool,
 * filter: string matched against task names, futuresOpen: (task) -> bool, whether the task's
 * future rows are open}. Under an open task lane come its future rows (futures.js packs
 * them), one lane each: {kind: 'future', task, row, pack}, then, when snapshots traced the
 * task (`task.samples`, sampled.js), its sampled row {kind: 'sampled', task}. Lane keys: "th:<index>", "driver",
 * "p:<probe id>", "t:<task index>", "f:<task index>:<row>", "s:<task index>", "g:<site key>".
 * With `opts.groupSites`, the tasks of a spawn site with at least GROUP_MIN_TASKS tasks shown
 * (a server's task per connection) are one lane {kind: 'group', site: {key, kind, loc, tasks:
 * [TaskRecord in spawn order]}}, where the first of them would be; with the site's key in
 * `opts.expandedSites` its task lanes follow it, else their tasks point at the group lane in
 * `taskLaneByIndex`. Returns {lanes, height,
 * taskLaneByIndex (Int32Array: task index -> lane position or -1), threadLaneByIndex (Map)}.
 */
export function buildLanes(model, opts = {}) {
  const hidden = opts.hidden || new Set();
  const collapsed = opts.collapsed || new Set();
  const filter = (opts.filter || '').toLowerCase();
  const lanes = [];
  let y = 0;
  const add = (lane, height) => {
    lane.y = y;
    lane.height = height;
    y += height;
    lanes.push(lane);
  };
  const threadLaneByIndex = new Map();
  if (model.threadList.length) add({ kind: 'header', key: 'h:threads', title: 'Threads' }, LANE_HEIGHT.header);
  for (const w of model.threadList) {
    const key = `th:${w.index}`;
    if (hidden.has(key)) continue;
    threadLaneByIndex.set(w.index, lanes.length);
    add({ kind: 'thread', key, thread: w }, collapsed.has(key) ? LANE_HEIGHT.collapsed : LANE_HEIGHT.thread);
  }
  let driverLane = -1;
  if (!hidden.has('driver') && model.driverWakes.length) {
    driverLane = lanes.length;
    add({ kind: 'driver', key: 'driver', title: 'driver wakes' }, LANE_HEIGHT.driver);
  }
  const outside = model.outside;
  if (outside && outside.probes.size) {
    add({ kind: 'header', key: 'h:outside', title: 'Futures outside tasks' }, LANE_HEIGHT.header);
    const addProbe = (probe, depth) => {
      const key = `p:${probe.id}`;
      if (!hidden.has(key)) add({ kind: 'probe', key, probe, depth }, collapsed.has(key) ? LANE_HEIGHT.collapsed : LANE_HEIGHT.probe);
      for (const id of probe.children) {
        const child = outside.probes.get(id);
        if (child) addProbe(child, depth + 1);
      }
    };
    for (const id of outside.probeRoots) {
      const root = outside.probes.get(id);
      if (root) addProbe(root, 0);
    }
  }
  const taskLaneByIndex = new Int32Array(model.taskList.length).fill(-1);
  if (model.taskList.length) {
    add({ kind: 'header', key: 'h:tasks', title: `Tasks (${model.taskList.length})` }, LANE_HEIGHT.header);
  }
  const shown = (task) => !hidden.has(`t:${task.index}`) && !(filter && !matchesTask(task, filter));
  const sites = opts.groupSites ? spawnSites(model, shown) : null;
  const expanded = opts.expandedSites || new Set();
  const small = (key) => (opts.collapseTasks ? !collapsed.has(key) : collapsed.has(key));
  const addTask = (task, site = null) => {
    const key = `t:${task.index}`;
    taskLaneByIndex[task.index] = lanes.length;
    add({ kind: 'task', key, task, site }, small(key) ? LANE_HEIGHT.collapsed : LANE_HEIGHT.task);
    if (opts.futuresOpen && (task.probes.size || task.samples) && opts.futuresOpen(task)) {
      if (onlyFuture(task)) {
        // One row, whatever the future did: packed when the row is first drawn, so opening
        // every task's rows does not pack every task's futures at once.
        add(new OneFutureLane(model, task), LANE_HEIGHT.future);
      } else if (task.probes.size) {
        const pack = packFutures(task, model.stateEvents);
        for (let row = 0; row < pack.rows.length; row++) add({ kind: 'future', key: `f:${task.index}:${row}`, task, row, pack }, LANE_HEIGHT.future);
      }
      // States sampled from snapshots (sampled.js): one row of instants, never a continuous state.
      if (task.samples) add({ kind: 'sampled', key: `s:${task.index}`, task }, LANE_HEIGHT.future);
    }
  };
  for (const task of model.taskList) {
    if (!shown(task)) continue;
    const site = sites && sites.get(siteKey(task));
    if (!site) {
      addTask(task);
      continue;
    }
    if (site.tasks[0] !== task) continue; // drawn with its site's lane
    const at = lanes.length;
    const key = `g:${site.key}`;
    add({ kind: 'group', key, site }, small(key) ? LANE_HEIGHT.collapsed : LANE_HEIGHT.task);
    const open = expanded.has(site.key);
    for (const member of site.tasks) {
      if (open) addTask(member, site);
      else taskLaneByIndex[member.index] = at;
    }
  }
  return { lanes, height: y, taskLaneByIndex, threadLaneByIndex, driverLane };
}

/** The one future row of a task with one future: a `future` lane whose pack is made when read. */
class OneFutureLane {
  constructor(model, task) {
    this.kind = 'future';
    this.key = `f:${task.index}:0`;
    this.task = task;
    this.row = 0;
    this.model = model;
    this.y = 0;
    this.height = 0;
  }

  get pack() {
    return packFutures(this.task, this.model.stateEvents);
  }
}

/** The spawn sites of the tasks `shown` with at least GROUP_MIN_TASKS of them: key -> site. */
function spawnSites(model, shown) {
  const all = new Map();
  for (const task of model.taskList) {
    const key = siteKey(task);
    if (key === null || !shown(task)) continue;
    let site = all.get(key);
    if (!site) all.set(key, (site = { key, kind: task.kind, loc: task.loc, tasks: [] }));
    site.tasks.push(task);
  }
  for (const [key, site] of all) if (site.tasks.length < GROUP_MIN_TASKS) all.delete(key);
  return all;
}

/**
 * What a site's tasks were doing at `t`: {alive (spawned, not done), polling (in a poll),
 * task (the first of them in a poll at t, or null), polls (all their polls so far)}.
 */
export function siteAt(site, t, nowT) {
  let alive = 0;
  let polling = 0;
  let task = null;
  let polls = 0;
  for (const m of site.tasks) {
    polls += m.polls.length;
    if (m.spawnT > t || (m.doneT !== OPEN && m.doneT <= t)) continue;
    alive++;
    if (sliceAt(m.polls, t, 0, nowT) >= 0) {
      polling++;
      task ||= m;
    }
  }
  return { alive, polling, task, polls };
}

function matchesTask(task, filter) {
  return (
    String(task.id) === filter ||
    task.label.toLowerCase().includes(filter) ||
    (task.loc && String(task.loc).toLowerCase().includes(filter))
  );
}

/** Height of one row of mark labels on the time axis, in CSS px. */
export const MARK_ROW_PX = 14;
/** At most this many rows of mark labels; further colliding labels are cut to fit. */
export const MAX_MARK_ROWS = 6;
/** A label cut to make room for another keeps at least this many CSS px. */
const MIN_STUB = 12;

/**
 * Where the marks' labels go on the time axis: rows of flags under the ticks, each label
 * starting at its mark's x (or, near the right edge, ending at the edge), as long as its
 * text (`measure(text)` CSS px plus padding). A label goes in the first row where it does
 * not cover the previous label; when every row is taken (more than MAX_MARK_ROWS labels
 * collide), it goes in the row that frees up first and the label before it in that row is
 * cut to end before it, so no mark is ever left without a flag. Labels are never wider
 * than the plot. `marks` are in time order; only marks within [-plotW, 2 plotW] of x are
 * placed. Returns {rows, items: [{mark, index, x, lx, row, w, full}]}: `x` is the mark's,
 * `lx` the label's left edge, `w` its width, `full` false when the text is cut.
 */
export function layoutMarks(marks, vp, plotW, measure, maxRows = MAX_MARK_ROWS) {
  const PAD = 8;
  const GAP = 2;
  const items = [];
  const lastInRow = []; // per row: the item placed last
  for (let index = 0; index < marks.length; index++) {
    const mark = marks[index];
    const x = vp.timeToX(mark.t);
    if (x < -plotW) continue;
    if (x > plotW * 2) break;
    const need = measure(mark.label) + PAD;
    const w = Math.min(plotW, need);
    const lx = x <= plotW ? Math.max(Math.min(x, plotW - w), Math.min(x, 0)) : x;
    let row = -1;
    for (let r = 0; r < lastInRow.length; r++) {
      const prev = lastInRow[r];
      if (prev.lx + prev.w + GAP <= lx) {
        row = r;
        break;
      }
    }
    if (row < 0 && lastInRow.length < maxRows) row = lastInRow.length;
    let at = lx;
    let width = w;
    if (row < 0) {
      // Every row is taken: the one whose last label starts earliest gives way, keeping a
      // stub of MIN_STUB px (still a flag to hover) before this one.
      row = 0;
      for (let r = 1; r < lastInRow.length; r++) if (lastInRow[r].lx < lastInRow[row].lx) row = r;
      const prev = lastInRow[row];
      at = Math.max(lx, prev.lx + MIN_STUB + GAP);
      width = Math.max(MIN_STUB, Math.min(w, plotW - at));
      prev.w = Math.min(prev.w, at - GAP - prev.lx);
      prev.full = false;
    }
    const item = { mark, index, x, lx: at, row, w: width, full: width >= need };
    items.push(item);
    lastInRow[row] = item;
  }
  return { rows: Math.max(1, lastInRow.length), items };
}

/** The lanes that intersect [scrollY, scrollY + viewHeight), as [j0, j1). */
export function visibleLanes(lanes, scrollY, viewHeight) {
  let lo = 0;
  let hi = lanes.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (lanes[mid].y + lanes[mid].height <= scrollY) lo = mid + 1;
    else hi = mid;
  }
  let j1 = lo;
  while (j1 < lanes.length && lanes[j1].y < scrollY + viewHeight) j1++;
  return [lo, j1];
}

/** The lane position at lane-y `y`, or -1. */
export function laneAtY(lanes, y) {
  const [j0] = visibleLanes(lanes, y, 1);
  return j0 < lanes.length && lanes[j0].y <= y ? j0 : -1;
}

/**
 * Axis ticks for [t0, t1] over `widthPx`: a step of 1, 2 or 5 times a power of ten ns,
 * the smallest one keeping ticks at least `minPxPerTick` apart.
 */
export function niceTicks(t0, t1, widthPx, minPxPerTick = 90) {
  const span = Math.max(t1 - t0, 1e-9);
  const raw = (span * minPxPerTick) / Math.max(widthPx, 1);
  const pow = 10 ** Math.floor(Math.log10(raw));
  let step = pow;
  for (const m of [1, 2, 5, 10]) {
    if (pow * m >= raw) {
      step = pow * m;
      break;
    }
  }
  const ticks = [];
  const first = Math.ceil(t0 / step) * step;
  for (let t = first; t <= t1 && ticks.length < 1000; t += step) ticks.push(t);
  return { step, ticks };
}

/**
 * The run's activity over [0, tEnd] in `bins` equal bins, for the overview strip: per bin,
 * the mean number of threads busy polling (busy ns / bin ns, summed over worker lanes).
 * A run without worker lanes (an imported console recording) counts task polls instead.
 * Open slices run to `nowT`. Returns {busy: Float32Array, max}.
 */
export function activityHistogram(model, bins, tEnd, nowT = model.endT) {
  const busy = new Float32Array(Math.max(1, bins));
  const n = busy.length;
  const binNs = Math.max(tEnd, 1) / n;
  const addColumn = (col) => {
    for (let i = 0; i < col.length; i++) {
      const s = col.start[i];
      const e = col.end[i] === OPEN ? Math.max(s, nowT) : col.end[i];
      if (e <= 0 || s >= tEnd) continue;
      let b = Math.max(0, Math.floor(s / binNs));
      const last = Math.min(n - 1, Math.floor(Math.min(e, tEnd) / binNs));
      for (; b <= last; b++) {
        const lo = Math.max(s, b * binNs);
        const hi = Math.min(e, (b + 1) * binNs);
        if (hi > lo) busy[b] += hi - lo;
      }
    }
  };
  if (model.threadList.length) for (const w of model.threadList) addColumn(w.slices);
  else for (const task of model.taskList) addColumn(task.polls);
  let max = 0;
  for (let b = 0; b < n; b++) {
    busy[b] /= binNs;
    if (busy[b] > max) max = busy[b];
  }
  return { busy, max };
}

/**
 * Polls of at least `minNs` as [start, end] pairs in time order, from the runtime worker
 * lanes' long-poll index (blocking-pool and plain threads are there to block: not
 * stalls), or, in a run without thread lanes, from every task's polls; at most `limit`.
 * A poll still open counts up to `nowT`.
 */
export function longPolls(model, minNs, limit = 2000, nowT = model.endT) {
  const out = [];
  const consider = (s, e) => {
    if (e === OPEN) e = Math.max(s, nowT);
    if (e - s >= minNs && out.length < limit) out.push([s, e]);
  };
  if (model.threadList.length) {
    for (const w of model.threadList) {
      if (!isRuntimeWorker(w)) continue;
      const col = w.slices;
      const list = minNs >= LONG_POLL_FLOOR ? w.longSlices : null;
      if (list) {
        for (const i of list) consider(col.start[i], col.end[i]);
        if (w.openTask >= 0 && col.length) consider(col.start[col.length - 1], col.end[col.length - 1]);
      } else {
        for (let i = 0; i < col.length; i++) consider(col.start[i], col.end[i]);
      }
    }
  } else {
    for (const task of model.taskList) {
      const col = task.polls;
      for (let i = 0; i < col.length; i++) consider(col.start[i], col.end[i]);
    }
  }
  out.sort((a, b) => a[0] - b[0]);
  return out;
}

/**
 * The overview strip's transform: the whole run [0, tEnd] across `widthPx` CSS pixels
 * starting at x = `left` (the strip's plot lines up with the timeline's, right of the
 * lane labels).
 */
export class OverviewScale {
  constructor(left, widthPx, tEnd) {
    this.left = left;
    this.widthPx = Math.max(1, widthPx);
    this.tEnd = Math.max(1, tEnd);
  }

  timeToX(t) {
    return this.left + (t / this.tEnd) * this.widthPx;
  }

  xToTime(x) {
    return ((x - this.left) / this.widthPx) * this.tEnd;
  }
}

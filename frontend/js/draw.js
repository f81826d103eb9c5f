// draw.js — paints the timeline of one run on a 2D canvas: the time axis, worker lanes
// (polls coloured by task, long-poll stalls), the driver lane, task lanes (polls solid,
// scheduled time hatched, idle empty, done markers, drops of cancelled futures as thin grey
// slices), the lanes of probe futures outside any task (their states over time), wake
// markers and wake edges, marks,
// the lane labels and the hover line. `OverviewRenderer` paints the overview strip: the
// activity of whole runs (one row each) with the visible window as a rectangle.
//
// It reads a `scene` (model + Viewport + lane list + options) and never changes it:
// what is visible and how slices merge is layout.js's, what the figures are is model.js's,
// input handling is views/timeline.js's. Draw calls are batched by fill colour; redraws
// are coalesced into one animation frame by `RedrawScheduler`; the backing store is
// sized for devicePixelRatio and everything is drawn in CSS pixels through one transform,
// the lanes' rectangles snapped to whole device pixels (see RectBatch).

import { OPEN, LONG_POLL_FLOOR_NS, TERMINAL_LABELS as TERMINAL, isRuntimeWorker } from './model.js';
import { visibleSliceRange, mergeSlices, MergedRects, MIXED, visibleLanes, niceTicks, lowerBound, upperBound, layoutMarks, MARK_ROW_PX } from './layout.js';
import { formatTick, formatDuration } from './units.js';
import { probeSegments, visibleProbes, cancelNotes, ROOTS, SEG_START, SEG_POLLED } from './futures.js';
import { sampleLabel } from './sampled.js';

/** Task colours; a task keeps its colour (id modulo the palette) in every view. */
export const PALETTE = [
  '#4e9cff',
  '#f0a03c',
  '#45c48a',
  '#5fb3a0',
  '#a57cf0',
  '#3cc4d0',
  '#d8c24a',
  '#c8a0e8',
  '#7fb45a',
  '#d07ad0',
  '#6a8cf0',
  '#c09070',
];

export const THEME = {
  bg: '#14161b',
  laneAlt: '#181b21',
  laneSelected: '#1f2b3d',
  futureBg: '#121419',
  laneLine: '#22262e',
  headerBg: '#1c2028',
  headerText: '#8b93a3',
  gutterBg: '#111318',
  gutterLine: '#2a2f39',
  text: '#c9d1dc',
  textDim: '#7d8594',
  axisBg: '#1a1d24',
  axisText: '#9aa3b2',
  grid: 'rgba(255,255,255,0.045)',
  merged: '#6f7a8c',
  drop: '#9aa3b2',
  inFlight: 'rgba(232,236,242,0.28)',
  inFlightText: '#c9d1dc',
  probeStart: '#8b93a3',
  lifeline: '#3a404c',
  stall: '#ff4d4d',
  stallBand: 'rgba(255,77,77,0.18)',
  wakeTask: '#e8ecf2',
  wakeDriver: '#38d0e0',
  edge: 'rgba(232,236,242,0.55)',
  edgeSelected: '#ffd75a',
  mark: '#ffcf5a',
  // Snapshots (task dumps): their markers on the axis, and states sampled from them on future rows.
  snapshot: '#b48cff',
  lint: { long_poll: '#ff4d4d', never_yielded: '#ff4d4d', lost_wake: '#ff8a3d', self_wake: '#d8c24a', large_future: '#c8a0e8', other: '#f0a03c' },
  dimAlpha: 0.22,
  now: 'rgba(120,200,120,0.7)',
  hover: 'rgba(255,255,255,0.35)',
  done: { completed: '#45c48a', cancelled: '#f0a03c', panicked: '#ff4d4d' },
  font: '11px "JetBrains Mono", "DejaVu Sans Mono", ui-monospace, Menlo, Consolas, monospace',
  fontSmall: '10px "JetBrains Mono", "DejaVu Sans Mono", ui-monospace, Menlo, Consolas, monospace',
  fontTiny: '9px "JetBrains Mono", "DejaVu Sans Mono", ui-monospace, Menlo, Consolas, monospace',
};

export const GUTTER_PX = 210;
/**
 * Height of the time axis with one row of mark labels; each further row of marks that
 * collide adds MARK_ROW_PX (see layoutMarks), so the lanes start at `renderer.axisPx`.
 */
export const AXIS_PX = 34;
/** Top of the first row of mark labels on the axis. */
const MARK_TOP_PX = 18;
/** Centre of the snapshot markers (diamonds) on the axis, between the tick labels and the marks. */
const SNAPSHOT_MARKER_Y = 12;
const MAX_EDGES = 300;
/** Wake markers on a task lane: at most one per this many CSS px. */
const WAKE_CELL_PX = 3;
/** Up to this many wakes in the visible time range, every one is considered for an edge. */
const EDGE_SCAN_LIMIT = 4000;

/** First index of `items` (in `t` order) with `t >= value`. */
function lowerBoundBy(items, value) {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (items[mid].t < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The smallest power of two >= x (1 for x <= 1). */
function pow2AtLeast(x) {
  let p = 1;
  while (p < x) p *= 2;
  return p;
}

/** First k in [0, length) with times[items[k]] >= value (length if none). */
export function lowerBoundIndexed(items, length, times, value, lo = 0) {
  let hi = length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (times[items[mid]] < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First k in [0, length) with times[items[k]] > value (length if none). */
export function upperBoundIndexed(items, length, times, value) {
  let lo = 0;
  let hi = length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (times[items[mid]] <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Calls fn(item, time) for the first item of `list` (an IndexList into `times`, in time
 * order) in each `cellNs`-wide time bucket within [t0, t1]; buckets count from time 0. The
 * next bucket's first item is found by binary search, so the cost follows the buckets
 * drawn, not the items in range.
 */
export function forEachBucket(list, times, t0, t1, cellNs, fn) {
  const { items, length } = list;
  let k = lowerBoundIndexed(items, length, times, t0);
  while (k < length) {
    const i = items[k];
    const t = times[i];
    if (t > t1) break;
    fn(i, t);
    k = lowerBoundIndexed(items, length, times, (Math.floor(t / cellNs) + 1) * cellNs, k + 1);
  }
}

/** The colour of an await point's label: the same label has the same colour in every row. */
export function labelColor(label) {
  let hsh = 0;
  for (let i = 0; i < label.length; i++) hsh = (hsh * 31 + label.charCodeAt(i)) | 0;
  return PALETTE[((hsh % PALETTE.length) + PALETTE.length) % PALETTE.length];
}

export function taskColor(task) {
  return PALETTE[((task.id % PALETTE.length) + PALETTE.length) % PALETTE.length];
}

const DIMMED = new Map();
/** `color` (a palette or theme '#rrggbb') faded, for what is not the selected task's. */
export function dimmed(color) {
  let c = DIMMED.get(color);
  if (!c) {
    c = hexAlpha(color, THEME.dimAlpha);
    DIMMED.set(color, c);
  }
  return c;
}

/** `cssPx` rounded to a whole number of device pixels (at least one), in CSS px. */
function devicePx(cssPx, dpr) {
  return Math.max(1, Math.round(cssPx * dpr)) / dpr;
}

/** Sizes `r.canvas`'s backing store for a CSS size and devicePixelRatio; keeps both on `r`. */
function sizeBackingStore(r, cssWidth, cssHeight, dpr) {
  const w = Math.max(1, Math.round(cssWidth * dpr));
  const h = Math.max(1, Math.round(cssHeight * dpr));
  if (r.canvas.width !== w || r.canvas.height !== h) {
    r.canvas.width = w;
    r.canvas.height = h;
  }
  r.cssWidth = cssWidth;
  r.cssHeight = cssHeight;
  r.dpr = dpr;
}

/** Starts a frame of `r`: CSS-pixel transform, background everywhere. */
function clearFrame(r) {
  r.ctx.setTransform(r.dpr, 0, 0, r.dpr, 0, 0);
  r.ctx.fillStyle = THEME.bg;
  r.ctx.fillRect(0, 0, r.cssWidth, r.cssHeight);
}

/** Coalesces redraw requests into one requestAnimationFrame callback. */
export class RedrawScheduler {
  constructor(draw, raf = (fn) => requestAnimationFrame(fn)) {
    this.draw = draw;
    this.raf = raf;
    this.pending = false;
    this.frames = 0;
  }

  request() {
    if (this.pending) return;
    this.pending = true;
    this.raf(() => {
      this.pending = false;
      this.frames++;
      this.draw();
    });
  }
}

/**
 * Rectangles grouped by fill style, flushed with one fill() per style. Each rectangle is
 * snapped to whole device pixels (at least one each way, so nothing disappears), as
 * timeline profilers do: Chromium rasterises the anti-aliased edges of thousands of
 * rectangles at fractional positions several times slower (zoomed out, most of a frame's
 * budget), and neighbours that share an edge now meet on the same pixel boundary instead
 * of blending there.
 */
class RectBatch {
  constructor() {
    this.byStyle = new Map();
    this.dpr = 1;
    this.originX = 0;
  }

  /**
   * The device pixel grid: `dpr` device px per CSS px, user space x = 0 at `originX` CSS
   * px from the canvas's left edge (y is not translated).
   */
  setGrid(dpr, originX) {
    this.dpr = dpr;
    this.originX = originX;
  }

  add(style, x, y, w, h) {
    let list = this.byStyle.get(style);
    if (!list) {
      list = [];
      this.byStyle.set(style, list);
    }
    const { dpr, originX } = this;
    const x0 = Math.round((x + originX) * dpr);
    const x1 = Math.max(x0 + 1, Math.round((x + w + originX) * dpr));
    const y0 = Math.round(y * dpr);
    const y1 = Math.max(y0 + 1, Math.round((y + h) * dpr));
    list.push(x0 / dpr - originX, y0 / dpr, (x1 - x0) / dpr, (y1 - y0) / dpr);
  }

  flush(ctx) {
    let rects = 0;
    for (const [style, list] of this.byStyle) {
      ctx.fillStyle = style;
      ctx.beginPath();
      for (let i = 0; i < list.length; i += 4) ctx.rect(list[i], list[i + 1], list[i + 2], list[i + 3]);
      ctx.fill();
      rects += list.length / 4;
    }
    this.byStyle.clear();
    return rects;
  }
}

export class TimelineRenderer {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
    this.merged = new MergedRects(4096);
    this.batch = new RectBatch();
    this.hatches = new Map();
    this.labels = []; // {x0, x1, y, h, text, light} collected while batching, drawn after
    this.glyphs = []; // {x, y, text, color, font, maxW} drawn after the rects (future ends, counts)
    this.stats = { rects: 0, lanes: 0, edges: 0, ms: 0 };
    this.axisPx = AXIS_PX; // the axis with this frame's rows of mark labels
    // What this frame drew that the pointer can hover (views/timeline.js hit-tests these):
    // mark labels {x, y, w, h, mark, index, full} in canvas CSS px, and wake arrows
    // {wake, x0, y0, x1, y1} in plot coordinates (x from the gutter's edge).
    this.markBoxes = [];
    // Snapshot markers on the axis: {x, y, w, h, index} (index into model.snapshots).
    this.snapshotBoxes = [];
    this.edgeList = [];
  }

  /** Sizes the backing store for the CSS size and devicePixelRatio. */
  resize(cssWidth, cssHeight, dpr) {
    sizeBackingStore(this, cssWidth, cssHeight, dpr);
  }

  /** A hatch pattern (diagonal stripes) in `color` for scheduled time. */
  hatch(color) {
    let p = this.hatches.get(color);
    if (p) return p;
    const c = document.createElement('canvas');
    const s = Math.round(6 * (this.dpr || 1));
    c.width = s;
    c.height = s;
    const g = c.getContext('2d');
    g.fillStyle = hexAlpha(color, 0.16);
    g.fillRect(0, 0, s, s);
    g.strokeStyle = hexAlpha(color, 0.75);
    g.lineWidth = Math.max(1, (this.dpr || 1) * 1.2);
    g.beginPath();
    for (let k = -s; k <= s; k += s) {
      g.moveTo(k, s);
      g.lineTo(k + s, 0);
    }
    g.stroke();
    p = this.ctx.createPattern(c, 'repeat');
    if (p && p.setTransform && typeof DOMMatrix !== 'undefined') p.setTransform(new DOMMatrix().scale(1 / (this.dpr || 1)));
    this.hatches.set(color, p);
    return p;
  }

  /**
   * scene: {model, viewport, lanes: buildLanes() result, scrollY, nowT (default: the
   * model's endT), options: {wakeEdges, stateStrip, stallNs, selectedTask, hover: {x, y} | null, live}}
   */
  render(scene) {
    const started = performance.now();
    const { ctx } = this;
    const W = this.cssWidth;
    const H = this.cssHeight;
    clearFrame(this);
    this.stats.rects = 0;
    this.stats.edges = 0;
    const { model, viewport: vp } = scene;
    if (!model) {
      this.drawEmpty(W, H, scene.emptyText || 'Pick a scenario and press Run, or drop a saved .jsonl run or a tokio-console recording here.');
      return;
    }
    // Open polls and scheduled time reach to "now": the live edge while a run streams in
    // (see TimelineView.nowT), else the last event's time.
    if (scene.nowT == null) scene.nowT = model.endT;
    const plotW = W - GUTTER_PX;
    ctx.font = THEME.fontSmall;
    const marks = layoutMarks(model.marks, vp, plotW, (text) => ctx.measureText(text).width);
    this.axisPx = AXIS_PX + (marks.rows - 1) * MARK_ROW_PX;
    const axisPx = this.axisPx;
    const plotH = H - axisPx;
    const { lanes } = scene.lanes;
    const [j0, j1] = visibleLanes(lanes, scene.scrollY, plotH);
    this.stats.lanes = j1 - j0;
    const laneTop = (j) => axisPx + lanes[j].y - scene.scrollY;

    // Plot area: lanes clipped right of the gutter and below the axis.
    ctx.save();
    ctx.beginPath();
    ctx.rect(GUTTER_PX, axisPx, plotW, plotH);
    ctx.clip();
    ctx.translate(GUTTER_PX, 0);
    this.batch.setGrid(this.dpr, GUTTER_PX);
    this.drawLaneBackgrounds(scene, j0, j1, laneTop, plotW);
    this.drawGrid(vp, plotW, H);
    for (let j = j0; j < j1; j++) {
      const lane = lanes[j];
      const y = laneTop(j);
      if (lane.kind === 'thread') this.drawThreadLane(scene, lane, y, plotW);
      else if (lane.kind === 'task') this.drawTaskLane(scene, lane, y, plotW);
      else if (lane.kind === 'group') this.drawGroupLane(scene, lane, y, plotW);
      else if (lane.kind === 'probe') this.drawProbeLane(scene, lane, y, plotW);
      else if (lane.kind === 'future') this.drawFutureLane(scene, lane, y, plotW);
      else if (lane.kind === 'sampled') this.drawSampledLane(scene, lane, y, plotW);
    }
    this.stats.rects += this.batch.flush(ctx);
    this.drawSelectedPolls(scene, laneTop, plotW);
    this.drawGlyphs(plotW);
    this.drawStalls(scene, j0, j1, laneTop, plotW);
    this.drawLabels(plotW);
    this.drawLints(scene, j0, j1, laneTop, plotW);
    this.drawWakes(scene, j0, j1, laneTop, plotW);
    this.drawMarks(scene, plotW, H);
    this.drawSnapshotLines(scene, plotW, H);
    if (scene.options.live && scene.nowT > vp.t0 && scene.nowT < vp.t1) {
      const x = Math.round(vp.timeToX(scene.nowT)) + 0.5;
      ctx.strokeStyle = THEME.now;
      ctx.beginPath();
      ctx.moveTo(x, axisPx);
      ctx.lineTo(x, H);
      ctx.stroke();
    }
    this.drawHover(scene, plotW, H);
    ctx.restore();

    this.drawAxis(scene, plotW, marks);
    this.drawGutter(scene, j0, j1, laneTop, H);
    this.drawScrollbar(scene, W, plotH);
    this.stats.ms = performance.now() - started;
  }

  drawEmpty(W, H, text) {
    const { ctx } = this;
    ctx.fillStyle = THEME.textDim;
    ctx.font = '13px system-ui, sans-serif';
    ctx.textAlign = 'center';
    ctx.fillText(text, W / 2, H / 2);
    ctx.textAlign = 'left';
  }

  drawLaneBackgrounds(scene, j0, j1, laneTop, plotW) {
    const { lanes } = scene.lanes;
    const sel = scene.options.selectedTask;
    for (let j = j0; j < j1; j++) {
      const lane = lanes[j];
      const y = laneTop(j);
      if (lane.kind === 'header') this.batch.add(THEME.headerBg, 0, y, plotW, lane.height);
      else if (lane.kind === 'task' && lane.task.index === sel) this.batch.add(THEME.laneSelected, 0, y, plotW, lane.height);
      else if (lane.kind === 'probe' && lane.probe.id === scene.options.selectedProbe) this.batch.add(THEME.laneSelected, 0, y, plotW, lane.height);
      else if (lane.kind === 'future' || lane.kind === 'sampled') this.batch.add(lane.task.index === sel ? THEME.laneSelected : THEME.futureBg, 0, y, plotW, lane.height);
      else if (j % 2 === 0) this.batch.add(THEME.laneAlt, 0, y, plotW, lane.height);
      this.batch.add(THEME.laneLine, 0, y + lane.height - 1, plotW, 1);
    }
    this.stats.rects += this.batch.flush(this.ctx);
  }

  drawGrid(vp, plotW, H) {
    const { ticks } = niceTicks(vp.t0, vp.t1, plotW);
    for (const t of ticks) this.batch.add(THEME.grid, Math.round(vp.timeToX(t)), this.axisPx, 1, H - this.axisPx);
    this.stats.rects += this.batch.flush(this.ctx);
  }

  /** Adds merged rects of a slice column to the batch; returns the MergedRects. */
  addSlices(scene, column, y, h, plotW, styleOf, densityHeight = false) {
    const { viewport: vp, model } = scene;
    const [i0, i1] = visibleSliceRange(column, vp.t0, vp.t1);
    const out = mergeSlices(column, i0, i1, vp.nsPerPx, scene.nowT, this.merged);
    for (let i = 0; i < out.length; i++) {
      let x0 = vp.timeToX(out.start[i]);
      let x1 = vp.timeToX(out.end[i]);
      if (x1 < -1 || x0 > plotW + 1) continue;
      x0 = Math.max(-2, x0);
      x1 = Math.min(plotW + 2, x1);
      if (densityHeight && out.count[i] > 1) {
        // Zoomed out, a merged group's height shows how busy the lane was there.
        const density = Math.min(1, out.busy[i] / Math.max(1, out.end[i] - out.start[i]));
        const dh = Math.max(2, Math.round(h * Math.max(0.35, density)));
        this.batch.add(styleOf(out, i), x0, y + h - dh, Math.max(2, x1 - x0), dh);
      } else {
        this.batch.add(styleOf(out, i), x0, y, Math.max(2, x1 - x0), h);
      }
    }
    return out;
  }

  /**
   * A thread's lane: its polls coloured by task (all of them faded while a task is selected:
   * drawSelectedPolls paints that task's on top), and the wakes the thread made outside any
   * task (a plain thread's, or a blocking-pool thread's) as ticks.
   */
  drawThreadLane(scene, lane, y, plotW) {
    const { model, viewport: vp } = scene;
    const h = lane.height;
    const pad = h > 10 ? 3 : 1;
    const sel = scene.options.selectedTask;
    const out = this.addSlices(scene, lane.thread.slices, y + pad, h - 2 * pad, plotW, (o, i) => {
      const ref = o.ref[i];
      const color = ref === MIXED ? THEME.merged : taskColor(model.taskList[ref]);
      return sel >= 0 ? dimmed(color) : color;
    }, true);
    const wakes = lane.thread.wakeIndex;
    if (wakes.length) {
      const t0 = vp.t0 - vp.nsPerPx * 4;
      const tw = devicePx(1.5, this.dpr);
      forEachBucket(wakes, model.wakes.t, t0, vp.t1 + vp.nsPerPx * 4, vp.nsPerPx * 2, (w, t) => this.batch.add(THEME.wakeDriver, vp.timeToX(t) - tw / 2, y + 3, tw, h - 6));
    }
    if (h >= 12 && sel < 0) {
      for (let i = 0; i < out.length; i++) {
        if (out.count[i] !== 1) continue;
        const x0 = vp.timeToX(out.start[i]);
        const x1 = vp.timeToX(out.end[i]);
        if (x1 - x0 < 40) continue;
        const task = model.taskList[out.ref[i]];
        this.labels.push({ x0, x1, y, h, text: `${task.label} ${formatDuration(out.end[i] - out.start[i])}`, light: false });
      }
    }
    // After the labels: addDrops reuses the merged-rects buffer `out` points to.
    if (lane.thread.drops) this.addDrops(scene, lane.thread.drops, y, h, plotW);
  }

  drawTaskLane(scene, lane, y, plotW) {
    const { model, viewport: vp } = scene;
    const task = lane.task;
    const h = lane.height;
    const color = taskColor(task);
    const small = h < 10;
    // Lifeline: from spawn to done (or now), a thin line in the middle of the lane.
    const end = task.doneT !== OPEN ? task.doneT : scene.nowT;
    const lx0 = Math.max(-2, vp.timeToX(task.spawnT));
    const lx1 = Math.min(plotW + 2, vp.timeToX(end));
    if (lx1 > lx0) this.batch.add(THEME.lifeline, lx0, y + Math.floor(h / 2), lx1 - lx0, 1);
    if (!small) {
      // Scheduled: runnable, waiting for a worker. Hatched in the task's colour.
      const hatch = this.hatch(color);
      const pad = 4;
      this.addSlices(scene, task.sched, y + pad, h - 2 * pad, plotW, () => hatch);
      if (task.schedOpenT !== OPEN) {
        const x0 = Math.max(-2, vp.timeToX(task.schedOpenT));
        const x1 = Math.min(plotW + 2, vp.timeToX(scene.nowT));
        if (x1 > x0) this.batch.add(hatch, x0, y + pad, Math.max(1, x1 - x0), h - 2 * pad);
      }
    }
    const pad = small ? 1 : 2;
    const out = this.addSlices(scene, task.polls, y + pad, h - 2 * pad, plotW, () => color);
    if (!small) {
      for (let i = 0; i < out.length; i++) {
        if (out.count[i] !== 1) continue;
        const x0 = vp.timeToX(out.start[i]);
        const x1 = vp.timeToX(out.end[i]);
        if (x1 - x0 >= 40) this.labels.push({ x0, x1, y, h, text: formatDuration(out.end[i] - out.start[i]), light: false });
      }
    }
    if (task.doneT !== OPEN) {
      const x = vp.timeToX(task.doneT);
      if (x > -4 && x < plotW + 4) {
        const c = THEME.done[task.outcome] || THEME.done.completed;
        this.batch.add(c, x, y + 1, 2, h - 2);
        if (!small) this.batch.add(c, x - 3, y + 1, 5, 2);
      }
    }
    if (task.drops) this.addDrops(scene, task.drops, y, h, plotW);
    if (scene.options.stateStrip && !small) this.addStateStrip(scene, task, y, h, plotW);
    const fo = scene.options.futuresOpen;
    if (!small && fo && task.futureCache && fo(task)) this.addInFlight(scene, task.futureCache.pack.counts.get(ROOTS), y, h, plotW);
  }

  /**
   * A spawn site's lane (layout.js groups a site's tasks): the polls of all its tasks in the
   * colour of the first, over one lifeline from the first spawn to the last end (or now).
   * Polls of several tasks at once (on different workers) overlap; zoomed out, the merged
   * rectangles' height shows how busy each task was, so a taller bar is busier, never more
   * tasks. Tasks that did not live in the view are skipped.
   */
  drawGroupLane(scene, lane, y, plotW) {
    const { viewport: vp } = scene;
    const { tasks } = lane.site;
    const h = lane.height;
    const color = taskColor(tasks[0]);
    let first = Infinity;
    let last = -Infinity;
    for (const m of tasks) {
      first = Math.min(first, m.spawnT);
      last = Math.max(last, m.doneT !== OPEN ? m.doneT : scene.nowT);
    }
    const lx0 = Math.max(-2, vp.timeToX(first));
    const lx1 = Math.min(plotW + 2, vp.timeToX(last));
    if (lx1 > lx0) this.batch.add(THEME.lifeline, lx0, y + Math.floor(h / 2), lx1 - lx0, 1);
    const pad = h < 10 ? 1 : 2;
    for (const m of tasks) {
      if (m.spawnT > vp.t1 || (m.doneT !== OPEN && m.doneT < vp.t0)) continue;
      this.addSlices(scene, m.polls, y + pad, h - 2 * pad, plotW, () => color, true);
    }
  }

  /**
   * A future's row (views/timeline.js opens them under a task lane; futures.js packs them and
   * derives the segments): `start` (created, never polled) as an empty box, suspended at an
   * await point hatched in the label's colour with the label inside when it fits, polled solid
   * in the task's colour, and the end: ✓ ready, ✕ cancelled (with what the task said about
   * it right after, e.g. the items lost), ✖ panicked. The in-flight count of a future's
   * children is drawn along the bottom of its row.
   */
  /**
   * A task's sampled row: a ring at each snapshot that traced the task, labelled with where it
   * waited up to the next ring. Nothing is drawn between rings: a snapshot is one instant, so
   * the row never looks like the continuous states of a probe's row.
   */
  drawSampledLane(scene, lane, y, plotW) {
    const { viewport: vp } = scene;
    const samples = lane.task.samples;
    const mid = y + lane.height / 2;
    const { ctx } = this;
    let i = lowerBoundBy(samples, vp.t0 - vp.nsPerPx * 8);
    ctx.strokeStyle = THEME.snapshot;
    ctx.lineWidth = 1.5;
    let lastX = -Infinity;
    for (; i < samples.length && samples[i].t <= vp.t1 + vp.nsPerPx * 8; i++) {
      const x = vp.timeToX(samples[i].t);
      if (x - lastX < 3) continue;
      lastX = x;
      ctx.beginPath();
      ctx.arc(x, mid, 3.5, 0, Math.PI * 2);
      ctx.stroke();
      const next = i + 1 < samples.length ? vp.timeToX(samples[i + 1].t) : plotW;
      const room = Math.min(next, plotW) - x - 12;
      if (room > 28) this.glyphs.push({ x: x + 7, y: mid, text: sampleLabel(samples[i]), color: THEME.snapshot, small: true, maxW: room });
    }
    ctx.lineWidth = 1;
  }

  drawFutureLane(scene, lane, y, plotW) {
    const { viewport: vp, model } = scene;
    const task = lane.task;
    const row = lane.pack.rows[lane.row];
    const h = lane.height;
    const color = taskColor(task);
    const now = scene.nowT;
    const [k0, k1] = visibleProbes(row, vp.t0, vp.t1);
    const minNs = vp.nsPerPx;
    let lastX = -Infinity;
    for (let k = k0; k < k1; k++) {
      const probe = task.probes.get(row.ids[k]);
      if (!probe) continue;
      const segs = probeSegments(task, probe);
      const end = segs.tEnd === Infinity ? Math.max(segs.t0, now) : segs.tEnd;
      const px0 = vp.timeToX(segs.t0);
      const px1 = vp.timeToX(end);
      if (px1 < -4 || px0 > plotW + 4) continue;
      if (px1 - px0 < 1 && px1 < lastX + 1) continue; // a sub-pixel future on a pixel already drawn
      // The visible segments: the first one ending at or after the left edge, by binary search.
      let i = lowerBound(segs.e, segs.n, vp.t0);
      let segX = -Infinity;
      for (; i < segs.n && segs.s[i] <= vp.t1; i++) {
        const s0 = segs.s[i];
        const e0 = Math.min(segs.e[i], end);
        let x0 = vp.timeToX(s0);
        let x1 = vp.timeToX(e0);
        if (x1 - x0 < 1 && x1 < segX + 1 && e0 - s0 < minNs) continue;
        x0 = Math.max(-2, x0);
        x1 = Math.min(plotW + 2, x1);
        segX = x1;
        const w = Math.max(1, x1 - x0);
        const kind = segs.kind[i];
        if (kind === SEG_POLLED) {
          this.batch.add(color, x0, y + 2, Math.max(1.5, w), h - 4);
        } else if (kind === SEG_START) {
          this.batch.add(THEME.probeStart, x0, y + 3, w, 1);
          this.batch.add(THEME.probeStart, x0, y + h - 4, w, 1);
          this.batch.add(THEME.probeStart, x0, y + 3, 1, h - 6);
          if (w >= 48) this.labels.push({ x0, x1, y, h, text: 'start', light: true, dim: true });
        } else {
          const c = labelColor(segs.label[i]);
          this.batch.add(this.hatch(c), x0, y + 3, w, h - 6);
          if (w >= 40) this.labels.push({ x0, x1, y, h, text: segs.label[i], light: true });
        }
      }
      lastX = Math.max(lastX, px1);
      if (segs.endLabel) {
        const c = THEME.done[segs.endLabel === 'ready' ? 'completed' : segs.endLabel] || THEME.done.completed;
        if (px1 > -4 && px1 < plotW + 4) {
          this.batch.add(c, px1 - 1, y + 1, 2, h - 2);
          const glyph = segs.endLabel === 'ready' ? '✓' : segs.endLabel === 'cancelled' ? '✕' : '✖';
          const next = k + 1 < row.ids.length ? vp.timeToX(row.t0[k + 1]) : plotW;
          const room = Math.min(plotW, next) - px1 - 4;
          if (room >= 9) {
            let text = glyph;
            if (segs.endLabel === 'cancelled') {
              const notes = cancelNotes(model, task, probe);
              text = `✕ cancelled at ${segs.atLabel ?? '?'}${notes.length ? ` · ${notes.map((m) => m.label).join(' · ')}` : ''}`;
            }
            this.glyphs.push({ x: px1 + 3, y: y + h / 2 + 0.5, text, color: c, maxW: room });
          }
        }
      }
      const counts = probe.children.length ? lane.pack.counts.get(probe.id) : null;
      if (counts) this.addInFlight(scene, counts, y, h, plotW, segs.t0, end);
    }
  }

  /**
   * An in-flight count (a step function, futures.js) along the bottom of a row: a step graph
   * whose height follows the count, and the number where the step is wide enough (hover gives
   * the exact count anywhere). Drawn only for parents that ever had two or more in flight.
   */
  addInFlight(scene, step, y, h, plotW, from = -Infinity, to = Infinity) {
    if (!step || step.max < 2) return;
    const { viewport: vp } = scene;
    const n = step.t.length;
    let i = Math.max(0, upperBound(step.t, n, Math.max(from, vp.t0)) - 1);
    const gh = Math.max(3, Math.floor(h / 3));
    let colX = -Infinity;
    let colMax = 0;
    const flush = () => {
      if (colMax > 0 && colX > -Infinity) this.batch.add(THEME.inFlight, colX, y + h - 1 - Math.max(1, Math.round((gh * colMax) / step.max)), 1, Math.max(1, Math.round((gh * colMax) / step.max)));
    };
    for (; i < n; i++) {
      const s0 = Math.max(step.t[i], from);
      if (s0 > vp.t1 || s0 > to) break;
      const e0 = Math.min(i + 1 < n ? step.t[i + 1] : Math.min(to, scene.nowT), to);
      const c = step.n[i];
      if (c <= 0 || e0 <= s0) continue;
      const x0 = Math.max(-2, vp.timeToX(s0));
      const x1 = Math.min(plotW + 2, vp.timeToX(e0));
      if (x1 - x0 >= 1) {
        flush();
        colX = -Infinity;
        colMax = 0;
        const bh = Math.max(1, Math.round((gh * c) / step.max));
        this.batch.add(THEME.inFlight, x0, y + h - 1 - bh, x1 - x0, bh);
        if (x1 - x0 >= 16) this.glyphs.push({ x: x1 - 3, y: y + 6, text: x1 - x0 >= 80 ? `${c} in flight` : String(c), color: THEME.inFlightText, align: 'right', maxW: x1 - x0 - 4, small: true });
      } else {
        const col = Math.floor(x0);
        if (col !== colX) {
          flush();
          colX = col;
          colMax = 0;
        }
        if (c > colMax) colMax = c;
      }
    }
    flush();
  }

  /** Future-row ends and in-flight numbers, after the rects. */
  drawGlyphs(plotW) {
    const { ctx } = this;
    ctx.textBaseline = 'middle';
    for (const g of this.glyphs) {
      ctx.font = g.small ? THEME.fontTiny : THEME.fontSmall;
      const text = fitText(ctx, g.text, Math.min(g.maxW, plotW - g.x + (g.align === 'right' ? g.maxW : 0)));
      if (!text) continue;
      ctx.fillStyle = g.color;
      ctx.textAlign = g.align || 'left';
      ctx.fillText(text, g.x, g.y);
    }
    ctx.textAlign = 'left';
    this.glyphs.length = 0;
  }

  /**
   * The task lane coloured by state: a strip along the bottom of the lane showing, over time,
   * the await point the task's root probe future was suspended at (one colour per state, as
   * in the state diagram); nothing while it runs or before its first poll.
   */
  addStateStrip(scene, task, y, h, plotW) {
    const { viewport: vp } = scene;
    const root = task.probeRoots.length ? task.probes.get(task.probeRoots[0]) : null;
    const hist = root && root.history;
    if (!hist || !hist.length) return;
    const labels = [];
    for (const n of root.states.values()) labels[n.order] = n.label;
    const endT = root.ended ? hist.start[hist.length - 1] : scene.nowT;
    const [i0, i1] = visibleSliceRange(hist, vp.t0, vp.t1);
    const th = 3;
    let lastX = -Infinity;
    for (let i = i0; i < i1; i++) {
      const label = labels[hist.ref[i]];
      if (label === 'start' || TERMINAL.has(label)) continue;
      const x0 = Math.max(-2, vp.timeToX(hist.start[i]));
      const x1 = Math.min(plotW + 2, vp.timeToX(hist.end[i] === OPEN ? endT : hist.end[i]));
      if (x1 < lastX + 1 && x1 - x0 < 1) continue;
      lastX = x1;
      this.batch.add(PALETTE[hist.ref[i] % PALETTE.length], x0, y + h - th - 1, Math.max(1, x1 - x0), th);
    }
  }

  /**
   * Drop slices (the worker dropping a cancelled task's future, not a poll): a thin grey
   * bar across the middle of the lane, at least 2 px wide.
   */
  addDrops(scene, column, y, h, plotW) {
    const th = Math.max(2, Math.round(h / 4));
    this.addSlices(scene, column, y + Math.round((h - th) / 2), th, plotW, () => THEME.drop);
  }

  /**
   * A probe future polled outside any task: its states over time from its history. At an
   * await point it is suspended there: hatched in a colour per state (first-seen order),
   * with the label inside when it fits; `start` (created, not polled yet) is the lifeline
   * alone; a finished probe ends with a done marker.
   */
  drawProbeLane(scene, lane, y, plotW) {
    const { viewport: vp } = scene;
    const probe = lane.probe;
    const h = lane.height;
    const hist = probe.history;
    if (!hist || !hist.length) return;
    const endT = probe.ended ? hist.start[hist.length - 1] : scene.nowT;
    const lx0 = Math.max(-2, vp.timeToX(hist.start[0]));
    const lx1 = Math.min(plotW + 2, vp.timeToX(endT));
    if (lx1 > lx0) this.batch.add(THEME.lifeline, lx0, y + Math.floor(h / 2), lx1 - lx0, 1);
    const labels = [];
    for (const n of probe.states.values()) labels[n.order] = n.label;
    const pad = h < 10 ? 1 : 4;
    const [i0, i1] = visibleSliceRange(hist, vp.t0, vp.t1);
    let lastX = -Infinity;
    for (let i = i0; i < i1; i++) {
      const label = labels[hist.ref[i]];
      if (label === 'start' || TERMINAL.has(label)) continue;
      const s = hist.start[i];
      const e = hist.end[i] === OPEN ? endT : hist.end[i];
      let x0 = vp.timeToX(s);
      let x1 = vp.timeToX(e);
      if (x1 < lastX + 1 && x1 - x0 < 1) continue; // sub-pixel and on a pixel already drawn
      x0 = Math.max(-2, x0);
      x1 = Math.min(plotW + 2, x1);
      lastX = x1;
      const color = PALETTE[hist.ref[i] % PALETTE.length];
      this.batch.add(h < 10 ? color : this.hatch(color), x0, y + pad, Math.max(1, x1 - x0), h - 2 * pad);
      if (h >= 12 && x1 - x0 >= 40) this.labels.push({ x0, x1, y, h, text: label, light: true });
    }
    if (probe.ended) {
      const x = vp.timeToX(endT);
      if (x > -4 && x < plotW + 4) {
        const c = THEME.done[probe.label] || THEME.done.completed;
        this.batch.add(c, x, y + 1, 2, h - 2);
      }
    }
  }

  /**
   * The selected task's polls on the thread lanes, in its colour over the faded rest, so
   * one task can be followed hopping between threads. Its polls are read from the task's
   * own column (zoomed out, a thread's merged rect mixes tasks), one rect per device-pixel
   * column and lane at most.
   */
  drawSelectedPolls(scene, laneTop, plotW) {
    const sel = scene.options.selectedTask;
    const { model, viewport: vp } = scene;
    const task = sel >= 0 ? model.taskList[sel] : null;
    if (!task) return;
    const { lanes, threadLaneByIndex } = scene.lanes;
    const plotH = this.cssHeight - this.axisPx;
    const color = taskColor(task);
    const polls = task.polls;
    const [i0, i1] = visibleSliceRange(polls, vp.t0, vp.t1);
    const last = new Map(); // lane -> last x drawn
    for (let i = i0; i < i1; i++) {
      const j = threadLaneByIndex.get(polls.ref[i]);
      if (j == null) continue;
      const lane = lanes[j];
      const y = laneTop(j);
      if (y + lane.height < this.axisPx || y > this.axisPx + plotH) continue;
      const x0 = Math.max(-2, vp.timeToX(polls.start[i]));
      const x1 = Math.min(plotW + 2, vp.timeToX(polls.end[i] === OPEN ? scene.nowT : polls.end[i]));
      const px = Math.floor(x0 * this.dpr);
      if (last.get(j) === px && x1 - x0 < 1) continue;
      last.set(j, px);
      const pad = lane.height > 10 ? 3 : 1;
      this.batch.add(color, x0, y + pad, Math.max(2, x1 - x0), lane.height - 2 * pad);
    }
    this.stats.rects += this.batch.flush(this.ctx);
  }

  /**
   * Lints on the lane of their task, from the moment the condition began (`since`) to the
   * finding (`t`): a bar along the top of the lane in the rule's colour, at least 3 px wide,
   * with a flag at its start. Hovering it shows the rule and the detail (views/timeline.js).
   */
  drawLints(scene, j0, j1, laneTop, plotW) {
    const { viewport: vp } = scene;
    const { lanes } = scene.lanes;
    for (let j = j0; j < j1; j++) {
      const lane = lanes[j];
      if (lane.kind !== 'task' || !lane.task.lints.length) continue;
      const y = laneTop(j);
      const bar = lane.height < 10 ? 2 : 3;
      for (const lint of lane.task.lints) {
        const { x0, x1 } = lintSpan(lint, vp);
        if (x1 < -2 || x0 > plotW + 2) continue;
        const color = THEME.lint[lint.rule] || THEME.lint.other;
        this.batch.add(color, Math.max(-2, x0), y, Math.min(plotW + 2, x1) - Math.max(-2, x0), bar);
        if (lane.height >= 10) this.batch.add(color, x0, y, 2, lane.height - 1);
      }
    }
    this.stats.rects += this.batch.flush(this.ctx);
  }

  /**
   * Long polls (stalls) on runtime worker lanes: a red band and outline, at any zoom. A
   * blocking-pool thread or a plain thread is there to block: a long run on it stalls
   * nobody, so it is not outlined.
   */
  drawStalls(scene, j0, j1, laneTop, plotW) {
    const { ctx } = this;
    const { model, viewport: vp, options } = scene;
    const { lanes } = scene.lanes;
    const stallNs = options.stallNs;
    const longOnes = (w) => {
      const list = stallNs >= LONG_POLL_FLOOR_NS ? w.longSlices : null;
      const out = [];
      const consider = (i) => {
        const s = w.slices.start[i];
        const e = w.slices.end[i] === OPEN ? scene.nowT : w.slices.end[i];
        if (e - s >= stallNs && e >= vp.t0 && s <= vp.t1) out.push(i);
      };
      if (list) for (const i of list) consider(i);
      else {
        const [i0, i1] = visibleSliceRange(w.slices, vp.t0, vp.t1);
        for (let i = i0; i < i1 && i - i0 < 50000; i++) consider(i);
      }
      // A stall in progress: the open slice.
      if (w.openTask >= 0 && w.slices.length && list) consider(w.slices.length - 1);
      return out;
    };
    const line = devicePx(1.5, this.dpr);
    for (let j = j0; j < j1; j++) {
      const lane = lanes[j];
      if (lane.kind !== 'thread' || !isRuntimeWorker(lane.thread)) continue;
      const w = lane.thread;
      const y = laneTop(j);
      for (const i of longOnes(w)) {
        const s = w.slices.start[i];
        const e = w.slices.end[i] === OPEN ? scene.nowT : w.slices.end[i];
        const x0 = Math.max(-2, vp.timeToX(s));
        const x1 = Math.min(plotW + 2, vp.timeToX(e));
        const bw = Math.max(2, x1 - x0);
        const bh = lane.height - 1;
        this.batch.add(THEME.stallBand, x0, y, bw, bh);
        // The outline: four bars inside the band's edges, 1.5 px rounded to whole device px.
        this.batch.add(THEME.stall, x0, y, bw, line);
        this.batch.add(THEME.stall, x0, y + bh - line, bw, line);
        this.batch.add(THEME.stall, x0, y, line, bh);
        this.batch.add(THEME.stall, x0 + bw - line, y, line, bh);
        if (x1 - x0 > 40 && lane.height >= 12) {
          const task = model.taskList[w.slices.ref[i]];
          this.labels.push({ x0, x1, y, h: lane.height, text: `⚠ ${task.label} blocked ${formatDuration(e - s)}`, light: true, replace: true });
        }
      }
    }
    this.stats.rects += this.batch.flush(ctx);
  }

  /** Text inside slices wide enough to hold it. */
  drawLabels(plotW) {
    const { ctx } = this;
    ctx.font = THEME.fontSmall;
    ctx.textBaseline = 'middle';
    for (const l of this.labels) {
      const lx = Math.max(l.x0, 0) + 4;
      const room = Math.min(l.x1, plotW) - lx - 3;
      if (room < 24) continue;
      if (l.replace) {
        // A stall label replaces the plain one drawn under it.
        ctx.fillStyle = 'rgba(120,20,20,0.92)';
        ctx.fillRect(lx - 3, l.y + 3, Math.min(room + 4, ctx.measureText(l.text).width + 6), l.h - 7);
      }
      ctx.fillStyle = l.dim ? THEME.textDim : l.light ? '#fff' : '#0d0f13';
      ctx.fillText(fitText(ctx, l.text, room), lx, l.y + l.h / 2 + 0.5);
    }
    this.labels.length = 0;
  }

  /**
   * Wake markers and wake edges. Level of detail: markers are found per visible lane by
   * binary search in the lane's wake index (never by scanning the run's wakes) and merged
   * to the first wake of each WAKE_CELL_PX-wide time bucket (buckets counted from time 0,
   * so panning never regroups them). Edges are drawn for every wake in view when at most
   * EDGE_SCAN_LIMIT wakes are in the visible time range; further out, only edges into the
   * visible task lanes, thinned to about MAX_EDGES by a power-of-two stride over the wake
   * index (stable while panning), plus the selected task's.
   * Triangles (markers, arrow heads) are filled, which closes each subpath: no closePath(),
   * which costs time proportional to the whole Path2D in Chromium (a frame of a few thousand
   * markers spent tens of ms in it).
   */
  drawWakes(scene, j0, j1, laneTop, plotW) {
    const { ctx } = this;
    const { model, viewport: vp, options } = scene;
    const { lanes, driverLane } = scene.lanes;
    const wakes = model.wakes;
    this.edgeList.length = 0;
    if (!wakes.length) return;
    const t0 = vp.t0 - vp.nsPerPx * 4;
    const t1 = vp.t1 + vp.nsPerPx * 4;
    const tri = new Path2D();
    const triDriver = new Path2D();
    const cellNs = vp.nsPerPx * WAKE_CELL_PX;
    for (let j = j0; j < j1; j++) {
      const lane = lanes[j];
      if (lane.kind !== 'task' || lane.height < 10) continue;
      const y = laneTop(j);
      forEachBucket(lane.task.wakeIndex, wakes.t, t0, t1, cellNs, (w, t) => {
        const x = vp.timeToX(t);
        const p = wakes.by[w] < 0 ? triDriver : tri;
        p.moveTo(x - 3, y + 1);
        p.lineTo(x + 3, y + 1);
        p.lineTo(x, y + 6);
      });
    }
    if (driverLane >= j0 && driverLane < j1) {
      const y = laneTop(driverLane);
      const h = lanes[driverLane].height;
      // Ticks of one width (a whole number of device px), centred on the wake.
      const tw = devicePx(1.5, this.dpr);
      forEachBucket(model.driverWakes, wakes.t, t0, t1, vp.nsPerPx * 2, (w, t) => this.batch.add(THEME.wakeDriver, vp.timeToX(t) - tw / 2, y + 3, tw, h - 6));
    }
    ctx.fillStyle = THEME.wakeTask;
    ctx.fill(tri);
    ctx.fillStyle = THEME.wakeDriver;
    ctx.fill(triDriver);
    this.stats.rects += this.batch.flush(ctx);
    this.stats.edges = options.wakeEdges ? this.drawWakeEdges(scene, j0, j1, laneTop, t0, t1) : 0;
  }

  /** Edges from the waker to the woken task's next poll (see drawWakes); returns how many. */
  drawWakeEdges(scene, j0, j1, laneTop, t0, t1) {
    const { ctx } = this;
    const { model, viewport: vp, options } = scene;
    const { lanes, taskLaneByIndex, threadLaneByIndex, driverLane } = scene.lanes;
    const wakes = model.wakes;
    const n = wakes.length;
    // A wake drawn as an arrow whatever is selected: a task's, or a thread's from its lane.
    const arrowed = (i) => wakes.by[i] >= 0 || model.wakingThread(i) !== null;
    const sourceLane = (i) => {
      const by = wakes.by[i];
      if (by >= 0) return taskLaneByIndex[by];
      const thread = model.wakingThread(i);
      if (thread) return threadLaneByIndex.get(thread.index) ?? -1;
      return driverLane;
    };
    const sel = options.selectedTask;
    const visible = (j) => j >= j0 && j < j1;
    const plain = new Path2D();
    const plainHeads = new Path2D();
    const bright = new Path2D();
    const brightHeads = new Path2D();
    let drawn = 0;
    // Edges for the wakes by a task or by a thread with a lane of its own (driver -> task
    // ones only for the selected task: drivers wake nearly everything; drawn for all they
    // hide the picture).
    const edge = (i, selected) => {
      const target = wakes.target[i];
      if (target === OPEN) return;
      const jt = taskLaneByIndex[wakes.task[i]];
      const js = sourceLane(i);
      if (jt < 0 || js < 0) return;
      if (!visible(jt) && !visible(js)) return;
      const x0 = vp.timeToX(wakes.t[i]);
      const x1 = vp.timeToX(target);
      const y0 = laneTop(js) + lanes[js].height / 2;
      const y1 = laneTop(jt) + lanes[jt].height / 2;
      if (Math.abs(x1 - x0) < 2 && Math.abs(y1 - y0) < 2) return;
      const p = selected ? bright : plain;
      const heads = selected ? brightHeads : plainHeads;
      const mx = x0 + Math.max(6, (x1 - x0) / 2);
      p.moveTo(x0, y0);
      p.bezierCurveTo(mx, y0, mx, y1, x1 - 1, y1);
      heads.moveTo(x1, y1);
      heads.lineTo(x1 - 6, y1 - 3.5);
      heads.lineTo(x1 - 6, y1 + 3.5);
      if (this.edgeList.length < MAX_EDGES * 4) this.edgeList.push({ wake: i, x0, y0, x1, y1, mx });
      drawn++;
    };
    const a = lowerBound(wakes.t, n, t0);
    const b = upperBound(wakes.t, n, t1);
    if (b - a <= EDGE_SCAN_LIMIT) {
      let candidates = 0;
      for (let i = a; i < b; i++) if (arrowed(i)) candidates++;
      const stride = pow2AtLeast(candidates / MAX_EDGES);
      for (let i = a; i < b; i++) {
        const by = wakes.by[i];
        const selected = sel >= 0 && (wakes.task[i] === sel || by === sel);
        if (selected) edge(i, true);
        else if (arrowed(i) && i % stride === 0) edge(i, false);
      }
    } else {
      // Zoomed out: the wakes into the visible task lanes, thinned.
      let total = 0;
      for (let j = j0; j < j1; j++) {
        if (lanes[j].kind !== 'task') continue;
        const idx = lanes[j].task.wakeIndex;
        total += upperBoundIndexed(idx.items, idx.length, wakes.t, t1) - lowerBoundIndexed(idx.items, idx.length, wakes.t, t0);
      }
      const stride = pow2AtLeast(total / MAX_EDGES);
      for (let j = j0; j < j1; j++) {
        const lane = lanes[j];
        if (lane.kind !== 'task' || lane.task.index === sel) continue;
        const { items, length } = lane.task.wakeIndex;
        const k1 = upperBoundIndexed(items, length, wakes.t, t1);
        for (let k = lowerBoundIndexed(items, length, wakes.t, t0); k < k1; k++) {
          const i = items[k];
          if (arrowed(i) && i % stride === 0) edge(i, wakes.by[i] === sel && sel >= 0);
        }
      }
      const task = sel >= 0 ? model.taskList[sel] : null;
      if (task) {
        const { items, length } = task.wakeIndex;
        const k0 = lowerBoundIndexed(items, length, wakes.t, t0);
        const k1 = Math.min(upperBoundIndexed(items, length, wakes.t, t1), k0 + MAX_EDGES);
        for (let k = k0; k < k1; k++) edge(items[k], true);
      }
    }
    ctx.lineWidth = 1;
    ctx.strokeStyle = THEME.edge;
    ctx.stroke(plain);
    ctx.fillStyle = THEME.edge;
    ctx.fill(plainHeads);
    ctx.lineWidth = 1.6;
    ctx.strokeStyle = THEME.edgeSelected;
    ctx.stroke(bright);
    ctx.fillStyle = THEME.edgeSelected;
    ctx.fill(brightHeads);
    ctx.lineWidth = 1;
    return drawn;
  }

  drawMarks(scene, plotW, H) {
    const { ctx } = this;
    const { model, viewport: vp } = scene;
    ctx.strokeStyle = THEME.mark;
    ctx.setLineDash([4, 4]);
    ctx.globalAlpha = 0.7;
    ctx.beginPath();
    for (const m of model.marks) {
      const x = Math.round(vp.timeToX(m.t)) + 0.5;
      if (x < 0 || x > plotW) continue;
      ctx.moveTo(x, this.axisPx);
      ctx.lineTo(x, H);
    }
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.globalAlpha = 1;
  }

  /** A dotted line down the lanes at each snapshot (task dump) in view. */
  drawSnapshotLines(scene, plotW, H) {
    const snaps = scene.model.snapshots;
    if (!snaps || !snaps.length) return;
    const { ctx } = this;
    const vp = scene.viewport;
    ctx.strokeStyle = THEME.snapshot;
    ctx.setLineDash([1, 3]);
    ctx.globalAlpha = 0.55;
    ctx.beginPath();
    let lastX = -Infinity;
    for (const s of snaps) {
      const x = Math.round(vp.timeToX(s.t)) + 0.5;
      if (x < 0 || x > plotW || x === lastX) continue;
      lastX = x;
      ctx.moveTo(x, this.axisPx);
      ctx.lineTo(x, H);
    }
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.globalAlpha = 1;
  }

  /** Snapshot markers on the axis: a diamond each (one per pixel column), hit-tested by the timeline. */
  drawSnapshotMarkers(scene, plotW) {
    this.snapshotBoxes.length = 0;
    const snaps = scene.model.snapshots;
    if (!snaps || !snaps.length) return;
    const { ctx } = this;
    const vp = scene.viewport;
    const cy = SNAPSHOT_MARKER_Y;
    const r = 5;
    let lastX = -Infinity;
    for (let i = 0; i < snaps.length; i++) {
      const x = Math.round(vp.timeToX(snaps[i].t)) + 0.5;
      if (x < -r || x > plotW + r) continue;
      if (x - lastX < 2) {
        // Markers closer than 2 px share one box: the newest wins the click.
        this.snapshotBoxes[this.snapshotBoxes.length - 1].index = i;
        continue;
      }
      lastX = x;
      ctx.beginPath();
      ctx.moveTo(x, cy - r);
      ctx.lineTo(x + r, cy);
      ctx.lineTo(x, cy + r);
      ctx.lineTo(x - r, cy);
      ctx.closePath();
      ctx.fillStyle = THEME.snapshot;
      ctx.fill();
      ctx.strokeStyle = THEME.axisBg;
      ctx.lineWidth = 1.5;
      ctx.stroke();
      ctx.lineWidth = 1;
      this.snapshotBoxes.push({ x: x + GUTTER_PX - r - 1, y: cy - r - 1, w: 2 * r + 2, h: 2 * r + 2, index: i });
    }
  }

  drawHover(scene, plotW, H) {
    const hover = scene.options.hover;
    if (!hover || hover.x < GUTTER_PX) return;
    const { ctx } = this;
    const x = Math.round(hover.x - GUTTER_PX) + 0.5;
    ctx.strokeStyle = THEME.hover;
    ctx.beginPath();
    ctx.moveTo(x, this.axisPx);
    ctx.lineTo(x, H);
    ctx.stroke();
    const hit = scene.options.hit;
    if (hit && hit.y != null) {
      const vp = scene.viewport;
      const x0 = vp.timeToX(hit.start);
      const x1 = vp.timeToX(hit.end);
      ctx.strokeStyle = '#ffffff';
      ctx.lineWidth = 1.5;
      ctx.strokeRect(Math.max(-2, x0) - 0.5, hit.y + 0.5, Math.max(2, Math.min(plotW + 2, x1) - Math.max(-2, x0)) + 1, hit.h - 1);
      ctx.lineWidth = 1;
    }
  }

  /**
   * The time axis: ticks along the top, and under them the marks' flags in rows (see
   * layoutMarks), each flag a label as long as its text; a cut label ends in an ellipsis
   * (hovering shows the whole text, and the Marks tab lists them all).
   */
  drawAxis(scene, plotW, marks) {
    const { ctx } = this;
    const { viewport: vp } = scene;
    const axisPx = this.axisPx;
    ctx.fillStyle = THEME.axisBg;
    ctx.fillRect(0, 0, this.cssWidth, axisPx);
    ctx.fillStyle = THEME.gutterLine;
    ctx.fillRect(0, axisPx - 1, this.cssWidth, 1);
    ctx.save();
    ctx.beginPath();
    ctx.rect(GUTTER_PX, 0, plotW, axisPx);
    ctx.clip();
    ctx.translate(GUTTER_PX, 0);
    const { step, ticks } = niceTicks(vp.t0, vp.t1, plotW);
    ctx.font = THEME.fontSmall;
    ctx.textBaseline = 'middle';
    ctx.fillStyle = THEME.axisText;
    for (const t of ticks) {
      const x = Math.round(vp.timeToX(t)) + 0.5;
      ctx.fillRect(x - 0.5, 0, 1, 5);
      ctx.fillText(formatTick(t, step, vp.t1), x + 3, 9);
    }
    this.markBoxes.length = 0;
    ctx.fillStyle = THEME.mark;
    for (const { x } of marks.items) if (x >= -2 && x <= plotW + 2) ctx.fillRect(Math.round(x), MARK_TOP_PX, 1.5, axisPx - MARK_TOP_PX);
    for (const item of marks.items) {
      const y = MARK_TOP_PX + item.row * MARK_ROW_PX;
      // A label whose mark is left of the view stays readable from the left edge.
      const lx = item.lx < 0 && item.lx + item.w > 40 ? 0 : item.lx;
      const room = Math.min(item.lx + item.w, plotW) - lx;
      if (room <= 0 || lx > plotW) continue;
      const text = room >= 20 ? fitText(ctx, item.mark.label, room - 8) : '';
      const w = text ? Math.min(room, ctx.measureText(text).width + 8) : room;
      ctx.fillStyle = THEME.mark;
      ctx.fillRect(lx, y, w, MARK_ROW_PX - 1);
      // A label moved left of its mark (at the right edge) keeps a notch under its flag.
      if (lx < item.x && item.x <= plotW) ctx.fillRect(Math.round(item.x) - 1, y + MARK_ROW_PX - 3, 3.5, 2);
      if (text) {
        ctx.fillStyle = '#1a1400';
        ctx.fillText(text, lx + 4, y + 7);
      }
      this.markBoxes.push({ x: lx + GUTTER_PX, y, w: Math.max(w, 4), h: MARK_ROW_PX - 1, mark: item.mark, index: item.index, full: text === item.mark.label });
    }
    this.drawSnapshotMarkers(scene, plotW);
    ctx.fillStyle = THEME.axisText;
    ctx.restore();
    // Corner: the visible span.
    ctx.fillStyle = THEME.gutterBg;
    ctx.fillRect(0, 0, GUTTER_PX, axisPx - 1);
    ctx.fillStyle = THEME.textDim;
    ctx.font = THEME.fontSmall;
    ctx.fillText(`span ${formatDuration(vp.t1 - vp.t0)}`, 8, 9);
    if (marks.items.length) ctx.fillText('marks', 8, MARK_TOP_PX + 7);
  }

  drawGutter(scene, j0, j1, laneTop, H) {
    const { ctx } = this;
    const { lanes } = scene.lanes;
    const { model } = scene;
    const sel = scene.options.selectedTask;
    ctx.save();
    ctx.beginPath();
    ctx.rect(0, this.axisPx, GUTTER_PX, H - this.axisPx);
    ctx.clip();
    ctx.fillStyle = THEME.gutterBg;
    ctx.fillRect(0, this.axisPx, GUTTER_PX, H - this.axisPx);
    ctx.textBaseline = 'middle';
    for (let j = j0; j < j1; j++) {
      const lane = lanes[j];
      const y = laneTop(j);
      const mid = y + lane.height / 2 + 0.5;
      if (lane.kind === 'header') {
        ctx.fillStyle = THEME.headerBg;
        ctx.fillRect(0, y, GUTTER_PX, lane.height);
        ctx.fillStyle = THEME.headerText;
        ctx.font = 'bold 10px system-ui, sans-serif';
        ctx.fillText(lane.title.toUpperCase(), 8, mid);
        continue;
      }
      if (lane.height < 10) {
        if (lane.kind === 'task' || lane.kind === 'group') {
          ctx.fillStyle = taskColor(lane.kind === 'task' ? lane.task : lane.site.tasks[0]);
          ctx.fillRect(GUTTER_PX - 6, y + 1, 4, lane.height - 2);
        }
        continue;
      }
      if (lane.kind === 'task' && lane.task.index === sel) {
        ctx.fillStyle = THEME.laneSelected;
        ctx.fillRect(0, y, GUTTER_PX, lane.height);
      }
      ctx.font = THEME.font;
      if (lane.kind === 'thread') {
        const w = lane.thread;
        const badge = w.kind === 'worker' ? 'W' : w.kind === 'blocking' ? 'B' : 'T';
        ctx.fillStyle = w.kind === 'blocking' ? '#b98cff' : w.kind === 'worker' ? '#4e9cff' : '#8b93a3';
        ctx.fillRect(8, y + 5, 14, lane.height - 10);
        ctx.fillStyle = '#0d0f13';
        ctx.font = 'bold 9px system-ui, sans-serif';
        ctx.fillText(badge, 11.5, mid);
        ctx.font = THEME.font;
        ctx.fillStyle = THEME.text;
        ctx.fillText(fitText(ctx, w.name, GUTTER_PX - 38), 28, mid);
      } else if (lane.kind === 'probe') {
        const probe = lane.probe;
        const x = 12 + Math.min(4, lane.depth || 0) * 10;
        ctx.fillStyle = THEME.textDim;
        const idText = probe.ended ? probe.label : 'live';
        const idW = ctx.measureText(idText).width;
        ctx.fillText(idText, GUTTER_PX - idW - 8, mid);
        ctx.fillStyle = probe.ended ? THEME.textDim : THEME.text;
        ctx.fillText(fitText(ctx, `${lane.depth ? '└ ' : ''}${probe.name || `future ${probe.id}`}`, GUTTER_PX - idW - x - 14), x, mid);
      } else if (lane.kind === 'group') {
        const site = lane.site;
        ctx.fillStyle = taskColor(site.tasks[0]);
        ctx.fillRect(4, y + 3, 3, lane.height - 6);
        ctx.fillStyle = THEME.textDim;
        ctx.fillText(scene.options.expandedSites?.has(site.key) ? '▾' : '▸', 11, mid);
        ctx.fillStyle = THEME.text;
        ctx.fillText(fitText(ctx, siteTitle(site), GUTTER_PX - 36), 22, mid);
      } else if (lane.kind === 'driver') {
        ctx.fillStyle = THEME.wakeDriver;
        ctx.font = THEME.fontSmall;
        ctx.fillText(model.meta.unknownWaker ? '⏱ wakes, waker not recorded' : '⏱ driver wakes (timer, I/O)', 8, mid);
      } else if (lane.kind === 'sampled') {
        ctx.font = THEME.fontSmall;
        ctx.fillStyle = THEME.textDim;
        ctx.fillText('└', 12, mid);
        ctx.fillStyle = THEME.snapshot;
        ctx.fillText(fitText(ctx, `sampled · ${lane.task.samples.length} snapshot${lane.task.samples.length === 1 ? '' : 's'}`, GUTTER_PX - 40), 22, mid);
      } else if (lane.kind === 'future') {
        const row = lane.pack.rows[lane.row];
        const x = 22 + Math.min(5, row.depth) * 9;
        const last = lane.task.probes.get(row.ids[row.ids.length - 1]);
        ctx.font = THEME.fontSmall;
        const more = row.ids.length > 1 ? `×${row.ids.length}` : '';
        const moreW = more ? ctx.measureText(more).width : 0;
        ctx.fillStyle = THEME.textDim;
        if (more) ctx.fillText(more, GUTTER_PX - moreW - 8, mid);
        ctx.fillText('└', x - 10, mid);
        ctx.fillStyle = last && !last.ended ? THEME.text : THEME.textDim;
        ctx.fillText(fitText(ctx, row.name, GUTTER_PX - moreW - x - 14), x, mid);
      } else {
        const task = lane.task;
        ctx.fillStyle = taskColor(task);
        ctx.fillRect(4, y + 3, 3, lane.height - 6);
        const activity = model.taskActivity(task);
        const idText = `#${task.id}`;
        ctx.fillStyle = THEME.textDim;
        const idW = ctx.measureText(idText).width;
        ctx.fillText(idText, GUTTER_PX - idW - 8, mid);
        let nameX = lane.site ? 20 : 12; // a task of an opened spawn site's lane, indented
        if ((task.probes.size || task.samples) && scene.options.futuresOpen) {
          // The toggle of the task's future rows (click it, or press o with the task selected).
          ctx.fillStyle = THEME.textDim;
          ctx.fillText(scene.options.futuresOpen(task) ? '▾' : '▸', nameX - 1, mid);
          nameX += 10;
        }
        ctx.fillStyle = activity === 'done' ? THEME.textDim : THEME.text;
        ctx.fillText(fitText(ctx, task.label, GUTTER_PX - idW - nameX - 14), nameX, mid);
      }
    }
    ctx.fillStyle = THEME.gutterLine;
    ctx.fillRect(GUTTER_PX - 1, this.axisPx, 1, H - this.axisPx);
    ctx.restore();
  }

  drawScrollbar(scene, W, plotH) {
    const total = scene.lanes.height;
    if (total <= plotH) return;
    const { ctx } = this;
    const h = Math.max(24, (plotH * plotH) / total);
    const y = this.axisPx + (scene.scrollY / (total - plotH)) * (plotH - h);
    ctx.fillStyle = 'rgba(255,255,255,0.18)';
    ctx.fillRect(W - 6, y, 4, h);
  }
}

/** A spawn site lane's title: "202 tasks @ server.rs:259:13" (blocking tasks say so). */
export function siteTitle(site) {
  const file = String(site.loc).split('/').pop();
  return `${site.tasks.length} ${site.kind === 'task' ? 'tasks' : `${site.kind} tasks`} @ ${file}`;
}

/** Colours of the overview rows (run 1, run 2 when comparing). */
export const OVERVIEW_COLORS = ['#4e9cff', '#f0a03c'];

/**
 * Paints the overview strip: for each row (a run) its activity histogram as an area over
 * the whole run, long polls as red ticks, marks, time ticks, and the timeline's visible
 * window as a bright rectangle with the rest dimmed. The plot starts at GUTTER_PX like the
 * timeline's, so both line up; times map through one OverviewScale.
 */
export class OverviewRenderer {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
  }

  resize(cssWidth, cssHeight, dpr) {
    sizeBackingStore(this, cssWidth, cssHeight, dpr);
  }

  /**
   * scene: {scale: OverviewScale, rows: [{label, sub, busy: Float32Array, max, histEnd,
   * color, endT, stalls: [[s, e]], marks: [{t}]}], window: {t0, t1} | null, live: bool}
   */
  render(scene) {
    const { ctx } = this;
    const W = this.cssWidth;
    const H = this.cssHeight;
    clearFrame(this);
    const { scale, rows } = scene;
    const TICKS_PX = 13;
    const rowH = rows.length ? (H - TICKS_PX - 2) / rows.length : 0;
    let max = 0;
    for (const r of rows) max = Math.max(max, r.max);
    ctx.save();
    ctx.beginPath();
    ctx.rect(GUTTER_PX, 0, W - GUTTER_PX, H);
    ctx.clip();

    // Time ticks along the top (none before there is a run to show).
    const { step, ticks } = rows.length ? niceTicks(0, scale.tEnd, scale.widthPx, 110) : { step: 1, ticks: [] };
    ctx.font = THEME.fontSmall;
    ctx.textBaseline = 'middle';
    for (const t of ticks) {
      const x = Math.round(scale.timeToX(t)) + 0.5;
      ctx.fillStyle = THEME.grid;
      ctx.fillRect(x - 0.5, TICKS_PX, 1, H - TICKS_PX);
      ctx.fillStyle = THEME.textDim;
      ctx.fillText(formatTick(t, step, scale.tEnd), x + 3, TICKS_PX / 2 + 0.5);
    }

    rows.forEach((row, k) => {
      const top = TICKS_PX + 1 + k * rowH;
      const base = top + rowH - 1;
      if (k % 2 === 1) {
        ctx.fillStyle = 'rgba(255,255,255,0.025)';
        ctx.fillRect(GUTTER_PX, top, W - GUTTER_PX, rowH);
      }
      // Activity: one column per bin, heights against the largest value of all rows.
      // The histogram may be from a moment ago (live runs): its bins cover [0, histEnd].
      const bins = row.busy.length;
      const binNs = (row.histEnd || scale.tEnd) / bins;
      const colW = (binNs / scale.tEnd) * scale.widthPx;
      const area = new Path2D();
      const caps = new Path2D(); // a brighter top edge, so the shape reads at a glance
      for (let b = 0; b < bins; b++) {
        const v = row.busy[b];
        if (!(v > 0)) continue;
        const h = Math.max(1, (v / (max || 1)) * (rowH - 4));
        const x = scale.timeToX(b * binNs);
        area.rect(x, base - h, Math.max(1, colW), h);
        caps.rect(x, base - h, Math.max(1, colW), Math.min(h, 1.5));
      }
      ctx.fillStyle = hexAlpha(row.color, 0.38);
      ctx.fill(area);
      ctx.fillStyle = row.color;
      ctx.fill(caps);
      // Long polls: red ticks along the bottom of the row.
      ctx.fillStyle = THEME.stall;
      for (const [s, e] of row.stalls || []) {
        const x0 = scale.timeToX(s);
        ctx.fillRect(x0, base - 3, Math.max(2, scale.timeToX(e) - x0), 3);
      }
      ctx.fillStyle = THEME.mark;
      for (const m of row.marks || []) ctx.fillRect(Math.round(scale.timeToX(m.t)), top, 1, rowH);
      // Where the row's run ends, when runs of different lengths share the strip.
      if (row.endT < scale.tEnd * 0.995) {
        const x = scale.timeToX(row.endT);
        ctx.fillStyle = 'rgba(0,0,0,0.25)';
        ctx.fillRect(x, top, W - x, rowH);
      }
    });

    // The visible window: everything else dimmed, the window outlined with grips.
    const win = scene.window;
    if (win) {
      const x0 = Math.max(GUTTER_PX - 1, scale.timeToX(win.t0));
      const x1 = Math.min(W + 1, scale.timeToX(win.t1));
      ctx.fillStyle = 'rgba(8,10,14,0.55)';
      ctx.fillRect(GUTTER_PX, TICKS_PX, Math.max(0, x0 - GUTTER_PX), H - TICKS_PX);
      ctx.fillRect(x1, TICKS_PX, Math.max(0, W - x1), H - TICKS_PX);
      ctx.fillStyle = 'rgba(78,156,255,0.10)';
      ctx.fillRect(x0, TICKS_PX, Math.max(1, x1 - x0), H - TICKS_PX);
      ctx.strokeStyle = '#9fd0ff';
      ctx.lineWidth = 1.5;
      ctx.strokeRect(x0 + 0.75, TICKS_PX + 0.75, Math.max(1, x1 - x0 - 1.5), H - TICKS_PX - 1.5);
      ctx.lineWidth = 1;
      ctx.fillStyle = '#9fd0ff';
      const gy = TICKS_PX + (H - TICKS_PX) / 2 - 6;
      ctx.fillRect(x0 - 1, gy, 3, 12);
      ctx.fillRect(x1 - 2, gy, 3, 12);
    }
    if (scene.live && rows.length) {
      const x = Math.round(scale.timeToX(rows[0].endT)) + 0.5;
      ctx.strokeStyle = THEME.now;
      ctx.beginPath();
      ctx.moveTo(x, TICKS_PX);
      ctx.lineTo(x, H);
      ctx.stroke();
    }
    ctx.restore();

    // Gutter: what each row is.
    ctx.fillStyle = THEME.gutterBg;
    ctx.fillRect(0, 0, GUTTER_PX, H);
    ctx.fillStyle = THEME.gutterLine;
    ctx.fillRect(GUTTER_PX - 1, 0, 1, H);
    ctx.fillRect(0, H - 1, W, 1);
    ctx.textBaseline = 'middle';
    ctx.font = 'bold 10px system-ui, sans-serif';
    ctx.fillStyle = THEME.headerText;
    ctx.fillText('OVERVIEW', 8, TICKS_PX / 2 + 1);
    rows.forEach((row, k) => {
      const mid = TICKS_PX + 1 + k * rowH + rowH / 2;
      ctx.fillStyle = row.color;
      ctx.fillRect(8, mid - 4, 3, 8);
      ctx.font = THEME.fontSmall;
      ctx.fillStyle = THEME.text;
      const sub = row.sub ? ` ${row.sub}` : '';
      const label = fitText(ctx, `${row.label}${sub}`, GUTTER_PX - 24);
      ctx.fillText(label, 16, mid + 0.5);
    });
  }
}

/** A lint's extent on the timeline in plot x: [since or t, t], at least 3 px wide. */
export function lintSpan(lint, vp) {
  const x0 = vp.timeToX(lint.since ?? lint.t);
  return { x0, x1: Math.max(vp.timeToX(lint.t), x0 + 3) };
}

/** `text` shortened with an ellipsis to fit `maxWidth` px in the current font. */
export function fitText(ctx, text, maxWidth) {
  if (maxWidth <= 0) return '';
  if (ctx.measureText(text).width <= maxWidth) return text;
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (ctx.measureText(`${text.slice(0, mid)}…`).width <= maxWidth) lo = mid;
    else hi = mid - 1;
  }
  return lo > 0 ? `${text.slice(0, lo)}…` : '';
}

/** '#rrggbb' with an alpha as an rgba() string. */
export function hexAlpha(hex, alpha) {
  const v = parseInt(hex.slice(1), 16);
  return `rgba(${(v >> 16) & 255},${(v >> 8) & 255},${v & 255},${alpha})`;
}

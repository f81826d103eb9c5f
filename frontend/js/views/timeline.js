// views/timeline.js — the interactive timeline: owns the canvas, the Viewport and the
// vertical scroll, turns wheel / drag / hover / click into view changes, keeps the right
// edge at the newest event while following a live run, and shows the hover tooltip.
//
// Painting is draw.js's, geometry is layout.js's, figures are model.js's. It tells the
// app about a clicked task through `onSelectTask`; what the panels show is the app's.
// Two views can share one Viewport (comparing runs on one time axis): `viewport` and
// `fitEnd` are then passed in, and `onViewChange` lets the other view redraw.
// It is also the overview strip's target (views/overview.js): setView, zoomAtTime,
// overviewRows.
//
// Input is cheap per event: wheel and drag only change the Viewport and request a frame;
// the hover (hit test, tooltip) is worked out once per animation frame, and not at all
// while the wheel turns or a drag is under way (the tooltip is hidden until the input
// rests for HOVER_REST_MS). The canvas's page position is cached (re-read on resize,
// scroll and when the pointer enters), so no event handler forces a layout.
//
// The live edge: events reach the page in batches, and none come while, say, a worker is
// stuck in a blocking poll. So while a run streams in (and the page is not paused), "now"
// is the last event's time plus the wall time since that batch arrived (`nowT`), capped
// at LIVE_EDGE_MAX_NS ahead, and the view is redrawn a few times a second: an open poll
// and open scheduled time grow on screen as they do in the program. When the run ends,
// "now" is the last event's time again.

import { Viewport, buildLanes, laneAtY, sliceAt, siteAt, lowerBound, MIN_NS_PER_PX, MAX_NS_PER_PX } from '../layout.js';
import { TimelineRenderer, RedrawScheduler, GUTTER_PX, taskColor, lintSpan, lowerBoundIndexed, OVERVIEW_COLORS, siteTitle } from '../draw.js';
import { OPEN, isRuntimeWorker } from '../model.js';
import { probeSegments, probeStateAt, probeAtRow, countAt, cancelNotes, ROOTS, SEG_NAMES } from '../futures.js';
import { updateSamples, sampleLabel, sampleNear } from '../sampled.js';
import { TimelineText } from './timeline-text.js';
import { formatDuration, formatTime, formatCount } from '../units.js';
import { escapeHtml } from './dom.js';
import { causeTipHtml } from './poll-cause-view.js';

/** How far the live edge may run ahead of the last event (a stalled stream stops it). */
export const LIVE_EDGE_MAX_NS = 10e9;
/** Redraw period while only the live edge moves (no new events). */
const LIVE_TICK_MS = 50;
/** After the last wheel event, the hover comes back after this long. */
const HOVER_REST_MS = 150;
/** A wake marker, tick or arrow this close (CSS px) to the pointer wins over what is under it. */
const WAKE_HIT_PX = 4;

/** Distance from (x, y) to the wake arrow `e` drawn by draw.js (a cubic curve), in px. */
function distanceToEdge(e, x, y) {
  let best = Infinity;
  const x2 = e.x1 - 1;
  for (let k = 0; k <= 24; k++) {
    const u = k / 24;
    const a = (1 - u) ** 3;
    const b = 3 * (1 - u) ** 2 * u;
    const c = 3 * (1 - u) * u * u;
    const d = u ** 3;
    const px = a * e.x0 + b * e.mx + c * e.mx + d * x2;
    const py = a * e.y0 + b * e.y0 + c * e.y1 + d * e.y1;
    best = Math.min(best, Math.hypot(px - x, py - y));
  }
  return best;
}

export class TimelineView {
  constructor({ wrap, canvas, tooltip, onSelectTask, onSelectProbe, onSelectSnapshot, onViewChange, onDrawn, viewport, fitEnd, defaultOpenFutures }) {
    this.wrap = wrap;
    this.canvas = canvas;
    this.tooltip = tooltip;
    this.onSelectTask = onSelectTask || (() => {});
    this.onSelectProbe = onSelectProbe || (() => {}); // a probe lane outside any task was clicked
    this.onSelectSnapshot = onSelectSnapshot || (() => {}); // (index into model.snapshots, task id | null)
    this.canvasRect = null; // cached canvas.getBoundingClientRect()
    this.pendingHover = null; // the pointer position to hit-test in the next frame
    this.wheelUntil = 0; // performance.now() until which the wheel counts as turning
    this.hoverTimer = null;
    this.tooltipHtmlShown = null;
    this.tooltipSize = null; // {w, h} of the tooltip with tooltipHtmlShown
    this.onViewChange = onViewChange || (() => {});
    this.onDrawn = onDrawn || (() => {});
    this.renderer = new TimelineRenderer(canvas);
    this.viewport = viewport || new Viewport(800, 0, 1e5);
    this.fitEnd = fitEnd || null; // () -> the time "fit" shows up to, when not this model's end
    this.scheduler = new RedrawScheduler(() => this.draw());
    this.model = null;
    this.lanes = { lanes: [], height: 0, taskLaneByIndex: new Int32Array(0), threadLaneByIndex: new Map(), driverLane: -1 };
    this.lanesVersion = -1;
    this.scrollY = 0;
    this.follow = true;
    this.autoFit = true; // until the user zooms, following shows the whole run
    this.live = false;
    this.options = { wakeEdges: true, stateStrip: false, stallNs: 10e6, selectedTask: -1, hover: null, hit: null, live: false };
    // Future rows: open for the tasks the scenario names (`defaultOpenFutures(model)` -> task
    // names), or as the user chose per task (`futureOverrides`: task index -> bool), or all /
    // none after "open all" / "close all" (`futuresAll`).
    this.defaultOpenFutures = defaultOpenFutures || (() => []);
    this.futureDefaults = new Set();
    this.futureOverrides = new Map();
    this.futuresAll = null;
    this.options.futuresOpen = (task) => this.futuresOpen(task);
    this.options.selectedFuture = null;
    // Spawn sites' lanes (layout.js): grouped when `groupSites` is on; the keys of the sites
    // whose task lanes are shown under them.
    this.options.expandedSites = new Set();
    this.laneOptions = { hidden: new Set(), collapsed: new Set(), collapseTasks: false, filter: '', futuresOpen: this.options.futuresOpen, groupSites: false, expandedSites: this.options.expandedSites };
    this.text = new TimelineText(this);
    this.futuresButton = this.makeFuturesButton();
    this.drag = null;
    this.emptyText = undefined;
    this.liveAnchor = null; // {wall: performance.now() ms, t: model time} at the latest batch
    this.frozen = false; // paused: the live edge stops where it is
    this.liveTimer = null;
    this.bindInput();
    this.observeSize();
  }

  observeSize() {
    const apply = () => {
      const r = this.wrap.getBoundingClientRect();
      this.canvasRect = null;
      this.renderer.resize(r.width, r.height, window.devicePixelRatio || 1);
      this.canvas.style.width = `${r.width}px`;
      this.canvas.style.height = `${r.height}px`;
      const before = this.viewport.widthPx;
      this.viewport.widthPx = Math.max(50, r.width - GUTTER_PX);
      if (this.autoFit && before !== this.viewport.widthPx) this.fitAll(false);
      this.clampScroll();
      this.requestRedraw();
    };
    new ResizeObserver(apply).observe(this.wrap);
    window.addEventListener('resize', () => (this.canvasRect = null));
    window.addEventListener('scroll', () => (this.canvasRect = null), true);
    window.matchMedia?.(`(resolution: ${window.devicePixelRatio}dppx)`).addEventListener?.('change', apply);
    apply();
  }

  setModel(model, { live = false } = {}) {
    this.model = model;
    this.options.expandedSites.clear();
    this.futureDefaults = new Set(model ? this.defaultOpenFutures(model) || [] : []);
    this.futureOverrides.clear();
    this.futuresAll = null;
    this.options.selectedFuture = null;
    this.live = live;
    this.liveAnchor = null;
    this.options.selectedTask = -1;
    this.options.hover = null;
    this.options.hit = null;
    this.lanesVersion = -1;
    this.scrollY = 0;
    this.follow = true;
    this.autoFit = true;
    this.hideTooltip();
    this.refresh();
    this.fitAll(false);
  }

  /** Call after the model ingested events. */
  refresh() {
    if (!this.model) {
      this.requestRedraw();
      return;
    }
    if (this.live) this.liveAnchor = { wall: performance.now(), t: this.model.endT };
    this.rebuildLanes();
    this.followLiveEdge();
    this.requestRedraw();
  }

  /** "Now" on the timeline: the live edge while a run streams in, else the last event's time. */
  nowT() {
    const m = this.model;
    if (!m) return 0;
    if (!this.live || !this.liveAnchor) return m.endT;
    if (this.frozen) return Math.max(m.endT, this.frozenNow ?? 0);
    const ahead = this.liveAnchor.t + (performance.now() - this.liveAnchor.wall) * 1e6;
    return Math.max(m.endT, Math.min(ahead, m.endT + LIVE_EDGE_MAX_NS));
  }

  /** Pauses (or resumes) the live edge with the page's pause. */
  setFrozen(frozen) {
    if (frozen === this.frozen) return;
    if (frozen) this.frozenNow = this.nowT(); // stands still where it was
    else if (this.liveAnchor) this.liveAnchor = { wall: performance.now(), t: this.nowT() };
    this.frozen = frozen;
    this.requestRedraw();
  }

  /** Run ended (or went offline): "now" is the last event again. */
  setLive(live) {
    this.live = live;
    if (!live) this.liveAnchor = null;
    this.refresh();
  }

  followLiveEdge() {
    const now = this.nowT();
    if (!this.follow || now <= 0) return;
    if (this.autoFit) this.fitAll(false);
    else if (this.live) this.viewport.alignRight(now + this.viewport.nsPerPx * 20);
  }

  rebuildLanes() {
    const m = this.model;
    // Open future rows grow with every `state` event.
    const futures = this.futuresAll === false && !this.futureOverrides.size ? 0 : m.stateEvents;
    // Snapshots give tasks sampled rows (sampled.js).
    const sampled = updateSamples(m);
    const key = `${m.taskList.length}/${m.threadList.length}/${m.driverWakes.length > 0}/${m.outside.probes.size}/${futures}/${m.polls}/${m.snapshots.length}/${sampled}`;
    if (key === this.lanesKey && !this.lanesDirty) return;
    this.lanesKey = key;
    this.lanesDirty = false;
    this.lanes = buildLanes(m, this.laneOptions);
    this.clampScroll();
    this.updateFuturesButton();
  }

  setLaneOptions(patch) {
    Object.assign(this.laneOptions, patch);
    this.lanesDirty = true;
    if (this.model) this.rebuildLanes();
    this.requestRedraw();
  }

  toggleLaneCollapsed(key) {
    const c = this.laneOptions.collapsed;
    if (c.has(key)) c.delete(key);
    else c.add(key);
    this.setLaneOptions({});
  }

  /** Shows or hides the task lanes of spawn site `key` under its lane (`open` omitted: toggles). */
  toggleSite(key, open) {
    const sites = this.options.expandedSites;
    if (open ?? !sites.has(key)) sites.add(key);
    else sites.delete(key);
    this.setLaneOptions({});
    this.onViewChange();
  }

  /** Whether task `task`'s future rows are open. */
  futuresOpen(task) {
    const o = this.futureOverrides.get(task.index);
    if (o !== undefined) return o;
    if (this.futuresAll !== null) return this.futuresAll;
    return this.futureDefaults.has(task.name);
  }

  /** Opens or closes the future rows of task index `ti` (`open` omitted: toggles). */
  toggleFutures(ti, open) {
    const task = this.model && this.model.taskList[ti];
    if (!task) return;
    this.futureOverrides.set(ti, open ?? !this.futuresOpen(task));
    this.setLaneOptions({});
    this.onViewChange();
  }

  /** Opens (or closes) every task's future rows. */
  setAllFutures(open) {
    this.futuresAll = open;
    this.futureOverrides.clear();
    this.setLaneOptions({});
    this.onViewChange();
  }

  /** The "open all / close all" control of future rows, over the corner left of the axis. */
  makeFuturesButton() {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'futures-all';
    b.hidden = true;
    Object.assign(b.style, { position: 'absolute', left: `${GUTTER_PX - 92}px`, top: '7px', width: '84px', height: '20px', font: '10px system-ui, sans-serif', padding: '0 4px', zIndex: '2' });
    b.addEventListener('click', () => this.setAllFutures(!this.anyFuturesOpen()));
    this.wrap.append(b);
    return b;
  }

  updateFuturesButton() {
    const b = this.futuresButton;
    const has = Boolean(this.model && this.model.taskList.some((t) => t.probes.size || t.samples));
    if (b.hidden === has) b.hidden = !has;
    if (!has) return;
    const open = this.anyFuturesOpen();
    const text = open ? '▾ close futures' : '▸ open futures';
    if (b.textContent !== text) {
      b.textContent = text;
      b.title = open ? 'Close every task’s future rows (O)' : 'Open every task’s future rows (O); o opens the selected task’s';
      b.setAttribute('aria-label', open ? 'Close all future rows' : 'Open all future rows');
    }
  }

  /** True when any task lane with probe futures has its rows open. */
  anyFuturesOpen() {
    if (!this.model) return false;
    return this.lanes.lanes.some((l) => l.kind === 'future');
  }

  /**
   * The future rows as laid out (what draw.js paints): [{task (id), row, name, futures: [{id,
   * name, segments: [{kind, s, e, label}], end: {label, t, at} | null, notes}]}]. Open
   * segments end at "now". For tests and the text alternative.
   */
  futureRows() {
    const out = [];
    const now = this.nowT();
    for (const lane of this.lanes.lanes) {
      if (lane.kind !== 'future') continue;
      const row = lane.pack.rows[lane.row];
      const futures = row.ids.map((id) => {
        const p = lane.task.probes.get(id);
        const segs = probeSegments(lane.task, p);
        const segments = [];
        for (let i = 0; i < segs.n; i++) segments.push({ kind: SEG_NAMES[segs.kind[i]], s: segs.s[i], e: Math.min(segs.e[i], Math.max(now, segs.s[i])), label: segs.label[i] });
        const end = segs.endLabel ? { label: segs.endLabel, t: segs.tEnd, at: segs.atLabel } : null;
        return { id, name: p.name, parent: p.parent, segments, end, notes: cancelNotes(this.model, lane.task, p).map((m) => m.label) };
      });
      out.push({ task: lane.task.id, taskName: lane.task.name, row: lane.row, name: row.name, depth: row.depth, futures });
    }
    return out;
  }

  /**
   * The sampled rows as laid out: [{task (id), taskName, samples: [{t, index, reason, state,
   * label}]}] (sampled.js). For tests and the text alternative.
   */
  sampledRows() {
    return this.lanes.lanes
      .filter((l) => l.kind === 'sampled')
      .map((l) => ({ task: l.task.id, taskName: l.task.name, samples: l.task.samples.map((s) => ({ t: s.t, index: s.index, reason: s.reason, state: s.state, label: sampleLabel(s) })) }));
  }

  fitAll(redraw = true) {
    const end = this.fitEnd ? Math.max(this.fitEnd(), 1000) : this.model ? Math.max(this.nowT(), 1000) : 1e9;
    // A retention window shows from its start: what came before was evicted.
    const start = this.fitEnd ? 0 : Math.min(this.model?.windowStart || 0, end);
    this.viewport.fit(start, start + (end - start) * 1.02);
    if (redraw) {
      this.autoFit = true;
      this.follow = true;
      this.requestRedraw();
      this.onViewChange();
    }
  }

  /** Shows time `t` in the middle without changing the zoom, and stops following. */
  jumpTo(t, spanNs) {
    if (spanNs) this.viewport.fit(0, spanNs);
    const half = (this.viewport.widthPx / 2) * this.viewport.nsPerPx;
    // Centre on `t`, but do not show much of the empty time before the run started.
    this.viewport.t0 = Math.max(t - half, -0.02 * half * 2);
    this.follow = false;
    this.autoFit = false;
    this.requestRedraw();
    this.onViewChange();
  }

  /** Scrolls vertically so the lane of task index `ti` is visible. */
  revealTask(ti) {
    let j = this.lanes.taskLaneByIndex[ti];
    if (j == null || j < 0) return;
    let lane = this.lanes.lanes[j];
    if (lane.kind === 'group') {
      // A task of a closed spawn site's lane: open the site to show it.
      this.toggleSite(lane.site.key, true);
      j = this.lanes.taskLaneByIndex[ti];
      lane = this.lanes.lanes[j];
    }
    const viewH = this.plotHeight();
    if (lane.y < this.scrollY || lane.y + lane.height > this.scrollY + viewH) {
      this.scrollY = lane.y - viewH / 3;
      this.clampScroll();
    }
    this.requestRedraw();
  }

  zoom(factor, x = null) {
    const anchor = x ?? (this.follow && this.live ? this.viewport.widthPx : this.viewport.widthPx / 2);
    this.viewport.zoomAt(anchor, factor);
    this.autoFit = false;
    this.requestRedraw();
    this.onViewChange();
  }

  /** Shows from `t0` at `nsPerPx` (the overview strip's scrubbing), and stops following. */
  setView(t0, nsPerPx) {
    this.viewport.nsPerPx = Math.min(MAX_NS_PER_PX, Math.max(MIN_NS_PER_PX, nsPerPx));
    this.viewport.t0 = t0;
    this.follow = false;
    this.autoFit = false;
    this.requestRedraw();
    this.onViewChange();
  }

  /** Zooms by `factor` keeping time `t` where it is on screen (or centred, when off screen). */
  zoomAtTime(t, factor) {
    const x = this.viewport.timeToX(t);
    if (x < 0 || x > this.viewport.widthPx) this.viewport.t0 = t - (this.viewport.widthPx / 2) * this.viewport.nsPerPx;
    this.zoom(factor, Math.min(this.viewport.widthPx, Math.max(0, this.viewport.timeToX(t))));
  }

  /** The overview strip's rows: this run's activity. */
  overviewRows() {
    if (!this.model) return [];
    const label = this.model.threadList.length ? 'threads busy' : 'tasks polling';
    return [{ model: this.model, label, sub: '', color: OVERVIEW_COLORS[0], now: this.nowT() }];
  }

  pan(dxPx) {
    this.viewport.panByPx(dxPx);
    this.follow = false;
    this.autoFit = false;
    this.requestRedraw();
    this.onViewChange();
  }

  scrollBy(dy) {
    this.scrollY += dy;
    this.clampScroll();
    this.requestRedraw();
  }

  setFollow(on) {
    this.follow = on;
    if (on) this.refresh();
    this.onViewChange();
  }

  selectTask(index) {
    const f = this.options.selectedFuture;
    if (f != null && !(this.model && index >= 0 && this.model.taskList[index] && this.model.taskList[index].probes.has(f))) this.options.selectedFuture = null;
    this.options.selectedTask = index;
    this.requestRedraw();
  }

  /** Sets one drawing option (wakeEdges, stateStrip, stallNs, selectedProbe) and redraws. */
  setOption(key, value) {
    this.options[key] = value;
    this.requestRedraw();
  }

  plotHeight() {
    return Math.max(0, (this.renderer.cssHeight || 0) - this.renderer.axisPx);
  }

  clampScroll() {
    const max = Math.max(0, this.lanes.height - this.plotHeight());
    this.scrollY = Math.min(max, Math.max(0, this.scrollY));
  }

  requestRedraw() {
    this.scheduler.request();
  }

  draw() {
    this.options.live = this.live;
    if (this.pendingHover) this.applyHover();
    const ticking = Boolean(this.model && this.live && !this.frozen && this.liveAnchor && this.nowT() < this.model.endT + LIVE_EDGE_MAX_NS);
    if (ticking) this.followLiveEdge();
    this.renderer.render({
      model: this.model,
      viewport: this.viewport,
      lanes: this.lanes,
      scrollY: this.scrollY,
      nowT: this.nowT(),
      options: this.options,
      emptyText: this.emptyText,
    });
    this.onDrawn();
    this.text.schedule();
    // While live, the edge moves without new events: draw again in a moment.
    if (ticking && !this.liveTimer) {
      this.liveTimer = setTimeout(() => {
        this.liveTimer = null;
        this.requestRedraw();
      }, LIVE_TICK_MS);
    }
  }

  // ---- input -------------------------------------------------------------------------

  localPoint(ev) {
    const r = (this.canvasRect ||= this.canvas.getBoundingClientRect());
    return { x: ev.clientX - r.left, y: ev.clientY - r.top };
  }

  bindInput() {
    const c = this.canvas;
    c.addEventListener(
      'wheel',
      (ev) => {
        if (!this.model) return;
        ev.preventDefault();
        const p = this.localPoint(ev);
        const scale = ev.deltaMode === 1 ? 33 : ev.deltaMode === 2 ? 400 : 1;
        const dx = ev.deltaX * scale;
        const dy = ev.deltaY * scale;
        if (ev.shiftKey) {
          this.scrollBy(dy || dx);
        } else if (Math.abs(dx) > Math.abs(dy)) {
          this.pan(-dx);
        } else if (p.x < GUTTER_PX) {
          this.scrollBy(dy);
        } else {
          const x = this.follow && this.live ? this.viewport.widthPx : p.x - GUTTER_PX;
          this.zoom(Math.exp(-dy * 0.0018), x);
        }
        this.wheelTurning(p);
      },
      { passive: false },
    );
    c.addEventListener('mousedown', (ev) => {
      // preventDefault below keeps the focus where it was: take it out of a text field
      // (the task filter, say), so the keyboard shortcuts work again after a click here.
      const focused = document.activeElement;
      if (focused && focused !== document.body && /^(INPUT|SELECT|TEXTAREA)$/.test(focused.tagName)) focused.blur();
      if (ev.button !== 0 || !this.model) return;
      const p = this.localPoint(ev);
      this.drag = { x: p.x, y: p.y, lastX: p.x, lastY: p.y, moved: false };
      ev.preventDefault();
    });
    window.addEventListener('mousemove', (ev) => {
      const p = this.localPoint(ev);
      if (this.drag) {
        const dx = p.x - this.drag.lastX;
        const dy = p.y - this.drag.lastY;
        if (Math.abs(p.x - this.drag.x) + Math.abs(p.y - this.drag.y) > 3) this.drag.moved = true;
        if (this.drag.moved) {
          this.canvas.classList.add('dragging');
          if (dx) this.pan(dx);
          if (dy) this.scrollBy(-dy);
        }
        this.drag.lastX = p.x;
        this.drag.lastY = p.y;
        this.hideTooltip();
        return;
      }
      if (ev.target === c) this.updateHover(p);
    });
    c.addEventListener('mouseenter', () => (this.canvasRect = null));
    window.addEventListener('mouseup', (ev) => {
      if (!this.drag) return;
      const wasClick = !this.drag.moved;
      this.drag = null;
      this.canvas.classList.remove('dragging');
      if (wasClick && ev.target === c) this.click(this.localPoint(ev));
    });
    c.addEventListener('mouseleave', () => {
      this.pendingHover = null;
      this.options.hover = null;
      this.options.hit = null;
      this.hideTooltip();
      this.requestRedraw();
    });
  }

  /** What is under the point: {lane, j, task, thread, kind, start, end, ...} or null. */
  hitTest(p) {
    if (!this.model) return null;
    const m = this.model;
    const axisPx = this.renderer.axisPx;
    if (p.y < axisPx) {
      // A snapshot's marker (diamond) on the axis, then a mark's flag (boxes of this frame, see draw.js drawAxis).
      const snap = this.renderer.snapshotBoxes.find((b) => p.x >= b.x - 1 && p.x <= b.x + b.w + 1 && p.y >= b.y - 1 && p.y <= b.y + b.h + 1);
      if (snap) return { kind: 'snapshot', index: snap.index, snapshot: m.snapshots[snap.index], start: m.snapshots[snap.index].t, end: m.snapshots[snap.index].t };
      const box = this.renderer.markBoxes.find((b) => p.x >= b.x - 2 && p.x <= b.x + b.w + 2 && p.y >= b.y && p.y <= b.y + b.h);
      if (!box) return null;
      const task = box.mark.task != null ? m.tasks.get(box.mark.task) : null;
      return { kind: 'mark', mark: box.mark, index: box.index, task: task || undefined, start: box.mark.t, end: box.mark.t };
    }
    const ly = p.y - axisPx + this.scrollY;
    const j = laneAtY(this.lanes.lanes, ly);
    if (j < 0) return null;
    const lane = this.lanes.lanes[j];
    const now = this.nowT();
    const y = axisPx + lane.y - this.scrollY;
    const base = { j, lane, y, h: lane.height, inGutter: p.x < GUTTER_PX };
    if (p.x < GUTTER_PX) {
      if (lane.kind === 'task' && (lane.task.probes.size || lane.task.samples) && p.x < (lane.site ? 28 : 20)) return { ...base, kind: 'futures-toggle', task: lane.task };
      if (lane.kind === 'group') return { ...base, kind: 'site-label', site: lane.site, ...siteAt(lane.site, this.viewport.t1, now) };
      if (lane.kind === 'sampled') return { ...base, kind: 'sampled-label', task: lane.task };
      if (lane.kind === 'task') return { ...base, kind: 'task-label', task: lane.task };
      if (lane.kind === 'future') return { ...base, kind: 'future-label', task: lane.task, row: lane.pack.rows[lane.row] };
      if (lane.kind === 'probe') return { ...base, kind: 'probe-state', probe: lane.probe, ...this.probeStateAt(lane.probe, null, now) };
      return base;
    }
    const t = this.viewport.xToTime(p.x - GUTTER_PX);
    const slack = this.viewport.nsPerPx * 2;
    base.t = t;
    // Wakes first: an arrow, or a lane's wake marker, within a few px wins over the poll or
    // the idle time under it, at every zoom.
    const wake = this.wakeAt(p, lane, y);
    if (wake >= 0) return { ...base, ...this.wakeHit(wake) };
    if (lane.kind === 'thread') {
      const col = lane.thread.slices;
      const i = sliceAt(col, t, slack, now);
      if (i < 0) {
        const d = lane.thread.drops ? sliceAt(lane.thread.drops, t, slack, now) : -1;
        if (d >= 0) return { ...base, kind: 'drop', task: m.taskList[lane.thread.drops.ref[d]], thread: lane.thread, start: lane.thread.drops.start[d], end: lane.thread.drops.end[d] };
        return { ...base, kind: 'thread-idle', thread: lane.thread };
      }
      const end = col.end[i] === OPEN ? now : col.end[i];
      return { ...base, kind: 'poll', task: m.taskList[col.ref[i]], thread: lane.thread, start: col.start[i], end, open: col.end[i] === OPEN };
    }
    if (lane.kind === 'task') {
      const hit = this.taskLaneHit(base, lane.task, t, slack, now);
      // Lints drawn over this moment of the lane (see draw.js drawLints) join the tooltip.
      const x = p.x - GUTTER_PX;
      const lints = lane.task.lints.filter((l) => {
        const { x0, x1 } = lintSpan(l, this.viewport);
        return x >= x0 - 3 && x <= x1 + 3;
      });
      if (lints.length) hit.lints = lints;
      return hit;
    }
    if (lane.kind === 'probe') return { ...base, kind: 'probe-state', probe: lane.probe, ...this.probeStateAt(lane.probe, t, now) };
    if (lane.kind === 'group') {
      const at = siteAt(lane.site, t, now);
      // A poll under the pointer (within a couple of pixels) names its task, as a task lane's does.
      let poll = null;
      if (!at.task) {
        for (const m of lane.site.tasks) {
          const i = sliceAt(m.polls, t, slack, now);
          if (i >= 0) {
            poll = { task: m, i };
            break;
          }
        }
      }
      return { ...base, kind: 'site', site: lane.site, ...at, task: at.task || (poll && poll.task) || undefined };
    }
    if (lane.kind === 'sampled') {
      const samples = lane.task.samples;
      const i = sampleNear(samples, t, this.viewport.nsPerPx * 6);
      if (i < 0) return { ...base, kind: 'sampled-none', task: lane.task, before: samples.filter((s) => s.t <= t).pop() || null };
      return { ...base, kind: 'sampled', task: lane.task, sample: samples[i], start: samples[i].t, end: samples[i].t };
    }
    if (lane.kind === 'future') {
      const row = lane.pack.rows[lane.row];
      let future = probeAtRow(lane.task, row, t + slack);
      if (future && probeSegments(lane.task, future).t0 > t) {
        // Within the slack of the next future's start: prefer the one under the pointer.
        const prev = probeAtRow(lane.task, row, t);
        if (prev) future = prev;
      }
      if (!future) return { ...base, kind: 'future-none', task: lane.task, row };
      const at = probeStateAt(lane.task, future, Math.min(t, now));
      return { ...base, kind: 'future', task: lane.task, future, row, at, inFlight: future.children.length ? countAt(lane.pack.counts.get(future.id), t) : null };
    }
    return base;
  }

  /** What a task lane shows at `t`: a poll, a drop, scheduled or idle time. */
  taskLaneHit(base, task, t, slack, now) {
    const m = this.model;
    const i = sliceAt(task.polls, t, slack, now);
    if (i >= 0) {
      const end = task.polls.end[i] === OPEN ? now : task.polls.end[i];
      return { ...base, kind: 'poll', task, thread: m.threads.get(task.polls.ref[i]), start: task.polls.start[i], end, open: task.polls.end[i] === OPEN, pollNo: i + 1 };
    }
    const d = task.drops ? sliceAt(task.drops, t, slack, now) : -1;
    if (d >= 0) return { ...base, kind: 'drop', task, thread: m.threads.get(task.drops.ref[d]), start: task.drops.start[d], end: task.drops.end[d] };
    const s = sliceAt(task.sched, t, 0, now);
    if (s >= 0) return { ...base, kind: 'scheduled', task, start: task.sched.start[s], end: task.sched.end[s], cause: task.sched.ref[s] };
    if (task.schedOpenT !== OPEN && t >= task.schedOpenT && t <= now) return { ...base, kind: 'scheduled', task, start: task.schedOpenT, end: now, cause: task.schedCause, open: true };
    return { ...base, kind: 'task-idle', task };
  }

  /**
   * The wake under the pointer, or -1: the nearest drawn wake arrow within WAKE_HIT_PX, else
   * the nearest wake marker of the lane within WAKE_HIT_PX (a task lane's triangles along
   * its top half, a thread's or the driver lane's ticks).
   */
  wakeAt(p, lane, laneY) {
    const m = this.model;
    const x = p.x - GUTTER_PX;
    if (this.options.wakeEdges) {
      let best = -1;
      let bestD = WAKE_HIT_PX;
      for (const e of this.renderer.edgeList) {
        if (x < Math.min(e.x0, e.x1) - WAKE_HIT_PX || x > Math.max(e.x0, e.x1) + WAKE_HIT_PX) continue;
        const d = distanceToEdge(e, x, p.y);
        if (d <= bestD) {
          best = e.wake;
          bestD = d;
        }
      }
      if (best >= 0) return best;
    }
    let list = null;
    if (lane.kind === 'task' && lane.height >= 10 && p.y <= laneY + lane.height / 2) list = lane.task.wakeIndex;
    else if (lane.kind === 'thread' && lane.thread.wakeIndex.length) list = lane.thread.wakeIndex;
    else if (lane.kind === 'driver') list = m.driverWakes;
    if (!list || !list.length) return -1;
    const vp = this.viewport;
    const times = m.wakes.t;
    const k = lowerBoundIndexed(list.items, list.length, times, vp.xToTime(x - WAKE_HIT_PX));
    let best = -1;
    let bestD = WAKE_HIT_PX + 1e-9;
    for (let q = k; q < list.length; q++) {
      const w = list.items[q];
      const d = Math.abs(vp.timeToX(times[w]) - x);
      if (vp.timeToX(times[w]) > x + WAKE_HIT_PX) break;
      if (d < bestD) {
        best = w;
        bestD = d;
      }
    }
    return best;
  }

  /** The hit of wake `w`: the woken task, who woke it, and its next poll. */
  wakeHit(w) {
    const m = this.model;
    const wakes = m.wakes;
    const by = wakes.by[w];
    const target = wakes.target[w];
    return {
      kind: 'wake',
      wake: w,
      task: m.taskList[wakes.task[w]],
      by: by >= 0 ? m.taskList[by] : null,
      thread: wakes.thread[w] >= 0 ? m.threads.get(wakes.thread[w]) || null : null,
      byValue: wakes.byValue[w] === 1,
      start: wakes.t[w],
      end: wakes.t[w],
      target: target === OPEN ? null : target,
    };
  }

  /**
   * The state of an outside probe at time `t` (null: its current state): {label, loc,
   * start, end} from its history.
   */
  probeStateAt(probe, t, now) {
    const h = probe.history;
    if (!h || !h.length) return { label: probe.label, start: probe.since, end: now };
    let i = t == null ? h.length - 1 : Math.max(0, lowerBound(h.start, h.length, t + 1e-9) - 1);
    const order = h.ref[i];
    let node = null;
    for (const n of probe.states.values()) if (n.order === order) node = n;
    const end = h.end[i] === OPEN ? (probe.ended ? h.start[i] : now) : h.end[i];
    return { label: node ? node.label : probe.label, loc: node ? node.loc : null, start: h.start[i], end, before: t != null && t < h.start[0] };
  }

  /** The pointer moved to `p`: hit-test it in the next frame. */
  updateHover(p) {
    this.options.hover = p;
    this.pendingHover = p;
    this.requestRedraw();
  }

  /** A wheel event at `p`: no hover work until the wheel rests. */
  wheelTurning(p) {
    this.options.hover = p;
    this.options.hit = null;
    this.pendingHover = null;
    this.wheelUntil = performance.now() + HOVER_REST_MS;
    this.hideTooltip();
    if (!this.hoverTimer) {
      const rest = () => {
        const left = this.wheelUntil - performance.now();
        if (left > 0) {
          this.hoverTimer = setTimeout(rest, left);
          return;
        }
        this.hoverTimer = null;
        if (this.options.hover) this.updateHover(this.options.hover);
      };
      this.hoverTimer = setTimeout(rest, HOVER_REST_MS);
    }
  }

  /** Hit test and tooltip for the pointer position of this frame (called by draw). */
  applyHover() {
    const p = this.pendingHover;
    this.pendingHover = null;
    if (this.drag || performance.now() < this.wheelUntil) return;
    const hit = this.hitTest(p);
    this.options.hit = hit && (hit.kind === 'poll' || hit.kind === 'drop') ? hit : null;
    if (hit && hit.kind === 'future' && hit.at.state !== 'not created') {
      // Outline the hovered segment of the future's row (its end marker, when it has ended).
      const end = hit.at.until === Infinity ? this.nowT() : hit.at.until;
      this.options.hit = { y: hit.y, h: hit.h, start: hit.at.since, end };
    }
    if (!hit || !hit.kind) {
      this.hideTooltip();
      this.setCursor('');
      return;
    }
    this.setCursor(hit.task || hit.probe || hit.site || hit.kind === 'snapshot' ? 'pointer' : '');
    this.showTooltip(p, this.tooltipHtml(hit));
  }

  setCursor(cursor) {
    if (this.canvas.style.cursor !== cursor) this.canvas.style.cursor = cursor;
  }

  tooltipHtml(hit) {
    const html = this.hitHtml(hit);
    if (!hit.lints) return html;
    const lints = hit.lints
      .map((l) => `<div class="tip-lint"><span class="rule ${escapeHtml(l.rule)}">⚠ ${escapeHtml(l.rule)}</span> <span class="dim">${l.since != null ? `${formatTime(l.since)} – ` : ''}${formatTime(l.t)}</span><div>${escapeHtml(l.detail)}</div></div>`)
      .join('');
    return `${html}${lints}`;
  }

  /**
   * Who woke wake `w`, in words: the waking task, or the thread it happened on (a plain
   * thread or a blocking-pool thread outside a task, by its lane's name), or a driver (timer,
   * I/O) and the runtime thread it ran on, when known.
   */
  wakerText(w) {
    const m = this.model;
    const by = m.wakes.by[w];
    if (by >= 0) {
      const task = m.taskList[by];
      return `${escapeHtml(task.label)} #${task.id}`;
    }
    if (m.meta.unknownWaker) return 'a waker the recording does not name';
    const thread = m.wakes.thread[w] >= 0 ? m.threads.get(m.wakes.thread[w]) : null;
    if (!thread) return 'a driver (timer, I/O) or a thread outside any task';
    const what = thread.kind === 'thread' ? 'thread' : thread.kind === 'blocking' ? 'blocking-pool thread' : null;
    if (what) return `${what} <b>${escapeHtml(thread.name)}</b>`;
    return `a driver (timer, I/O) on <b>${escapeHtml(thread.name)}</b>`;
  }

  /** A spawn site lane's tooltip: how many of its tasks were alive and in a poll at `t`. */
  siteHtml(hit) {
    const site = hit.site;
    const title = `<b>${escapeHtml(siteTitle(site))}</b><div class="dim">${escapeHtml(String(site.loc))}</div>`;
    const poll = hit.task ? `<div>${hit.polling ? 'in a poll' : 'near a poll'}: ${escapeHtml(hit.task.label)} #${hit.task.id}</div>` : '';
    const when = hit.kind === 'site' ? ` at ${formatTime(hit.t)}` : ' at the view’s end';
    const open = this.options.expandedSites.has(site.key);
    return `${title}<div><b>${hit.alive}</b> alive, <b>${hit.polling}</b> polling${when}</div>${poll}<div class="dim">${formatCount(hit.polls)} polls in all · click ${hit.kind === 'site' && hit.task ? 'for the task, or its name to ' : 'to '}${open ? 'hide' : 'show'} the ${site.tasks.length} task lanes</div>`;
  }

  hitHtml(hit) {
    const m = this.model;
    const name = (task) =>
      `<span class="sw" style="background:${taskColor(task)}"></span><b>${escapeHtml(task.label)}</b> <span class="dim">#${task.id}</span>`;
    const at = (t) => formatTime(t);
    if (hit.kind === 'site' || hit.kind === 'site-label') return this.siteHtml(hit);
    switch (hit.kind) {
      case 'poll': {
        const w = hit.thread;
        // Only a runtime worker is stalled by a long poll; a blocking-pool thread is there to block.
        const stall = hit.end - hit.start >= this.options.stallNs && (!w || isRuntimeWorker(w));
        const cause = hit.open ? null : m.pollCauses.of(hit.task.id, hit.start);
        return `${name(hit.task)}${this.inFlightLine(hit)}<div>${hit.open ? 'polling for' : 'poll'} <b>${formatDuration(hit.end - hit.start)}</b>${
          stall ? ` <span class="${cause?.cause === 'runnable' ? 'warn' : 'bad'}">long poll</span>` : ''
        }</div>${cause ? causeTipHtml(cause) : ''}<div class="dim">on ${escapeHtml(w ? w.name : m.threadList.length ? 'thread ?' : 'a thread not recorded')} · at ${at(hit.start)}</div>${
          hit.pollNo ? `<div class="dim">poll ${hit.pollNo} of ${hit.task.polls.length}</div>` : ''
        }`;
      }
      case 'drop': {
        const w = hit.thread;
        return `${name(hit.task)}<div>drop <b>${formatDuration(hit.end - hit.start)}</b> <span class="dim">(not a poll)</span></div><div class="dim">cancelled while idle: tokio ran the task only to drop its future</div><div class="dim">on ${escapeHtml(w ? w.name : 'a thread not recorded')} · at ${at(hit.start)}</div>`;
      }
      case 'probe-state': {
        const pr = hit.probe;
        const title = `<b>${escapeHtml(pr.name || `future ${pr.id}`)}</b> <span class="dim">outside any task</span>`;
        if (hit.before) return `${title}<div class="dim">not created yet</div>`;
        const terminal = hit.label === 'ready' || hit.label === 'cancelled' || hit.label === 'panicked';
        return `${title}<div>${terminal ? 'finished as' : 'at'} <code>${escapeHtml(hit.label ?? '?')}</code>${terminal ? '' : ` for <b>${formatDuration(hit.end - hit.start)}</b>`}</div>${
          hit.loc ? `<div class="dim">${escapeHtml(hit.loc)}</div>` : ''
        }<div class="dim">since ${at(hit.start)} · click for its state machine</div>`;
      }
      case 'scheduled': {
        let cause = 'spawned, waiting for its first poll';
        if (hit.cause >= 0) cause = `woken by ${this.wakerText(hit.cause)}`;
        return `${name(hit.task)}<div>scheduled <b>${formatDuration(hit.end - hit.start)}</b>${hit.open ? ' (still waiting)' : ''}</div><div class="dim">${cause}</div>`;
      }
      case 'task-idle': {
        const aw = hit.task.currentAwait();
        return `${name(hit.task)}<div>idle (suspended)</div>${aw ? `<div class="dim">now at <code>${escapeHtml(aw.label)}</code></div>` : ''}${this.inFlightLine(hit)}`;
      }
      case 'futures-toggle': {
        const what = [hit.task.probes.size ? `${hit.task.probes.size} probe future${hit.task.probes.size === 1 ? '' : 's'}` : '', hit.task.samples ? `states sampled by ${hit.task.samples.length} snapshot${hit.task.samples.length === 1 ? '' : 's'}` : ''].filter(Boolean).join(', ');
        return `${name(hit.task)}<div class="dim">${this.futuresOpen(hit.task) ? 'close' : 'open'} its future rows (${what}) · key o</div>`;
      }
      case 'sampled-label':
        return `<b>sampled</b> <span class="dim">in ${escapeHtml(hit.task.label)} #${hit.task.id}</span><div class="dim">where snapshots found the task waiting: one marker per snapshot (${hit.task.samples.length}), nothing recorded in between</div>`;
      case 'sampled': {
        const s = hit.sample;
        return `${name(hit.task)}<div><b class="sampled-tag">SAMPLED</b> at ${at(s.t)} <span class="dim">(${escapeHtml(s.reason)} snapshot, ${escapeHtml(s.state)})</span></div><div>waiting at <code>${escapeHtml(sampleLabel(s))}</code></div>${s.sites.map((f) => `<div class="dim">${escapeHtml(f.loc)}</div>`).join('')}<div class="dim">a task dump at this instant only: between samples its state is unknown · click to open the snapshot</div>`;
      }
      case 'sampled-none':
        return hit.before ? `<span class="dim">no sample here: the last snapshot, at ${at(hit.before.t)}, found it at <code>${escapeHtml(sampleLabel(hit.before))}</code>; what it did since is not known</span>` : '';
      case 'future-label':
        return `<b>${escapeHtml(hit.row.name)}</b> <span class="dim">in ${escapeHtml(hit.task.label)} #${hit.task.id}</span><div class="dim">${hit.row.ids.length} future${hit.row.ids.length === 1 ? '' : 's'} in this row (a row is reused once its future ends)</div>`;
      case 'future-none':
        return '';
      case 'future':
        return this.futureTooltip(hit);
      case 'task-label': {
        const f = m.taskFigures(hit.task);
        return `${name(hit.task)}<div class="dim">${escapeHtml(hit.task.kind)} · ${f.polls} polls · busy ${formatDuration(f.busy)}</div><div class="dim">click for details</div>`;
      }
      case 'thread-idle':
        return `<b>${escapeHtml(hit.thread.name)}</b> <span class="dim">(${escapeHtml(hit.thread.kind)})</span><div class="dim">idle · busy ${formatDuration(hit.thread.busyNs)} total</div>`;
      case 'wake': {
        const next = hit.target != null ? `polled ${formatDuration(hit.target - hit.start)} later` : hit.task.doneT !== OPEN && hit.task.doneT <= hit.start ? 'after the task ended' : 'not polled since';
        return `<b>wake</b> <span class="dim">(${hit.byValue ? 'wake' : 'wake_by_ref'})</span><div>${name(hit.task)}</div><div>woken by ${this.wakerText(hit.wake)}</div><div class="dim">at ${at(hit.start)} · ${next}</div>`;
      }
      case 'snapshot': {
        const s = hit.snapshot;
        const traced = s.tasks.filter((t) => t.frames.length).length;
        return `<div class="tip-snap"><b>snapshot</b> <span class="dim">(${escapeHtml(s.reason)})</span></div><div>${s.tasks.length} task${s.tasks.length === 1 ? '' : 's'}, ${traced} with an await tree</div><div class="dim">task dump at ${at(s.t)} · click to open it</div>`;
      }
      case 'mark': {
        const task = hit.task;
        return `<div class="tip-mark">${escapeHtml(hit.mark.label)}</div><div class="dim">mark at ${at(hit.mark.t)}${task ? ` · by ${escapeHtml(task.label)} #${task.id}` : ''}</div>`;
      }
      default:
        return '';
    }
  }

  /** "N futures in flight" on a task lane whose future rows are open, at the hovered time. */
  inFlightLine(hit) {
    if (hit.lane.kind !== 'task' || !hit.task.futureCache || !this.futuresOpen(hit.task) || hit.t == null) return '';
    const step = hit.task.futureCache.pack.counts.get(ROOTS);
    if (!step) return '';
    const n = countAt(step, hit.t);
    return `<div class="dim">${n} root future${n === 1 ? '' : 's'} in flight at ${formatTime(hit.t)}</div>`;
  }

  futureTooltip(hit) {
    const f = hit.future;
    const at = hit.at;
    const title = `<b>${escapeHtml(f.name || `future ${f.id}`)}</b> <span class="dim">future ${f.id} in ${escapeHtml(hit.task.label)} #${hit.task.id}</span>`;
    const dur = (a, b) => formatDuration((b === Infinity ? this.nowT() : b) - a);
    let what;
    switch (at.state) {
      case 'not created':
        what = '<div class="dim">not created yet</div>';
        break;
      case 'start':
        what = `<div>created, <b>not polled yet</b> for ${dur(at.since, at.until)}</div><div class="dim">a future does nothing until it is polled</div>`;
        break;
      case 'await':
        what = `<div>suspended at <code>${escapeHtml(at.label ?? '?')}</code> for <b>${dur(at.since, at.until)}</b></div>${at.loc ? `<div class="dim">${escapeHtml(at.loc)}</div>` : ''}`;
        break;
      case 'polled':
        what = `<div><b>polled</b> in a poll of its task, ${dur(at.since, at.until)}</div><div class="dim">it reported <code>${escapeHtml(at.label ?? '?')}</code> in this poll</div>`;
        break;
      case 'cancelled': {
        const notes = cancelNotes(this.model, hit.task, f);
        what = `<div><span class="bad">cancelled</span> (dropped) at <code>${escapeHtml(at.label ?? '?')}</code></div>${notes.map((m) => `<div class="dim">then the task marked: ${escapeHtml(m.label)}</div>`).join('')}`;
        break;
      }
      default:
        what = `<div>finished as <code>${escapeHtml(at.state)}</code></div>`;
    }
    const since = at.state === 'not created' ? '' : `<div class="dim">since ${formatTime(at.since)}${at.lastEvent ? ` · last event <code>${escapeHtml(at.lastEvent.label)}</code> at ${formatTime(at.lastEvent.t)}` : ''}</div>`;
    const kids = hit.inFlight != null ? `<div>${hit.inFlight} child future${hit.inFlight === 1 ? '' : 's'} in flight at ${formatTime(hit.t)}</div>` : '';
    const moved = f.movedFrom != null ? `<div class="dim">created in task #${f.movedFrom}, polled here</div>` : '';
    return `${title}${what}${kids}${since}${moved}<div class="dim">click for its state machine</div>`;
  }

  showTooltip(p, html) {
    if (!html) return this.hideTooltip();
    const tip = this.tooltip;
    if (tip.hidden) tip.hidden = false;
    if (html !== this.tooltipHtmlShown) {
      tip.innerHTML = html;
      this.tooltipHtmlShown = html;
      // Measured once per content (a layout of the tooltip alone), not per mouse move.
      this.tooltipSize = { w: tip.offsetWidth, h: tip.offsetHeight };
    }
    const { w: tw, h: th } = this.tooltipSize;
    // The wrap's size is the renderer's CSS size (kept by the ResizeObserver).
    const width = this.renderer.cssWidth || 0;
    const height = this.renderer.cssHeight || 0;
    let x = p.x + 14;
    let y = p.y + 14;
    if (x + tw > width - 4) x = p.x - tw - 10;
    if (y + th > height - 4) y = p.y - th - 10;
    tip.style.transform = `translate(${Math.max(0, x)}px, ${Math.max(0, y)}px)`;
  }

  hideTooltip() {
    if (!this.tooltip.hidden) this.tooltip.hidden = true;
  }

  click(p) {
    const hit = this.hitTest(p);
    if (!hit) return;
    if (hit.kind === 'snapshot') {
      this.onSelectSnapshot(hit.index, null);
      return;
    }
    if (hit.kind === 'sampled') {
      this.onSelectSnapshot(hit.sample.index, hit.task.id);
      return;
    }
    if (hit.lane && hit.lane.kind === 'header' && hit.lane.key === 'h:tasks') {
      this.setLaneOptions({ collapseTasks: !this.laneOptions.collapseTasks });
      return;
    }
    if (hit.kind === 'futures-toggle') {
      this.toggleFutures(hit.task.index);
      return;
    }
    if (hit.kind === 'site-label' || (hit.kind === 'site' && !hit.task)) {
      this.toggleSite(hit.site.key);
      return;
    }
    if (hit.kind === 'future') {
      this.options.selectedFuture = hit.future.id;
      this.onSelectTask(hit.task.index);
      return;
    }
    if (hit.probe) this.onSelectProbe(hit.probe.id);
    else if (hit.task) this.onSelectTask(hit.task.index);
  }
}

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

import { Viewport, buildLanes, laneAtY, sliceAt, lowerBound, MIN_NS_PER_PX, MAX_NS_PER_PX } from '../layout.js';
import { TimelineRenderer, RedrawScheduler, GUTTER_PX, AXIS_PX, taskColor, OVERVIEW_COLORS } from '../draw.js';
import { OPEN } from '../model.js';
import { formatDuration, formatTime } from '../units.js';
import { escapeHtml } from './dom.js';

/** How far the live edge may run ahead of the last event (a stalled stream stops it). */
export const LIVE_EDGE_MAX_NS = 10e9;
/** Redraw period while only the live edge moves (no new events). */
const LIVE_TICK_MS = 50;
/** After the last wheel event, the hover comes back after this long. */
const HOVER_REST_MS = 150;

export class TimelineView {
  constructor({ wrap, canvas, tooltip, onSelectTask, onSelectProbe, onViewChange, onDrawn, viewport, fitEnd }) {
    this.wrap = wrap;
    this.canvas = canvas;
    this.tooltip = tooltip;
    this.onSelectTask = onSelectTask || (() => {});
    this.onSelectProbe = onSelectProbe || (() => {}); // a probe lane outside any task was clicked
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
    this.lanes = { lanes: [], height: 0, taskLaneByIndex: new Int32Array(0), workerLaneByIndex: new Map(), driverLane: -1 };
    this.lanesVersion = -1;
    this.scrollY = 0;
    this.follow = true;
    this.autoFit = true; // until the user zooms, following shows the whole run
    this.live = false;
    this.options = { wakeEdges: true, stateStrip: false, stallNs: 10e6, selectedTask: -1, hover: null, hit: null, live: false };
    this.laneOptions = { hidden: new Set(), collapsed: new Set(), collapseTasks: false, filter: '' };
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
    const key = `${m.taskList.length}/${m.workerList.length}/${m.wakes.length > 0}/${m.outside.probes.size}`;
    if (key === this.lanesKey && !this.lanesDirty) return;
    this.lanesKey = key;
    this.lanesDirty = false;
    this.lanes = buildLanes(m, this.laneOptions);
    this.clampScroll();
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

  fitAll(redraw = true) {
    const end = this.fitEnd ? Math.max(this.fitEnd(), 1000) : this.model ? Math.max(this.nowT(), 1000) : 1e9;
    this.viewport.fit(0, end * 1.02);
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
    const j = this.lanes.taskLaneByIndex[ti];
    if (j == null || j < 0) return;
    const lane = this.lanes.lanes[j];
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
    const label = this.model.workerList.length ? 'threads busy' : 'tasks polling';
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
    this.options.selectedTask = index;
    this.requestRedraw();
  }

  /** Sets one drawing option (wakeEdges, stateStrip, stallNs, selectedProbe) and redraws. */
  setOption(key, value) {
    this.options[key] = value;
    this.requestRedraw();
  }

  plotHeight() {
    return Math.max(0, (this.renderer.cssHeight || 0) - AXIS_PX);
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

  /** What is under the point: {lane, j, task, worker, kind, start, end, ...} or null. */
  hitTest(p) {
    if (!this.model || p.y < AXIS_PX) return null;
    const ly = p.y - AXIS_PX + this.scrollY;
    const j = laneAtY(this.lanes.lanes, ly);
    if (j < 0) return null;
    const lane = this.lanes.lanes[j];
    const m = this.model;
    const now = this.nowT();
    const y = AXIS_PX + lane.y - this.scrollY;
    const base = { j, lane, y, h: lane.height, inGutter: p.x < GUTTER_PX };
    if (p.x < GUTTER_PX) {
      if (lane.kind === 'task') return { ...base, kind: 'task-label', task: lane.task };
      if (lane.kind === 'probe') return { ...base, kind: 'probe-state', probe: lane.probe, ...this.probeStateAt(lane.probe, null, now) };
      return base;
    }
    const t = this.viewport.xToTime(p.x - GUTTER_PX);
    const slack = this.viewport.nsPerPx * 2;
    base.t = t;
    if (lane.kind === 'worker') {
      const col = lane.worker.slices;
      const i = sliceAt(col, t, slack, now);
      if (i < 0) {
        const d = lane.worker.drops ? sliceAt(lane.worker.drops, t, slack, now) : -1;
        if (d >= 0) return { ...base, kind: 'drop', task: m.taskList[lane.worker.drops.ref[d]], worker: lane.worker, start: lane.worker.drops.start[d], end: lane.worker.drops.end[d] };
        return { ...base, kind: 'worker-idle', worker: lane.worker };
      }
      const end = col.end[i] === OPEN ? now : col.end[i];
      return { ...base, kind: 'poll', task: m.taskList[col.ref[i]], worker: lane.worker, start: col.start[i], end, open: col.end[i] === OPEN };
    }
    if (lane.kind === 'task') {
      const task = lane.task;
      const i = sliceAt(task.polls, t, slack, now);
      if (i >= 0) {
        const end = task.polls.end[i] === OPEN ? now : task.polls.end[i];
        return { ...base, kind: 'poll', task, worker: m.workers.get(task.polls.ref[i]), start: task.polls.start[i], end, open: task.polls.end[i] === OPEN, pollNo: i + 1 };
      }
      const d = task.drops ? sliceAt(task.drops, t, slack, now) : -1;
      if (d >= 0) return { ...base, kind: 'drop', task, worker: m.workers.get(task.drops.ref[d]), start: task.drops.start[d], end: task.drops.end[d] };
      const s = sliceAt(task.sched, t, 0, now);
      if (s >= 0) return { ...base, kind: 'scheduled', task, start: task.sched.start[s], end: task.sched.end[s], cause: task.sched.ref[s] };
      if (task.schedOpenT !== OPEN && t >= task.schedOpenT && t <= now) return { ...base, kind: 'scheduled', task, start: task.schedOpenT, end: now, cause: task.schedCause, open: true };
      return { ...base, kind: 'task-idle', task };
    }
    if (lane.kind === 'probe') return { ...base, kind: 'probe-state', probe: lane.probe, ...this.probeStateAt(lane.probe, t, now) };
    if (lane.kind === 'driver') {
      const w = m.wakes;
      const i = lowerBound(w.t, w.length, t - slack * 2);
      for (let k = i; k < w.length && w.t[k] <= t + slack * 2; k++) {
        if (w.by[k] < 0) return { ...base, kind: 'driver-wake', wake: k, task: m.taskList[w.task[k]], start: w.t[k], end: w.t[k] };
      }
      return base;
    }
    return base;
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
    if (!hit || !hit.kind) {
      this.hideTooltip();
      this.setCursor('');
      return;
    }
    this.setCursor(hit.task || hit.probe ? 'pointer' : '');
    this.showTooltip(p, this.tooltipHtml(hit));
  }

  setCursor(cursor) {
    if (this.canvas.style.cursor !== cursor) this.canvas.style.cursor = cursor;
  }

  tooltipHtml(hit) {
    const m = this.model;
    const name = (task) =>
      `<span class="sw" style="background:${taskColor(task)}"></span><b>${escapeHtml(task.label)}</b> <span class="dim">#${task.id}</span>`;
    const at = (t) => formatTime(t);
    switch (hit.kind) {
      case 'poll': {
        const w = hit.worker;
        // Only a runtime worker is stalled by a long poll; a blocking-pool thread is there to block.
        const stall = hit.end - hit.start >= this.options.stallNs && (!w || w.kind === 'worker');
        return `${name(hit.task)}<div>${hit.open ? 'polling for' : 'poll'} <b>${formatDuration(hit.end - hit.start)}</b>${
          stall ? ' <span class="bad">long poll</span>' : ''
        }</div><div class="dim">on ${escapeHtml(w ? w.name : m.workerList.length ? 'thread ?' : 'a thread not recorded')} · at ${at(hit.start)}</div>${
          hit.pollNo ? `<div class="dim">poll ${hit.pollNo} of ${hit.task.polls.length}</div>` : ''
        }`;
      }
      case 'drop': {
        const w = hit.worker;
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
        if (hit.cause >= 0) {
          const by = m.wakes.by[hit.cause];
          const nobody = m.meta.unknownWaker ? 'a waker the recording does not name' : 'a driver / thread';
          cause = `woken by ${by >= 0 ? escapeHtml(m.taskList[by].label) + ' #' + m.taskList[by].id : nobody}`;
        }
        return `${name(hit.task)}<div>scheduled <b>${formatDuration(hit.end - hit.start)}</b>${hit.open ? ' (still waiting)' : ''}</div><div class="dim">${cause}</div>`;
      }
      case 'task-idle': {
        const aw = hit.task.currentAwait();
        return `${name(hit.task)}<div>idle (suspended)</div>${aw ? `<div class="dim">now at <code>${escapeHtml(aw.label)}</code></div>` : ''}`;
      }
      case 'task-label': {
        const f = m.taskFigures(hit.task);
        return `${name(hit.task)}<div class="dim">${escapeHtml(hit.task.kind)} · ${f.polls} polls · busy ${formatDuration(f.busy)}</div><div class="dim">click for details</div>`;
      }
      case 'worker-idle':
        return `<b>${escapeHtml(hit.worker.name)}</b> <span class="dim">(${escapeHtml(hit.worker.kind)})</span><div class="dim">idle · busy ${formatDuration(hit.worker.busyNs)} total</div>`;
      case 'driver-wake':
        return `<b>${m.meta.unknownWaker ? 'wake (waker not recorded)' : 'driver wake'}</b><div>woke ${name(hit.task)}</div><div class="dim">at ${at(hit.start)}</div>`;
      default:
        return '';
    }
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
    if (hit.lane && hit.lane.kind === 'header' && hit.lane.key === 'h:tasks') {
      this.setLaneOptions({ collapseTasks: !this.laneOptions.collapseTasks });
      return;
    }
    if (hit.probe) this.onSelectProbe(hit.probe.id);
    else if (hit.task) this.onSelectTask(hit.task.index);
  }
}

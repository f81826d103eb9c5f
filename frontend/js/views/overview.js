// views/overview.js — the overview strip above a timeline: the whole run (or both runs
// when comparing) at a glance, with the timeline's visible window as a rectangle. Drag the
// rectangle to scrub, drag its edges to zoom, click elsewhere to centre the view there (and
// keep dragging), wheel to zoom around a moment, double-click to show everything.
//
// Painting is draw.js's (OverviewRenderer); the histogram and the transform are layout.js's.
// It changes the view only through its `target`: {viewport, overviewRows() -> [{model,
// label, sub, color, now?}], live, options: {stallNs}, setView(t0, nsPerPx), zoomAtTime(t,
// factor), fitAll()} — a TimelineView or a CompareView.

import { OverviewRenderer, GUTTER_PX } from '../draw.js';
import { OverviewScale, activityHistogram, longPolls } from '../layout.js';

const EDGE_GRAB_PX = 6;
const MIN_WINDOW_PX = 4;
/** While a run streams in, the histogram is recomputed at most this often. */
const LIVE_RECOMPUTE_MS = 250;

export class OverviewView {
  constructor({ wrap, canvas, target }) {
    this.wrap = wrap;
    this.canvas = canvas;
    this.target = target;
    this.renderer = new OverviewRenderer(canvas);
    this.cache = new Map(); // model -> {key, at, busy, max, histEnd, stalls, stallNs}
    this.drag = null;
    this.bindInput();
    const apply = () => {
      const r = this.wrap.getBoundingClientRect();
      this.renderer.resize(r.width, r.height, window.devicePixelRatio || 1);
      this.canvas.style.width = `${r.width}px`;
      this.canvas.style.height = `${r.height}px`;
      this.draw();
    };
    new ResizeObserver(apply).observe(this.wrap);
    apply();
  }

  /** The strip's transform: the longest run, with the timeline's 2% of air at the end. */
  scale() {
    const rows = this.target.overviewRows();
    let end = 0;
    for (const r of rows) end = Math.max(end, r.now ?? r.model.endT);
    const width = (this.renderer.cssWidth || 0) - GUTTER_PX;
    return new OverviewScale(GUTTER_PX, width, Math.max(end, 1000) * 1.02);
  }

  rowData(row, bins, scale) {
    const m = row.model;
    const stallNs = this.target.options.stallNs;
    let c = this.cache.get(m);
    const fresh = c && c.version === m.version && c.bins === bins && c.tEnd === scale.tEnd && c.stallNs === stallNs;
    const recent = c && this.target.live && performance.now() - c.at < LIVE_RECOMPUTE_MS && c.bins === bins && c.stallNs === stallNs;
    if (!fresh && !recent) {
      // Open polls reach to the live edge, as on the timeline.
      const now = row.now ?? m.endT;
      const { busy, max } = activityHistogram(m, bins, scale.tEnd, now);
      c = { version: m.version, bins, tEnd: scale.tEnd, stallNs, at: performance.now(), busy, max, stalls: longPolls(m, stallNs, 2000, now) };
      this.cache.set(m, c);
    }
    return { ...row, busy: c.busy, max: c.max, histEnd: c.tEnd, stalls: c.stalls, marks: m.marks, endT: row.now ?? m.endT };
  }

  draw() {
    if (!this.renderer.cssWidth) return;
    const rows = this.target.overviewRows();
    if (this.cache.size > 4) for (const m of this.cache.keys()) if (!rows.some((r) => r.model === m)) this.cache.delete(m);
    const scale = this.scale();
    const bins = Math.max(1, Math.min(4000, Math.floor(scale.widthPx)));
    const vp = this.target.viewport;
    this.renderer.render({
      scale,
      rows: rows.map((r) => this.rowData(r, bins, scale)),
      window: rows.length ? { t0: vp.t0, t1: vp.t1 } : null,
      live: this.target.live,
    });
  }

  // ---- input -------------------------------------------------------------------------

  localX(ev) {
    return ev.clientX - this.canvas.getBoundingClientRect().left;
  }

  /** What a press at x would grab: 'left' / 'right' edge, 'move' inside, 'jump' outside. */
  grabAt(x, scale) {
    const vp = this.target.viewport;
    const x0 = scale.timeToX(vp.t0);
    const x1 = scale.timeToX(vp.t1);
    if (x1 - x0 > 2 * EDGE_GRAB_PX) {
      if (Math.abs(x - x0) <= EDGE_GRAB_PX) return 'left';
      if (Math.abs(x - x1) <= EDGE_GRAB_PX) return 'right';
    }
    return x > x0 && x < x1 ? 'move' : 'jump';
  }

  bindInput() {
    const c = this.canvas;
    c.addEventListener('mousedown', (ev) => {
      const focused = document.activeElement;
      if (focused && /^(INPUT|SELECT|TEXTAREA)$/.test(focused.tagName)) focused.blur();
      if (ev.button !== 0 || !this.target.overviewRows().length) return;
      const x = this.localX(ev);
      if (x < GUTTER_PX) return;
      ev.preventDefault();
      const scale = this.scale();
      const vp = this.target.viewport;
      const t = scale.xToTime(x);
      let mode = this.grabAt(x, scale);
      const span = vp.t1 - vp.t0;
      if (mode === 'jump') {
        // Centre the window on the click, then drag on from there.
        this.target.setView(t - span / 2, vp.nsPerPx);
        mode = 'move';
      }
      this.drag = { mode, grab: t - this.target.viewport.t0, t0: vp.t0, t1: vp.t0 + span };
      c.classList.add('dragging');
    });
    window.addEventListener('mousemove', (ev) => {
      if (!this.drag) {
        if (ev.target === c) this.updateCursor(this.localX(ev));
        return;
      }
      const scale = this.scale();
      const t = scale.xToTime(this.localX(ev));
      const vp = this.target.viewport;
      const minSpan = MIN_WINDOW_PX * (scale.tEnd / scale.widthPx);
      const d = this.drag;
      if (d.mode === 'move') {
        this.target.setView(t - d.grab, vp.nsPerPx);
      } else if (d.mode === 'left') {
        const t0 = Math.min(t, d.t1 - minSpan);
        this.target.setView(t0, (d.t1 - t0) / vp.widthPx);
      } else if (d.mode === 'right') {
        const t1 = Math.max(t, d.t0 + minSpan);
        this.target.setView(d.t0, (t1 - d.t0) / vp.widthPx);
      }
    });
    window.addEventListener('mouseup', () => {
      if (!this.drag) return;
      this.drag = null;
      c.classList.remove('dragging');
    });
    c.addEventListener(
      'wheel',
      (ev) => {
        if (!this.target.overviewRows().length) return;
        ev.preventDefault();
        const scale = this.scale();
        const x = this.localX(ev);
        const dy = ev.deltaY * (ev.deltaMode === 1 ? 33 : ev.deltaMode === 2 ? 400 : 1);
        const vp = this.target.viewport;
        const t = x >= GUTTER_PX ? scale.xToTime(x) : (vp.t0 + vp.t1) / 2;
        this.target.zoomAtTime(t, Math.exp(-dy * 0.0018));
      },
      { passive: false },
    );
    c.addEventListener('dblclick', () => this.target.fitAll());
  }

  updateCursor(x) {
    if (x < GUTTER_PX || !this.target.overviewRows().length) {
      this.canvas.style.cursor = '';
      return;
    }
    const mode = this.grabAt(x, this.scale());
    this.canvas.style.cursor = mode === 'left' || mode === 'right' ? 'ew-resize' : mode === 'move' ? 'grab' : 'pointer';
  }
}

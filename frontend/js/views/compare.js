// views/compare.js — two runs side by side on one time axis: two timelines stacked, each
// from its own t = 0, sharing one Viewport, so a zoom or pan in either (or on the overview
// strip above them, which shows both runs) moves both. Under them, the runs' figures next
// to each other with the change from A to B.
//
// Loading the runs is the app's; figures are model.js's; each pane is a TimelineView.
// `compareFigures` is pure, for tests.

import { isRuntimeWorker } from '../model.js';
import { Viewport } from '../layout.js';
import { OVERVIEW_COLORS } from '../draw.js';
import { TimelineView } from './timeline.js';
import { el, replaceChildren } from './dom.js';
import { formatDuration, formatCount } from '../units.js';

/** A run's side of the comparison: the figures worth putting next to another run's. */
function sideFigures(model) {
  const s = model.summary();
  let sched = 0;
  let schedCount = 0;
  for (const task of model.taskList) {
    sched += task.schedNs;
    schedCount += task.sched.length;
  }
  let workerLongest = 0;
  for (const w of model.threadList) {
    if (!isRuntimeWorker(w)) continue;
    const col = w.slices;
    for (let i = 0; i < col.length; i++) if (col.end[i] >= 0) workerLongest = Math.max(workerLongest, col.end[i] - col.start[i]);
  }
  return {
    duration: s.duration,
    tasks: s.tasks,
    polls: s.polls,
    wakes: s.wakes,
    longestPoll: s.longestPoll.ns,
    workerLongest: model.threadList.some(isRuntimeWorker) ? workerLongest : null,
    worstDelay: s.worstDelay.ns,
    meanDelay: schedCount ? sched / schedCount : 0,
    lints: s.lints,
  };
}

const FIGURES = [
  { key: 'duration', label: 'run length', unit: 'ns' },
  { key: 'tasks', label: 'tasks', unit: 'count' },
  { key: 'polls', label: 'polls', unit: 'count' },
  { key: 'wakes', label: 'wakes', unit: 'count' },
  { key: 'longestPoll', label: 'longest poll', unit: 'ns' },
  { key: 'workerLongest', label: 'longest poll on a runtime worker', unit: 'ns' },
  { key: 'worstDelay', label: 'worst scheduling delay', unit: 'ns' },
  { key: 'meanDelay', label: 'mean scheduling delay', unit: 'ns' },
  { key: 'lints', label: 'lints', unit: 'count' },
];

/**
 * The figures of two runs as rows {key, label, unit, a, b, ratio}: `ratio` is b / a
 * (null when a is 0 or a figure is unknown for one side).
 */
export function compareFigures(a, b) {
  const fa = sideFigures(a);
  const fb = sideFigures(b);
  return FIGURES.filter((f) => fa[f.key] != null || fb[f.key] != null).map((f) => {
    const va = fa[f.key];
    const vb = fb[f.key];
    const ratio = va != null && vb != null && va > 0 ? vb / va : null;
    return { key: f.key, label: f.label, unit: f.unit, a: va, b: vb, ratio };
  });
}

/** A ratio as the change from A to B: "3.2× more" / "3.2× less" beyond a factor 2, else "−15%"; "same". */
export function formatChange(ratio) {
  if (ratio == null || !Number.isFinite(ratio)) return '';
  if (Math.abs(ratio - 1) < 0.005) return 'same';
  const factor = (f) => (f >= 10 ? f.toFixed(0) : f.toFixed(1));
  if (ratio >= 2) return `${factor(ratio)}× more`;
  if (ratio > 0 && ratio <= 0.5) return `${factor(1 / ratio)}× less`;
  const pct = (ratio - 1) * 100;
  return `${pct > 0 ? '+' : '−'}${Math.abs(pct).toFixed(Math.abs(pct) >= 10 ? 0 : 1)}%`;
}

/** "variant=blocking, stall_ms=50" from a params object (only `keys`, when given). */
export function paramsText(params, keys = null) {
  return Object.entries(params || {})
    .filter(([k]) => !keys || keys.includes(k))
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}

/** The names of the params whose values differ between two runs (what the comparison is about). */
export function differingParams(a, b) {
  const keys = new Set([...Object.keys(a || {}), ...Object.keys(b || {})]);
  return [...keys].filter((k) => JSON.stringify((a || {})[k]) !== JSON.stringify((b || {})[k]));
}

export class CompareView {
  /**
   * panes: {a: {wrap, canvas, tooltip, head}, b: {...}}; figures: the table's container;
   * onViewChange(): the toolbar follows the view.
   */
  constructor({ panes, figures, onViewChange, onDrawn }) {
    this.viewport = new Viewport(800, 0, 1e5);
    this.figuresBox = figures;
    this.onViewChange = onViewChange || (() => {});
    this.onDrawn = onDrawn || (() => {});
    this.models = [null, null];
    this.follow = false;
    this.live = false;
    const fitEnd = () => Math.max(this.models[0] ? this.models[0].endT : 0, this.models[1] ? this.models[1].endT : 0);
    this.views = ['a', 'b'].map((side, k) => {
      const p = panes[side];
      const view = new TimelineView({
        wrap: p.wrap,
        canvas: p.canvas,
        tooltip: p.tooltip,
        viewport: this.viewport,
        fitEnd,
        onSelectTask: (i) => view.selectTask(i === view.options.selectedTask ? -1 : i),
        onViewChange: () => {
          // The other pane shares the viewport: it only needs a redraw.
          this.views[1 - k].requestRedraw();
          this.onViewChange();
        },
        onDrawn: () => this.onDrawn(),
      });
      view.emptyText = 'Loading…';
      view.follow = false;
      view.autoFit = false;
      return view;
    });
    this.heads = [panes.a.head, panes.b.head];
  }

  get options() {
    return this.views[0].options;
  }

  get laneOptions() {
    return this.views[0].laneOptions;
  }

  /** Shows two runs (finished, or as far as they got: `meta.status` says which). */
  setModels(a, b) {
    this.models = [a, b];
    this.views.forEach((v, k) => {
      v.setModel(this.models[k], { live: false });
      v.follow = false;
    });
    this.fitAll();
    this.renderHeads();
    this.renderFigures();
  }

  clear() {
    this.models = [null, null];
    for (const v of this.views) v.setModel(null);
  }

  /** Params that tell the two runs apart (all of them when the scenarios differ). */
  distinguishing() {
    const [a, b] = this.models;
    if (!a || !b) return [];
    return differingParams(a.meta.params, b.meta.params);
  }

  renderHeads() {
    const differ = this.distinguishing();
    this.heads.forEach((head, k) => {
      const m = this.models[k];
      if (!m) {
        replaceChildren(head);
        return;
      }
      // The params that differ come first and stand out; the shared ones are dimmed.
      const entries = Object.entries(m.meta.params || {}).sort(([x], [y]) => differ.includes(y) - differ.includes(x));
      const params = entries.map(([key, v], i) => [i ? ', ' : '', el('span', { class: differ.includes(key) ? 'differs' : 'same' }, `${key}=${v}`)]);
      replaceChildren(
        head,
        el('span', { class: `compare-badge ${k ? 'b' : 'a'}` }, k ? 'B' : 'A'),
        el('b', {}, `#${m.meta.run ?? '?'} ${m.meta.scenario || 'events'}`),
        entries.length ? el('code', { class: 'compare-params' }, params) : null,
        el('span', { class: `pill ${m.meta.status || ''}` }, m.meta.status || ''),
        el('span', { class: 'grow' }),
        el('span', { class: 'dim' }, `${formatDuration(m.endT)} · ${formatCount(m.taskList.length)} tasks · ${formatCount(m.polls)} polls`),
      );
    });
  }

  renderFigures() {
    const [a, b] = this.models;
    if (!a || !b) {
      replaceChildren(this.figuresBox);
      return;
    }
    const fmt = (row, v) => (v == null ? '–' : row.unit === 'ns' ? formatDuration(v) : formatCount(v));
    replaceChildren(
      this.figuresBox,
      el(
        'table',
        { class: 'mini compare-table' },
        el('tr', {}, el('th', {}, 'figure'), el('th', { class: 'num' }, el('span', { class: 'compare-badge small a' }, 'A'), ` #${a.meta.run ?? '?'}`), el('th', { class: 'num' }, el('span', { class: 'compare-badge small b' }, 'B'), ` #${b.meta.run ?? '?'}`), el('th', { class: 'num' }, 'B vs A')),
        compareFigures(a, b).map((row) =>
          el('tr', { dataset: { figure: row.key } }, el('td', {}, row.label), el('td', { class: 'num' }, fmt(row, row.a)), el('td', { class: 'num' }, fmt(row, row.b)), el('td', { class: 'num change' }, formatChange(row.ratio))),
        ),
      ),
    );
  }

  // ---- the view API the app's toolbar and keys use (like TimelineView's) -------------

  overviewRows() {
    const differ = this.distinguishing();
    return this.models
      .map((m, k) => (m ? { model: m, label: `${k ? 'B' : 'A'} #${m.meta.run ?? '?'}`, sub: paramsText(m.meta.params, differ), color: OVERVIEW_COLORS[k] } : null))
      .filter(Boolean);
  }

  requestRedraw() {
    for (const v of this.views) v.requestRedraw();
  }

  fitAll() {
    this.views[0].fitAll(false);
    this.requestRedraw();
    this.onViewChange();
  }

  zoom(factor, x) {
    this.views[0].zoom(factor, x);
  }

  zoomAtTime(t, factor) {
    this.views[0].zoomAtTime(t, factor);
  }

  pan(dx) {
    this.views[0].pan(dx);
  }

  setView(t0, nsPerPx) {
    this.views[0].setView(t0, nsPerPx);
  }

  scrollBy(dy) {
    for (const v of this.views) v.scrollBy(dy);
  }

  setFollow() {
    // Compared runs are snapshots: there is no live edge to follow.
  }

  setLaneOptions(patch) {
    for (const v of this.views) v.setLaneOptions({ ...patch });
  }

  setOption(key, value) {
    for (const v of this.views) v.setOption(key, value);
  }
}

// Tests of draw.js without a browser: a recording fake 2D context checks that a frame is
// batched by fill colour (a few fill() calls for thousands of slices), that sub-pixel
// slices are merged before drawing, that lane rects lie on whole device pixels, that redraw
// requests coalesce into one frame, that an open poll reaches the live edge, and what the
// overview strip paints.

import test from 'node:test';
import assert from 'node:assert/strict';
import { TimelineRenderer, RedrawScheduler, OverviewRenderer, hexAlpha, PALETTE, forEachBucket } from '../js/draw.js';
import { Viewport, buildLanes, OverviewScale, activityHistogram, longPolls } from '../js/layout.js';
import { RunModel } from '../js/model.js';
import { syntheticRun } from './support/synthetic-run.mjs';
import { formatDuration, formatTick, parseDuration, formatTime } from '../js/units.js';

/** A 2D context that counts what is drawn. */
function fakeContext() {
  const calls = { fill: 0, rect: 0, fillRect: 0, stroke: 0, fillText: 0 };
  const ctx = new Proxy(
    { calls, measureText: (t) => ({ width: String(t).length * 6 }), createPattern: () => ({ pattern: true }) },
    {
      get(target, prop) {
        if (prop in target) return target[prop];
        if (prop in calls) return () => calls[prop]++;
        return () => {};
      },
      set() {
        return true;
      },
    },
  );
  return ctx;
}

globalThis.Path2D ??= class {
  moveTo() {}
  lineTo() {}
  bezierCurveTo() {}
  rect() {}
};
globalThis.document ??= { createElement: () => ({ getContext: () => fakeContext() }) };

function frame(model, vp, height = 900) {
  const ctx = fakeContext();
  const canvas = { width: 0, height: 0, getContext: () => ctx };
  const r = new TimelineRenderer(canvas);
  r.resize(vp.widthPx + 210, height, 2);
  r.render({ model, viewport: vp, lanes: buildLanes(model), scrollY: 0, options: { wakeEdges: true, stallNs: 10e6, selectedTask: -1, hover: null } });
  return { calls: ctx.calls, stats: r.stats, canvas };
}

test('a frame is batched by colour and merges sub-pixel slices', () => {
  const m = new RunModel();
  m.ingest(syntheticRun({ seed: 4, tasks: 300, pollsPerTask: 40 }));
  const vp = new Viewport(1000);
  vp.fit(0, m.endT);
  let slices = 0;
  for (const w of m.threadList) slices += w.slices.length;
  const { calls, stats, canvas } = frame(m, vp);
  assert.equal(canvas.width, (1000 + 210) * 2, 'backing store is devicePixelRatio-sized');
  assert.ok(stats.rects > 100, `${stats.rects} rects`);
  assert.ok(stats.rects < slices, `merged: ${stats.rects} rects for ${slices} worker slices alone`);
  assert.ok(calls.fill < 120, `${calls.fill} fill() calls for ${calls.rect} rects`);
  assert.ok(calls.rect >= stats.rects - 5);
});

test('zoomed in, the frame only draws what is visible', () => {
  const m = new RunModel();
  m.ingest(syntheticRun({ seed: 4, tasks: 300, pollsPerTask: 40 }));
  const vp = new Viewport(1000, m.endT / 2, 100); // 100 µs across
  const { stats } = frame(m, vp, 400);
  assert.ok(stats.lanes < buildLanes(m).lanes.length, 'only the lanes on screen');
  assert.ok(stats.rects < 2000, `${stats.rects}`);
});

test('redraw requests coalesce into one animation frame', () => {
  const queued = [];
  let draws = 0;
  const s = new RedrawScheduler(() => draws++, (fn) => queued.push(fn));
  s.request();
  s.request();
  s.request();
  assert.equal(queued.length, 1);
  queued.shift()();
  assert.equal(draws, 1);
  s.request();
  assert.equal(queued.length, 1, 'a new frame after the last one ran');
});

test('colours and units', () => {
  assert.equal(hexAlpha('#ff8000', 0.5), 'rgba(255,128,0,0.5)');
  assert.equal(new Set(PALETTE).size, PALETTE.length);
  assert.equal(formatDuration(25_000_000), '25.0 ms');
  assert.equal(formatDuration(1_500), '1.50 µs');
  assert.equal(formatDuration(3e9), '3.00 s');
  assert.equal(formatDuration(17), '17 ns');
  assert.equal(formatTick(2_500_000, 500_000), '2.5 ms');
  assert.equal(formatTick(2_000_000, 1_000_000), '2 ms');
  assert.equal(formatTick(0, 500_000, 3_000_000), '0.0 ms', 'one unit along the axis');
  assert.equal(formatTick(2_005_000, 1_000, 2_010_000), '2.005 ms');
  assert.equal(formatTime(37_297_000), '37.297 ms');
  assert.equal(parseDuration('10ms'), 10e6);
  assert.equal(parseDuration('250 µs'), 250e3);
  assert.equal(parseDuration('2'), 2e6);
  assert.equal(parseDuration('fast'), null);
});

/** A 2D context that keeps the rects of fillRect / rect / Path2D.rect calls. */
function rectContext() {
  const rects = [];
  const ctx = new Proxy(
    {
      rects,
      measureText: (t) => ({ width: String(t).length * 6 }),
      createPattern: () => ({ pattern: true }),
      rect: (x, y, w, h) => rects.push([x, y, w, h]),
      fillRect: (x, y, w, h) => rects.push([x, y, w, h]),
    },
    {
      get: (target, prop) => (prop in target ? target[prop] : () => {}),
      set: () => true,
    },
  );
  return ctx;
}

test('an open poll is painted up to "now" (the live edge), not only to the last event', () => {
  const m = new RunModel();
  m.ingest([
    { k: 'worker', t: 0, worker: 0, name: 'w0', kind: 'worker' },
    { k: 'spawn', t: 0, task: 1, name: 'blocker', kind: 'task', loc: null, size: null, parent: null },
    { k: 'poll_start', t: 1_000, task: 1, worker: 0 },
  ]);
  const vp = new Viewport(1000, 0, 100); // 100 ns per px: 0..100 µs
  const paint = (nowT) => {
    const ctx = rectContext();
    const r = new TimelineRenderer({ width: 0, height: 0, getContext: () => ctx });
    r.resize(1210, 300, 1);
    r.render({ model: m, viewport: vp, lanes: buildLanes(m), scrollY: 0, nowT, options: { wakeEdges: false, stallNs: 10e6, selectedTask: -1, hover: null } });
    // The widest rect starting at the poll's x (10 px into the plot).
    return Math.max(0, ...ctx.rects.filter(([x]) => Math.abs(x - 10) < 0.01).map(([, , w]) => w));
  };
  assert.ok(Math.abs(paint(undefined) - 2) < 0.01, 'without a live edge: up to the last event (2 px minimum)');
  assert.ok(Math.abs(paint(81_000) - 800) < 0.01, 'with the live edge at 81 µs: 800 px');
});

test('the overview strip paints each run, its long polls and the visible window', () => {
  const ctx = rectContext();
  const r = new OverviewRenderer({ width: 0, height: 0, getContext: () => ctx });
  r.resize(1210, 46, 2);
  const m = new RunModel();
  m.ingest(syntheticRun({ seed: 4, tasks: 20, pollsPerTask: 10 }));
  const scale = new OverviewScale(210, 1000, m.endT * 1.02);
  const { busy, max } = activityHistogram(m, 1000, scale.tEnd);
  const stalls = longPolls(m, 10e6);
  r.render({ scale, rows: [{ label: 'threads busy', busy, max, histEnd: scale.tEnd, color: PALETTE[0], endT: m.endT, stalls, marks: m.marks }], window: { t0: m.endT / 4, t1: m.endT / 2 }, live: false });
  const [s0, s1] = stalls[0];
  assert.ok(ctx.rects.some(([x, , w, h]) => h === 3 && Math.abs(x - scale.timeToX(s0)) < 0.01 && Math.abs(w - (scale.timeToX(s1) - scale.timeToX(s0))) < 0.01), 'the stall is marked');
  // Dimmed outside the window: left of it and right of it.
  assert.ok(ctx.rects.some(([x, , w]) => x === 210 && Math.abs(w - (scale.timeToX(m.endT / 4) - 210)) < 0.01));
  assert.equal(r.canvas.width, 1210 * 2);
});

test('wake markers: the first wake of each time bucket, found by binary search, stable while panning', () => {
  const times = Float64Array.from({ length: 10000 }, (_, i) => i * 10); // one wake per 10 ns
  const list = { items: Int32Array.from({ length: 10000 }, (_, i) => i), length: 10000 };
  const seen = [];
  let calls = 0;
  const timesProbe = new Proxy(times, { get: (a, k) => (typeof k === 'string' && /^\d+$/.test(k) ? (calls++, a[k]) : a[k]) });
  forEachBucket(list, timesProbe, 0, 99_990, 3000, (i, t) => seen.push(t));
  assert.equal(seen.length, 34, 'one marker per 3000 ns bucket');
  assert.deepEqual(seen.slice(0, 3), [0, 3000, 6000]);
  assert.ok(calls < 34 * 40, `${calls} time reads for 10000 wakes`);
  const shifted = [];
  forEachBucket(list, times, 4500, 99_990, 3000, (i, t) => shifted.push(t));
  assert.deepEqual(shifted.slice(1), seen.filter((t) => t >= 6000), 'buckets count from time 0, not from the left edge');
});

test('zoomed out over many wakes, a frame does not scan every wake', () => {
  const m = new RunModel();
  m.ingest(syntheticRun({ seed: 4, tasks: 300, pollsPerTask: 40 }));
  const vp = new Viewport(1000);
  vp.fit(0, m.endT);
  const { stats } = frame(m, vp);
  assert.ok(stats.edges <= 400, `${stats.edges} edges, thinned`);
  assert.ok(m.wakes.length > 4000, `${m.wakes.length} wakes: the thinned path is taken`);
});

/** The rects of a frame's rect() calls (batched rects and clips), in user space. */
function pathRects(model, vp, dpr, height = 600) {
  const rects = [];
  const ctx = new Proxy(
    { measureText: (t) => ({ width: String(t).length * 6 }), createPattern: () => ({ pattern: true }), rect: (x, y, w, h) => rects.push([x, y, w, h]) },
    { get: (target, prop) => (prop in target ? target[prop] : () => {}), set: () => true },
  );
  const r = new TimelineRenderer({ width: 0, height: 0, getContext: () => ctx });
  r.resize(vp.widthPx + 210, height, dpr);
  r.render({ model, viewport: vp, lanes: buildLanes(model), scrollY: 0, options: { wakeEdges: true, stallNs: 10e6, selectedTask: -1, hover: null } });
  return rects;
}

test('lane rects lie on whole device pixels, at least one wide, and neighbours share their edge', () => {
  const m = new RunModel();
  m.ingest(syntheticRun({ seed: 4, tasks: 60, pollsPerTask: 40 }));
  const onGrid = (v) => Math.abs(v - Math.round(v)) < 1e-6;
  for (const dpr of [1, 1.5, 2]) {
    const vp = new Viewport(1000);
    vp.fit(m.endT * 0.013, m.endT * 0.71); // slices at fractional x
    const rects = pathRects(m, vp, dpr);
    assert.ok(rects.length > 500, `${rects.length} rects`);
    // Plot rects are drawn translated by the gutter; the clip rects are not, and lie on the grid anyway.
    const off = rects.filter(([x, y, w, h]) => !(onGrid((x + 210) * dpr) && onGrid(y * dpr) && onGrid(w * dpr) && onGrid(h * dpr) && w * dpr >= 1 - 1e-6 && h * dpr >= 1 - 1e-6));
    assert.deepEqual(off.slice(0, 5), [], `dpr ${dpr}: ${off.length} of ${rects.length} rects off the device pixel grid`);
  }
  // Two polls back to back on one worker, their boundary at x = 147.6: one edge, no gap.
  const b = new RunModel();
  b.ingest([
    { k: 'worker', t: 0, worker: 0, name: 'w0', kind: 'worker' },
    { k: 'spawn', t: 0, task: 1, name: 'a', kind: 'task', loc: null, size: null, parent: null },
    { k: 'spawn', t: 0, task: 2, name: 'b', kind: 'task', loc: null, size: null, parent: null },
    { k: 'poll_start', t: 1_000, task: 1, worker: 0 },
    { k: 'poll_end', t: 10_333, task: 1, worker: 0 },
    { k: 'poll_start', t: 10_333, task: 2, worker: 0 },
    { k: 'poll_end', t: 20_000, task: 2, worker: 0 },
  ]);
  const rects = pathRects(b, new Viewport(1000, 0, 70), 1.5);
  const a = rects.find(([x, , w]) => Math.abs(x - 1000 / 70) < 1 && Math.abs(w - 9333 / 70) < 1);
  const c = rects.find(([x, , w]) => Math.abs(x - 10_333 / 70) < 1 && Math.abs(w - 9667 / 70) < 1 && a && x !== a[0]);
  assert.ok(a && c, 'both polls drawn');
  assert.ok(Math.abs(a[0] + a[2] - c[0]) < 1e-9, `the first ends where the second starts (${a[0] + a[2]}, ${c[0]})`);
});

// Tests of draw.js without a browser: a recording fake 2D context checks that a frame is
// batched by fill colour (a few fill() calls for thousands of slices), that sub-pixel
// slices are merged before drawing, and that redraw requests coalesce into one frame.

import test from 'node:test';
import assert from 'node:assert/strict';
import { TimelineRenderer, RedrawScheduler, hexAlpha, PALETTE } from '../js/draw.js';
import { Viewport, buildLanes } from '../js/layout.js';
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
  closePath() {}
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
  for (const w of m.workerList) slices += w.slices.length;
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

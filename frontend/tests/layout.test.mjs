// Tests of layout.js: the time <-> pixel transform, binary search of the visible range,
// sub-pixel merging (stable while panning, conserving busy time), lanes and ticks, and
// the overview strip's histogram, long polls and transform.

import test from 'node:test';
import assert from 'node:assert/strict';
import {
  Viewport,
  lowerBound,
  upperBound,
  visibleSliceRange,
  sliceAt,
  mergeSlices,
  MergedRects,
  MIXED,
  buildLanes,
  visibleLanes,
  laneAtY,
  niceTicks,
  activityHistogram,
  longPolls,
  OverviewScale,
  siteAt,
} from '../js/layout.js';
import { siteTitle } from '../js/draw.js';
import { SliceColumn, RunModel, OPEN } from '../js/model.js';
import { syntheticRun, mulberry32 } from './support/synthetic-run.mjs';

test('time <-> px round trip and zoom around the cursor', () => {
  const vp = new Viewport(1200, 5_000, 250);
  for (const t of [5_000, 5_123.5, 80_000, 1e9]) assert.ok(Math.abs(vp.xToTime(vp.timeToX(t)) - t) < 1e-6);
  assert.equal(vp.timeToX(5_000), 0);
  assert.equal(vp.t1, 5_000 + 1200 * 250);
  const under = vp.xToTime(300);
  vp.zoomAt(300, 4);
  assert.equal(vp.nsPerPx, 62.5);
  assert.ok(Math.abs(vp.xToTime(300) - under) < 1e-6, 'the time under the cursor stays put');
  vp.panByPx(100);
  assert.ok(Math.abs(vp.xToTime(400) - under) < 1e-6);
  vp.fit(0, 1_200_000);
  assert.equal(vp.t0, 0);
  assert.equal(vp.nsPerPx, 1000);
  vp.alignRight(5_000_000);
  assert.equal(vp.t1, 5_000_000);
});

test('lower/upper bound', () => {
  const a = Float64Array.from([1, 3, 3, 5, 9]);
  assert.equal(lowerBound(a, 5, 3), 1);
  assert.equal(upperBound(a, 5, 3), 3);
  assert.equal(lowerBound(a, 5, 0), 0);
  assert.equal(lowerBound(a, 5, 10), 5);
  assert.equal(lowerBound(a, 3, 10), 3, 'respects length, not capacity');
});

function column(slices) {
  const c = new SliceColumn(2);
  for (const [s, e, r] of slices) c.push(s, e, r ?? 0);
  return c;
}

test('visible range includes the slice reaching in from the left', () => {
  const c = column([
    [0, 10],
    [20, 50],
    [60, 70],
    [80, 90],
    [100, OPEN],
  ]);
  assert.deepEqual(visibleSliceRange(c, 30, 65), [1, 3]);
  assert.deepEqual(visibleSliceRange(c, 55, 58), [2, 2], 'a gap: nothing visible');
  assert.deepEqual(visibleSliceRange(c, 95, 500), [4, 5]);
  assert.deepEqual(visibleSliceRange(c, 150, 500), [4, 5], 'an open slice reaches to now');
  assert.deepEqual(visibleSliceRange(c, -100, -50), [0, 0]);
  // Matches a linear scan on random data.
  const rand = mulberry32(11);
  const slices = [];
  let t = 0;
  for (let i = 0; i < 2000; i++) {
    t += rand() * 100;
    const s = t;
    t += rand() * 100;
    slices.push([s, t]);
  }
  const big = column(slices);
  for (let k = 0; k < 200; k++) {
    const a = rand() * t;
    const b = a + rand() * 5000;
    const expect = slices.map(([s, e], i) => (e >= a && s <= b ? i : -1)).filter((i) => i >= 0);
    const [i0, i1] = visibleSliceRange(big, a, b);
    assert.deepEqual([i0, i1], expect.length ? [expect[0], expect[expect.length - 1] + 1] : [i0, i0]);
  }
});

test('sliceAt finds the slice under the cursor, with slack for thin ones', () => {
  const c = column([
    [0, 10, 1],
    [20, 21, 2],
    [40, OPEN, 3],
  ]);
  assert.equal(sliceAt(c, 5, 0, 100), 0);
  assert.equal(sliceAt(c, 15, 0, 100), -1);
  assert.equal(sliceAt(c, 23, 3, 100), 1);
  assert.equal(sliceAt(c, 90, 0, 100), 2);
  assert.equal(sliceAt(c, 120, 0, 100), -1);
});

function totalBusy(rects) {
  let sum = 0;
  for (let i = 0; i < rects.length; i++) sum += rects.busy[i];
  return sum;
}

test('merging keeps wide slices, merges sub-pixel ones and conserves busy time', () => {
  // 1 px = 100 ns. Ten 10-ns slices 20 ns apart, then a 500 ns slice, then three far apart.
  const slices = [];
  for (let i = 0; i < 10; i++) slices.push([1000 + i * 20, 1010 + i * 20, i % 2]);
  slices.push([2000, 2500, 7]);
  slices.push([5000, 5010, 3], [9000, 9010, 3], [9030, 9040, 3]);
  const c = column(slices);
  const out = mergeSlices(c, 0, c.length, 100, 0, new MergedRects(2));
  const rows = Array.from({ length: out.length }, (_, i) => [out.start[i], out.end[i], out.ref[i], out.count[i]]);
  assert.deepEqual(rows, [
    [1000, 1190, MIXED, 10],
    [2000, 2500, 7, 1],
    [5000, 5100, 3, 1], // widened to one pixel
    [9000, 9100, 3, 2],
  ]);
  const input = slices.reduce((a, [s, e]) => a + (e - s), 0);
  assert.equal(totalBusy(out), input);
});

test('merging is stable while panning and conserves busy time at every zoom', () => {
  const m = new RunModel();
  m.ingest(syntheticRun({ seed: 5, tasks: 60, pollsPerTask: 60 }));
  const lane = m.threads.get(0).slices;
  let input = 0;
  for (let i = 0; i < lane.length; i++) input += lane.end[i] - lane.start[i];
  for (const nsPerPx of [10, 1e3, 37_000, 1e6, 1e8]) {
    const all = mergeSlices(lane, 0, lane.length, nsPerPx, m.endT, new MergedRects());
    assert.ok(Math.abs(totalBusy(all) - input) < 1e-3 * Math.max(1, input / 1e6), `busy conserved at ${nsPerPx}`);
    // Pan: a viewport starting anywhere yields the same rects where it overlaps.
    const key = (o, i) => `${o.start[i]}-${o.end[i]}-${o.count[i]}`;
    const whole = new Set(Array.from({ length: all.length }, (_, i) => key(all, i)));
    for (const frac of [0.25, 0.5]) {
      const vp = new Viewport(1000, m.endT * frac, nsPerPx);
      // Start merging from the group the first visible slice belongs to, as draw.js does.
      const [i0, i1] = visibleSliceRange(lane, vp.t0, vp.t1);
      const part = mergeSlices(lane, i0, i1, nsPerPx, m.endT, new MergedRects());
      for (let i = 1; i < part.length - 1; i++) assert.ok(whole.has(key(part, i)), `rect ${i} differs at ${nsPerPx} ns/px`);
    }
  }
});

test('fewer rects than slices when zoomed out', () => {
  const m = new RunModel();
  m.ingest(syntheticRun({ seed: 5, tasks: 200, pollsPerTask: 50 }));
  const lane = m.threads.get(1).slices;
  const out = mergeSlices(lane, 0, lane.length, m.endT / 1000, m.endT, new MergedRects());
  assert.ok(out.length <= 1000 + 1, `${out.length} rects for ${lane.length} slices on 1000 px`);
});

test('lanes: workers first, then the driver lane, then tasks; hidden and collapsed lanes', () => {
  const m = new RunModel();
  m.ingest(syntheticRun({ seed: 2, tasks: 10, pollsPerTask: 5 }));
  const { lanes, height, taskLaneByIndex } = buildLanes(m, { hidden: new Set(['t:3']), collapsed: new Set(['t:4']) });
  const kinds = lanes.map((l) => l.kind);
  const firstTask = kinds.indexOf('task');
  assert.ok(kinds.lastIndexOf('thread') < kinds.indexOf('driver'));
  assert.ok(kinds.indexOf('driver') < firstTask);
  assert.equal(lanes.filter((l) => l.kind === 'thread').length, m.threadList.length);
  assert.equal(lanes.filter((l) => l.kind === 'task').length, m.taskList.length - 1);
  assert.equal(taskLaneByIndex[3], -1);
  assert.equal(lanes[taskLaneByIndex[4]].height, 6);
  assert.equal(height, lanes[lanes.length - 1].y + lanes[lanes.length - 1].height);
  // Only visible lanes, by binary search.
  const [j0, j1] = visibleLanes(lanes, 100, 60);
  for (let j = 0; j < lanes.length; j++) {
    const on = lanes[j].y < 160 && lanes[j].y + lanes[j].height > 100;
    assert.equal(j >= j0 && j < j1, on, `lane ${j}`);
  }
  assert.equal(laneAtY(lanes, lanes[firstTask].y + 1), firstTask);
  assert.equal(laneAtY(lanes, height + 50), -1);
  const filtered = buildLanes(m, { filter: 'worker-task-7' });
  assert.equal(filtered.lanes.filter((l) => l.kind === 'task').length, 1);
});

test('nice ticks: 1/2/5 steps, at least the minimum spacing apart', () => {
  for (const [t0, t1, w] of [
    [0, 1e9, 1000],
    [123_456, 129_000, 800],
    [0, 37, 500],
    [5e9, 9e9, 1600],
  ]) {
    const { step, ticks } = niceTicks(t0, t1, w, 80);
    const mant = step / 10 ** Math.floor(Math.log10(step) + 1e-9);
    assert.ok([1, 2, 5].some((m) => Math.abs(mant - m) < 1e-6), `step ${step}`);
    assert.ok((step / (t1 - t0)) * w >= 80 - 1e-6);
    assert.ok(ticks.length >= 1);
    for (const t of ticks) assert.ok(t >= t0 && t <= t1);
  }
});

test('activity histogram: busy time lands in the right bins and adds up', () => {
  const m = new RunModel();
  m.ingest(syntheticRun({ seed: 6, tasks: 50, pollsPerTask: 20 }));
  const tEnd = m.endT * 1.02;
  const bins = 700;
  const { busy, max } = activityHistogram(m, bins, tEnd);
  const binNs = tEnd / bins;
  let total = 0;
  for (const w of m.threadList) total += w.busyNs;
  let sum = 0;
  for (let b = 0; b < bins; b++) sum += busy[b] * binNs;
  assert.ok(Math.abs(sum - total) < 1e-6 * total, `${sum} vs ${total}`);
  assert.ok(max <= m.threadList.length + 1e-9, 'never more threads busy than there are');
  // The 25 ms stall keeps one thread busy across the bins it covers.
  const stall = longPolls(m, 10e6);
  assert.equal(stall.length, 1);
  const mid = Math.floor((stall[0][0] + stall[0][1]) / 2 / binNs);
  assert.ok(busy[mid] >= 1 - 1e-9, `${busy[mid]}`);
  // Without worker lanes (an imported recording) the task polls count instead.
  const bare = new RunModel();
  bare.ingest([
    { k: 'spawn', t: 0, task: 1, name: '', kind: 'task', loc: null, size: null, parent: null },
    { k: 'poll_start', t: 0, task: 1, worker: null },
    { k: 'poll_end', t: 500, task: 1, worker: null, ready: false },
  ]);
  assert.deepEqual(Array.from(activityHistogram(bare, 4, 1000).busy), [1, 1, 0, 0]);
  assert.deepEqual(longPolls(bare, 400), [[0, 500]]);
});

test('overview scale: the whole run across the strip, right of the labels', () => {
  const s = new OverviewScale(210, 1000, 5e6);
  assert.equal(s.timeToX(0), 210);
  assert.equal(s.timeToX(5e6), 1210);
  assert.ok(Math.abs(s.xToTime(s.timeToX(1_234_567)) - 1_234_567) < 1e-6);
});

test('overview: an open poll counts up to "now" (the live edge)', () => {
  const m = new RunModel();
  m.ingest([
    { k: 'worker', t: 0, worker: 0, name: 'w0', kind: 'worker' },
    { k: 'spawn', t: 0, task: 1, name: '', kind: 'task', loc: null, size: null, parent: null },
    { k: 'poll_start', t: 100, task: 1, worker: 0 },
  ]);
  assert.deepEqual(longPolls(m, 50, 10, 400), [[100, 400]]);
  assert.deepEqual(longPolls(m, 50), [], 'up to the last event only: 0 ns long');
  assert.deepEqual(Array.from(activityHistogram(m, 4, 800, 400).busy), [0.5, 1, 0, 0]);
});

test('long polls on blocking-pool and plain threads are not stalls', () => {
  const m = new RunModel();
  m.ingest([
    { k: 'worker', t: 0, worker: 0, name: 'tokio-rt-worker', kind: 'worker' },
    { k: 'worker', t: 0, worker: 1, name: 'blocking-0', kind: 'blocking' },
    { k: 'spawn', t: 0, task: 1, name: 'a', kind: 'task', loc: null, size: null, parent: null },
    { k: 'spawn', t: 0, task: 2, name: 'b', kind: 'blocking', loc: null, size: null, parent: null },
    { k: 'poll_start', t: 10, task: 1, worker: 0 },
    { k: 'poll_start', t: 10, task: 2, worker: 1 },
    { k: 'poll_end', t: 20e6, task: 1, worker: 0, ready: false },
    { k: 'poll_end', t: 30e6, task: 2, worker: 1, ready: true },
  ]);
  assert.deepEqual(longPolls(m, 10e6), [[10, 20e6]]);
});

test('probes outside any task get a lane group of their own, nested under their parent', () => {
  const m = new RunModel();
  m.ingest([
    { k: 'worker', t: 0, worker: 0, name: 'w0', kind: 'worker' },
    { k: 'spawn', t: 1, task: 7, name: 'main', kind: 'task', loc: null, size: null, parent: null },
    { k: 'state', t: 10, task: null, future: 1, parent: null, label: 'start', loc: 'x.rs:1', name: 'outer' },
    { k: 'state', t: 11, task: null, future: 2, parent: 1, label: 'start', loc: 'x.rs:2', name: 'inner' },
    { k: 'state', t: 12, task: null, future: 3, parent: null, label: 'start', loc: 'x.rs:3', name: 'other' },
  ]);
  const { lanes } = buildLanes(m);
  const keys = lanes.map((l) => l.key);
  assert.deepEqual(keys, ['h:threads', 'th:0', 'h:outside', 'p:1', 'p:2', 'p:3', 'h:tasks', 't:0']);
  assert.deepEqual(lanes.filter((l) => l.kind === 'probe').map((l) => l.depth), [0, 1, 0]);
  assert.ok(!buildLanes(new RunModel()).lanes.some((l) => l.key === 'h:outside'), 'no group without such probes');
});

test('spawn sites: a site with 4 or more tasks is one lane where its first task was; opened, its tasks follow it', () => {
  const m = new RunModel();
  const events = [{ k: 'worker', t: 0, worker: 0, name: 'w0', kind: 'worker' }];
  const spawn = (task, t, loc) => events.push({ k: 'spawn', t, task, name: '', kind: 'task', loc, size: null, parent: null });
  spawn(1, 0, 'server.rs:10:5'); // the accept loop
  for (let i = 0; i < 5; i++) spawn(10 + i, 1 + i, 'server.rs:20:13'); // a task per connection
  spawn(2, 7, 'server.rs:30:1');
  spawn(3, 8, 'server.rs:30:1'); // two at one site: below the threshold, not grouped
  // Connections 10 and 11 are polled at 20-30 and 25-40 (on one worker, one after the other); 10 ends.
  events.push({ k: 'poll_start', t: 20, task: 10, worker: 0 }, { k: 'poll_end', t: 24, task: 10, worker: 0, ready: true }, { k: 'done', t: 24, task: 10 });
  events.push({ k: 'poll_start', t: 25, task: 11, worker: 0 }, { k: 'poll_end', t: 40, task: 11, worker: 0, ready: false });
  m.ingest(events);
  assert.equal(m.violations.count, 0, JSON.stringify(m.violations.messages));
  const kinds = (l) => l.lanes.filter((x) => x.kind === 'task' || x.kind === 'group').map((x) => (x.kind === 'group' ? `g${x.site.tasks.length}` : `t${x.task.id}`));
  assert.deepEqual(kinds(buildLanes(m)), ['t1', 't10', 't11', 't12', 't13', 't14', 't2', 't3'], 'off: a lane per task');
  const grouped = buildLanes(m, { groupSites: true });
  assert.deepEqual(kinds(grouped), ['t1', 'g5', 't2', 't3']);
  const g = grouped.lanes.find((x) => x.kind === 'group');
  assert.equal(g.key, 'g:task@server.rs:20:13');
  assert.equal(siteTitle(g.site), '5 tasks @ server.rs:20:13');
  for (const id of [10, 11, 12, 13, 14]) assert.equal(grouped.lanes[grouped.taskLaneByIndex[m.tasks.get(id).index]], g, `task ${id} points at its site's lane`);
  const open = buildLanes(m, { groupSites: true, expandedSites: new Set([g.site.key]) });
  assert.deepEqual(kinds(open), ['t1', 'g5', 't10', 't11', 't12', 't13', 't14', 't2', 't3']);
  assert.ok(open.lanes.filter((x) => x.kind === 'task' && x.site).every((x) => x.site.key === g.site.key), 'its tasks know their site');
  // The filter applies first: a site with fewer than 4 tasks left is not grouped.
  assert.deepEqual(kinds(buildLanes(m, { groupSites: true, filter: 'server.rs:2', hidden: new Set(['t:1', 't:2']) })), ['t12', 't13', 't14']);
  assert.deepEqual(kinds(buildLanes(m, { groupSites: true, filter: 'server.rs:2' })), ['g5']);
  // What the site's tasks were doing, from their events.
  assert.deepEqual(siteAt(g.site, 22, 50), { alive: 5, polling: 1, task: m.tasks.get(10), polls: 2 });
  assert.deepEqual(siteAt(g.site, 30, 50), { alive: 4, polling: 1, task: m.tasks.get(11), polls: 2 }, 'task 10 is done');
  assert.deepEqual(siteAt(g.site, 3, 50), { alive: 3, polling: 0, task: null, polls: 2 }, 'two not spawned yet');
});

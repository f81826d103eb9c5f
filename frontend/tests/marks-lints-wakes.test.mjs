// Tests of what the timeline needs for marks, lints and thread lanes: the placement of mark
// labels in rows on the axis (layout.js layoutMarks), marks and lints keeping their task and
// `since`, and wakes made by a plain thread indexed on that thread's lane (model.js).

import test from 'node:test';
import assert from 'node:assert/strict';
import { layoutMarks, Viewport, buildLanes, MAX_MARK_ROWS } from '../js/layout.js';
import { RunModel } from '../js/model.js';

const measure = (text) => text.length * 6; // 6 px per character

test('colliding mark labels stack in rows, each whole, and none is dropped', () => {
  const vp = new Viewport(1000, 0, 1000); // 1 µs per px
  const marks = [
    { t: 100_000, label: 'a'.repeat(40) }, // x 100, 248 px wide
    { t: 110_000, label: 'b'.repeat(10) }, // collides with a: row 1
    { t: 120_000, label: 'c'.repeat(10) }, // collides with a and b: row 2
    { t: 400_000, label: 'd'.repeat(10) }, // free again: row 0
  ];
  const { rows, items } = layoutMarks(marks, vp, 1000, measure);
  assert.equal(rows, 3);
  assert.deepEqual(
    items.map((i) => [i.index, i.row, i.full]),
    [
      [0, 0, true],
      [1, 1, true],
      [2, 2, true],
      [3, 0, true],
    ],
  );
  for (const i of items) assert.equal(i.w, measure(i.mark.label) + 8);
});

test('beyond MAX_MARK_ROWS a label cuts the earliest one to a stub, so every mark keeps a flag', () => {
  const vp = new Viewport(1000, 0, 1000);
  const marks = Array.from({ length: MAX_MARK_ROWS + 2 }, (_, k) => ({ t: 100_000 + k * 1000, label: `mark ${k} `.repeat(5) }));
  const { rows, items } = layoutMarks(marks, vp, 1000, measure);
  assert.equal(rows, MAX_MARK_ROWS);
  assert.equal(items.length, marks.length, 'every mark is placed');
  for (const i of items) assert.ok(i.w >= 12, `mark ${i.index} keeps at least a 12 px flag (${i.w})`);
  // Within a row labels never overlap.
  for (let r = 0; r < rows; r++) {
    const row = items.filter((i) => i.row === r).sort((a, b) => a.lx - b.lx);
    for (let k = 1; k < row.length; k++) assert.ok(row[k - 1].lx + row[k - 1].w <= row[k].lx, `row ${r}: ${k - 1} ends before ${k}`);
  }
  assert.ok(items.some((i) => !i.full), 'some labels are cut (their full text is on hover and in the Marks tab)');
});

test('a label near the right edge ends at the edge instead of being cut there', () => {
  const vp = new Viewport(500, 0, 1000);
  const { items } = layoutMarks([{ t: 480_000, label: 'x'.repeat(30) }], vp, 500, measure);
  assert.equal(items[0].x, 480);
  assert.equal(items[0].lx + items[0].w, 500);
  assert.equal(items[0].full, true);
});

test('marks keep their task, lints their since; a plain thread’s wakes are on its lane, not the driver row', () => {
  const m = new RunModel();
  m.ingest([
    { k: 'worker', t: 0, worker: 0, name: 'rt-worker', kind: 'worker' },
    { k: 'worker', t: 0, worker: 1, name: 'clock', kind: 'thread' },
    { k: 'spawn', t: 10, task: 7, name: 'ticker', kind: 'task', loc: null, size: 64, parent: null },
    { k: 'poll_start', t: 20, task: 7, worker: 0 },
    { k: 'poll_end', t: 30, task: 7, worker: 0, ready: false },
    { k: 'wake', t: 40, task: 7, by: null, op: 'wake', worker: 1 }, // the clock thread
    { k: 'poll_start', t: 50, task: 7, worker: 0 },
    { k: 'poll_end', t: 60, task: 7, worker: 0, ready: false },
    { k: 'wake', t: 70, task: 7, by: null, op: 'wake', worker: 0 }, // a timer on the runtime worker
    { k: 'mark', t: 75, task: 7, label: 'halfway' },
    { k: 'lint', t: 90, task: 7, rule: 'lost_wake', detail: 'nothing can wake it', since: 60 },
  ]);
  assert.deepEqual(m.marks, [{ t: 75, task: 7, label: 'halfway' }]);
  assert.equal(m.lints[0].since, 60);
  const clock = m.threads.get(1);
  assert.deepEqual(Array.from(clock.wakeIndex.items.slice(0, clock.wakeIndex.length)), [0], 'the clock lane holds its wake');
  assert.equal(m.wakingThread(0), clock);
  assert.equal(m.wakingThread(1), null, 'a runtime worker’s wake outside a task is its driver’s');
  assert.equal(m.driverWakes.length, 1);
  const lanes = buildLanes(m);
  assert.ok(lanes.driverLane >= 0, 'the driver row is there for the timer wake');
  const onlyThread = new RunModel();
  onlyThread.ingest([
    { k: 'worker', t: 0, worker: 0, name: 'peer', kind: 'thread' },
    { k: 'spawn', t: 10, task: 1, name: 'a', kind: 'task', loc: null, size: 8, parent: null },
    { k: 'wake', t: 20, task: 1, by: null, op: 'wake', worker: 0 },
  ]);
  assert.equal(buildLanes(onlyThread).driverLane, -1, 'no driver row when only threads woke tasks');
});

// futures.js: segments of a probe's row from state + poll events, packing of a task's future
// rows (reuse of ended rows), in-flight counts, and probes moving to the task that polls them.

import test from 'node:test';
import assert from 'node:assert/strict';
import { RunModel } from '../js/model.js';
import { probeSegments, packFutures, computePack, countAt, probeStateAt, ROOTS, SEG_NAMES } from '../js/futures.js';

const st = (t, future, label, extra = {}) => ({ k: 'state', t, task: 1, future, parent: null, label, loc: null, ...extra });
const poll = (s, e) => [
  { k: 'poll_start', t: s, task: 1, worker: 0 },
  { k: 'poll_end', t: e, task: 1, worker: 0, ready: false },
];

function run() {
  const m = new RunModel();
  const ev = [{ k: 'worker', t: 0, worker: 0, name: 'w0', kind: 'worker' }, { k: 'spawn', t: 0, task: 1, name: 'main', kind: 'task', loc: null, size: null, parent: null }];
  const p1 = poll(10, 20);
  ev.push(p1[0], st(11, 1, 'start', { name: 'parent' }), st(11, 2, 'start', { parent: 1, name: 'a' }), st(11, 3, 'start', { parent: 1, name: 'b' }), st(12, 2, 'x'), st(13, 3, 'y'), st(14, 1, 'j'), p1[1]);
  const p2 = poll(30, 40);
  ev.push(p2[0], st(31, 2, 'ready'), st(32, 3, 'y'), st(33, 1, 'j'), p2[1]);
  const p3 = poll(50, 60);
  ev.push(p3[0], st(51, 3, 'cancelled'), st(52, 1, 'ready'), p3[1]);
  const p4 = poll(70, 80);
  ev.push(p4[0], st(71, 5, 'start', { name: 'later' }), st(72, 5, 'z'), st(75, 5, 'ready'), p4[1]);
  m.ingest(ev);
  return m;
}

const segs = (m, id) => {
  const task = m.taskList[0];
  const s = probeSegments(task, task.probes.get(id));
  return { list: Array.from({ length: s.n }, (_, i) => [SEG_NAMES[s.kind[i]], s.s[i], s.e[i], s.label[i]]), end: [s.endLabel, s.tEnd, s.atLabel] };
};

test('a row is polled in the task polls where the future reported, suspended between them', () => {
  const m = run();
  assert.equal(m.violations.count, 0, JSON.stringify(m.violations.messages));
  assert.deepEqual(segs(m, 2), { list: [['polled', 11, 20, 'x'], ['await', 20, 30, 'x'], ['polled', 30, 31, 'ready']], end: ['ready', 31, 'x'] });
  // Dropped in the third poll without reporting: no polled segment there, cancelled at y.
  assert.deepEqual(segs(m, 3), { list: [['polled', 11, 20, 'y'], ['await', 20, 30, 'y'], ['polled', 30, 40, 'y'], ['await', 40, 51, 'y']], end: ['cancelled', 51, 'y'] });
  // Created before its task's poll that first polls it: start until then.
  assert.deepEqual(segs(m, 5).list[0], ['polled', 71, 75, 'ready']);
});

test('rows nest children under their parent and reuse the rows of ended futures', () => {
  const m = run();
  const task = m.taskList[0];
  const pack = packFutures(task, m.stateEvents);
  assert.equal(pack.rows.length, 3);
  assert.equal(pack.rowOf.get(1), 0);
  assert.deepEqual([pack.rowOf.get(2), pack.rowOf.get(3)].sort(), [1, 2]);
  assert.equal(pack.rowOf.get(5), 0, 'the later root reuses the first row');
  const kids = pack.counts.get(1);
  assert.deepEqual([countAt(kids, 5), countAt(kids, 11), countAt(kids, 31), countAt(kids, 51)], [0, 2, 1, 0]);
  assert.equal(countAt(pack.counts.get(ROOTS), 60), 0);
  assert.equal(probeStateAt(task, task.probes.get(3), 45).state, 'await');
  assert.equal(probeStateAt(task, task.probes.get(3), 55).state, 'cancelled');
});

test('a task with one future packs as the general packing does: alive, ended, ended where it began', () => {
  const m = new RunModel();
  const spawn = (task, t) => ({ k: 'spawn', t, task, name: `t${task}`, kind: 'task', loc: null, size: null, parent: null });
  const st = (t, task, future, label) => ({ k: 'state', t, task, future, parent: null, label, loc: 'a.rs:1', name: future === 12 ? null : 'f' });
  m.ingest([
    spawn(1, 0), spawn(2, 0), spawn(3, 0),
    { k: 'poll_start', t: 1, task: 1, worker: null }, st(2, 1, 11, 'start'), st(3, 1, 11, 'sleep'), { k: 'poll_end', t: 4, task: 1, worker: null, ready: false },
    { k: 'poll_start', t: 5, task: 2, worker: null }, st(6, 2, 12, 'start'), st(7, 2, 12, 'sleep'), st(8, 2, 12, 'ready'), { k: 'poll_end', t: 9, task: 2, worker: null, ready: true },
    { k: 'poll_start', t: 10, task: 3, worker: null }, st(11, 3, 13, 'start'), st(11, 3, 13, 'cancelled'), { k: 'poll_end', t: 12, task: 3, worker: null, ready: false },
  ]);
  assert.equal(m.violations.count, 0, JSON.stringify(m.violations.messages));
  for (const task of m.taskList) {
    const fast = packFutures(task, m.stateEvents);
    assert.deepEqual(fast, computePack(task), `task ${task.id}`);
  }
  assert.equal(countAt(packFutures(m.taskList[0], m.stateEvents).counts.get(ROOTS), 100), 1, 'still in flight');
  assert.equal(countAt(packFutures(m.taskList[1], m.stateEvents).counts.get(ROOTS), 100), 0, 'ended');
});

test('a future created in one task and polled in another lives in the second, from its creation', () => {
  const m = new RunModel();
  m.ingest([
    { k: 'spawn', t: 0, task: 1, name: 'main', kind: 'task', loc: null, size: null, parent: null },
    { k: 'poll_start', t: 1, task: 1, worker: null },
    { k: 'state', t: 2, task: 1, future: 9, parent: null, label: 'start', loc: null, name: 'spawned' },
    { k: 'spawn', t: 3, task: 2, name: 'child', kind: 'task', loc: null, size: null, parent: 1 },
    { k: 'poll_end', t: 4, task: 1, worker: null, ready: false },
    { k: 'poll_start', t: 5, task: 2, worker: null },
    { k: 'state', t: 6, task: 2, future: 9, parent: null, label: 'sleep', loc: null },
    { k: 'poll_end', t: 7, task: 2, worker: null, ready: false },
    { k: 'state', t: 8, task: null, future: 9, parent: null, label: 'cancelled', loc: null },
  ]);
  assert.equal(m.violations.count, 0, JSON.stringify(m.violations.messages));
  assert.equal(m.taskList[0].probes.size, 0, 'not left in main at start');
  const child = m.taskList[1];
  const p = child.probes.get(9);
  assert.equal(p.movedFrom, 1);
  assert.equal(p.label, 'cancelled', 'a drop outside any poll is attributed to its task');
  assert.equal(m.outside.probes.size, 0);
  assert.deepEqual(segs({ taskList: [child] }, 9).list.map((x) => x[0]), ['start', 'polled', 'await']);
});

// The task table's rows (views/task-table.js): figures per task from the model, grouping
// per spawn site with summed figures, and sorting.

import test from 'node:test';
import assert from 'node:assert/strict';
import { RunModel } from '../js/model.js';
import { taskRows, groupRows, sortRows, taskState } from '../js/views/task-table.js';

function model() {
  const m = new RunModel();
  const ev = [{ k: 'worker', t: 0, worker: 0, name: 'w0', kind: 'worker' }];
  // Task 1: the accept loop (src/main.rs:10:5), polled twice, idle. Tasks 2..4: one per
  // connection (src/main.rs:20:9), task 4 still running.
  ev.push({ k: 'spawn', t: 1, task: 1, name: '', kind: 'task', loc: 'src/main.rs:10:5', size: null, parent: null });
  ev.push({ k: 'poll_start', t: 2, task: 1, worker: 0 }, { k: 'poll_end', t: 12, task: 1, worker: 0, ready: false });
  let t = 20;
  for (const task of [2, 3, 4]) {
    ev.push({ k: 'spawn', t, task, name: '', kind: 'task', loc: 'src/main.rs:20:9', size: null, parent: 1 });
    ev.push({ k: 'poll_start', t: t + 1, task, worker: 0 });
    if (task !== 4) ev.push({ k: 'poll_end', t: t + 1 + task * 100, task, worker: 0, ready: true }, { k: 'done', t: t + 2 + task * 100, task, outcome: 'completed' });
    t += 1000;
  }
  ev.push({ k: 'wake', t: 3000, task: 1, by: null, op: 'wake_by_ref', worker: 0 });
  ev.push({ k: 'poll_end', t: 3100, task: 4, worker: 0, ready: false });
  m.ingest(ev);
  return m;
}

test('one row per task with its state and figures', () => {
  const m = model();
  const rows = taskRows(m);
  assert.deepEqual(rows.map((r) => [r.id, r.state, r.polls]), [[1, 'scheduled', 1], [2, 'done', 1], [3, 'done', 1], [4, 'idle', 1]]);
  assert.equal(rows[0].busy, 10);
  assert.equal(rows[0].wakes, 1);
  assert.equal(rows[2].busy, 300);
  assert.equal(taskState(m.tasks.get(4)), 'idle');
});

test('tasks of one spawn site fold into a group with summed figures', () => {
  const groups = groupRows(taskRows(model()));
  assert.equal(groups.length, 2);
  const conn = groups.find((g) => g.loc === 'src/main.rs:20:9');
  assert.equal(conn.count, 3);
  assert.equal(conn.alive, 1);
  assert.equal(conn.polls, 3);
  assert.equal(conn.busy, 200 + 300 + (3100 - 2021));
  assert.equal(conn.name, '3 tasks @ main.rs:20:9');
});

test('rows sort by any column, either way', () => {
  const rows = taskRows(model());
  assert.deepEqual(sortRows(rows, 'busy', -1).map((r) => r.id), [4, 3, 2, 1]);
  assert.deepEqual(sortRows(rows, 'busy', 1).map((r) => r.id), [1, 2, 3, 4]);
  assert.deepEqual(sortRows(rows, 'wakes', -1).map((r) => r.id), [1, 2, 3, 4]);
  assert.deepEqual(sortRows(rows, 'loc', 1).map((r) => r.id), [1, 2, 3, 4]);
  assert.deepEqual(sortRows(rows, 'state', 1).map((r) => r.state), ['done', 'done', 'idle', 'scheduled']);
  const groups = sortRows(groupRows(rows), 'polls', -1);
  assert.deepEqual(groups.map((g) => g.count), [3, 1]);
});

// The page's bounded window of a live run (retained-window.js) and the model's side of a
// retention window (`evicted` events, RunModel.cutWindow): what is kept, what is carried,
// what is counted.

import test from 'node:test';
import assert from 'node:assert/strict';
import { RetainedWindow } from '../js/retained-window.js';
import { RunModel } from '../js/model.js';
import { windowNotice, windowLimits } from '../js/app/retention.js';

const worker = (t, w) => ({ k: 'worker', t, worker: w, name: `w${w}`, kind: 'worker' });
const spawn = (t, task) => ({ k: 'spawn', t, task, name: '', kind: 'task', loc: 'src/main.rs:9:5', size: null, parent: null });
const start = (t, task) => ({ k: 'poll_start', t, task, worker: 0 });
const end = (t, task, ready) => ({ k: 'poll_end', t, task, worker: 0, ready });
const done = (t, task) => ({ k: 'done', t, task, outcome: 'completed' });

/** One short task per batch (spawn, poll, done), after a long-lived task 1 still polled. */
function batches(n) {
  const out = [[worker(0, 0), spawn(1, 1)]];
  for (let i = 0; i < n; i++) {
    const t = 10 + i * 10;
    const task = 100 + i;
    out.push([spawn(t, task), start(t + 1, task), end(t + 2, task, true), done(t + 3, task), start(t + 4, 1), end(t + 5, 1, false)]);
  }
  return out;
}

test('a full window rebuilds from its newest batches, carrying lanes and live spawns', () => {
  const win = new RetainedWindow({ maxEvents: 100, maxAgeNs: 0 });
  const model = new RunModel();
  for (const b of batches(40)) {
    model.ingest(b);
    win.record(b);
  }
  assert.ok(win.full());
  const rebuilt = win.rebuild({ run: 1 });
  assert.ok(win.events <= 75, `${win.events} events kept`);
  assert.ok(!win.full());
  // The long-lived task keeps its spawn (its name, location) and its polls in the window.
  const long = rebuilt.tasks.get(1);
  assert.equal(long.loc, 'src/main.rs:9:5');
  assert.ok(long.polls.length >= 10);
  // Short tasks that ended before the window are gone, and counted.
  assert.equal(rebuilt.tasks.get(100), undefined);
  assert.ok(rebuilt.tasks.get(139));
  assert.equal(rebuilt.trimmed.tasks, 40 - (rebuilt.taskList.length - 1));
  // Kept + dropped + carried (the lane and task 1's spawn) = everything that came.
  assert.equal(win.events + rebuilt.trimmed.events + 2, 2 + 40 * 6);
  assert.ok(rebuilt.windowStart > 0);
  assert.deepEqual(rebuilt.violations, { count: 0, messages: [] });
  assert.equal(rebuilt.threadList.length, 1, 'the lane is carried');
});

test('a window cut in the middle of a poll counts the cut, not a violation', () => {
  const model = new RunModel();
  // As the server serves a reader after an eviction: carried, the notice, then the window,
  // which starts with the end of a poll whose start was evicted.
  model.ingest([worker(0, 0), spawn(1, 1), { k: 'evicted', t: 500, before: 500, events: 1234, tasks: 7 }]);
  model.ingest([end(500, 1, false), start(600, 1), end(700, 1, false), end(800, 1, false)]);
  assert.equal(model.windowCuts, 1);
  assert.equal(model.violations.count, 1, 'a real violation after the cut still counts');
  assert.equal(model.windowStart, 500);
  assert.deepEqual(model.evicted, { events: 1234, tasks: 7 });
  assert.match(windowNotice(model), /^Showing the last 0 s \(the retention window\): 1.234 earlier events and 7 finished tasks were evicted by the server\.$/);
});

test('a notice received live moves the window start but cuts nothing', () => {
  const model = new RunModel();
  model.ingest([worker(0, 0), spawn(1, 1), start(2, 1), end(3, 1, false)]);
  model.ingest([{ k: 'evicted', t: 90e9, before: 30e9, events: 10, tasks: 0 }, start(91e9, 1), end(92e9, 1, false)]);
  assert.equal(model.windowStart, 30e9);
  assert.equal(model.windowCuts, 0);
  assert.equal(model.violations.count, 0);
  assert.match(windowNotice(model), /^Showing the last 1 min 02 s .*10 earlier events were evicted by the server\.$/);
  assert.equal(windowNotice(new RunModel()), '');
});

test('the page limits come from the address', () => {
  assert.deepEqual(windowLimits('?window_events=5000&window_s=30'), { maxEvents: 5000, maxAgeNs: 30e9 });
  assert.deepEqual(windowLimits('?window_events=3'), {});
  assert.deepEqual(windowLimits(''), {});
});

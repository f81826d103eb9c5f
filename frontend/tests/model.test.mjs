// Tests of model.js: exact per-task figures from a hand-written event list, the table of
// legal transitions, scheduled time (wake -> next poll_start), probe state diagrams, and
// the speed of ingesting a million events.

import test from 'node:test';
import assert from 'node:assert/strict';
import { RunModel, OPEN, DRIVER, log2Histogram, LEGAL_TRANSITIONS, probeGroups } from '../js/model.js';
import { syntheticRun } from './support/synthetic-run.mjs';

const F = 'scenarios/src/demo.rs';

// Two tasks on two workers. Times in ns. The comments give the phase each event opens.
const STORY = [
  { k: 'worker', t: 0, worker: 0, name: 'tokio-rt-worker-0', kind: 'worker' },
  { k: 'worker', t: 0, worker: 1, name: 'tokio-rt-worker-1', kind: 'worker' },
  { k: 'spawn', t: 100, task: 1, name: 'main', kind: 'task', loc: `${F}:5:1`, size: 512, parent: null }, // sched 100..200
  { k: 'poll_start', t: 200, task: 1, worker: 0 }, // busy 200..400
  { k: 'state', t: 200, task: 1, future: 10, parent: null, label: 'start', loc: null },
  { k: 'spawn', t: 300, task: 2, name: 'child', kind: 'task', loc: `${F}:7:5`, size: 128, parent: 1 }, // sched 300..500
  { k: 'waker_clone', t: 340, task: 1 },
  { k: 'state', t: 350, task: 1, future: 10, parent: null, label: 'sleep(a)', loc: `${F}:10` },
  { k: 'poll_end', t: 400, task: 1, worker: 0, ready: false }, // idle 400..600
  { k: 'poll_start', t: 500, task: 2, worker: 1 }, // busy 500..700
  { k: 'wake', t: 600, task: 1, by: 2, op: 'wake' }, // sched 600..1000
  { k: 'poll_end', t: 700, task: 2, worker: 1, ready: false }, // idle 700..1100
  { k: 'poll_start', t: 1000, task: 1, worker: 0 }, // busy 1000..1200
  { k: 'state', t: 1050, task: 1, future: 10, parent: null, label: 'recv', loc: `${F}:12` },
  { k: 'state', t: 1060, task: 1, future: 11, parent: 10, label: 'start', loc: null },
  { k: 'state', t: 1070, task: 1, future: 11, parent: 10, label: 'inner', loc: `${F}:20` },
  { k: 'wake', t: 1100, task: 2, by: null, op: 'wake_by_ref' }, // sched 1100..1300
  { k: 'wake', t: 1150, task: 1, by: 1, op: 'wake_by_ref' }, // woken while running: sched from poll_end
  { k: 'state', t: 1180, task: 1, future: 11, parent: 10, label: 'ready', loc: null },
  { k: 'state', t: 1190, task: 1, future: 10, parent: null, label: 'sleep(a)', loc: `${F}:10` },
  { k: 'poll_end', t: 1200, task: 1, worker: 0, ready: false }, // sched 1200..1600
  { k: 'poll_start', t: 1300, task: 2, worker: 0 }, // busy 1300..1500
  { k: 'poll_end', t: 1500, task: 2, worker: 0, ready: true },
  { k: 'done', t: 1500, task: 2, outcome: 'completed' },
  { k: 'mark', t: 1550, label: 'phase 2' },
  { k: 'poll_start', t: 1600, task: 1, worker: 1 }, // busy 1600..2000
  { k: 'lint', t: 1700, task: 1, rule: 'self_wake', detail: 'task 1 woke itself' },
  { k: 'state', t: 1900, task: 1, future: 10, parent: null, label: 'ready', loc: null },
  { k: 'poll_end', t: 2000, task: 1, worker: 1, ready: true },
  { k: 'done', t: 2000, task: 1, outcome: 'completed' },
];

function storyModel() {
  const m = new RunModel({ run: 1 });
  m.ingest(STORY);
  return m;
}

test('per-task figures are exact', () => {
  const m = storyModel();
  assert.equal(m.violations.count, 0, JSON.stringify(m.violations.messages));
  const t1 = m.tasks.get(1);
  const f1 = m.taskFigures(t1);
  assert.deepEqual(
    { life: f1.life, busy: f1.busy, scheduled: f1.scheduled, idle: f1.idle, polls: f1.polls },
    { life: 1900, busy: 800, scheduled: 900, idle: 200, polls: 3 },
  );
  assert.equal(f1.longestPoll, 400);
  assert.equal(f1.worstDelay, 400);
  assert.equal(t1.wakes, 2);
  assert.equal(t1.selfWakes, 1);
  assert.deepEqual([...t1.wakesBy.entries()].sort(), [
    [1, 1],
    [2, 1],
  ]);
  assert.equal(t1.wakerClones, 1);
  assert.equal(t1.wakesByValue, 1);
  assert.equal(t1.liveWakers, 0);
  assert.equal(t1.outcome, 'completed');
  assert.equal(t1.lints.length, 1);

  const t2 = m.tasks.get(2);
  const f2 = m.taskFigures(t2);
  assert.deepEqual(
    { life: f2.life, busy: f2.busy, scheduled: f2.scheduled, idle: f2.idle, polls: f2.polls },
    { life: 1200, busy: 400, scheduled: 400, idle: 400, polls: 2 },
  );
  assert.deepEqual([...t2.wakesBy.entries()], [[DRIVER, 1]]);
  assert.equal(t2.parent, 1);
  assert.equal(t2.size, 128);
});

test('scheduled intervals run from the wake (or the end of the poll it came in) to the next poll_start', () => {
  const m = storyModel();
  const t1 = m.tasks.get(1);
  const intervals = Array.from({ length: t1.sched.length }, (_, i) => [t1.sched.start[i], t1.sched.end[i]]);
  assert.deepEqual(intervals, [
    [100, 200], // spawn -> first poll
    [600, 1000], // wake by task 2 -> poll
    [1200, 1600], // woken during the poll at 1150 -> runnable from poll_end
  ]);
  assert.deepEqual(Array.from(m.scheduledDurations(t1)), [100, 400, 400]);
  // Wake edges point at the poll that followed each wake.
  assert.deepEqual(Array.from(m.wakes.target.subarray(0, m.wakes.length)), [1000, 1300, 1600]);
  assert.deepEqual(Array.from(m.wakes.by.subarray(0, m.wakes.length)), [1, -1, 0]); // task indices
});

test('worker lanes hold the slices that ran on them', () => {
  const m = storyModel();
  const lane = (w) => {
    const c = m.threads.get(w).slices;
    return Array.from({ length: c.length }, (_, i) => [c.start[i], c.end[i], m.taskList[c.ref[i]].id]);
  };
  assert.deepEqual(lane(0), [
    [200, 400, 1],
    [1000, 1200, 1],
    [1300, 1500, 2],
  ]);
  assert.deepEqual(lane(1), [
    [500, 700, 2],
    [1600, 2000, 1],
  ]);
  assert.equal(m.threads.get(0).busyNs, 600);
  assert.equal(m.threads.get(1).busyNs, 600);
});

test('summary figures', () => {
  const s = storyModel().summary();
  assert.equal(s.tasks, 2);
  assert.equal(s.polls, 5);
  assert.equal(s.wakes, 3);
  assert.equal(s.longestPoll.ns, 400);
  assert.equal(s.worstDelay.ns, 400);
  assert.equal(s.worstDelay.t, 600, 'the first 400 ns delay wins');
  assert.equal(s.duration, 2000);
  assert.equal(s.lints, 1);
  assert.equal(s.events, STORY.length);
  assert.equal(storyModel().marks[0].label, 'phase 2');
});

test('state diagram counts, times and nesting', () => {
  const m = storyModel();
  const t1 = m.tasks.get(1);
  assert.deepEqual(t1.probeRoots, [10]);
  const outer = t1.probes.get(10);
  assert.deepEqual(outer.children, [11]);
  const states = Object.fromEntries([...outer.states].map(([k, v]) => [k, [v.count, v.ns]]));
  assert.deepEqual(states, {
    start: [1, 150],
    'sleep(a)': [2, 700 + 710],
    recv: [1, 140],
    ready: [1, 0],
  });
  const edges = [...outer.transitions.values()].map((e) => `${e.from}->${e.to}:${e.count}`);
  assert.deepEqual(edges, ['start->sleep(a):1', 'sleep(a)->recv:1', 'recv->sleep(a):1', 'sleep(a)->ready:1']);
  assert.equal(outer.states.get('recv').loc, `${F}:12`);
  const inner = t1.probes.get(11);
  assert.equal(inner.parent, 10);
  assert.equal(inner.label, 'ready');
});

test('current await point follows the innermost unfinished probe', () => {
  const m = new RunModel();
  m.ingest(STORY.slice(0, STORY.findIndex((e) => e.t === 1070 && e.k === 'state') + 1));
  const t1 = m.tasks.get(1);
  assert.deepEqual(t1.currentAwait(), { future: 11, label: 'inner', loc: `${F}:20`, since: 1070 });
  // Live: the time in the current state grows with `now`.
  assert.equal(t1.probes.get(11).timeIn('inner', 1100), 30);
  m.ingest(STORY.filter((e) => e.t > 1070 && e.t <= 1180));
  assert.equal(t1.currentAwait().label, 'recv', 'inner finished: back to the enclosing probe');
  assert.equal(m.taskActivity(t1), 'running');
});

test('illegal transitions are recorded, not thrown, and the rest still counts', () => {
  const m = new RunModel();
  m.ingest([
    { k: 'worker', t: 0, worker: 0, name: 'w0', kind: 'worker' },
    { k: 'spawn', t: 1, task: 1, name: 'a', kind: 'task', loc: null, size: null, parent: null },
    { k: 'poll_end', t: 2, task: 1, worker: 0, ready: false }, // no open poll
    { k: 'poll_start', t: 3, task: 1, worker: 0 },
    { k: 'poll_start', t: 4, task: 1, worker: 0 }, // poll inside a poll
    { k: 'poll_end', t: 5, task: 1, worker: 1, ready: false }, // wrong worker
    { k: 'poll_end', t: 6, task: 1, worker: 0, ready: true }, // ok
    { k: 'poll_start', t: 7, task: 1, worker: 0 }, // polled after Ready
    { k: 'poll_end', t: 8, task: 1, worker: 0, ready: true },
    { k: 'spawn', t: 9, task: 1, name: 'a', kind: 'task', loc: null, size: null, parent: null }, // spawned twice
    { k: 'wake', t: 10, task: 99, by: null, op: 'wake' }, // unknown task
    { k: 'done', t: 11, task: 1, outcome: 'completed' },
    { k: 'done', t: 12, task: 1, outcome: 'completed' }, // done twice
    { k: 'poll_start', t: 13, task: 1, worker: 0 }, // poll after done
    { k: 'waker_drop', t: 14, task: 1 }, // no live waker
    { k: 'state', t: 15, task: 1, future: 5, parent: null, label: 'ready', loc: null },
    { k: 'state', t: 16, task: 1, future: 5, parent: null, label: 'again', loc: null }, // after ready
    { k: 'mark', t: 3, label: 'late' }, // time went backwards
    { k: 'poll_start', t: 20, task: 7, worker: 3 }, // unknown task, unknown worker
    { k: 'brand_new_kind', t: 21 },
  ]);
  const messages = m.violations.messages.map((v) => v.message);
  const expect = [
    /poll_end for a runnable task \(task 1\)/,
    /poll_start for a running task \(task 1\)/,
    /poll_end of task 1 on worker 1, but its poll is open on worker 0/,
    /task 1 polled again after a poll returned Ready/,
    /spawn for a runnable task \(task 1\)/,
    /wake for an unknown task \(task 99\)/,
    /done for a done task \(task 1\)/,
    /poll_start for a done task \(task 1\)/,
    /waker_drop for task 1 with no live cloned waker/,
    /future 5 of task 1 reports "again" after it finished as "ready"/,
    /time went backwards/,
    /poll_start for an unknown task \(task 7\)/,
    /thread 3 used before its worker event/,
  ];
  assert.equal(m.violations.count, expect.length, messages.join('\n'));
  for (const re of expect) assert.ok(messages.some((msg) => re.test(msg)), `missing ${re}: ${messages.join('\n')}`);
  assert.equal(m.unknownKinds.get('brand_new_kind'), 1);
  // The legal polls still count: 3..6 and 7..8 closed; task 7's poll is open.
  const t1 = m.tasks.get(1);
  assert.equal(t1.polls.length, 2);
  assert.equal(t1.busyNs, 3 + 1);
  assert.equal(m.tasks.get(7).polls.end[0], OPEN);
});

test('every row of the transition table names real phases', () => {
  const phases = new Set(['absent', 'runnable', 'running', 'done']);
  for (const [kind, row] of Object.entries(LEGAL_TRANSITIONS)) {
    for (const [from, to] of Object.entries(row)) {
      assert.ok(phases.has(from), `${kind}: ${from}`);
      assert.ok(to === '=' || phases.has(to), `${kind}: ${to}`);
    }
  }
});

test('open polls and scheduled time count up to now while live', () => {
  const m = new RunModel();
  m.ingest(STORY.slice(0, 4)); // spawned at 100, polled from 200, still running
  const t1 = m.tasks.get(1);
  const f = m.taskFigures(t1, 500);
  assert.equal(f.busy, 300);
  assert.equal(f.scheduled, 100);
  assert.equal(f.idle, 0);
});

test('dropped events are summed', () => {
  const m = new RunModel();
  m.ingest([
    { k: 'dropped', t: 5, count: 10 },
    { k: 'dropped', t: 6, count: 3 },
  ]);
  assert.equal(m.summary().dropped, 13);
});

test('log2 histogram buckets', () => {
  const h = log2Histogram([1, 3, 3, 1000, 1024]);
  assert.equal(h.buckets.reduce((a, b) => a + b.count, 0), 5);
  assert.equal(h.max, 2);
  const b = h.buckets.find((x) => x.lo <= 1000 && 1000 < x.hi);
  assert.equal(b.count, 1);
});

// How fast a million events ingest is measured by frontend/bench/render.bench.mjs, not here:
// tests assert behaviour, never time (the machines are shared and noisy).
test('a synthetic run is legal, and a million events ingest completely and legally', () => {
  const small = new RunModel();
  small.ingest(syntheticRun({ seed: 7 }));
  assert.equal(small.violations.count, 0, JSON.stringify(small.violations.messages.slice(0, 3)));

  const events = syntheticRun({ seed: 3, tasks: 2000, pollsPerTask: 100 });
  assert.ok(events.length >= 1_000_000, `only ${events.length} events`);
  const m = new RunModel();
  m.ingest(events);
  assert.equal(m.violations.count, 0);
  assert.equal(m.eventCount, events.length);
  assert.equal(m.summary().polls, events.filter((e) => e.k === 'poll_start').length);
});

test('probes of the same future in a loop share one diagram', () => {
  const m = new RunModel();
  const ev = [
    { k: 'worker', t: 0, worker: 0, name: 'w', kind: 'worker' },
    { k: 'spawn', t: 0, task: 1, name: 'actor', kind: 'task', loc: null, size: null, parent: null },
    { k: 'poll_start', t: 1, task: 1, worker: 0 },
  ];
  // Three iterations of `rx.recv().await`, each a new probe; the last is still waiting.
  let t = 10;
  for (const f of [2, 3, 4]) {
    ev.push({ k: 'state', t: t, task: 1, future: f, parent: null, label: 'start', loc: 'a.rs:5', name: 'rx.recv()' });
    ev.push({ k: 'state', t: t + 10, task: 1, future: f, parent: null, label: 'rx.recv().await', loc: 'a.rs:5', name: 'rx.recv()' });
    if (f !== 4) ev.push({ k: 'state', t: t + 100, task: 1, future: f, parent: null, label: 'ready', loc: null, name: 'rx.recv()' });
    t += 200;
  }
  // A different future in the same task.
  ev.push({ k: 'state', t: 700, task: 1, future: 9, parent: null, label: 'start', loc: 'a.rs:9', name: 'sleep' });
  m.ingest(ev);
  const groups = probeGroups(m.tasks.get(1), 800);
  assert.equal(groups.length, 2);
  const recv = groups[0];
  assert.equal(recv.name, 'rx.recv()');
  assert.equal(recv.instances, 3);
  assert.equal(recv.live, 1);
  assert.equal(recv.label, 'rx.recv().await', 'the live instance is where the group is');
  assert.equal(recv.states.get('rx.recv().await').count, 3);
  assert.equal(recv.timeIn('rx.recv().await'), 90 + 90 + (800 - 420), 'live time counts up to now');
  assert.deepEqual([...recv.transitions.values()].map((e) => `${e.from}->${e.to}:${e.count}`), ['start->rx.recv().await:3', 'rx.recv().await->ready:2']);
  assert.equal(groups[1].instances, 1);
});

test('probes polled outside any task (state with task null) are kept, not flagged', () => {
  const m = new RunModel();
  m.ingest([
    { k: 'state', t: 10, task: null, future: 1, parent: null, label: 'start', loc: 'x.rs:5', name: 'block_on(future)' },
    { k: 'state', t: 20, task: null, future: 1, parent: null, label: 'Delay::new(pause).await', loc: 'x.rs:9' },
    { k: 'state', t: 50, task: null, future: 1, parent: null, label: 'ready', loc: null },
  ]);
  assert.equal(m.violations.count, 0, JSON.stringify(m.violations.messages));
  assert.equal(m.taskList.length, 0, 'no task is made up for them');
  const probe = m.outside.probes.get(1);
  assert.equal(probe.name, 'block_on(future)');
  assert.equal(probe.states.get('Delay::new(pause).await').ns, 30);
  assert.equal(probe.ended, true);
});

test('a poll_end with drop: true is a drop slice, not a poll', () => {
  const m = new RunModel();
  m.ingest([
    { k: 'worker', t: 0, worker: 0, name: 'w0', kind: 'worker' },
    { k: 'spawn', t: 100, task: 1, name: 'victim', kind: 'task', loc: null, size: null, parent: null }, // sched 100..200
    { k: 'poll_start', t: 200, task: 1, worker: 0 },
    { k: 'poll_end', t: 300, task: 1, worker: 0, ready: false }, // a real poll: 100 ns
    { k: 'wake', t: 1000, task: 1, by: null, op: 'wake_by_ref' }, // aborted: sched 1000..6000
    { k: 'poll_start', t: 6000, task: 1, worker: 0 },
    { k: 'done', t: 6100, task: 1, outcome: 'cancelled' },
    { k: 'poll_end', t: 9000, task: 1, worker: 0, ready: false, drop: true }, // dropping: 3000 ns
  ]);
  assert.equal(m.violations.count, 0, JSON.stringify(m.violations.messages));
  const task = m.tasks.get(1);
  const w = m.threads.get(0);
  assert.equal(m.polls, 1, 'the drop is not counted as a poll');
  assert.equal(m.drops, 1);
  assert.equal(task.polls.length, 1);
  assert.deepEqual([task.drops.start[0], task.drops.end[0], task.drops.ref[0]], [6000, 9000, 0]);
  assert.equal(w.slices.length, 1, 'the worker lane has the poll only');
  assert.deepEqual([w.drops.start[0], w.drops.end[0], w.drops.ref[0]], [6000, 9000, task.index]);
  assert.equal(w.busyNs, 100);
  const f = m.taskFigures(task);
  assert.equal(f.polls, 1);
  assert.equal(f.busy, 100);
  assert.equal(f.longestPoll, 100);
  assert.deepEqual([...m.pollDurations(task)], [100], 'histograms see the poll only');
  assert.deepEqual(m.longestPoll, { ns: 100, task: task.index, t: 200 });
  assert.equal(task.worstDelayNs, 100, 'the wait before the drop is not a scheduling delay');
  assert.equal(m.worstDelay.ns, 100);
  assert.equal(task.phase, 'done');
  assert.equal(m.taskActivity(task), 'done');
});

test('wakes are indexed per woken task and driver wakes on their own, in time order', () => {
  const m = new RunModel();
  m.ingest(syntheticRun({ seed: 9, tasks: 30, pollsPerTask: 20 }));
  let perTask = 0;
  for (const task of m.taskList) {
    const { items, length } = task.wakeIndex;
    assert.equal(length, task.wakes);
    perTask += length;
    for (let k = 0; k < length; k++) {
      assert.equal(m.wakes.task[items[k]], task.index);
      if (k) assert.ok(m.wakes.t[items[k]] >= m.wakes.t[items[k - 1]]);
    }
  }
  assert.equal(perTask, m.wakes.length);
  let driver = 0;
  for (let i = 0; i < m.wakes.length; i++) if (m.wakes.by[i] < 0) driver++;
  assert.equal(m.driverWakes.length, driver);
});

test('probes outside any task keep their state history for the timeline', () => {
  const m = new RunModel();
  m.ingest([
    { k: 'state', t: 10, task: null, future: 2, parent: null, label: 'start', loc: 'x.rs:83', name: 'block_on(future)' },
    { k: 'state', t: 20, task: null, future: 2, parent: null, label: 'polling', loc: 'x.rs:90' },
    { k: 'state', t: 25, task: null, future: 2, parent: null, label: 'parked', loc: 'x.rs:96' },
    { k: 'state', t: 70, task: null, future: 2, parent: null, label: 'polling', loc: 'x.rs:90' },
    { k: 'state', t: 80, task: null, future: 2, parent: null, label: 'ready', loc: null },
  ]);
  const h = m.outside.probes.get(2).history;
  assert.deepEqual([...h.start.subarray(0, h.length)], [10, 20, 25, 70, 80]);
  assert.deepEqual([...h.end.subarray(0, h.length)], [20, 25, 70, 80, OPEN]);
  assert.deepEqual([...h.ref.subarray(0, h.length)], [0, 1, 2, 1, 3], 'states by first-seen order');
});

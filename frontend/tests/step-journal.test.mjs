// Tests of step-journal.js: what the step bar says, derived from events and the step state.
// The events are shaped like the ones the recorder wrote for lazy-future and
// hand-written-future in step mode (docs/protocol.md, "Events"); the step states like
// GET /api/runs/{id}/step answers.

import test from 'node:test';
import assert from 'node:assert/strict';
import { StepJournal, describeNext, describeLastStep, runQueue, liveTasks, allowedCommands, modeText } from '../js/step-journal.js';
import { LiveConnection } from '../js/socket.js';
import { readHandedToken } from '../js/views/step-bar.js';

const at = (task, since, worker = 0) => ({ thread: 1, thread_name: 'futurescope-run-1', worker, task, since });
const state = (over) => ({ run: 1, status: 'running', mode: 'paused', stop: { why: 'step' }, stepping: false, steps: 0, passed: 0, waiting: [], polling: [], last_step: null, clock: 'paused', note: null, driver: { connected: 1, absent_ms: null, let_go: false }, version: 1, ...over });

// main spawns nothing yet; its first poll creates say_world() and parks on a sleep (a waker cloned).
const firstPoll = [
  { k: 'spawn', t: 100, task: 9, name: 'main', kind: 'task', loc: 'scenarios/src/context.rs:239:63', size: 592, parent: null },
  { k: 'worker', t: 1000, worker: 0, name: 'lazy-current', kind: 'worker' },
  { k: 'poll_start', t: 1000, task: 9, worker: 0 },
  { k: 'state', t: 1010, task: 9, future: 1, parent: null, label: 'start', loc: 'scenarios/src/lazy_future.rs:50', name: 'say_world()' },
  { k: 'mark', t: 1020, task: 9, label: 'say_world() created, not awaited' },
  { k: 'state', t: 1030, task: 9, future: 2, parent: null, label: 'start', loc: 'scenarios/src/lazy_future.rs:52', name: 'sleep(delay).await' },
  { k: 'waker_clone', t: 1040, task: 9 },
  { k: 'state', t: 1040, task: 9, future: 2, parent: null, label: 'sleep(delay).await', loc: 'scenarios/src/lazy_future.rs:52' },
  { k: 'poll_end', t: 1050, task: 9, worker: 0, ready: false },
];

test('before any event, the next poll is named from the step state and marked as a first poll', () => {
  const j = new StepJournal();
  const [next] = describeNext(state({ stop: { why: 'start' }, waiting: [at(9, 50, null)] }), j);
  assert.equal(next.task, 9);
  assert.equal(next.known, false);
  assert.equal(next.firstPoll, true);
  assert.equal(next.thread, 'futurescope-run-1', 'the thread name while no lane is announced');
  assert.equal(describeLastStep(state({ waiting: [at(9, 50)] }), j), null, 'no step yet');
});

test('the last step is matched to its poll by the gate window and says Pending, at which await point, and the waker', () => {
  const j = new StepJournal();
  j.ingest(firstPoll);
  const st = state({ steps: 1, passed: 1, last_step: { step: 1, thread: 1, thread_name: 'futurescope-run-1', worker: 0, task: 9, start: 990, end: 1060 }, waiting: [] });
  const last = describeLastStep(st, j);
  assert.equal(last.pending, false);
  assert.equal(last.outcome, 'pending');
  assert.equal(last.ns, 50);
  assert.equal(last.name, 'main');
  assert.deepEqual(last.awaitAtEnd && [last.awaitAtEnd.label, last.awaitAtEnd.loc], ['sleep(delay).await', 'scenarios/src/lazy_future.rs:52']);
  assert.deepEqual(last.marks, ['say_world() created, not awaited']);
  assert.deepEqual(
    last.states.map((s) => s.label),
    ['start', 'start', 'sleep(delay).await'],
  );
  assert.equal(last.waker.cloned, 1);
  assert.equal(last.waker.usedBy, null, 'not woken yet');
  assert.equal(j.polls, 1);
  // A step whose events have not arrived yet says so rather than guessing.
  const later = describeLastStep({ ...st, last_step: { ...st.last_step, step: 2, start: 5000, end: 5100 } }, j);
  assert.equal(later.pending, true);
});

test('the timer wakes main: the next poll says who woke it and how long before it reached the gate, and where it resumes', () => {
  const j = new StepJournal();
  j.ingest(firstPoll);
  j.ingest([{ k: 'wake', t: 3000, task: 9, by: null, op: 'wake', worker: 0 }]);
  const [next] = describeNext(state({ waiting: [at(9, 3500)] }), j);
  assert.equal(next.firstPoll, false);
  assert.equal(next.woken.kind, 'driver');
  assert.equal(next.woken.name, 'lazy-current');
  assert.equal(next.woken.agoNs, 500);
  assert.equal(next.await.label, 'sleep(delay).await');
  // The woken-and-waiting task is in the run queue (unless it is the one about to be polled).
  assert.deepEqual(runQueue(j).map((q) => q.task), [9]);
  assert.deepEqual(runQueue(j, { exclude: [9] }), []);
  // And the last poll learns where its waker went: a driver used it, after the poll.
  const last = describeLastStep(state({ last_step: { step: 1, thread: 1, thread_name: 'x', worker: 0, task: 9, start: 990, end: 1060 } }), j);
  assert.equal(last.waker.usedBy.kind, 'driver');
  assert.equal(last.waker.usedBy.during, false);
});

test("a hand-written future's waker given to a plain thread names that thread; a finished probe falls back to its parent", () => {
  const j = new StepJournal();
  j.ingest([
    { k: 'spawn', t: 10, task: 18, name: 'handshake', kind: 'task', loc: 'x.rs:1:1', size: 56, parent: 16 },
    { k: 'worker', t: 20, worker: 0, name: 'hand-current', kind: 'worker' },
    { k: 'worker', t: 21, worker: 1, name: 'peer', kind: 'thread' },
    { k: 'poll_start', t: 100, task: 18, worker: 0 },
    { k: 'state', t: 101, task: 18, future: 5, parent: null, label: 'start', loc: 'h.rs:69', name: 'Handshake' },
    { k: 'state', t: 102, task: 18, future: 6, parent: 5, label: 'start', loc: 'h.rs:80', name: 'inner' },
    { k: 'state', t: 103, task: 18, future: 6, parent: null, label: 'ready', loc: null },
    { k: 'state', t: 104, task: 18, future: 5, parent: null, label: 'WaitingForHello', loc: 'h.rs:69' },
    { k: 'state', t: 105, task: 18, future: 7, parent: 5, label: 'start', loc: 'h.rs:81', name: 'inner2' },
    { k: 'state', t: 106, task: 18, future: 7, parent: null, label: 'ready', loc: null },
    { k: 'waker_clone', t: 107, task: 18 },
    { k: 'poll_end', t: 110, task: 18, worker: 0, ready: false },
    { k: 'wake', t: 900, task: 18, by: null, op: 'wake', worker: 1 },
  ]);
  const last = describeLastStep(state({ last_step: { step: 1, thread: 1, thread_name: 'x', worker: 0, task: 18, start: 90, end: 120 } }), j);
  assert.equal(last.awaitAtEnd.label, 'WaitingForHello', 'the enclosing future once the inner one finished');
  assert.deepEqual(last.waker.usedBy && [last.waker.usedBy.kind, last.waker.usedBy.name], ['thread', 'peer']);
  const [next] = describeNext(state({ waiting: [at(18, 950)] }), j);
  assert.equal(next.woken.kind, 'thread');
  assert.equal(next.woken.agoNs, 50);
});

test('a task that wakes another during its poll: the woken task queues, oldest first; Ready and done end it', () => {
  const j = new StepJournal();
  j.ingest([
    { k: 'spawn', t: 1, task: 1, name: 'a', kind: 'task', loc: null, size: 1, parent: null },
    { k: 'spawn', t: 2, task: 2, name: 'b', kind: 'task', loc: null, size: 1, parent: 1 },
    { k: 'spawn', t: 3, task: 3, name: 'c', kind: 'task', loc: null, size: 1, parent: 1 },
    { k: 'poll_start', t: 10, task: 2, worker: 0 },
    { k: 'poll_end', t: 11, task: 2, worker: 0, ready: false },
    { k: 'poll_start', t: 20, task: 1, worker: 0 },
    { k: 'wake', t: 21, task: 2, by: 1, op: 'wake_by_ref', worker: 0 },
    { k: 'poll_end', t: 30, task: 1, worker: 0, ready: true },
    { k: 'done', t: 31, task: 1, outcome: 'completed' },
  ]);
  assert.deepEqual(
    runQueue(j).map((q) => [q.task, q.spawned, q.woken && q.woken.name]),
    [
      [3, true, null],
      [2, false, 'a'],
    ],
  );
  const last = describeLastStep(state({ last_step: { step: 2, thread: 1, thread_name: 'x', worker: 0, task: 1, start: 15, end: 35 } }), j);
  assert.equal(last.outcome, 'ready');
  assert.equal(last.done, 'completed');
  assert.deepEqual(last.woke, [{ task: 2, name: 'b', op: 'wake_by_ref' }]);
  assert.deepEqual(liveTasks(j).tasks.map((t) => t.task), [2, 3]);
  assert.deepEqual(liveTasks(j, { first: [3], limit: 1 }), { tasks: [{ task: 3, name: 'c' }], more: 1 }, 'the ids asked for first, then a count of the rest');
  assert.equal(j.polls, 2);
});

test('a task woken while its poll runs is runnable again after that poll (a yield)', () => {
  const j = new StepJournal();
  j.ingest([
    { k: 'spawn', t: 1, task: 4, name: 'yielder', kind: 'task', loc: null, size: 1, parent: null },
    { k: 'poll_start', t: 10, task: 4, worker: 0 },
    { k: 'wake', t: 12, task: 4, by: 4, op: 'wake_by_ref', worker: 0 },
    { k: 'poll_end', t: 15, task: 4, worker: 0, ready: false },
  ]);
  assert.deepEqual(runQueue(j).map((q) => [q.task, q.since]), [[4, 12]]);
  const last = describeLastStep(state({ last_step: { step: 1, thread: 1, thread_name: 'x', worker: 0, task: 4, start: 5, end: 20 } }), j);
  assert.equal(last.waker.selfWoken, true);
});

test('which commands the driver may send, and none for an observer or a run that is over', () => {
  const paused = state({});
  assert.deepEqual(allowedCommands(paused, { driving: true }), { step: true, toWake: true, until: true, resume: true, pause: false });
  assert.deepEqual(allowedCommands(paused, { driving: false }), { step: false, toWake: false, until: false, resume: false, pause: false });
  assert.equal(allowedCommands(paused, { driving: true, busy: true }).step, false, 'one command at a time');
  assert.equal(allowedCommands({ ...paused, stepping: true }, { driving: true }).step, false);
  assert.deepEqual(allowedCommands({ ...paused, mode: 'running', stop: null }, { driving: true }), { step: false, toWake: false, until: false, resume: false, pause: true });
  assert.equal(allowedCommands({ ...paused, mode: 'until_wake' }, { driving: true }).pause, true);
  assert.equal(allowedCommands({ ...paused, mode: 'released' }, { driving: true }).resume, false);
  assert.equal(allowedCommands({ ...paused, status: 'completed' }, { driving: true }).step, false);
  assert.equal(modeText(state({ stop: { why: 'start' } })), 'paused before the first poll');
  assert.equal(modeText(state({ mode: 'until_task', task: 7 })), 'running until task 7 is polled…');
  assert.match(modeText(state({ mode: 'running', driver: { connected: 0, absent_ms: 31000, let_go: true } })), /let go/);
});

test('the socket routes step and driving messages and says drive again after a reconnect', () => {
  const sockets = [];
  class Fake {
    constructor() {
      this.sent = [];
      this.readyState = 0;
      sockets.push(this);
    }
    send(text) {
      this.sent.push(JSON.parse(text));
    }
    close() {}
  }
  const got = [];
  let pending = null;
  const timers = { setTimeout: (fn) => ((pending = fn), 1), clearTimeout: () => {} };
  const conn = new LiveConnection({ url: 'ws://x/ws', WebSocketImpl: Fake, timers, handlers: { onStep: (m) => got.push(['step', m.steps]), onDriving: (m) => got.push(['driving', m.run]) } });
  conn.connect();
  const ws = sockets[0];
  ws.readyState = 1;
  ws.onopen();
  conn.subscribe(3);
  conn.drive(3, 'tok');
  assert.deepEqual(ws.sent.at(-1), { type: 'drive', run: 3, token: 'tok' });
  ws.onmessage({ data: JSON.stringify({ type: 'driving', run: 3 }) });
  ws.onmessage({ data: JSON.stringify({ type: 'step', run: 3, steps: 2 }) });
  assert.deepEqual(got, [
    ['driving', 3],
    ['step', 2],
  ]);
  // The connection drops and comes back: subscribe, then drive, again.
  ws.onclose();
  pending();
  const again = sockets[1];
  again.readyState = 1;
  again.onopen();
  assert.deepEqual(again.sent, [
    { type: 'subscribe', run: 3 },
    { type: 'drive', run: 3, token: 'tok' },
  ]);
});

test('a hand-over link names the run in the query and the token in the fragment', () => {
  assert.deepEqual(readHandedToken({ search: '?scenario=x&run=4', hash: '#drive=ab12' }), { run: '4', token: 'ab12' });
  assert.equal(readHandedToken({ search: '?run=4', hash: '' }), null);
  assert.equal(readHandedToken({ search: '?scenario=x', hash: '#drive=ab12' }), null, 'a token without its run');
  assert.equal(readHandedToken({ search: '?run=4', hash: '#drive=<x>' }), null);
});

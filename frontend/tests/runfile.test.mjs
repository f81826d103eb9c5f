// Tests of saving and reopening runs (runfile.js) and of the live path's pause gate
// (live-feed.js): the events of one run, once streamed over the WebSocket in batches
// (with a pause in the middle) and once read back from the JSON lines of
// GET /api/runs/{id}/events, must build exactly the same model.

import test from 'node:test';
import assert from 'node:assert/strict';
import { openRunText, runFileName } from '../js/runfile.js';
import { LiveFeed } from '../js/live-feed.js';
import { LiveConnection } from '../js/socket.js';
import { RunModel, OPEN } from '../js/model.js';
import { syntheticRun, mulberry32 } from './support/synthetic-run.mjs';

/** A WebSocket the test drives: open() and message() as the server would. */
class FakeSocket {
  static last = null;
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    FakeSocket.last = this;
  }
  send(text) {
    this.sent.push(JSON.parse(text));
  }
  close() {}
  open() {
    this.readyState = 1;
    this.onopen?.({});
  }
  message(obj) {
    this.onmessage?.({ data: JSON.stringify(obj) });
  }
}

const noTimers = { setTimeout: () => null, clearTimeout: () => {} };

/** Everything a view shows of a model, as plain data: run summary, per task, per worker. */
function signature(m) {
  const column = (c) => Array.from({ length: c.length }, (_, i) => [c.start[i], c.end[i], c.ref[i]]);
  return {
    summary: m.summary(),
    tasks: m.taskList.map((t) => ({
      id: t.id,
      name: t.name,
      kind: t.kind,
      loc: t.loc,
      parent: t.parent,
      spawnT: t.spawnT,
      doneT: t.doneT,
      outcome: t.outcome,
      figures: m.taskFigures(t),
      polls: column(t.polls),
      sched: column(t.sched),
      wakes: t.wakes,
      wakesBy: [...t.wakesBy.entries()],
      wakers: [t.wakerClones, t.wakerDrops, t.wakesByValue, t.maxLiveWakers],
      probes: [...t.probes.values()].map((p) => [p.id, p.label, [...p.states.values()].map((s) => [s.label, s.count, s.ns])]),
      lints: t.lints,
    })),
    workers: m.threadList.map((w) => ({ index: w.index, name: w.name, kind: w.kind, busy: w.busyNs, slices: column(w.slices), long: w.longSlices })),
    wakes: Array.from({ length: m.wakes.length }, (_, i) => [m.wakes.t[i], m.wakes.task[i], m.wakes.by[i], m.wakes.target[i]]),
    marks: m.marks,
    lints: m.lints,
    violations: m.violations,
  };
}

test('a saved run reopens as exactly the model the live run built', () => {
  const RUN = 5;
  const events = syntheticRun({ seed: 21, tasks: 40, pollsPerTask: 15 });

  // Live: the server sends batches of varying size; the page pauses for a while in the
  // middle and resumes (the held batches go in on resume).
  const live = new RunModel({ run: RUN, scenario: 'blocking-in-async', params: { variant: 'blocking' }, status: 'running' });
  let applied = 0;
  const feed = new LiveFeed(live, () => applied++);
  const conn = new LiveConnection({ url: 'ws://x/ws', WebSocketImpl: FakeSocket, timers: noTimers, handlers: { onBatch: (msg) => feed.push(msg.events) } });
  conn.subscribe(RUN);
  conn.connect();
  const ws = FakeSocket.last;
  ws.open();
  assert.deepEqual(ws.sent, [{ type: 'subscribe', run: RUN }]);
  ws.message({ type: 'hello', v: 1, server: 'futurescope test', console: null, runs: [] });
  const rand = mulberry32(3);
  let batches = 0;
  for (let i = 0; i < events.length; batches++) {
    const n = 1 + Math.floor(rand() * 120);
    if (batches === 10) feed.pause();
    if (batches === 25) {
      assert.ok(feed.bufferedEvents > 0);
      const before = live.eventCount;
      feed.resume();
      assert.ok(live.eventCount > before, 'resume applied the held batches');
    }
    ws.message({ type: 'batch', run: RUN, events: events.slice(i, i + n) });
    i += n;
  }
  ws.message({ type: 'end', run: RUN, status: 'finished', error: null, counts: {} });
  assert.ok(batches > 30, `${batches} batches`);
  assert.equal(feed.bufferedEvents, 0);
  assert.equal(live.eventCount, events.length);

  // File: the body of GET /api/runs/5/events, saved and opened again.
  const header = { format: 'futurescope-events', v: 1, run: RUN, scenario: 'blocking-in-async', params: { variant: 'blocking' } };
  const text = `${[header, ...events].map((e) => JSON.stringify(e)).join('\n')}\n`;
  const opened = openRunText(text, runFileName(header.scenario, RUN));
  assert.equal(opened.format, 'futurescope-events');
  assert.deepEqual([opened.model.meta.run, opened.model.meta.scenario, opened.model.meta.params], [RUN, 'blocking-in-async', { variant: 'blocking' }]);

  const a = signature(live);
  const b = signature(opened.model);
  assert.deepEqual(b.summary, a.summary, 'summary figures');
  assert.equal(b.tasks.length, a.tasks.length);
  for (let i = 0; i < a.tasks.length; i++) assert.deepEqual(b.tasks[i], a.tasks[i], `task ${a.tasks[i].id}`);
  assert.deepEqual(b, a, 'workers, wakes, marks, lints and checks too');
  assert.equal(a.violations.count, 0);
  assert.ok(a.summary.polls > 100 && a.summary.lints > 0, 'a run with something in it');
});

test('pausing holds batches in arrival order and applies them all on resume', () => {
  const m = new RunModel();
  const calls = [];
  const feed = new LiveFeed(m, () => calls.push(m.eventCount));
  feed.push([{ k: 'mark', t: 1, label: 'a' }]);
  feed.pause();
  feed.push([{ k: 'mark', t: 2, label: 'b' }, { k: 'mark', t: 3, label: 'c' }]);
  assert.equal(feed.push([{ k: 'mark', t: 4, label: 'd' }]), false, 'held');
  assert.deepEqual([m.eventCount, feed.bufferedEvents, feed.buffered.length], [1, 3, 2]);
  feed.resume();
  assert.deepEqual(m.marks.map((x) => x.label), ['a', 'b', 'c', 'd']);
  assert.deepEqual(calls, [1, 4], 'one refresh for the whole backlog');
  assert.equal(feed.bufferedEvents, 0);
  feed.setPaused(false);
  assert.deepEqual(calls, [1, 4], 'resuming with nothing held does nothing');
});

test('file names and files that are not runs', () => {
  assert.equal(runFileName('blocking-in-async', 12), 'futurescope-blocking-in-async-run12.jsonl');
  assert.equal(runFileName('we/ird name', 3), 'futurescope-we-ird-name-run3.jsonl');
  assert.equal(runFileName(null, null), 'futurescope-events-rununknown.jsonl');
  assert.throws(() => openRunText('', 'x'), /empty/);
  assert.throws(() => openRunText('hello\nworld\n', 'x'), /neither a futurescope event log nor a tokio-console recording/);
  const noHeader = openRunText('{"k":"mark","t":5,"label":"x"}\n', 'x');
  assert.equal(noHeader.model.marks.length, 1);
  assert.equal(noHeader.model.meta.status, 'file');
});

test('a poll on no known thread has a task slice and no worker slice', () => {
  const m = new RunModel();
  m.ingest([
    { k: 'spawn', t: 0, task: 1, name: 'a', kind: 'task', loc: null, size: null, parent: null },
    { k: 'poll_start', t: 10, task: 1, worker: null },
    { k: 'poll_end', t: 30, task: 1, worker: null, ready: false },
    { k: 'poll_start', t: 40, task: 1, worker: null },
    { k: 'poll_end', t: 45, task: 1, worker: 0, ready: false }, // wrong thread: a violation
  ]);
  const t = m.tasks.get(1);
  assert.equal(m.threadList.length, 0);
  assert.deepEqual([t.polls.start[0], t.polls.end[0], t.busyNs], [10, 30, 20]);
  assert.equal(t.polls.end[1], OPEN);
  assert.equal(m.violations.count, 1);
  assert.match(m.violations.messages[0].message, /on worker 0, but its poll is open on an unknown thread/);
});

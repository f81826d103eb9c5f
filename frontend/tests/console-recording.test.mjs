// Tests of console-recording.js: a hand-written tokio-console recording (the shape
// console-subscriber 0.5 writes with `recording_path`, checked against one made by
// `futurescope run blocking-in-async --console-recording FILE`) converted into futurescope
// events and a model: span ids -> task ids, polls = Enter/Exit pairs minus the drop of the
// future before Close, wakes without a waker except self-wakes, nothing else invented.
//
// Set FUTURESCOPE_CONSOLE_RECORDING=path (default /tmp/console-recording-sample.jsonl) to
// also check a real recording: it must convert into a model without an illegal event.

import test from 'node:test';
import assert from 'node:assert/strict';
import { parseConsoleRecording, looksLikeConsoleRecording, readInstant, readWakerOp, CONSOLE_RECORDING_LACKS } from '../js/console-recording.js';
import { RunModel, OPEN, DRIVER, NO_THREAD } from '../js/model.js';
import { openRunText } from '../js/runfile.js';

// Times are µs after the first record, which sits 0.9 s into an epoch second so that the
// recording crosses a second boundary (the seconds and nanoseconds must be combined exactly).
const SECS = 1795670749;
const at = (us) => {
  const ns = 900_000_000 + us * 1000;
  return `{"secs_since_epoch":${SECS + Math.floor(ns / 1e9)},"nanos_since_epoch":${ns % 1e9}}`;
};
const fields = (list) => JSON.stringify(Object.entries(list).map(([name, value]) => ({ name, value })));
const spawn = (id, us, f) => `{"Spawn":{"id":${id},"at":${at(us)},"fields":${fields(f)}}}`;
const span = (kind, id, us) => `{"${kind}":{"id":${id},"at":${at(us)}}}`;
const waker = (id, op, us) => `{"Waker":{"id":${id},"op":${JSON.stringify(op)},"at":${at(us)}}}`;

// Span ids above 2^53: 9007199254741002 and ...003 are the same double, so they must be
// read as text to stay two tasks.
const TICKER = '9007199254741003';
const SLEEPER = '9007199254741002';

const RECORDING = [
  '{"v":1}',
  span('Enter', 1, 0), // a resource or async-op span: never spawned, skipped
  span('Exit', 1, 1),
  spawn(2, 2, { kind: 'blocking', 'task.name': '', 'task.id': 1, fn: 'tokio::runtime::scheduler::multi_thread::worker::Launch::launch::{{closure}}', 'size.bytes': 24 }),
  span('Enter', 2, 3), // a runtime worker thread, entered for its life: skipped
  span('Enter', 5, 20), // main, poll 1 (20..50) — written before its Spawn: the writer got them out of order
  spawn(5, 10, { kind: 'task', 'task.name': 'main', 'task.id': 4, 'size.bytes': 400 }),
  spawn(TICKER, 30, { kind: 'task', 'task.name': 'ticker', 'task.id': 9, 'size.bytes': 200 }),
  spawn(SLEEPER, 35, { kind: 'task', 'task.name': 'sleeper', 'task.id': 10, 'size.bytes': 96 }),
  waker(5, 'Clone', 40),
  span('Exit', 5, 50),
  span('Enter', TICKER, 60), // ticker, poll 1 (60..70)
  waker(TICKER, { WakeByRef: { self_wake: true } }, 65),
  span('Exit', TICKER, 70),
  span('Enter', TICKER, 80), // ticker, poll 2 (80..90): wakes main, and returns Ready
  waker(5, { Wake: { self_wake: false } }, 85),
  span('Exit', TICKER, 90),
  span('Enter', TICKER, 91), // the drop of ticker's future: not a poll
  span('Exit', TICKER, 92),
  span('Close', TICKER, 93),
  span('Enter', 5, 100), // main, poll 2 (100..130)
  span('Enter', SLEEPER, 100), // sleeper, poll 1 (100..110), on another thread
  span('Exit', SLEEPER, 110),
  spawn(7, 120, { kind: 'task', 'task.name': '', 'task.id': 11, 'size.bytes': 64 }),
  span('Exit', 5, 130),
  span('Enter', 7, 140), // task 11 aborted before its first poll: this pair is the drop
  span('Exit', 7, 141),
  span('Close', 7, 142),
  spawn(7, 150, { kind: 'task', 'task.name': 'reused', 'task.id': 12, 'size.bytes': 64 }), // span id 7 again
  span('Enter', 7, 160), // reused, poll 1 (160..170)
  waker(7, 'Clone', 165),
  span('Exit', 7, 170),
  span('Enter', 5, 200), // main, poll 3 (200..260)
  span('Enter', SLEEPER, 205), // sleeper, poll 2 (205..215)
  span('Exit', SLEEPER, 215),
  span('Exit', 5, 260),
  span('Enter', 5, 261), // the drop of main's future
  span('Exit', 5, 262),
  span('Close', 5, 263),
  waker(7, 'Drop', 300),
].join('\n');

const us = (x) => x * 1000;
const polls = (task) => Array.from({ length: task.polls.length }, (_, i) => [task.polls.start[i] / 1000, task.polls.end[i] === OPEN ? 'open' : task.polls.end[i] / 1000]);

test('recognised by its first line; our own event logs are not', () => {
  assert.equal(looksLikeConsoleRecording(RECORDING), true);
  assert.equal(looksLikeConsoleRecording(`\n${span('Enter', 3, 0)}\n`), true, 'a recording without its header');
  assert.equal(looksLikeConsoleRecording('{"format":"futurescope-events","v":1,"run":1}\n'), false);
  assert.equal(looksLikeConsoleRecording('{"k":"spawn","t":0,"task":1}\n'), false);
  assert.equal(looksLikeConsoleRecording('not json'), false);
});

test('span ids become task ids; tasks, names and sizes come from the Spawn fields', () => {
  const { events, report } = parseConsoleRecording(RECORDING);
  const spawns = events.filter((e) => e.k === 'spawn');
  assert.deepEqual(
    spawns.map((e) => [e.t / 1000, e.task, e.name, e.kind, e.size, e.loc, e.parent]),
    [
      [10, 4, 'main', 'task', 400, null, null],
      [30, 9, 'ticker', 'task', 200, null, null],
      [35, 10, 'sleeper', 'task', 96, null, null],
      [120, 11, '', 'task', 64, null, null],
      [150, 12, 'reused', 'task', 64, null, null],
    ],
  );
  assert.equal(report.tasks, 5);
  assert.equal(report.runtimeThreads, 1, 'the worker thread span is not a task');
  assert.equal(report.otherSpans, 1, 'the Enter of a span never spawned is skipped');
  assert.equal(report.withoutLocation, 5);
  assert.equal(report.errorCount, 0);
  assert.deepEqual(report.startEpoch, [SECS, 900_000_000]);
  for (let i = 1; i < events.length; i++) assert.ok(events[i].t >= events[i - 1].t, 'sorted by time');
});

test('polls are Enter/Exit pairs, except the drop of the future right before Close', () => {
  const { events, report } = parseConsoleRecording(RECORDING);
  const m = new RunModel();
  m.ingest(events);
  assert.equal(m.violations.count, 0, JSON.stringify(m.violations.messages));
  const task = (id) => m.tasks.get(id);
  assert.deepEqual(polls(task(4)), [
    [20, 50],
    [100, 130],
    [200, 260],
  ]);
  assert.deepEqual(polls(task(9)), [
    [60, 70],
    [80, 90],
  ]);
  assert.deepEqual(polls(task(10)), [
    [100, 110],
    [205, 215],
  ], 'no Close: every pair of a span still open counts');
  assert.deepEqual(polls(task(11)), [], 'aborted before its first poll: its only pair was the drop');
  assert.deepEqual(polls(task(12)), [[160, 170]]);
  assert.equal(report.dropPairs, 3);
  assert.equal(report.polls, 8);
  assert.equal(m.polls, 8);
  // Ends: the Close, outcome unknown ("closed"); spans without a Close stay alive.
  assert.deepEqual([4, 9, 11].map((id) => [task(id).doneT / 1000, task(id).outcome]), [
    [263, 'closed'],
    [93, 'closed'],
    [142, 'closed'],
  ]);
  assert.equal(task(10).doneT, OPEN);
  assert.equal(task(12).doneT, OPEN);
  // Figures follow from the polls: main is busy 30 + 30 + 60 µs of a 253 µs life.
  const f = m.taskFigures(task(4));
  assert.deepEqual([f.life, f.busy, f.polls, f.longestPoll], [us(253), us(120), 3, us(60)]);
  // No worker lanes: the threads are not in the recording.
  assert.equal(m.threadList.length, 0);
  assert.equal(task(4).polls.ref[0], NO_THREAD);
});

test('wakes keep no waker, except self-wakes; waker clones and drops are counted', () => {
  const { events, report } = parseConsoleRecording(RECORDING);
  const wakes = events.filter((e) => e.k === 'wake');
  assert.deepEqual(wakes.map((e) => [e.t / 1000, e.task, e.by, e.op]), [
    [65, 9, 9, 'wake_by_ref'],
    [85, 4, null, 'wake'],
  ]);
  assert.equal(report.selfWakes, 1);
  const m = new RunModel();
  m.ingest(events);
  const main = m.tasks.get(4);
  assert.deepEqual([...main.wakesBy.entries()], [[DRIVER, 1]]);
  assert.equal(main.liveWakers, 0, 'cloned once, woken by value once');
  assert.equal(m.tasks.get(9).selfWakes, 1);
  const reused = m.tasks.get(12);
  assert.deepEqual([reused.wakerClones, reused.wakerDrops], [1, 1]);
  // main was scheduled from ticker's wake (85 µs) to its next poll (100 µs).
  assert.deepEqual([main.sched.start[1] / 1000, main.sched.end[1] / 1000], [85, 100]);
});

test('other shapes: {secs, nanos}, fields as an object, ops as strings, extra keys', () => {
  const text = [
    '{"Spawn":{"id":3,"at":{"secs":10,"nanos":999999000},"fields":{"kind":"task","task.name":"\\"quoted\\"","task.id":"Id(42)","loc.file":"src/main.rs","loc.line":7,"loc.col":5}}}',
    '{"Enter":{"id":3,"parent_id":1,"at":{"secs":11,"nanos":1000}}}',
    '{"Waker":{"id":3,"op":"WakeByRef","at":{"secs":11,"nanos":2000}}}',
    '{"Exit":{"id":3,"parent_id":1,"at":{"secs":11,"nanos":5000}}}',
    '{"Waker":{"id":3,"op":"Wake","at":{"secs":11,"nanos":6000}}}',
    '{"Spawn":{"id":4,"at":{"secs":11,"nanos":7000},"fields":[{"name":"kind","value":"task"}]}}',
    '{"Waker":{"id":3,"op":"Teleport","at":{"secs":11,"nanos":8000}}}',
    '{"Mystery":{}}',
    'not json',
  ].join('\n');
  const { events, report } = parseConsoleRecording(text);
  const spawn = events.find((e) => e.k === 'spawn');
  assert.deepEqual([spawn.t, spawn.task, spawn.name, spawn.loc], [0, 42, 'quoted', 'src/main.rs:7:5']);
  assert.deepEqual(events.filter((e) => e.k === 'poll_start' || e.k === 'poll_end').map((e) => e.t), [2000, 6000]);
  assert.deepEqual(events.filter((e) => e.k === 'wake').map((e) => e.op), ['wake_by_ref', 'wake']);
  assert.equal(events.filter((e) => e.k === 'spawn')[1].task, 4, 'no task.id: the span id');
  assert.equal(report.errorCount, 3);
  assert.deepEqual(report.errors.map((e) => e.line), [7, 8, 9]);
  assert.deepEqual(readInstant(1_500_000_123), [1, 500_000_123]);
  assert.equal(readInstant('soon'), null);
  assert.deepEqual(readWakerOp({ Wake: { self_wake: true } }), { kind: 'wake', self: true });
  assert.equal(readWakerOp('Teleport'), null);
});

test('a span id already used as a task id does not merge two tasks', () => {
  const text = [
    spawn(9, 0, { kind: 'task', 'task.id': 3 }),
    spawn(3, 1, { kind: 'task' }), // no task.id, and span id 3 is taken by the first task
    span('Enter', 3, 2),
    span('Exit', 3, 3),
  ].join('\n');
  const { events } = parseConsoleRecording(text);
  const ids = events.filter((e) => e.k === 'spawn').map((e) => e.task);
  assert.equal(new Set(ids).size, 2, ids.join(','));
});

test('a recording of another format version is refused', () => {
  assert.throws(() => parseConsoleRecording('{"v":2}\n'), /format v2/);
});

test('opened as a file: the model says where it came from and what it lacks', () => {
  const opened = openRunText(RECORDING, 'console.jsonl');
  assert.equal(opened.format, 'tokio-console-recording');
  assert.equal(opened.model.meta.source, 'tokio-console-recording');
  assert.equal(opened.model.meta.unknownWaker, true);
  assert.deepEqual(opened.model.meta.lacks, CONSOLE_RECORDING_LACKS);
  assert.ok(CONSOLE_RECORDING_LACKS.some((l) => /spawn locations/.test(l)));
  assert.ok(CONSOLE_RECORDING_LACKS.some((l) => /worker threads/.test(l)));
  assert.ok(CONSOLE_RECORDING_LACKS.some((l) => /who woke whom/.test(l)));
  assert.match(opened.note, /5 tasks, 8 polls/);
});

// A real recording made by console-subscriber is checked in frontend/browser/console-import.test.mjs,
// which has the binary make one.

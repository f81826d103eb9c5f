// The golden sample docs/golden-events.jsonl (one event of every kind, checked on the Rust side
// by backend/recorder/tests/golden.rs): the page reads it as a saved run, the model takes
// every line without a violation, and derives what each kind means.

import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseEventLines } from '../js/eventlog.js';
import { RunModel } from '../js/model.js';

const TEXT = readFileSync(new URL('../../docs/golden-events.jsonl', import.meta.url), 'utf8');

function load() {
  const { header, events, errorCount } = parseEventLines(TEXT);
  const model = new RunModel({ run: header.run, scenario: header.scenario });
  model.ingest(events);
  return { header, events, errorCount, model };
}

test('the golden sample reads as a saved run, and the model takes every event without complaint', () => {
  const { header, events, errorCount, model } = load();
  assert.equal(header.format, 'futurescope-events');
  assert.equal(errorCount, 0);
  assert.equal(events.length, TEXT.trim().split('\n').length - 1);
  assert.deepEqual(model.violations, { count: 0, messages: [] });
  assert.equal(model.unknownKinds.size, 0, `unknown kinds: ${[...model.unknownKinds.keys()]}`);
  assert.equal(model.eventCount, events.length);
});

test('the golden sample has every kind the model handles', () => {
  const kinds = new Set(load().events.map((e) => e.k));
  const expected = ['worker', 'spawn', 'poll_start', 'poll_end', 'wake', 'waker_clone', 'waker_drop', 'state', 'done',
    'lint', 'dropped', 'mark', 'snapshot', 'evicted', 'poll_cause'];
  assert.deepEqual([...kinds].sort(), expected.sort());
});

test('each kind means what the protocol says', () => {
  const { model } = load();
  // worker: one lane per thread, with its kind.
  assert.deepEqual(
    model.threadList.map((w) => [w.name, w.kind]),
    [['golden-worker-0', 'worker'], ['golden-thread', 'thread'], ['golden-blocking', 'blocking']],
  );
  // spawn
  const main = model.tasks.get(1);
  const hi = model.tasks.get(2);
  assert.equal(main.kind, 'block_on');
  assert.equal(hi.name, 'say "hi"\n');
  assert.equal(hi.size, 4096);
  assert.equal(hi.parent, 1);
  // poll_start / poll_end: two polls of task 2; task 1's drop:true slice is not a poll.
  assert.equal(hi.polls.length, 2);
  assert.equal(hi.busyNs, 1_000 + 20_000_000);
  assert.equal(model.polls, 2);
  assert.equal(model.drops, 1);
  // wake: three wakes of task 2, one by itself; waker_clone / waker_drop counted.
  assert.equal(hi.wakes, 3);
  assert.equal(hi.selfWakes, 1);
  assert.equal(hi.wakerClones, 2);
  assert.equal(hi.wakerDrops, 1);
  assert.equal(hi.wakesByValue, 1);
  // state: the probe, its name and its end.
  const probe = hi.probes.get(1);
  assert.equal(probe.name, 'say_hi()');
  assert.equal(probe.ended, true);
  assert.deepEqual([...probe.states.keys()], ['start', 'sleep(ms(5))', 'ready']);
  // done
  assert.equal(hi.outcome, 'completed');
  assert.equal(main.outcome, 'cancelled');
  // lint: one on task 2, one run-wide.
  assert.deepEqual(model.lints.map((l) => [l.rule, l.task]), [['long_poll', 2], ['large_future', null]]);
  assert.equal(hi.lints.length, 1);
  // poll_cause: the long poll's cause, kept by task and poll start.
  const cause = model.pollCauses.of(2, 6_000);
  assert.equal(cause.cause, 'blocked');
  assert.equal(cause.syscall, 'clock_nanosleep');
  assert.equal(cause.blocked, 18_850_000);
  // its stacks, outermost frame first, and the program's own frame most samples were in.
  assert.deepEqual(cause.stacks.map((s) => [s.n, s.frames.length, s.own]), [[6, 3, 0], [1, 1, 0]]);
  assert.deepEqual(cause.hot, { fn: 'golden::work', loc: 'src/golden.rs:12', n: 6 });
  assert.equal(model.pollCauses.of(2, 3_000), null, 'the short poll has none');
  // dropped, mark
  assert.equal(model.dropped, 3);
  // evicted: where a retention window begins, and what went before it.
  assert.equal(model.windowStart, 500);
  assert.deepEqual(model.evicted, { events: 42, tasks: 3 });
  assert.deepEqual(model.marks, [{ t: 5_700, task: null, label: 'phase 2' }]);
  // snapshot: each task's state and frames, outermost first.
  assert.equal(model.snapshots.length, 1);
  const snap = model.snapshots[0];
  assert.equal(snap.t, 5_800);
  assert.equal(snap.reason, 'manual');
  assert.deepEqual(snap.tasks.map((s) => [s.task, s.state, s.frames.map((f) => f.fn)]), [
    [1, 'idle', ['main']],
    [2, 'scheduled', ['say_hi', 'sleep(ms(5))']],
  ]);
  assert.equal(snap.tasks[1].frames[1].loc, 'scenarios/src/golden.rs:21');
});

test('a snapshot survives saving and reopening: the file picker path builds the same snapshots', async () => {
  const { model: direct } = load();
  const { openRunText } = await import('../js/runfile.js');
  const opened = openRunText(TEXT, 'golden.jsonl');
  assert.equal(opened.format, 'futurescope-events');
  assert.deepEqual(opened.model.snapshots, direct.snapshots);
  assert.equal(opened.model.snapshots.length, 1);
  // Saved again (the events as JSON lines behind their header) and reopened: still the same.
  const { header, events } = parseEventLines(TEXT);
  const saved = `${[header, ...events].map((e) => JSON.stringify(e)).join('\n')}\n`;
  assert.deepEqual(openRunText(saved, 'again.jsonl').model.snapshots, direct.snapshots);
});

// States sampled from snapshots (sampled.js): one sample per snapshot that traced a task, in
// time order, labelled with its wait sites and leaf futures; untraced entries give none.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RunModel } from '../js/model.js';
import { updateSamples, sampleLabel, sampleNear } from '../js/sampled.js';

const frames = (line) => [
  { fn: 'futurescope_scenarios::join_vs_select::unlabelled_connect::{{closure}}', loc: `scenarios/src/join_vs_select.rs:${line}`, depth: 0 },
  { fn: '<tokio::time::sleep::Sleep as core::future::future::Future>::poll', loc: 'tokio-1.54.1/src/time/sleep.rs:457', depth: 1 },
];

function model() {
  const m = new RunModel({ run: 1 });
  m.ingest([
    { t: 0, k: 'spawn', task: 7, name: 'select! task', loc: 'scenarios/src/join_vs_select.rs:99' },
    { t: 1, k: 'spawn', task: 8, name: 'other', loc: 'scenarios/src/join_vs_select.rs:99' },
    { t: 100, k: 'snapshot', reason: 'interval', tasks: [{ task: 7, state: 'idle', frames: frames(87) }, { task: 8, state: 'running', frames: [] }] },
  ]);
  return m;
}

test('each snapshot that traced a task is one sample of it; a task listed without frames has none', () => {
  const m = model();
  assert.equal(updateSamples(m), 1);
  const task = m.tasks.get(7);
  assert.equal(task.samples.length, 1);
  assert.deepEqual([task.samples[0].t, task.samples[0].index, task.samples[0].reason, task.samples[0].state], [100, 0, 'interval', 'idle']);
  assert.equal(m.tasks.get(8).samples, undefined);
  assert.equal(sampleLabel(task.samples[0]), 'join_vs_select::unlabelled_connect join_vs_select.rs:87 → Sleep::poll');
});

test('samples grow as snapshots arrive, and the nearest one is found within the slack only', () => {
  const m = model();
  updateSamples(m);
  m.ingest([{ t: 300, k: 'snapshot', reason: 'manual', tasks: [{ task: 7, state: 'scheduled', frames: frames(88) }] }]);
  assert.equal(updateSamples(m), 1);
  const s = m.tasks.get(7).samples;
  assert.deepEqual(s.map((x) => [x.t, x.index]), [[100, 0], [300, 1]]);
  assert.equal(sampleNear(s, 290, 20), 1);
  assert.equal(sampleNear(s, 110, 20), 0);
  assert.equal(sampleNear(s, 200, 20), -1, 'between samples nothing is known');
});

test('the model keeps each frame’s depth (the panel indents and folds by it)', () => {
  const m = model();
  assert.deepEqual(m.snapshots[0].tasks[0].frames.map((f) => f.depth), [0, 1]);
});

// Tests of comparing two runs (views/compare.js: the figures put side by side) and of the
// tokio-console pairing box's wording (views/console-box.js), without a browser.

import test from 'node:test';
import assert from 'node:assert/strict';
import { compareFigures, formatChange, paramsText, differingParams } from '../js/views/compare.js';
import { consoleStatus } from '../js/views/console-box.js';
import { RunModel } from '../js/model.js';
import { syntheticRun } from './support/synthetic-run.mjs';

function run(opts) {
  const m = new RunModel();
  m.ingest(syntheticRun({ seed: 8, tasks: 30, pollsPerTask: 10, ...opts }));
  return m;
}

test('two runs side by side: the figures and the change from A to B', () => {
  const blocking = run({ stallNs: 40e6 });
  const offloaded = run({ stallNs: 0 });
  const rows = compareFigures(blocking, offloaded);
  const row = (key) => rows.find((r) => r.key === key);
  assert.deepEqual(rows.map((r) => r.key), ['duration', 'tasks', 'polls', 'wakes', 'longestPoll', 'workerLongest', 'worstDelay', 'meanDelay', 'lints']);
  assert.equal(row('tasks').a, blocking.taskList.length);
  assert.equal(row('tasks').ratio, 1);
  assert.equal(row('longestPoll').a, blocking.longestPoll.ns);
  assert.equal(row('longestPoll').a, 40e6, 'the stall');
  assert.ok(row('longestPoll').b < 1e6, 'no stall in B');
  assert.ok(row('workerLongest').ratio < 0.05);
  assert.equal(row('duration').a, blocking.endT);
  // Without runtime worker lanes the worker figure is left out.
  const bare = new RunModel();
  assert.equal(compareFigures(bare, bare).some((r) => r.key === 'workerLongest'), false);
});

test('changes and params read well', () => {
  assert.equal(formatChange(1), 'same');
  assert.equal(formatChange(3.24), '3.2× more');
  assert.equal(formatChange(25), '25× more');
  assert.equal(formatChange(0.15), '6.7× less');
  assert.equal(formatChange(0.6), '−40%');
  assert.equal(formatChange(0.00035), '2857× less');
  assert.equal(formatChange(1.5), '+50%');
  assert.equal(formatChange(0.97), '−3.0%');
  assert.equal(formatChange(null), '');
  assert.equal(paramsText({ variant: 'blocking', stall_ms: 50 }), 'variant=blocking, stall_ms=50');
  assert.equal(paramsText(null), '');
  assert.equal(paramsText({ variant: 'blocking', stall_ms: 50 }, ['variant']), 'variant=blocking');
  assert.deepEqual(differingParams({ variant: 'blocking', stall_ms: 300, tickers: 4 }, { variant: 'spawn_blocking', stall_ms: 300, tickers: 4 }), ['variant']);
  assert.deepEqual(differingParams({ a: 1 }, { b: 1 }), ['a', 'b']);
});

test('the tokio-console box says whether a client is attached, and the command', () => {
  const on = (clients) => ({ enabled: true, addr: '127.0.0.1:6669', command: 'tokio-console http://127.0.0.1:6669', clients });
  assert.deepEqual(
    [consoleStatus(on(0)).state, consoleStatus(on(0)).pill, consoleStatus(on(0)).command],
    ['waiting', 'no client', 'tokio-console http://127.0.0.1:6669'],
  );
  assert.equal(consoleStatus(on(1)).pill, '1 client connected');
  assert.equal(consoleStatus(on(2)).pill, '2 clients connected');
  assert.equal(consoleStatus(on(2)).state, 'connected');
  const off = consoleStatus({ enabled: false, addr: null, command: null, clients: null });
  assert.equal(off.state, 'off');
  assert.equal(off.command, null);
  assert.match(off.note, /started with --no-console/);
  // The server could not be asked: fall back to the address the page was rendered with.
  assert.equal(consoleStatus(null, '127.0.0.1:7000').command, 'tokio-console http://127.0.0.1:7000');
  assert.equal(consoleStatus(null).command, null);
  assert.equal(consoleStatus({ enabled: true, addr: '[::1]:6669', clients: 0 }).command, 'tokio-console http://[::1]:6669', 'built when the server leaves it out');
});

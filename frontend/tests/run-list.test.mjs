// The run list names each run: a scenario run by its scenario, a watched program's run
// (futurescope::init) by its binary, never "?" when the server said what it is.

import test from 'node:test';
import assert from 'node:assert/strict';
import { runName } from '../js/views/run-list.js';

test('a run is named by its scenario or by the program it watches', () => {
  assert.equal(runName({ id: 1, scenario: 'lazy-futures' }), 'lazy-futures');
  assert.equal(runName({ id: 1, scenario: null, program: { binary: 'echo-server', pid: 42 } }), 'echo-server');
  assert.equal(runName({ id: 1, scenario: null }), '?');
});

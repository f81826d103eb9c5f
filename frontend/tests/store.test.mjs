// app/store.js: one update path, subscribers told which keys changed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Store, initialState } from '../js/app/store.js';

test('update merges the patch and tells every subscriber the keys it set, even to an equal value', () => {
  const store = new Store(initialState({ console: '127.0.0.1:6669', version: '1.2.3' }));
  assert.equal(store.state.console, '127.0.0.1:6669');
  assert.equal(store.state.wakeEdges, true);
  const seen = [];
  const off = store.subscribe((state, changed) => seen.push([[...changed].sort(), state.tab, state.selectedTask]));
  store.update({ tab: 'lints', selectedTask: 3 });
  store.update({ tab: 'lints' });
  off();
  store.update({ tab: 'task' });
  assert.deepEqual(seen, [
    [['selectedTask', 'tab'], 'lints', 3],
    [['tab'], 'lints', 3],
  ]);
  assert.equal(store.state.tab, 'task');
});

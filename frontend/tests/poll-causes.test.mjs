// poll-causes.js: a long poll's cause as the page words it.

import test from 'node:test';
import assert from 'node:assert/strict';
import { PollCauses, causeLabel, causeParts, causeSplitText, causeVerdict } from '../js/poll-causes.js';

const wire = (over) => ({ k: 'poll_cause', t: 10, task: 3, worker: 0, since: 5, cause: 'blocked', on_cpu: 1_000_000, runnable: 0, blocked: 299_000_000, syscall: 'clock_nanosleep', wchan: 'hrtimer_nanosleep', samples: 40, ...over });

test('causes are kept by task and poll start; malformed ones are refused', () => {
  const pc = new PollCauses();
  assert.equal(pc.add(wire()), true);
  assert.equal(pc.add(wire({ since: 1, cause: 'on_cpu' })), true);
  assert.equal(pc.add(wire({ cause: 'lunch' })), false);
  assert.equal(pc.add(wire({ since: undefined })), false);
  assert.equal(pc.of(3, 5).syscall, 'clock_nanosleep');
  assert.equal(pc.of(3, 6), null);
  assert.deepEqual(pc.ofTask(3).map((c) => c.since), [1, 5]);
  assert.equal(pc.count, 2);
});

test('each cause reads as what the thread did, and waiting for a CPU as the machine\'s doing', () => {
  const pc = new PollCauses();
  pc.add(wire());
  pc.add(wire({ task: 4, cause: 'on_cpu', on_cpu: 300_000_000, blocked: 0, syscall: null }));
  pc.add(wire({ task: 5, cause: 'runnable', on_cpu: 2_000_000, runnable: 90_000_000, blocked: 0, syscall: null }));
  assert.equal(causeLabel(pc.of(3, 5)), 'blocked in clock_nanosleep');
  assert.equal(causeLabel(pc.of(4, 5)), 'on CPU');
  assert.equal(causeLabel(pc.of(5, 5)), 'waiting for a CPU');
  assert.match(causeVerdict(pc.of(5, 5)), /machine's doing/);
  assert.deepEqual(causeParts(pc.of(3, 5)).map((p) => p[0]), ['blocked in clock_nanosleep', 'on CPU']);
  assert.equal(causeSplitText(pc.of(3, 5)), 'blocked in clock_nanosleep 299 ms, on CPU 1.00 ms (of 300 ms observed, 40 samples)');
});

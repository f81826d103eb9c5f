// poll-causes.js: a long poll's cause as the page words it.

import test from 'node:test';
import assert from 'node:assert/strict';
import { PollCauses, causeLabel, causeParts, causeSplitText, causeVerdict, flameTree, hotText, hottestStack, shortFn, stackSamples } from '../js/poll-causes.js';

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

const frame = (fn, loc = null) => ({ fn, loc });
const sleeping = [frame('app::run {closure}', 'src/main.rs:20'), frame('app::stall', 'src/main.rs:9'), frame('std::thread::sleep', 'library/std/src/thread/mod.rs:1'), frame('clock_nanosleep')];
const spinning = [frame('app::run {closure}', 'src/main.rs:20'), frame('app::spin', 'src/main.rs:14')];

test('stacks and the hot frame are kept; malformed stacks are left out', () => {
  const pc = new PollCauses();
  pc.add(wire({ stacks: [{ n: 5, frames: sleeping, own: 1 }, { n: 2, frames: spinning, own: 1 }, { n: 0, frames: [] }, { n: 1, frames: [{ loc: 'x' }] }], hot: { fn: 'app::stall', loc: 'src/main.rs:9', n: 5 } }));
  const c = pc.of(3, 5);
  assert.equal(c.stacks.length, 2);
  assert.equal(stackSamples(c), 7);
  assert.equal(hottestStack(c).frames[1].fn, 'app::stall');
  assert.equal(hotText(c), 'in app::stall at src/main.rs:9 (5 of 7 stack samples)');
  // A cause of a run saved before stacks were recorded.
  pc.add(wire({ task: 9 }));
  assert.deepEqual(pc.of(9, 5).stacks, []);
  assert.equal(pc.of(9, 5).hot, null);
  assert.equal(hotText(pc.of(9, 5)), null);
});

test('the flame tree merges stacks by their outer frames, widths are sample counts', () => {
  const pc = new PollCauses();
  pc.add(wire({ stacks: [{ n: 5, frames: sleeping, own: 1 }, { n: 2, frames: spinning, own: 1 }], hot: { fn: 'app::stall', loc: 'src/main.rs:9', n: 5 } }));
  const root = flameTree(pc.of(3, 5));
  assert.equal(root.n, 7);
  assert.equal(root.children.length, 1, 'one outermost frame');
  const run = root.children[0];
  assert.equal(run.n, 7);
  assert.deepEqual(run.children.map((c) => [c.frame.fn, c.n, c.own, c.hot]), [['app::stall', 5, true, true], ['app::spin', 2, true, false]]);
  assert.equal(run.children[0].children[0].children[0].frame.fn, 'clock_nanosleep');
});

test('function names are made short', () => {
  assert.equal(shortFn('futurescope_scenarios::blocking_in_async::stall'), 'blocking_in_async::stall');
  assert.equal(shortFn('<futurescope_recorder::probe::Probed<F> as core::future::future::Future>::poll'), 'Probed::poll');
  assert.equal(shortFn('futurescope_scenarios::blocking_in_async::one_part::{{closure}}::{{closure}}'), 'blocking_in_async::one_part {closure}');
  assert.equal(shortFn('clock_nanosleep'), 'clock_nanosleep');
});

// Grouping and folding of task dumps (views/snapshot-panel.js), on trees shaped like the ones
// the server sends (frames outermost first, pre-order, with depth).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { groupSnapshot, foldFrames, groupTitle, isInternal, shortFn, waitSites } from '../js/views/snapshot-panel.js';

const f = (depth, fn, loc) => ({ depth, fn, loc });

/** The select! task of join-vs-select without labels, as a real snapshot showed it. */
const SELECT = [
  f(0, 'futurescope_scenarios::join_vs_select::run::{{closure}}::{{closure}}', 'scenarios/src/join_vs_select.rs:99'),
  f(1, '<core::future::poll_fn::PollFn<F> as core::future::future::Future>::poll', 'library/core/src/future/poll_fn.rs:151'),
  f(2, 'futurescope_scenarios::join_vs_select::run::{{closure}}::{{closure}}::{{closure}}', 'tokio-1.54.1/src/macros/select.rs:710'),
  f(3, 'futurescope_scenarios::join_vs_select::unlabelled_connect::{{closure}}', 'scenarios/src/join_vs_select.rs:82'),
  f(4, '<tokio::time::sleep::Sleep as core::future::future::Future>::poll', 'tokio-1.54.1/src/time/sleep.rs:457'),
  f(5, 'tokio::time::sleep::Sleep::poll_elapsed', 'tokio-1.54.1/src/time/sleep.rs:384'),
  f(3, 'futurescope_scenarios::join_vs_select::unlabelled_chunks::{{closure}}', 'scenarios/src/join_vs_select.rs:74'),
  f(4, '<tokio::time::sleep::Sleep as core::future::future::Future>::poll', 'tokio-1.54.1/src/time/sleep.rs:457'),
  f(5, 'tokio::time::sleep::Sleep::poll_elapsed', 'tokio-1.54.1/src/time/sleep.rs:384'),
];
const SLEEPER = (line) => [
  f(0, 'futurescope_scenarios::spawn_many::run::{{closure}}::{{closure}}', `scenarios/src/spawn_many.rs:${line}`),
  f(1, '<tokio::time::sleep::Sleep as core::future::future::Future>::poll', 'tokio-1.54.1/src/time/sleep.rs:457'),
  f(2, 'tokio::time::sleep::Sleep::poll_elapsed', 'tokio-1.54.1/src/time/sleep.rs:384'),
];

test('identical trees form one group, largest first, with per-state counts', () => {
  const tasks = [];
  for (let i = 0; i < 197; i++) tasks.push({ task: 100 + i, state: i % 10 ? 'idle' : 'scheduled', frames: SLEEPER(60) });
  for (let i = 0; i < 3; i++) tasks.push({ task: 10 + i, state: 'idle', frames: SLEEPER(70) });
  tasks.push({ task: 5, state: 'idle', frames: SELECT });
  tasks.push({ task: 6, state: 'running', frames: [] });
  const groups = groupSnapshot({ t: 1, reason: 'manual', tasks });
  assert.equal(groups.length, 4);
  assert.equal(groups[0].tasks.length, 197);
  assert.deepEqual(groups[0].states, { idle: 177, scheduled: 20, running: 0 });
  assert.equal(groups[1].tasks.length, 3);
  assert.equal(groupTitle(groups[0]), '197 tasks waiting at spawn_many::run spawn_many.rs:60');
  const select = groups.find((g) => g.tasks.includes(5));
  assert.equal(groupTitle(select), '1 task waiting at join_vs_select::unlabelled_connect join_vs_select.rs:82 + join_vs_select::unlabelled_chunks join_vs_select.rs:74');
  assert.match(groupTitle(groups.find((g) => g.tasks.includes(6))), /running/);
});

test('the same frames at different depths are different trees', () => {
  const a = [f(0, 'x', 'a.rs:1'), f(1, 'y', 'a.rs:2'), f(1, 'z', 'a.rs:3')];
  const b = [f(0, 'x', 'a.rs:1'), f(1, 'y', 'a.rs:2'), f(2, 'z', 'a.rs:3')];
  assert.equal(groupSnapshot({ tasks: [{ task: 1, state: 'idle', frames: a }, { task: 2, state: 'idle', frames: b }] }).length, 2);
});

test('internal frames fold, the leaf future under program code stays visible', () => {
  const rows = foldFrames(SELECT);
  const shown = rows.map((r) => (r.fold ? `fold ${r.fold.length}` : `${r.leaf ? 'leaf ' : ''}${shortFn(r.frame.fn)}`));
  assert.deepEqual(shown, [
    'join_vs_select::run',
    'fold 1', // PollFn::poll (core)
    'join_vs_select::run',
    'join_vs_select::unlabelled_connect',
    'leaf Sleep::poll',
    'fold 1', // poll_elapsed
    'join_vs_select::unlabelled_chunks',
    'leaf Sleep::poll',
    'fold 1',
  ]);
  assert.deepEqual(waitSites(SELECT).map((s) => s.loc), ['scenarios/src/join_vs_select.rs:82', 'scenarios/src/join_vs_select.rs:74']);
});

test('a probe-made leaf (a future tokio cannot trace) is the leaf', () => {
  const lost = [
    f(0, 'futurescope_scenarios::lost_wakeup::run::{{closure}}::{{closure}}', 'scenarios/src/lost_wakeup.rs:87'),
    f(1, '<futurescope_recorder::probe::AwaitPoint<F> as core::future::future::Future>::poll', 'backend/recorder/src/probe.rs:171'),
    f(2, 'futurescope_scenarios::lost_wakeup::FlagFuture', 'scenarios/src/lost_wakeup.rs:87'),
  ];
  const rows = foldFrames(lost);
  assert.equal(rows.length, 3);
  assert.ok(rows[1].fold, 'the probe wrapper is folded');
  assert.equal(shortFn(rows[2].frame.fn), 'lost_wakeup::FlagFuture');
  assert.equal(groupTitle(groupSnapshot({ tasks: [{ task: 1, state: 'idle', frames: lost }] })[0]), '1 task waiting at lost_wakeup::FlagFuture lost_wakeup.rs:87');
});

test('internal means tokio, std, core, tracing and the recorder', () => {
  for (const fn of ['tokio::time::sleep::Sleep::poll_elapsed', '<tokio::time::sleep::Sleep as core::future::future::Future>::poll', 'std::thread::local::LocalKey<T>::with', '<tracing::instrument::Instrumented<T> as core::future::future::Future>::poll', '<futurescope_recorder::probe::Probed<F> as core::future::future::Future>::poll']) {
    assert.ok(isInternal({ fn }), fn);
  }
  for (const fn of ['futurescope_scenarios::join_vs_select::run::{{closure}}', 'my_app::server::read_frame::{{closure}}', 'mini_redis::connection::Connection::read_frame::{{closure}}']) {
    assert.ok(!isInternal({ fn }), fn);
  }
});

// Future rows under task lanes. Each lesson's claim is read from the drawn rows
// (timeline.futureRows(): the rows and segments draw.js paints) and from the text
// alternative (the accessible table beside the canvas), and checked against an independent
// reading of GET /api/runs/{id}/events (state, poll_*, done events, read here without
// frontend/js).

import test from 'node:test';
import assert from 'node:assert/strict';
import { useRealServer, setParams } from './support/harness.mjs';
import { clickRun, waitForEnd, settle, shot } from './support/browser.mjs';
import { fetchEvents } from './support/server.mjs';

const ctx = useRealServer();

/** Runs `scenario` with `params` to its end; returns {page, events}. */
async function runToEnd(scenario, params = {}, { width = 1600 } = {}) {
  const page = await ctx.open(`?scenario=${scenario}`, { width, height: 1000 });
  if (Object.keys(params).length) await setParams(page, params);
  const run = await clickRun(page);
  await waitForEnd(page);
  const { events } = await fetchEvents(ctx.base, run);
  // Every event applied and drawn; the text alternative rebuilt from that frame.
  await page.waitForFunction((n) => window.futurescope.model.eventCount >= n, events.length);
  await page.evaluate(() => window.futurescope.timeline.fitAll());
  await settle(page);
  await page.evaluate(() => window.futurescope.timeline.text.update());
  return { page, events };
}

/** Independent reading of the events: per future {task, name, states: [{t, label}], parent}; per task its polls and done. */
function readEvents(events) {
  const futures = new Map();
  const tasks = new Map();
  for (const e of events) {
    if (e.k === 'spawn') tasks.set(e.task, { id: e.task, name: e.name, polls: [], done: null });
    else if (e.k === 'poll_start') tasks.get(e.task).polls.push([e.t, null]);
    else if (e.k === 'poll_end') tasks.get(e.task).polls.at(-1)[1] = e.t;
    else if (e.k === 'done') tasks.get(e.task).done = e.t;
    else if (e.k === 'state') {
      let f = futures.get(e.future);
      if (!f) futures.set(e.future, (f = { id: e.future, name: e.name ?? null, parent: e.parent ?? null, states: [], tasks: new Set() }));
      f.states.push({ t: e.t, label: e.label });
      if (e.task != null) f.tasks.add(e.task);
    }
  }
  // A future lives in the task that polls it (its states after `start`).
  for (const f of futures.values()) {
    const polled = events.find((e) => e.k === 'state' && e.future === f.id && e.label !== 'start' && e.task != null);
    f.task = polled ? polled.task : [...f.tasks][0];
  }
  const taskNamed = (name) => [...tasks.values()].find((t) => t.name === name);
  const pollAt = (task, t) => task.polls.find(([s, e]) => s <= t && (e == null || t <= e));
  return { futures, tasks, taskNamed, pollAt };
}

const rowsOf = (page) => page.evaluate(() => window.futurescope.timeline.futureRows());
const textRows = (page) =>
  page.$$eval('.timeline-text tr[data-kind="future"]', (trs) => trs.map((tr) => ({ ...tr.dataset, text: tr.textContent })));

test('join-vs-select: select!’s loser is cancelled at its sleep when the winner is ready; join!’s children both run to ready', async () => {
  const { page, events } = await runToEnd('join-vs-select');
  const ref = readEvents(events);
  const rows = await rowsOf(page);
  const drawn = (taskName) => rows.filter((r) => r.taskName === taskName).flatMap((r) => r.futures);
  // Open by default: both tasks the lesson talks about.
  for (const name of ['join! task', 'select! task']) assert.ok(drawn(name).length >= 2, `${name}'s future rows are open by default`);

  const sel = ref.taskNamed('select! task');
  const childOf = (task, name) => [...ref.futures.values()].find((f) => f.task === task.id && f.name === name);
  const a = childOf(sel, 'child a');
  const b = childOf(sel, 'child b');
  const aReady = a.states.find((s) => s.label === 'ready').t;
  const bLast = b.states.at(-1);
  const bBefore = b.states.at(-2);
  assert.equal(bLast.label, 'cancelled');
  assert.match(bBefore.label, /^sleep\(/);
  const poll = ref.pollAt(sel, aReady);
  assert.ok(poll && poll[0] <= bLast.t && bLast.t <= poll[1], 'child b was dropped in the poll in which child a finished');
  const bRow = drawn('select! task').find((f) => f.id === b.id);
  assert.deepEqual(bRow.end, { label: 'cancelled', t: bLast.t, at: bBefore.label }, 'the drawn row ends cancelled at its sleep, when the events say');
  assert.equal(bRow.segments.at(-1).e, bLast.t);
  assert.equal(bRow.segments.at(-1).kind, 'await');
  assert.equal(bRow.segments.at(-1).label, bBefore.label);
  const aRow = drawn('select! task').find((f) => f.id === a.id);
  assert.equal(aRow.end.label, 'ready');
  assert.equal(aRow.end.t, aReady);

  const join = ref.taskNamed('join! task');
  const readies = ['child a', 'child b'].map((n) => childOf(join, n)).map((f) => {
    const row = drawn('join! task').find((x) => x.id === f.id);
    const t = f.states.find((s) => s.label === 'ready').t;
    assert.deepEqual(row.end, { label: 'ready', t, at: f.states.at(-2).label }, `join!'s ${f.name} runs to ready`);
    return t;
  });
  assert.ok(join.done >= Math.max(...readies), 'the join! task completes after the slower child');

  // Every drawn segment is inside the future's life, in order, and a polled one inside a task poll.
  for (const f of [...drawn('join! task'), ...drawn('select! task')]) {
    const rf = ref.futures.get(f.id);
    assert.equal(f.segments[0].s, rf.states[0].t, 'a row starts at the future’s start event');
    for (let i = 1; i < f.segments.length; i++) assert.ok(f.segments[i].s >= f.segments[i - 1].e, 'segments do not overlap');
    const task = ref.tasks.get(rf.task);
    for (const s of f.segments.filter((x) => x.kind === 'polled')) assert.ok(task.polls.some(([ps, pe]) => ps <= s.s && s.e <= pe), 'a polled segment lies in a task poll');
  }

  // The text alternative says the same.
  const text = await textRows(page);
  const bText = text.find((r) => r.future === String(b.id));
  assert.equal(bText.state, 'cancelled');
  assert.equal(bText.label, bBefore.label);
  assert.match(bText.text, /cancelled at sleep\(b_ms\)/);
  for (const w of [1024, 1280, 1600]) {
    await page.setViewportSize({ width: w, height: 900 });
    await page.evaluate(() => window.futurescope.timeline.fitAll());
    await settle(page);
    await shot(page, `futures-join-vs-select-${w}`);
  }
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('buffered-stream: never more than n process rows open; results wait in buffered, not in buffer_unordered', async () => {
  const n = 3;
  const { page, events } = await runToEnd('buffered-stream', { n, requests: 10, slow_index: 1, fast_ms: 10, slow_ms: 200 });
  const ref = readEvents(events);
  const rows = await rowsOf(page);
  const waitingLabel = 'result waits in the buffer';
  const result = {};
  for (const name of ['buffered', 'buffer_unordered']) {
    const task = ref.taskNamed(name);
    const procRows = rows.filter((r) => r.taskName === name && r.futures.some((f) => f.name === 'process(req)'));
    const procs = procRows.flatMap((r) => r.futures.filter((f) => f.name === 'process(req)'));
    const expected = [...ref.futures.values()].filter((f) => f.task === task.id && f.name === 'process(req)');
    assert.equal(procs.length, expected.length, `${name}: one drawn row per process future`);
    // Open rows at every instant, from the drawn rows: never more than n, and n at some point.
    const edges = procs.flatMap((f) => [[f.segments[0].s, 1], [f.end.t, -1]]).sort((x, y) => x[0] - y[0] || x[1] - y[1]);
    let open = 0;
    let max = 0;
    for (const [, d] of edges) max = Math.max(max, (open += d));
    assert.equal(max, n, `${name}: at most n process futures in flight, read from the rows`);
    assert.ok(procRows.length <= n, `${name}: the rows pack into at most n (${procRows.length})`);
    for (const f of procs) {
      const rf = ref.futures.get(f.id);
      assert.equal(f.segments[0].s, rf.states[0].t);
      assert.equal(f.end.t, rf.states.at(-1).t);
      assert.equal(f.end.label, 'ready');
    }
    result[name] = procs.filter((f) => f.segments.some((s) => s.kind === 'await' && s.label === waitingLabel)).length;
  }
  assert.ok(result.buffered >= n - 1, `buffered: results that waited behind the slow one are drawn waiting (${result.buffered})`);
  assert.equal(result.buffer_unordered, 0, 'buffer_unordered: no result waits between polls');
  // The in-flight count on the parent, at the slow request's time.
  const counts = await page.evaluate(() => {
    const { model } = window.futurescope;
    const out = [];
    for (const task of model.taskList) {
      const pack = task.futureCache && task.futureCache.pack;
      if (!pack) continue;
      for (const [id, step] of pack.counts) if (id >= 0 && task.probes.get(id).name === 'consume(responses)') out.push({ task: task.name, max: step.max });
    }
    return out;
  });
  assert.deepEqual(counts.map((c) => c.max), [n, n], 'consume(responses) shows n in flight at most');
  await shot(page, 'futures-buffered-stream-1600');
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('lazy-future: say_world() sits in start from its creation until main awaits it, then is polled', async () => {
  const { page, events } = await runToEnd('lazy-future', { delay_ms: 60 });
  const ref = readEvents(events);
  const main = ref.taskNamed('main');
  const world = [...ref.futures.values()].find((f) => f.name === 'say_world()');
  const firstPoll = world.states.find((s) => s.label !== 'start');
  const poll = ref.pollAt(main, firstPoll.t);
  const awaitMark = events.find((e) => e.k === 'mark' && e.label === 'main reaches say_world().await');
  assert.ok(poll[0] <= awaitMark.t && awaitMark.t <= poll[1], 'main reaches .await in the poll that first polls say_world()');
  const rows = await rowsOf(page);
  const row = rows.flatMap((r) => r.futures).find((f) => f.id === world.id);
  assert.ok(row, 'say_world() has a row under main (open by default)');
  assert.deepEqual(row.segments[0], { kind: 'start', s: world.states[0].t, e: poll[0], label: 'start' }, 'start from creation to the poll that reaches .await');
  assert.equal(row.segments[1].kind, 'polled');
  assert.equal(row.segments[1].s, poll[0]);
  // The spawned one lives in the spawned task, and no panel says it is still at start.
  const spawned = [...ref.futures.values()].find((f) => f.name === 'spawned say_world()');
  const spawnedRow = rows.find((r) => r.futures.some((f) => f.id === spawned.id));
  assert.equal(spawnedRow.taskName, 'spawned say_world');
  for (const name of ['main', 'spawned say_world']) {
    await page.evaluate((nm) => {
      const { model } = window.futurescope;
      window.futurescope.app.selectTask(model.taskList.find((t) => t.name === nm).index);
    }, name);
    await settle(page);
    await page.waitForSelector('#task-panel .probe-title');
    const titles = await page.$$eval('#task-panel .probe-title', (els) => els.map((e) => e.textContent));
    assert.ok(!titles.some((t) => /not polled yet|now at start/.test(t)), `${name}'s panel: nothing is still at start (${titles.join(' | ')})`);
  }
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('timeout-cancellation: the cancel-unsafe loop ends cancelled at rx.recv(), the items lost stated beside it', async () => {
  const { page, events } = await runToEnd('timeout-cancellation');
  const ref = readEvents(events);
  const loop = [...ref.futures.values()].find((f) => f.name === 'copy_unsafe(..)');
  assert.equal(loop.states.at(-1).label, 'cancelled');
  assert.match(loop.states.at(-2).label, /^rx\.recv\(\)/);
  const rows = await rowsOf(page);
  const row = rows.flatMap((r) => r.futures).find((f) => f.id === loop.id);
  assert.equal(row.end.label, 'cancelled');
  assert.equal(row.end.at, loop.states.at(-2).label);
  const lostMark = events.find((e) => e.k === 'mark' && /^cancel-unsafe: timed out/.test(e.label));
  assert.deepEqual(row.notes, [lostMark.label], 'the task’s own account of what was lost is beside the row');
  assert.match(row.notes[0], /lost [1-9]/);
  const text = await textRows(page);
  const t = text.find((r) => r.future === String(loop.id));
  assert.match(t.text, /cancelled at rx\.recv\(\).*lost [1-9]/);
  await shot(page, 'futures-timeout-cancellation-1600');
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('rows open and close by click, key and the open-all control; the text alternative follows the canvas', async () => {
  const { page } = await runToEnd('join-vs-select');
  const futureLanes = () => page.evaluate(() => window.futurescope.timeline.lanes.lanes.filter((l) => l.kind === 'future').length);
  const before = await futureLanes();
  assert.equal(before, 4);
  await page.click('.futures-all'); // close all
  await settle(page);
  assert.equal(await futureLanes(), 0);
  await page.evaluate(() => window.futurescope.timeline.text.update());
  assert.equal((await textRows(page)).length, 0, 'no future rows in the text either');
  // `o` opens the selected task's rows.
  await page.evaluate(() => window.futurescope.app.selectTask(window.futurescope.model.taskList.find((t) => t.name === 'select! task').index));
  await page.keyboard.press('o');
  await settle(page);
  assert.equal(await futureLanes(), 2);
  await page.evaluate(() => window.futurescope.timeline.text.update());
  assert.equal((await textRows(page)).length, 2);
  await page.keyboard.press('O'); // something is open: close all
  await settle(page);
  assert.equal(await futureLanes(), 0);
  await page.click('.futures-all'); // open all (main's own await points too)
  await settle(page);
  assert.ok((await futureLanes()) >= 4);
  const label = await page.getAttribute('.futures-all', 'aria-label');
  assert.equal(label, 'Close all future rows');
  assert.ok(await page.$eval('#timeline', (c) => c.getAttribute('aria-describedby') && document.getElementById(c.getAttribute('aria-describedby')).getAttribute('role') === 'region'));
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('lost-wakeup cancelled: the cancelled futures stay in their tasks, no lanes outside tasks', async () => {
  const page = await ctx.open('?scenario=lost-wakeup');
  // The flag comes after the cancel: the snapshots taken at the lint and at the cancel poll
  // the task for real (tokio's task dump), and with the flag already set that poll would
  // complete the forgotten future instead of leaving it for the shutdown to drop.
  await setParams(page, { flag_after_ms: 2000 });
  const run = await clickRun(page);
  await page.waitForFunction(() => window.futurescope.model.lints.some((l) => l.rule === 'lost_wake'), null, { timeout: 20000 });
  await page.click('#stop-btn');
  await waitForEnd(page);
  const { events } = await fetchEvents(ctx.base, run);
  const cancelled = events.filter((e) => e.k === 'state' && e.label === 'cancelled');
  assert.ok(cancelled.length >= 3, 'the tasks’ futures were dropped');
  assert.ok(cancelled.every((e) => e.task != null), 'every drop is recorded in a task');
  await page.waitForFunction((n) => window.futurescope.model.eventCount >= n, events.length);
  assert.equal(await page.evaluate(() => window.futurescope.model.outside.probes.size), 0);
  assert.equal(await page.evaluate(() => window.futurescope.timeline.lanes.lanes.some((l) => l.key === 'h:outside')), false);
  assert.deepEqual(page.errors, []);
  await page.close();
});

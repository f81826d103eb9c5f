// Two runs side by side on one time axis: blocking-in-async with the blocking call
// inside the poll (run A) and moved to spawn_blocking (run B), opened with /?compare=A,B.
// Each pane's model equals its run's /events, both panes are drawn, zooming one zooms both,
// and the figures table shows both runs' figures.

import test from 'node:test';
import assert from 'node:assert/strict';
import { useRealServer } from './support/harness.mjs';
import { fetchEvents, waitForRunEnd } from './support/server.mjs';
import { settle, shot } from './support/browser.mjs';

const ctx = useRealServer();

async function startRun(base, scenario, params) {
  const res = await fetch(`${base}/api/runs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ scenario, params }),
  });
  assert.equal(res.status, 201, await res.clone().text());
  return (await res.json()).run;
}

function countOf(events, k) {
  return events.filter((e) => e.k === k).length;
}

test('two runs side by side share one time axis, and each pane is its own run', async () => {
  const a = await startRun(ctx.base, 'blocking-in-async', { variant: 'blocking', stall_ms: 200 });
  await waitForRunEnd(ctx.base, a);
  const b = await startRun(ctx.base, 'blocking-in-async', { variant: 'spawn_blocking', stall_ms: 200 });
  await waitForRunEnd(ctx.base, b);
  const [ea, eb] = [(await fetchEvents(ctx.base, a)).events, (await fetchEvents(ctx.base, b)).events];

  const page = await ctx.open(`?compare=${a},${b}`);
  await page.waitForFunction(
    () => {
      const c = window.futurescope.compare;
      return c && c.left && c.right && !c.loading;
    },
    null,
    { timeout: 20000 },
  );
  await settle(page);
  const seen = await page.evaluate(() => {
    const c = window.futurescope.compare;
    const pick = (m) => {
      const s = m.summary();
      return { events: s.events, polls: s.polls, tasks: s.tasks, wakes: s.wakes, violations: s.violations };
    };
    return { ids: c.ids.map(String), left: pick(c.left), right: pick(c.right) };
  });
  assert.deepEqual(seen.ids, [String(a), String(b)]);
  for (const [side, events] of [['left', ea], ['right', eb]]) {
    assert.equal(seen[side].events, events.length, `${side} pane events`);
    assert.equal(seen[side].polls, countOf(events, 'poll_start') - events.filter((e) => e.k === 'poll_end' && e.drop).length, `${side} polls`);
    assert.equal(seen[side].tasks, countOf(events, 'spawn'), `${side} tasks`);
    assert.equal(seen[side].wakes, countOf(events, 'wake'), `${side} wakes`);
    assert.equal(seen[side].violations, 0, `${side} model violations`);
  }
  // Run A's stall is on a worker; run B's is on a blocking-pool lane.
  const lanes = (events) => {
    const kinds = new Map(events.filter((e) => e.k === 'worker').map((e) => [e.worker, e.kind]));
    const starts = new Map();
    let longest = { d: 0, kind: null };
    for (const e of events) {
      if (e.k === 'poll_start') starts.set(e.task, e.t);
      if (e.k === 'poll_end' && starts.has(e.task)) {
        const d = e.t - starts.get(e.task);
        if (d > longest.d) longest = { d, kind: kinds.get(e.worker) };
      }
    }
    return longest;
  };
  assert.equal(lanes(ea).kind, 'worker');
  assert.equal(lanes(eb).kind, 'blocking');

  // Both panes are drawn: each canvas has ink.
  const ink = await page.evaluate(() =>
    ['compare-a-canvas', 'compare-b-canvas'].map((id) => {
      const c = document.getElementById(id);
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      const bg = [d[0], d[1], d[2]];
      let n = 0;
      for (let i = 0; i < d.length; i += 16) if (Math.abs(d[i] - bg[0]) + Math.abs(d[i + 1] - bg[1]) + Math.abs(d[i + 2] - bg[2]) > 40) n++;
      return n;
    }),
  );
  assert.ok(ink[0] > 200 && ink[1] > 200, `both panes drawn: ${ink}`);

  // One time axis: zooming over pane A changes the shared viewport that pane B draws with.
  const before = await page.evaluate(() => window.futurescope.compare.viewport.nsPerPx);
  const box = await page.locator('#compare-a-canvas').boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.wheel(0, -400);
  await settle(page);
  const after = await page.evaluate(() => {
    const c = window.futurescope.compare;
    return { nsPerPx: c.viewport.nsPerPx, same: c.view.views[0].viewport === c.view.views[1].viewport };
  });
  assert.ok(after.nsPerPx < before, `zoomed in: ${before} -> ${after.nsPerPx}`);
  assert.ok(after.same, 'both panes draw with one viewport');

  // The figures table shows both runs.
  const rows = await page.$$eval('#compare-figures tr[data-figure]', (trs) => trs.map((tr) => tr.dataset.figure));
  assert.ok(rows.length >= 4, `figures: ${rows}`);
  await shot(page, 'compare');
  assert.deepEqual(page.errors || [], []);
  await page.close();
});

// Probe futures outside any task (`state` events with task null), against the real binary.
//
// block-on-pollster part 1 drives a future with a hand-written block_on on a plain thread:
// its probes have no task. The timeline shows them in a lane group "Futures outside tasks",
// one lane per probe; clicking a lane opens their state diagrams, whose counts equal the
// `state` events with task null of GET /api/runs/{id}/events.

import test from 'node:test';
import assert from 'node:assert/strict';
import { useRealServer, reference, sleep } from './support/harness.mjs';
import { clickRun, waitForEnd, shot } from './support/browser.mjs';

const ctx = useRealServer();

test('block-on-pollster: the probes outside any task have lanes, and a click opens their state machines', async () => {
  const page = await ctx.open('?scenario=block-on-pollster');
  const runId = await clickRun(page);
  await waitForEnd(page);
  const { events, run } = await reference(ctx.base, runId);
  const outside = events.filter((e) => e.k === 'state' && e.task == null);
  assert.ok(outside.length > 0, 'the run has state events outside any task');

  // One lane per probe future, under the group's header.
  const lanes = await page.evaluate(() => window.futurescope.timeline.lanes.lanes.map((l) => ({ key: l.key, kind: l.kind, title: l.title ?? null, id: l.probe ? l.probe.id : null })));
  assert.ok(lanes.some((l) => l.key === 'h:outside' && /outside tasks/i.test(l.title)), 'a "Futures outside tasks" group');
  const ids = [...new Set(outside.map((e) => e.future))].sort((a, b) => a - b);
  assert.deepEqual(lanes.filter((l) => l.kind === 'probe').map((l) => l.id).sort((a, b) => a - b), ids, 'one lane per probe future');

  // Click the block_on(future) probe's lane in the plot area.
  const name = 'block_on(future)';
  const target = outside.find((e) => e.name === name) || outside[0];
  const point = await page.evaluate(async (id) => {
    const { timeline } = window.futurescope;
    const { GUTTER_PX } = await import('/assets/draw.js');
    const AXIS_PX = timeline.renderer.axisPx;
    const lane = timeline.lanes.lanes.find((l) => l.key === `p:${id}`);
    const r = timeline.canvas.getBoundingClientRect();
    return { x: r.left + GUTTER_PX + timeline.viewport.widthPx / 2, y: r.top + AXIS_PX + lane.y - timeline.scrollY + lane.height / 2 };
  }, target.future);
  await page.mouse.move(point.x, point.y);
  await sleep(250); // the hover comes after the pointer rests
  const tip = await page.$eval('#tooltip', (t) => (t.hidden ? '' : t.textContent));
  assert.match(tip, /outside any task/, `the tooltip says where the probe lives: "${tip}"`);
  await page.mouse.click(point.x, point.y);
  await page.waitForFunction(() => /Futures outside tasks/.test(document.querySelector('#task-panel .task-head')?.textContent || ''));

  // The diagrams' counts, per probe name, equal the state events with task null.
  const shown = await page.$$eval('#task-panel .probe', (probes) =>
    probes.map((p) => ({
      title: p.querySelector('.probe-title b').textContent,
      selected: p.classList.contains('selected'),
      nodes: Object.fromEntries([...p.querySelectorAll('.state-diagram .node')].map((g) => [g.querySelector('title').textContent.split('\n')[0], Number(/×(\d+)/.exec(g.querySelector('.figures').textContent)[1])])),
    })),
  );
  const want = new Map();
  const names = new Map();
  for (const e of outside) {
    if (!names.has(e.future)) names.set(e.future, e.name ?? `future ${e.future}`);
    const n = names.get(e.future);
    if (!want.has(n)) want.set(n, {});
    want.get(n)[e.label] = (want.get(n)[e.label] || 0) + 1;
  }
  assert.deepEqual(shown.map((d) => d.title).sort(), [...want.keys()].sort(), 'one diagram per probe future');
  for (const d of shown) assert.deepEqual(d.nodes, want.get(d.title), `state counts of "${d.title}" (panel vs /events)`);
  assert.deepEqual(shown.filter((d) => d.selected).map((d) => d.title), [names.get(target.future)], 'the clicked probe is marked');
  // The reference reads them the same way.
  assert.deepEqual([...run.outside.probes.keys()].sort((a, b) => a - b), ids);
  await shot(page, 'outside-probes');
});

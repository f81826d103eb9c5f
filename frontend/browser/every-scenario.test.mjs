// Every scenario of GET /api/scenarios runs from the browser with its defaults:
// pick it in the list, press Run, wait for the end (lost-wakeup's task hangs by design; the
// lesson ends itself once its lost_wake lint is up, and must show that lint), then the model has tasks
// and polls and agrees with /events, the canvas has painted something, and the page
// raised no errors. A last test asserts that no scenario's stream broke the model's
// legal-transition table.

import test from 'node:test';
import assert from 'node:assert/strict';
import { useRealServer, reference, assertSummaryAgrees, modelSummary, sleep } from './support/harness.mjs';
import { clickRun, waitForEnd, settle, canvasSnapshot, backgroundColours, countPlotInk, shot } from './support/browser.mjs';

const ctx = useRealServer();
/** Scenarios whose point is a lint, and that lint. */
const LESSON_LINTS = { 'lost-wakeup': 'lost_wake' };
const violationsByScenario = new Map();
const threadKinds = new Map(); // scenario -> [threads that poll tokio::spawn'ed tasks but are not announced as "worker"]

test('every scenario runs from the browser with its defaults', async (t) => {
  const scenarios = await (await fetch(`${ctx.base}/api/scenarios`)).json();
  assert.ok(scenarios.length >= 10, `the catalogue has ${scenarios.length} scenarios`);
  for (const s of scenarios) {
    await t.test(s.name, async () => {
      const page = await ctx.open('');
      try {
        await page.click(`.scenario[data-name="${s.name}"]`);
        assert.equal(await page.textContent('.scenario.selected .scenario-title'), s.title || s.name);
        // The form shows the defaults; Run sends them.
        for (const p of s.params) {
          const v = await page.$eval(`#params [name="${p.name}"]`, (e) => (e.type === 'checkbox' ? e.checked : e.value));
          assert.equal(String(v), String(p.default), `field ${p.name} shows the default`);
        }
        const runId = await clickRun(page);
        const status = await waitForEnd(page, 90000);
        assert.equal(status, 'finished', `run ${runId} of ${s.name} ended "${status}"`);
        if (LESSON_LINTS[s.name]) {
          const rule = LESSON_LINTS[s.name];
          assert.ok(await page.evaluate((r) => window.futurescope.model.lints.some((l) => l.rule === r), rule), `${rule} shows`);
        }
        const summary = await modelSummary(page);
        assert.ok(summary.tasks > 0, 'the model has tasks');
        assert.ok(summary.polls > 0, 'the model has polls');
        violationsByScenario.set(s.name, { count: summary.violations, messages: summary.violationMessages });
        await settle(page);
        await sleep(300); // panels refresh at most every 250 ms
        const ref = await reference(ctx.base, runId);
        await assertSummaryAgrees(page, ref, `${s.name}: `);
        const odd = [];
        for (const w of ref.run.workers.values()) {
          const spawned = w.polls.filter((p) => ref.run.tasks.get(p.task)?.kind === 'task').length;
          if (spawned && w.kind !== 'worker') odd.push(`thread ${w.index} "${w.name}" is announced as "${w.kind}" but polls ${spawned} spawned tasks`);
        }
        threadKinds.set(s.name, odd);
        assert.equal(await page.textContent('#run-status'), status, 'the status pill shows the status');

        // The canvas: what the app painted by itself (no forced redraw), sampled every 3rd row.
        await page.mouse.move(5, 5);
        await settle(page);
        const bgs = await backgroundColours(page);
        const geo = await canvasSnapshot(page);
        const rows = [];
        for (let y = geo.axis + 2; y < geo.cssHeight; y += 3) rows.push({ y, x0: geo.gutter, x1: geo.cssWidth });
        const snap = await canvasSnapshot(page, { rows });
        const { ink, total } = countPlotInk(snap, bgs);
        assert.ok(ink >= 200, `non-background pixels in the plot: ${ink} of ${total} sampled`);
        assert.ok(snap.stats.rects > 0, 'the renderer drew rects');
        await shot(page, `scenario-${s.name}`);
        assert.deepEqual(page.errors, [], 'no page errors');
      } finally {
        await page.close();
      }
    });
  }
});

test('no scenario broke the model’s legal-transition table', () => {
  assert.ok(violationsByScenario.size > 0, 'the scenarios ran');
  const bad = [...violationsByScenario].filter(([, v]) => v.count > 0);
  assert.deepEqual(
    bad.map(([name, v]) => `${name}: ${v.count} (${v.messages.map((m) => m.message).slice(0, 2).join('; ')})`),
    [],
    'scenarios whose events the model flagged',
  );
});

test('a thread that polls tokio::spawn’ed tasks is announced as a runtime "worker" (its lane badge says W)', () => {
  assert.ok(threadKinds.size > 0, 'the scenarios ran');
  const bad = [...threadKinds].filter(([, odd]) => odd.length).map(([name, odd]) => `${name}: ${odd.join('; ')}`);
  assert.deepEqual(bad, [], 'worker events with the wrong kind');
});

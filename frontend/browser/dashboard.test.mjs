// General browser tests of the dashboard against the REAL futurescope binary
// (FUTURESCOPE_BIN, default target/release/futurescope; see support/server.mjs): the
// scenario picker and deep links, the parameter form, the source pane, the lint list,
// runs announced to every open tab, the top bar (version, connection, tokio-console).
//
// Run: FUTURESCOPE_BIN=$PWD/target/release/futurescope node --test --test-concurrency=1 frontend/browser/
// (needs `npm ci` in frontend/ and /usr/bin/chromium). The issue-specific tests are in
// issue*.test.mjs and keys-reconnect.test.mjs next to this file.

import test from 'node:test';
import assert from 'node:assert/strict';
import { useRealServer, reference, sleep } from './support/harness.mjs';
import { clickRun, waitForEnd, shot } from './support/browser.mjs';
import { startServer } from './support/server.mjs';

const ctx = useRealServer();
const SCENARIO = 'blocking-in-async';

test('deep link selects the scenario; the picker groups by topic; the form, the explanation and the source follow the catalogue', async () => {
  const page = await ctx.open(`?scenario=${SCENARIO}`);
  const scenarios = await (await fetch(`${ctx.base}/api/scenarios`)).json();
  const spec = scenarios.find((s) => s.name === SCENARIO);
  assert.equal(await page.textContent('.scenario.selected .scenario-title'), spec.title);
  const topics = await page.$$eval('.topic-name', (els) => els.map((e) => e.textContent));
  assert.deepEqual(topics, [...new Set(scenarios.map((s) => s.topic || 'Other'))], 'one group per topic, in catalogue order');
  const listed = await page.$$eval('.scenario', (els) => els.map((e) => e.dataset.name));
  assert.deepEqual([...listed].sort(), scenarios.map((s) => s.name).sort(), 'every scenario is listed once');
  for (const p of spec.params) {
    const field = await page.$(`#params [name="${p.name}"]`);
    assert.ok(field, `field ${p.name}`);
    const value = await field.evaluate((e) => e.value);
    assert.equal(value, String(p.default), `${p.name} shows its default`);
    if (p.type === 'choice') assert.deepEqual(await field.evaluate((e) => [...e.options].map((o) => o.value)), p.choices.map(String));
    if (p.type === 'int') assert.match(await page.textContent(`#params label:has([name="${p.name}"]) .param-bounds`), new RegExp(`${p.min}.${p.max}`));
  }
  assert.equal(await page.textContent('#about .about-title'), spec.title);
  assert.equal(await page.textContent('#source-file'), spec.file || 'blocking_in_async.rs');
  const lines = await page.$$eval('#source .src-line .code', (els) => els.map((e) => e.textContent));
  assert.equal(lines.length, spec.source.split('\n').length - (spec.source.endsWith('\n') ? 1 : 0), 'the whole source is shown');
  assert.equal(lines[0], spec.source.split('\n')[0]);
  // The filter narrows the list.
  await page.fill('#scenario-filter', 'select');
  const filtered = await page.$$eval('.scenario', (els) => els.map((e) => e.dataset.name));
  assert.ok(filtered.includes('join-vs-select') && !filtered.includes('blocking-in-async'), `filtered: ${filtered}`);
  // Picking another scenario updates the URL and the form.
  await page.click('.scenario[data-name="join-vs-select"]');
  assert.match(page.url(), /[?&]scenario=join-vs-select/);
  assert.ok(await page.$('#params [name="a_ms"]'));
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('the top bar: version of the binary, live connection, no tokio-console address under --no-console', async () => {
  const page = await ctx.open('');
  const printed = /futurescope (\S+): dashboard/.exec(ctx.server.output().stdout)[1];
  assert.equal(await page.textContent('.version'), `v${printed}`);
  await page.waitForFunction(() => document.getElementById('conn').textContent === 'live');
  // No tokio-console address to attach to: the server runs without console-subscriber.
  assert.equal(await page.evaluate(() => document.body.dataset.console ?? null), null);
  assert.doesNotMatch(await page.textContent('header'), /\d+\.\d+\.\d+\.\d+:\d+/, 'the top bar shows no console address');
  assert.equal(await page.isVisible('#banner'), false);
  await page.close();
});

test('with console-subscriber on, the top bar shows the address tokio-console can attach to', async () => {
  const srv = await startServer({ console: true });
  try {
    let addr = null;
    for (let i = 0; i < 40 && !addr; i++) {
      addr = srv.consoleAddr();
      if (!addr) await sleep(50);
    }
    assert.ok(addr, 'the binary printed the tokio-console address');
    const page = await ctx.browser.newPage();
    await page.goto(`${srv.url}/`);
    await page.waitForFunction(() => window.futurescope && window.futurescope.isReady);
    assert.ok((await page.textContent('header')).includes(addr), `the top bar shows ${addr}`);
    assert.equal(await page.evaluate(() => document.body.dataset.console), addr);
    await page.close();
  } finally {
    await srv.stop();
  }
});

test('the lint list shows every recorded lint; a click jumps the timeline to its moment and selects its task', async () => {
  const page = await ctx.open(`?scenario=${SCENARIO}`);
  const runId = await clickRun(page);
  await waitForEnd(page);
  const ref = await reference(ctx.base, runId);
  await page.click('.tab[data-tab=lints]');
  const items = await page.$$eval('.lint-list li', (els) => els.map((e) => e.textContent));
  assert.equal(items.length, ref.run.lints.length, 'one row per recorded lint');
  assert.equal(await page.textContent('#lint-count'), String(ref.run.lints.length));
  for (const l of ref.run.lints) assert.ok(items.some((text) => text.includes(l.rule) && text.includes(l.detail)), `lint ${l.rule} of task ${l.task} is listed`);
  await page.click('.lint-list li');
  const r = await page.evaluate(() => {
    const { model, view, app } = window.futurescope;
    const l = model.lints[0];
    return { t: l.t, t0: view.t0, t1: view.t1, sel: app.selectedTask, task: l.task != null ? model.tasks.get(l.task).index : -1 };
  });
  assert.ok(r.t >= r.t0 && r.t <= r.t1, 'the lint is in view');
  assert.equal(r.sel, r.task, 'its task is selected');
  // (The lint list stays open, so the next lint is one click away; the task lane is selected.)
  await shot(page, 'dashboard-lint-jump');
  await page.close();
});

test('a run started elsewhere appears in every open tab’s run list, and opens there', async () => {
  const a = await ctx.open(`?scenario=${SCENARIO}`);
  const b = await ctx.open('?scenario=lazy-future');
  const res = await fetch(`${ctx.base}/api/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ scenario: 'lazy-future', params: {} }) });
  assert.equal(res.status, 201);
  const { run } = await res.json();
  for (const page of [a, b]) {
    await page.waitForFunction((id) => [...document.querySelectorAll('.run-item .run-id')].some((e) => e.textContent === `#${id}`), run, { timeout: 5000 });
  }
  await b.click(`.run-item:has(.run-id:text-is("#${run}"))`);
  await b.waitForFunction((id) => window.futurescope.model && window.futurescope.model.meta.run === id && window.futurescope.model.meta.status === 'finished', run, { timeout: 15000 });
  const ref = await reference(ctx.base, run);
  assert.equal(await b.evaluate(() => window.futurescope.model.eventCount), ref.run.events, 'the opened run is replayed whole');
  assert.match(await b.textContent('.run-item.selected'), /lazy-future/);
  assert.deepEqual(a.errors, []);
  assert.deepEqual(b.errors, []);
  await a.close();
  await b.close();
});

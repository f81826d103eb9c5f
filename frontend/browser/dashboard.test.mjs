// Browser tests of the dashboard in headless Chromium (playwright-core driving
// /usr/bin/chromium). By default they run against the test-support fixture server
// (tests/support/fixture-server.mjs); set FUTURESCOPE_URL=http://127.0.0.1:6690 to run the
// ones that do not need the fixture's hooks against the real futurescope binary.
//
// Run: node --test frontend/browser/   (needs `npm install` in frontend/ and chromium)

import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startFixtureServer } from '../tests/support/fixture-server.mjs';
import { syntheticRun } from '../tests/support/synthetic-run.mjs';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync', '--disable-quic'];
const REAL = process.env.FUTURESCOPE_URL || null;
const SCENARIO = process.env.FUTURESCOPE_SCENARIO || 'blocking-in-async';

let browser;
let fixture = null;
let base;

before(async () => {
  if (REAL) base = REAL.replace(/\/$/, '');
  else {
    fixture = await startFixtureServer({ port: 0, wallMs: 1500 });
    base = fixture.url;
  }
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
});

after(async () => {
  await browser?.close();
  await fixture?.close();
});

/** A new page at `query`, with page errors collected; waits for window.futurescope.ready. */
async function open(query = '') {
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/WebSocket|ERR_CONNECTION|Failed to load resource/.test(m.text())) errors.push(m.text());
  });
  await page.goto(`${base}/${query}`);
  await page.waitForFunction(() => window.futurescope && window.futurescope.isReady, null, { timeout: 15000 });
  page.errors = errors;
  return page;
}

async function runToEnd(page) {
  await page.click('#run-btn');
  await page.waitForFunction(() => window.futurescope.model && window.futurescope.model.meta.status !== 'running', null, { timeout: 60000 });
}

test('deep link selects the scenario; the picker groups by topic; the form follows the params', async () => {
  const page = await open(`?scenario=${SCENARIO}`);
  const selected = await page.textContent('.scenario.selected .scenario-title');
  const scenarios = await page.evaluate(() => fetch('/api/scenarios').then((r) => r.json()));
  const spec = scenarios.find((s) => s.name === SCENARIO);
  assert.equal(selected, spec.title);
  const topics = await page.$$eval('.topic-name', (els) => els.map((e) => e.textContent));
  assert.deepEqual(topics, [...new Set(scenarios.map((s) => s.topic || 'Other'))]);
  for (const p of spec.params) assert.ok(await page.$(`#params [name="${p.name}"]`), `field ${p.name}`);
  assert.match(await page.textContent('#source'), /\S/);
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('a run streams live; the figures shown are the model’s, and the model saw no illegal event', async () => {
  const page = await open(`?scenario=${SCENARIO}`);
  await runToEnd(page);
  const s = await page.evaluate(() => {
    const m = window.futurescope.model;
    const sum = m.summary();
    return { tasks: sum.tasks, polls: sum.polls, events: sum.events, violations: sum.violations, messages: m.violations.messages.slice(0, 3), url: location.search };
  });
  assert.ok(s.events > 0 && s.polls > 0 && s.tasks > 0);
  assert.equal(s.violations, 0, JSON.stringify(s.messages));
  const fig = async (key) => (await page.textContent(`.fig[data-fig="${key}"] .fig-value`)).replace(/\u2009/g, '');
  assert.equal(Number(await fig('tasks')), s.tasks);
  assert.equal(Number(await fig('polls')), s.polls);
  assert.equal(Number(await fig('events')), s.events);
  assert.match(s.url, /run=/, 'the URL links to the run');
  const stats = await page.evaluate(() => window.futurescope.timeline.renderer.stats);
  assert.ok(stats.rects > 0, 'something was drawn');
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('pause buffers batches, resume applies them', { skip: REAL ? 'needs the fixture’s slow run' : false }, async () => {
  const page = await open(`?scenario=${SCENARIO}`);
  await page.evaluate(() => window.futurescope.app.togglePause(true));
  await page.click('#run-btn');
  await page.waitForFunction(() => window.futurescope.app.bufferedEvents > 0);
  const during = await page.evaluate(() => window.futurescope.model.eventCount);
  assert.equal(during, 0, 'nothing applied while paused');
  assert.match(await page.textContent('#paused-note'), /Paused — .* events buffered/);
  await page.waitForFunction(() => window.futurescope.model.meta.status !== 'running', null, { timeout: 30000 });
  const buffered = await page.evaluate(() => window.futurescope.app.bufferedEvents);
  await page.keyboard.press(' ');
  const after = await page.evaluate(() => window.futurescope.model.eventCount);
  assert.equal(after, buffered);
  await page.close();
});

test('clicking a task lane opens its panel; its state diagram and await point show', async () => {
  const page = await open(`?scenario=${SCENARIO}`);
  await runToEnd(page);
  // The first task lane that has probe futures.
  const target = await page.evaluate(() => {
    const { model, timeline } = window.futurescope;
    const task = model.taskList.find((t) => t.probes.size > 0 && timeline.lanes.taskLaneByIndex[t.index] >= 0);
    const j = timeline.lanes.taskLaneByIndex[task.index];
    timeline.revealTask(task.index);
    timeline.draw();
    const lane = timeline.lanes.lanes[j];
    const r = timeline.canvas.getBoundingClientRect();
    return { id: task.id, label: task.label, x: r.left + 100, y: r.top + 34 + lane.y - timeline.scrollY + lane.height / 2 };
  });
  await page.mouse.click(target.x, target.y);
  await page.waitForSelector('.task-head');
  assert.match(await page.textContent('.task-head'), new RegExp(`#${target.id}`));
  assert.ok(await page.$('.state-diagram .node'), 'a state diagram is drawn');
  const nodes = await page.$$eval('.state-diagram .node .label', (els) => els.map((e) => e.textContent));
  assert.ok(nodes.includes('start'), nodes.join(','));
  await page.keyboard.press('Escape');
  assert.equal(await page.$('.task-head'), null, 'Esc closes the panel');
  await page.close();
});

test('keyboard and wheel zoom; the time under the cursor stays put', async () => {
  const page = await open(`?scenario=${SCENARIO}`);
  await runToEnd(page);
  const before = await page.evaluate(() => window.futurescope.view.nsPerPx);
  await page.keyboard.press('+');
  const zoomed = await page.evaluate(() => window.futurescope.view.nsPerPx);
  assert.ok(Math.abs(zoomed - before / 1.6) < 1e-6 * before);
  await page.keyboard.press('0');
  const box = await page.$eval('#timeline', (c) => {
    const r = c.getBoundingClientRect();
    return { x: r.left + 210 + 300, y: r.top + 100 };
  });
  const tBefore = await page.evaluate(() => window.futurescope.view.xToTime(300));
  await page.mouse.move(box.x, box.y);
  await page.mouse.wheel(0, -300);
  await page.waitForTimeout(100);
  const after = await page.evaluate(() => ({ t: window.futurescope.view.xToTime(300), nsPerPx: window.futurescope.view.nsPerPx }));
  assert.ok(after.nsPerPx < before, 'wheel up zooms in');
  assert.ok(Math.abs(after.t - tBefore) < after.nsPerPx, 'anchored at the cursor');
  await page.keyboard.press('?');
  assert.equal(await page.isVisible('#help'), true);
  await page.keyboard.press('Escape');
  assert.equal(await page.isVisible('#help'), false);
  await page.close();
});

test('a lint click jumps the timeline to its moment and opens its task', async () => {
  const page = await open(`?scenario=${SCENARIO}`);
  await runToEnd(page);
  const lints = await page.evaluate(() => window.futurescope.model.lints.length);
  if (!lints) return; // the scenario flagged nothing: nothing to click
  await page.click('.tab[data-tab=lints]');
  await page.click('.lint-list li');
  const r = await page.evaluate(() => {
    const { model, view, app } = window.futurescope;
    const l = model.lints[0];
    return { t: l.t, t0: view.t0, t1: view.t1, sel: app.selectedTask, task: l.task != null ? model.tasks.get(l.task).index : -1 };
  });
  assert.ok(r.t >= r.t0 && r.t <= r.t1, 'the lint is in view');
  if (r.task >= 0) assert.equal(r.sel, r.task);
  await page.close();
});

test('a dropped connection shows the banner, reconnects and replays the run', { skip: REAL ? 'needs the fixture to drop sockets' : false }, async () => {
  const page = await open(`?scenario=${SCENARIO}`);
  await runToEnd(page);
  const events = await page.evaluate(() => window.futurescope.model.eventCount);
  fixture.dropSockets();
  await page.waitForSelector('#banner:not([hidden])');
  assert.match(await page.textContent('#banner'), /Disconnected — reconnecting in \d+s/);
  await page.waitForSelector('#banner', { state: 'hidden', timeout: 15000 });
  await page.waitForFunction((n) => window.futurescope.model.eventCount === n, events, { timeout: 15000 });
  assert.equal(await page.evaluate(() => window.futurescope.model.violations.count), 0, 'replayed into a fresh model');
  await page.close();
});

test('a saved .jsonl run opens from the file picker', async () => {
  const file = path.join(os.tmpdir(), `futurescope-test-${process.pid}.jsonl`);
  const events = syntheticRun({ seed: 9, tasks: 12, pollsPerTask: 8 });
  const header = { format: 'futurescope-events', v: 1, run: 77, scenario: SCENARIO, params: {} };
  fs.writeFileSync(file, [header, ...events].map((e) => JSON.stringify(e)).join('\n'));
  try {
    const page = await open(`?scenario=${SCENARIO}`);
    await page.setInputFiles('#file-input', file);
    await page.waitForFunction((n) => window.futurescope.model && window.futurescope.model.eventCount === n, events.length);
    assert.match(await page.textContent('#run-title'), /futurescope-test/);
    await page.close();
  } finally {
    fs.unlinkSync(file);
  }
});

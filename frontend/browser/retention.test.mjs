// Browser test of a live program's retention window (issue #16, "Long-lived programs"):
// starts the REAL example program examples/echo-server with a two-second window
// (FUTURESCOPE_RETENTION=2s), waits until the server evicted its oldest events, and checks
// that what is served still stands on its own (every polled task has its spawn, the stream
// says what was evicted), that the page says "Showing the last N s (the retention window)"
// with the server's counts, and that the page's own window (?window_events=N) stays bounded
// and says so too, without a single violation of the event table.

import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startProgram, getJson, fetchEvents } from './support/server.mjs';
import { launchBrowser, openPage, shot } from './support/browser.mjs';

const ctx = {};

before(async () => {
  process.env.FUTURESCOPE_RETENTION = '2s';
  ctx.program = await startProgram();
  delete process.env.FUTURESCOPE_RETENTION;
  ctx.base = ctx.program.url;
  ctx.browser = await launchBrowser();
});
after(async () => {
  await ctx.browser?.close();
  await ctx.program?.stop();
});

/** The program's run summary once its retention evicted something (the load loop runs). */
async function evictedRun() {
  const deadline = Date.now() + 60000;
  for (;;) {
    const [run] = await getJson(`${ctx.base}/api/runs`);
    if (run.counts.evicted > 0 && run.counts.evicted_tasks > 0) return run;
    if (Date.now() > deadline) throw new Error(`nothing evicted: ${JSON.stringify(run)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('the program run evicts its oldest events and what it serves stands on its own', async () => {
  const run = await evictedRun();
  assert.equal(run.retention.max_age_ns, 2e9);
  assert.equal(run.retention.max_bytes, 256 * 2 ** 20);
  assert.ok(run.retention.window_start_ns > 0, JSON.stringify(run.retention));
  const { header, events } = await fetchEvents(ctx.base, run.id);
  assert.equal(header.program.binary, 'echo-server');
  const notice = events.find((e) => e.k === 'evicted');
  assert.ok(notice, 'the stream says what was evicted');
  assert.ok(notice.events >= run.counts.evicted && notice.tasks >= run.counts.evicted_tasks, JSON.stringify(notice));
  const lanes = new Set();
  const spawned = new Set();
  let last = 0;
  for (const e of events) {
    assert.ok(e.t >= last, `in time order: ${JSON.stringify(e)}`);
    last = e.t;
    if (e.k === 'worker') lanes.add(e.worker);
    if (e.k === 'spawn') spawned.add(e.task);
    if (e.k === 'poll_start' || e.k === 'poll_end') {
      assert.ok(lanes.has(e.worker), `lane announced: ${JSON.stringify(e)}`);
      assert.ok(spawned.has(e.task), `task spawned: ${JSON.stringify(e)}`);
    }
  }
  // The accept loop and the load loop live for ever: their spawns are carried, older than the window.
  const carried = events.filter((e) => e.k === 'spawn' && e.t < notice.before);
  assert.ok(carried.length >= 1, 'long-lived tasks keep their spawn');
});

test('the page says it shows the last seconds, with the counts of what went', async () => {
  await evictedRun();
  const query = ctx.program.pageUrl.slice(ctx.base.length + 1);
  const page = await openPage(ctx.browser, ctx.base, query, { width: 1280, height: 900 });
  await page.waitForSelector('#window-notice:not([hidden])', { timeout: 20000 });
  const text = await page.textContent('#window-notice');
  assert.match(text, /^Showing the last \d+ s \(the retention window\): [\d\s,.\u2009\u202f]+ earlier events and [\d\s,.\u2009\u202f]+ finished tasks? were evicted by the server\.$/, text);
  const m = await page.evaluate(() => {
    const model = window.futurescope.model;
    return { windowStart: model.windowStart, violations: model.violations, t0: window.futurescope.view.t0, follow: window.futurescope.timeline.follow };
  });
  assert.ok(m.windowStart > 0);
  assert.deepEqual(m.violations, { count: 0, messages: [] });
  assert.equal(m.follow, true);
  assert.ok(m.t0 >= m.windowStart * 0.9, `the view starts at the window, not at the run's start: ${JSON.stringify(m)}`);
  console.log(await shot(page, 'retention-notice-1280'));
  assert.deepEqual(page.errors, []);
  await page.close();
});

test("the page's own window stays bounded and says so", async () => {
  await evictedRun();
  const query = ctx.program.pageUrl.slice(ctx.base.length + 1);
  const page = await openPage(ctx.browser, ctx.base, `${query}&window_events=600`, { width: 1600, height: 1000 });
  await page.waitForFunction(() => window.futurescope.model && window.futurescope.model.trimmed.events > 0, null, { timeout: 30000 });
  // Keeps taking batches after a trim: several trims happen, each down to three quarters.
  const firstTrim = await page.evaluate(() => window.futurescope.model.trimmed.events);
  await page.waitForFunction((n) => window.futurescope.model.trimmed.events > n, firstTrim, { timeout: 30000 });
  const m = await page.evaluate(() => {
    const app = window.futurescope.app;
    const model = window.futurescope.model;
    return { kept: app.live.feed.window.events, events: model.eventCount, violations: model.violations, tasks: model.taskList.length };
  });
  assert.ok(m.kept <= 600 + 2000, `the page keeps at most its window and a batch: ${JSON.stringify(m)}`);
  assert.deepEqual(m.violations, { count: 0, messages: [] });
  assert.match(await page.textContent('#window-notice'), /were evicted by the server and this page\.$/);
  console.log(await shot(page, 'retention-page-window-1600'));
  assert.deepEqual(page.errors, []);
  await page.close();
});

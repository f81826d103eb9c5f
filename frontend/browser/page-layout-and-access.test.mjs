// The page around the timeline, against the real binary: every toolbar control and figure
// reachable at 1024 and 1280 px, the "no such run" state of a stale link, a run of an
// earlier server (its instance changed across a reconnect), pausing without a layout jump,
// Esc on the Compare dialog, the stall box refusing bad values, the task filter saying
// when nothing matches, code in the sidebar wrapping, toasts stacking clear of each other
// and of Copy, the Open picker taking any extension, and the accessibility tree (roles,
// names, aria-pressed, tabs) plus selecting a task lane from the keyboard.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { useRealServer } from './support/harness.mjs';
import { clickRun, waitForEnd, settle, shot } from './support/browser.mjs';

const ctx = useRealServer();
const WIDTHS = [1024, 1280];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A finished blocking-in-async run opened in a page `width` px wide (one run per file, reused). */
let finishedRun = null;
async function openFinished(width) {
  if (finishedRun == null) {
    const page = await ctx.open('?scenario=blocking-in-async', { width: 1600, height: 900 });
    finishedRun = await clickRun(page);
    assert.equal(await waitForEnd(page), 'finished');
    await page.close();
  }
  const page = await ctx.open(`?scenario=blocking-in-async&run=${finishedRun}`, { width, height: 800 });
  const { counts } = await (await fetch(`${ctx.base}/api/runs/${finishedRun}`)).json();
  await page.waitForFunction((n) => window.futurescope.model && window.futurescope.model.eventCount === n, counts.events);
  await settle(page);
  return page;
}

/** Whether `selector` is on screen and not covered or clipped: the point at its centre hits it. */
function reachable(page, selector) {
  return page.$eval(selector, (e) => {
    const r = e.getBoundingClientRect();
    if (!r.width || !r.height || e.closest('[hidden]')) return { ok: false, why: 'not shown' };
    if (r.left < 0 || r.right > window.innerWidth || r.top < 0 || r.bottom > window.innerHeight) return { ok: false, why: `off-screen ${JSON.stringify(r)}` };
    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    return { ok: Boolean(hit && (hit === e || e.contains(hit))), why: `covered by ${hit && (hit.id || hit.className)}` };
  });
}

for (const width of WIDTHS) {
  test(`at ${width} px every toolbar control and every figure of the top bar is reachable`, async () => {
    const page = await openFinished(width);
    const controls = ['#run-btn', '#stop-btn', '#help-btn', '#follow-btn', '#pause-btn', '#zoom-out', '#zoom-in', '#fit-btn', '#edges-btn', '#states-btn', '#stall-input', '#collapse-btn', '#task-filter', '#download-link', '#export-link'];
    const figures = ['tasks', 'polls', 'wakes', 'longest', 'delay', 'events', 'dropped', 'checks'].map((k) => `#figures .fig[data-fig="${k}"]`);
    for (const sel of [...controls, ...figures]) {
      const r = await reachable(page, sel);
      assert.ok(r.ok, `${sel} at ${width} px: ${r.why}`);
    }
    await shot(page, `page-toolbar-${width}`);
    assert.deepEqual(page.errors, []);
    await page.close();
  });

  test(`at ${width} px pausing shows "Paused, N events buffered" on one line and moves nothing`, async () => {
    const page = await openFinished(width);
    const boxes = () =>
      page.evaluate(() => Object.fromEntries(['timeline-wrap', 'overview-wrap', 'dock'].map((id) => [id, JSON.stringify(document.getElementById(id).getBoundingClientRect())])));
    const before = await boxes();
    await page.click('#pause-btn');
    await settle(page);
    assert.ok(await page.isVisible('#paused-note'));
    assert.match(await page.textContent('#paused-note'), /^Paused — 0 events buffered$/);
    const note = await page.$eval('#paused-note', (e) => ({ h: e.getBoundingClientRect().height, lh: parseFloat(getComputedStyle(e).lineHeight) || 16 }));
    assert.ok(note.h < 2 * note.lh, `the note is one line (${note.h} px)`);
    assert.deepEqual(await boxes(), before, 'the timeline, the overview and the dock did not move');
    await shot(page, `page-paused-${width}`);
    await page.click('#pause-btn');
    await page.close();
  });
}

test('a link to a run the server does not have shows "no such run", with nothing offered that cannot work', async () => {
  for (const width of WIDTHS) {
    const page = await ctx.open('?scenario=blocking-in-async&run=9999', { width, height: 800 });
    await page.waitForSelector('#run-missing:not([hidden])');
    assert.match(await page.textContent('#run-missing'), /no run #9999/);
    assert.equal(await page.textContent('#run-status'), 'no such run');
    assert.equal(await page.textContent('#run-title'), 'run #9999');
    const state = await page.evaluate(() => ({
      model: window.futurescope.model,
      figures: document.querySelectorAll('#figures .fig').length,
      save: document.getElementById('download-link').hidden,
      perfetto: document.getElementById('export-link').hidden,
      stop: document.getElementById('stop-btn').disabled,
      subscribed: [...window.futurescope.app.connection.subscribed.keys()],
      url: window.location.search,
    }));
    assert.deepEqual(state, { model: null, figures: 0, save: true, perfetto: true, stop: true, subscribed: [], url: '?scenario=blocking-in-async&run=9999' });
    await shot(page, `page-no-such-run-${width}`);
    // Run still works from there, and the note goes.
    const id = await clickRun(page);
    assert.notEqual(id, 9999);
    assert.ok(await page.isHidden('#run-missing'));
    await waitForEnd(page);
    assert.deepEqual(page.errors, []);
    await page.close();
  }
});

test('a link naming an earlier server instance (answered 410) says the run belongs to an earlier server', async () => {
  const page = await ctx.browser.newPage({ viewport: { width: 1280, height: 800 } });
  // The server side of run ids across restarts: GET /api/runs/{id}?instance=OLD is 410.
  await page.route('**/api/runs/1?instance=0ld', (route) =>
    route.fulfill({ status: 410, contentType: 'application/json', body: JSON.stringify({ error: 'run 1 belongs to an earlier server' }) }),
  );
  await page.goto(`${ctx.base}/?scenario=blocking-in-async&run=1&instance=0ld`);
  await page.waitForFunction(() => window.futurescope && window.futurescope.isReady);
  await page.waitForSelector('#run-missing:not([hidden])');
  assert.match(await page.textContent('#run-missing'), /belongs to an earlier server/);
  assert.equal(await page.textContent('#run-status'), 'earlier server');
  assert.equal(await page.evaluate(() => window.futurescope.model), null);
  assert.ok(await page.isHidden('#download-link'));
  await page.close();
});

test('reconnecting to a server whose instance changed: the open run is marked as of an earlier server, not replaced by its namesake', async () => {
  // The hello and run messages carry the server's instance; this stand-in for a restart
  // answers as instance "aaaa" until the test "restarts" it, then as "bbbb" (decided per
  // message, so a reconnect the page makes on its own before that stays with "aaaa").
  const page = await ctx.browser.newPage({ viewport: { width: 1280, height: 800 } });
  let restarted = false;
  const current = () => (restarted ? 'bbbb' : 'aaaa');
  await page.routeWebSocket(/\/ws$/, (ws) => {
    const instance = current();
    const server = ws.connectToServer();
    server.onMessage((text) => {
      // Batches pass unchanged; every other message (the server sorts their keys, so "type"
      // is not first) is parsed and its instance rewritten.
      if (typeof text !== 'string' || text.startsWith('{"type":"batch"')) return ws.send(text);
      const msg = JSON.parse(text);
      if (msg.type === 'hello' || msg.type === 'run') msg.instance = instance;
      for (const run of msg.runs || []) run.instance = instance;
      ws.send(JSON.stringify(msg));
    });
  });
  // The HTTP API answers as the same stand-in server (run summaries carry its instance).
  await page.route(/\/api\/runs/, async (route) => {
    const response = await route.fetch();
    const body = (await response.text()).replace(/"instance":"[0-9a-f]+"/g, `"instance":"${current()}"`);
    await route.fulfill({ response, body });
  });
  if (finishedRun == null) await (await openFinished(1280)).close();
  await page.goto(`${ctx.base}/?scenario=blocking-in-async&run=${finishedRun}`);
  await page.waitForFunction(() => window.futurescope && window.futurescope.isReady);
  // The whole run replayed (the summary says "finished" before its batches are in).
  const { counts } = await (await fetch(`${ctx.base}/api/runs/${finishedRun}`)).json();
  await page.waitForFunction((n) => window.futurescope.model && window.futurescope.model.eventCount === n, counts.events);
  await page.waitForFunction(() => window.location.search.includes('instance=aaaa'));
  const events = counts.events;
  restarted = true;
  await page.evaluate(() => window.futurescope.app.connection.ws.close());
  await page.waitForSelector('#run-missing:not([hidden])', { timeout: 15000 });
  assert.match(await page.textContent('#run-missing'), /belongs to an earlier server/);
  const after = await page.evaluate(() => ({ events: window.futurescope.model.eventCount, subscribed: [...window.futurescope.app.connection.subscribed.keys()] }));
  assert.deepEqual(after, { events, subscribed: [] }, 'what the page had stays; nothing is asked of the new server');
  assert.ok(await page.isHidden('#download-link'));
  await page.close();
});

test('Esc closes the Compare dialog at the first press (its select has the focus)', async () => {
  const page = await openFinished(1280);
  // Two runs to compare.
  await clickRun(page);
  await waitForEnd(page);
  await page.click('#compare-btn');
  assert.ok(await page.isVisible('#compare-dialog'));
  assert.equal(await page.evaluate(() => document.activeElement.id), 'compare-pick-a');
  await page.keyboard.press('Escape');
  assert.ok(await page.isHidden('#compare-dialog'), 'closed at the first Esc');
  assert.equal(await page.evaluate(() => window.futurescope.compare), null);
  await page.close();
});

test('the stall box refuses "0" and letters with a message, and takes a duration', async () => {
  const page = await openFinished(1024);
  for (const bad of ['0', 'abc', '0ms']) {
    await page.fill('#stall-input', bad);
    await page.press('#stall-input', 'Enter');
    assert.ok(await page.isVisible('#stall-error'), `"${bad}" is refused`);
    assert.match(await page.textContent('#stall-error'), /not a stall threshold: give a duration above 0/);
    assert.equal(await page.getAttribute('#stall-input', 'aria-invalid'), 'true');
    assert.equal(await page.evaluate(() => window.futurescope.timeline.options.stallNs), 10e6, 'the threshold is unchanged');
  }
  await shot(page, 'page-stall-refused-1024');
  await page.fill('#stall-input', '5ms');
  await page.press('#stall-input', 'Enter');
  assert.ok(await page.isHidden('#stall-error'));
  assert.equal(await page.evaluate(() => window.futurescope.timeline.options.stallNs), 5e6);
  assert.equal(await page.getAttribute('#stall-input', 'aria-invalid'), 'false');
  await page.close();
});

test('a task filter matching nothing says so', async () => {
  const page = await openFinished(1280);
  await page.fill('#task-filter', 'no-task-is-called-this');
  await page.dispatchEvent('#task-filter', 'input');
  assert.ok(await page.isVisible('#task-filter-note'));
  assert.equal(await page.textContent('#task-filter-note'), 'No task matches "no-task-is-called-this"');
  await page.fill('#task-filter', 'ticker');
  await page.dispatchEvent('#task-filter', 'input');
  assert.ok(await page.isHidden('#task-filter-note'));
  await page.close();
});

test('code in the sidebar wraps instead of being cut', async () => {
  for (const width of WIDTHS) {
    const page = await ctx.open('?scenario=blocking-in-async', { width, height: 800 });
    const cut = await page.evaluate(() => {
      const side = document.querySelector('.sidebar').getBoundingClientRect();
      return [...document.querySelectorAll('.sidebar code')].filter((c) => [...c.getClientRects()].some((r) => r.right > side.right + 0.5)).map((c) => c.textContent);
    });
    assert.deepEqual(cut, [], `at ${width} px`);
    await page.close();
  }
});

test('toasts stack without covering each other or the Copy button; they are a live region', async () => {
  // Three messages at once: an unknown scenario, a bad ?compare=, and a file that is no run.
  const page = await ctx.open('?scenario=nope-1&compare=1', { width: 1280, height: 800 });
  const junk = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'fs-junk-')), 'junk.txt');
  fs.writeFileSync(junk, 'this is not a run\n');
  await page.setInputFiles('#file-input', junk);
  await page.waitForFunction(() => document.querySelectorAll('#toasts .toast').length >= 3);
  const boxes = await page.$$eval('#toasts .toast, #console-copy', (els) => els.map((e) => e.getBoundingClientRect().toJSON()));
  const overlap = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
  for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) assert.ok(!overlap(boxes[i], boxes[j]), `boxes ${i} and ${j} overlap: ${JSON.stringify([boxes[i], boxes[j]])}`);
  assert.equal(await page.getAttribute('#toasts', 'aria-live'), 'polite');
  await shot(page, 'page-toasts-1280');
  await page.close();
});

test('the Open picker takes a tokio-console recording of any extension', async () => {
  const page = await ctx.open('', { width: 1280, height: 800 });
  assert.equal(await page.getAttribute('#file-input', 'accept'), null, 'no extension filter');
  const at = (us) => `{"secs_since_epoch":1795670749,"nanos_since_epoch":${1000 * us}}`;
  const rec = [
    '{"v":1}',
    `{"Spawn":{"id":5,"at":${at(1)},"fields":[{"name":"kind","value":"task"},{"name":"task.name","value":"main"},{"name":"task.id","value":4}]}}`,
    `{"Enter":{"id":5,"at":${at(10)}}}`,
    `{"Exit":{"id":5,"at":${at(20)}}}`,
  ].join('\n');
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'fs-open-')), 'recording.console');
  fs.writeFileSync(file, rec);
  await page.setInputFiles('#file-input', file);
  await page.waitForFunction(() => window.futurescope.model && window.futurescope.model.meta.file === 'recording.console');
  assert.equal(await page.evaluate(() => window.futurescope.model.summary().polls), 1);
  await page.close();
});

test('accessibility tree: named canvases, icon buttons and toggles with aria-pressed, tabs in a tablist; a task lane is selectable from the keyboard', async () => {
  const page = await openFinished(1280);
  const tree = await page.locator('body').ariaSnapshot();
  for (const want of [
    /img "Timeline of the run/,
    /img "Overview of the whole run/,
    /button "Zoom in"/,
    /button "Zoom out"/,
    /button "Keyboard shortcuts"/,
    /button "↷ Edges" \[pressed\]/,
    /button "▤ States"(?! \[pressed\])/,
    /button "⇥ Follow" \[pressed\]/,
    /tablist "Details"/,
    /tab "Task" \[selected\]/,
    /tabpanel "Task"/,
    /toolbar "Timeline"/,
  ]) {
    assert.match(tree, want, `the accessibility tree has ${want}`);
  }
  // Toggling changes aria-pressed.
  await page.keyboard.press('s');
  assert.equal(await page.getAttribute('#states-btn', 'aria-pressed'), 'true');
  await page.keyboard.press('s');
  // The tabs: aria-selected follows, and aria-controls names its panel.
  await page.click('#tab-lints');
  assert.equal(await page.getAttribute('#tab-lints', 'aria-selected'), 'true');
  assert.equal(await page.getAttribute('#tab-task', 'aria-selected'), 'false');
  assert.equal(await page.getAttribute('#tab-lints', 'aria-controls'), 'lint-panel');
  // Arrow keys move through the tabs in order: Lints → Marks → Checks.
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.getAttribute('#tab-marks', 'aria-selected'), 'true');
  assert.equal(await page.getAttribute('#tab-marks', 'aria-controls'), 'mark-panel');
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.getAttribute('#tab-checks', 'aria-selected'), 'true');
  // Keyboard lane selection: focus the timeline, ] selects the first task lane, ] the next.
  await page.focus('#timeline');
  await page.keyboard.press(']');
  const first = await page.evaluate(() => {
    const tl = window.futurescope.timeline;
    const lanes = tl.lanes.lanes.filter((l) => l.kind === 'task');
    return { sel: window.futurescope.app.selectedTask, want: lanes[0].task.index, second: lanes[1].task.index };
  });
  assert.equal(first.sel, first.want);
  assert.equal(await page.getAttribute('#tab-task', 'aria-selected'), 'true', 'the task panel opens');
  assert.ok((await page.textContent('#task-panel')).length > 0);
  await page.keyboard.press(']');
  assert.equal(await page.evaluate(() => window.futurescope.app.selectedTask), first.second);
  await page.keyboard.press('[');
  assert.equal(await page.evaluate(() => window.futurescope.app.selectedTask), first.want);
  await page.keyboard.press('Escape');
  assert.equal(await page.evaluate(() => window.futurescope.app.selectedTask), -1);
  await sleep(10);
  assert.deepEqual(page.errors, []);
  await page.close();
});

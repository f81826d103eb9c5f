// Keyboard shortcuts (the help table's keys), the reconnect banner when the real server is
// killed, automatic reconnection when it comes back on the same port, and the replay of a
// live run after the WebSocket drops mid-run.

import test from 'node:test';
import assert from 'node:assert/strict';
import { useRealServer, reference, assertSummaryAgrees, revealTaskLane, setParams, sleep } from './support/harness.mjs';
import { clickRun, waitForEnd, settle, shot } from './support/browser.mjs';

const ctx = useRealServer();

test('keyboard shortcuts: space f + - 0 ← → ↑ ↓ e c r l ? Esc, and none while typing in a field', async () => {
  // A short window, so the lanes overflow and ↑ ↓ have something to scroll.
  const page = await ctx.open('?scenario=blocking-in-async', { width: 1400, height: 640 });
  const firstRun = await clickRun(page);
  await waitForEnd(page);
  await settle(page);
  const state = () =>
    page.evaluate(() => {
      const { timeline: tl, app, model } = window.futurescope;
      return { t0: tl.viewport.t0, nsPerPx: tl.viewport.nsPerPx, widthPx: tl.viewport.widthPx, follow: tl.follow, scrollY: tl.scrollY, paused: app.paused, edges: tl.options.wakeEdges, compact: tl.laneOptions.collapseTasks, tab: app.tab, sel: app.selectedTask, run: model.meta.run, lanesH: tl.lanes.height, plotH: tl.plotHeight() };
    });
  const s0 = await state();
  const near = (a, b) => Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b), 1);

  await page.keyboard.press('+');
  let s = await state();
  assert.ok(near(s.nsPerPx, s0.nsPerPx / 1.6), '+ zooms in 1.6×');
  await page.keyboard.press('=');
  assert.ok(near((await state()).nsPerPx, s0.nsPerPx / 1.6 / 1.6), '= zooms in too');
  await page.keyboard.press('-');
  await page.keyboard.press('_');
  assert.ok(near((await state()).nsPerPx, s0.nsPerPx), '- and _ zoom out');
  await page.keyboard.press('+');
  s = await state();
  await page.keyboard.press('ArrowLeft');
  let s2 = await state();
  assert.ok(near(s.t0 - s2.t0, (s.widthPx / 5) * s.nsPerPx), '← pans a fifth of the width back in time');
  assert.equal(s2.follow, false, 'panning stops following');
  await page.keyboard.press('ArrowRight');
  assert.ok(near((await state()).t0, s.t0), '→ pans forward');
  await page.keyboard.press('f');
  assert.equal((await state()).follow, true, 'f follows again');
  assert.equal(await page.$eval('#follow-btn', (b) => b.classList.contains('on')), true);
  await page.keyboard.press('f');
  assert.equal((await state()).follow, false, 'f toggles following off');
  await page.keyboard.press('0');
  s = await state();
  assert.ok(near(s.nsPerPx, s0.nsPerPx) && near(s.t0, s0.t0), '0 fits the whole run');

  assert.ok(s.lanesH > s.plotH, `precondition: lanes (${s.lanesH} px) overflow the plot (${s.plotH} px)`);
  await page.keyboard.press('ArrowDown');
  assert.equal((await state()).scrollY, Math.min(60, s.lanesH - s.plotH), '↓ scrolls the lanes');
  await page.keyboard.press('ArrowUp');
  assert.equal((await state()).scrollY, 0, '↑ scrolls back');

  await page.keyboard.press('e');
  assert.equal((await state()).edges, !s0.edges, 'e toggles wake edges');
  await page.keyboard.press('e');
  await page.keyboard.press('c');
  await settle(page);
  const heights = await page.evaluate(() => window.futurescope.timeline.lanes.lanes.filter((l) => l.kind === 'task').map((l) => l.height));
  assert.equal((await state()).compact, true, 'c compacts task lanes');
  assert.ok(heights.every((h) => h <= 8), `compact task lanes are thin (${[...new Set(heights)]})`);
  await page.keyboard.press('c');

  await page.keyboard.press('l');
  assert.equal((await state()).tab, 'lints', 'l shows the lints');
  assert.equal(await page.isVisible('#lint-panel'), true);
  assert.ok((await page.$$('#lint-panel .lint-list li')).length > 0, 'the long_poll lints are listed');

  await page.keyboard.press('?');
  assert.equal(await page.isVisible('#help'), true, '? opens the help');
  const keys = await page.$$eval('#help kbd', (k) => k.map((x) => x.textContent));
  for (const k of ['space', 'f', '+', '-', '0', 'e', 'c', 'r', 'l', 'Esc', '?']) assert.ok(keys.includes(k), `help lists ${k}`);
  await page.keyboard.press('Escape');
  assert.equal(await page.isVisible('#help'), false, 'Esc closes the help');

  // Esc closes the task panel.
  const lane = await revealTaskLane(page, await page.evaluate(() => window.futurescope.model.taskList[1].id));
  await page.mouse.click(lane.gutterX, lane.y);
  await page.waitForSelector('#task-panel .task-head');
  await page.keyboard.press('Escape');
  assert.equal(await page.$('#task-panel .task-head'), null, 'Esc closes the task panel');

  // Typing in a field does not trigger shortcuts.
  s = await state();
  await page.click('#task-filter');
  await page.keyboard.type('f0ec ticker');
  const typed = await state();
  assert.equal(typed.follow, s.follow, 'typing f in a field does not toggle follow');
  assert.equal(typed.edges, s.edges);
  assert.equal(typed.compact, s.compact);
  const visibleTasks = await page.evaluate(() => window.futurescope.timeline.lanes.lanes.filter((l) => l.kind === 'task').length);
  assert.equal(visibleTasks, 0, 'the filter text "f0ec ticker" matches no task');
  await page.fill('#task-filter', 'ticker');
  await page.dispatchEvent('#task-filter', 'input');
  const tickers = await page.evaluate(() => window.futurescope.timeline.lanes.lanes.filter((l) => l.kind === 'task').map((l) => l.task.label));
  assert.ok(tickers.length > 0 && tickers.every((n) => /ticker/.test(n)), `the task filter keeps the tickers: ${tickers}`);
  await page.fill('#task-filter', '');
  await page.dispatchEvent('#task-filter', 'input');
  await page.keyboard.press('Escape'); // Esc leaves the field
  assert.equal(await page.evaluate(() => document.activeElement.id), '', 'Esc blurred the field');

  // space pauses, r starts a new run.
  await page.keyboard.press(' ');
  assert.equal((await state()).paused, true, 'space pauses');
  await page.keyboard.press(' ');
  assert.equal((await state()).paused, false, 'space resumes');
  // With the Pause button focused (just clicked), space toggles once, not twice.
  await page.click('#pause-btn');
  assert.equal((await state()).paused, true);
  await page.keyboard.press(' ');
  assert.equal((await state()).paused, false, 'space on the focused Pause button resumes (toggles once)');
  await page.keyboard.press('r');
  await page.waitForFunction((prev) => window.futurescope.model.meta.run !== prev, firstRun);
  assert.notEqual((await state()).run, firstRun, 'r started a new run');
  await waitForEnd(page);
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('clicking the timeline takes the keyboard focus out of a text field, so shortcuts work again', async () => {
  // A user filters the task lanes, clicks the timeline and presses "+" to zoom in: the
  // "+" must zoom, not be typed into the filter field.
  const page = await ctx.open('?scenario=join-vs-select');
  await clickRun(page);
  await waitForEnd(page);
  await page.fill('#task-filter', 'task');
  await page.dispatchEvent('#task-filter', 'input');
  const before = await page.evaluate(() => window.futurescope.view.nsPerPx);
  await page.click('#timeline-wrap', { position: { x: 400, y: 120 } });
  const focused = await page.evaluate(() => document.activeElement.id || document.activeElement.tagName);
  await page.keyboard.press('+');
  const after = await page.evaluate(() => window.futurescope.view.nsPerPx);
  const filter = await page.inputValue('#task-filter');
  assert.equal(filter, 'task', `"+" went into the filter field (now "${filter}"; focus after clicking the timeline: ${focused})`);
  assert.ok(after < before, '"+" zoomed in');
  await page.close();
});

test('killing the server shows the reconnect banner; it reconnects by itself when the server is back on the same port', async (t) => {
  const page = await ctx.open('?scenario=actors-mpsc');
  const runId = await clickRun(page);
  await waitForEnd(page);
  await sleep(300);
  const before = await page.evaluate(() => ({ events: window.futurescope.model.eventCount, run: window.futurescope.model.meta.run }));
  assert.equal(await page.textContent('#conn'), 'live');
  assert.equal(await page.isVisible('#banner'), false, 'no banner while connected');

  await ctx.server.kill();
  await page.waitForSelector('#banner:not([hidden])', { timeout: 5000 });
  assert.match(await page.textContent('#banner'), /Disconnected/);
  assert.match(await page.textContent('#conn'), /offline|connecting/);
  assert.ok(await page.$('#banner button'), 'the banner offers "Retry now"');
  await shot(page, 'reconnect-banner');
  // The page keeps what it has while offline.
  assert.equal(await page.evaluate(() => window.futurescope.model.eventCount), before.events, 'the run stays on screen while offline');
  // Run while offline: a message, no exception.
  await page.click('#run-btn');
  await page.waitForSelector('.toast.bad');
  assert.match(await page.textContent('.toast.bad'), /Could not start the run/);
  // "Retry now" while still down: still disconnected, no exception.
  await page.click('#banner button');
  await sleep(300);
  assert.match(await page.textContent('#conn'), /offline|connecting/);

  await ctx.server.restart();
  await page.waitForSelector('#banner', { state: 'hidden', timeout: 15000 });
  await page.waitForFunction(() => document.getElementById('conn').textContent === 'live', null, { timeout: 5000 });
  assert.deepEqual(page.errors, []);
  await t.test('and the page still shows the run it had, although the new server process does not know it', async () => {
    await sleep(1000);
    const after = await page.evaluate(() => ({ events: window.futurescope.model.eventCount, run: window.futurescope.model.meta.run }));
    const toasts = await page.$$eval('.toast', (ts) => ts.map((x) => x.textContent));
    assert.deepEqual(after, before, `after reconnecting to a server that no longer has run ${runId}, the page emptied it (model events ${after.events}, were ${before.events}); toasts: ${JSON.stringify(toasts)}`);
  });
  await page.close();
});

test('after the server came back, a run started from the same page streams live again', async () => {
  const page = await ctx.open('?scenario=actors-mpsc');
  assert.equal(await page.textContent('#conn'), 'live');
  const runId = await clickRun(page);
  await waitForEnd(page);
  await sleep(300);
  await assertSummaryAgrees(page, await reference(ctx.base, runId), 'after restart: ');
  await page.close();
});

test('the WebSocket dropping mid-run: the banner shows, the page reconnects and the run is replayed from its start without duplicates', async () => {
  const page = await ctx.open('?scenario=hand-written-future');
  await setParams(page, { delay_ms: 500 });
  const runId = await clickRun(page);
  await page.waitForFunction(() => {
    const t = window.futurescope.model.taskList.find((x) => x.name === 'handshake');
    return t && t.polls.length >= 1;
  });
  // Open the handshake task's panel: the selection should survive the reconnect.
  const id = await page.evaluate(() => window.futurescope.model.taskList.find((x) => x.name === 'handshake').id);
  const lane = await revealTaskLane(page, id);
  await page.mouse.click(lane.gutterX, lane.y);
  await page.waitForSelector('#task-panel .task-head');
  // Simulate a network drop: close the socket from the page (the app did not ask for it).
  await page.evaluate(() => window.futurescope.app.connection.ws.close());
  await page.waitForSelector('#banner:not([hidden])', { timeout: 3000 });
  assert.match(await page.textContent('#banner'), /Disconnected/);
  await page.waitForSelector('#banner', { state: 'hidden', timeout: 10000 });
  assert.equal(await waitForEnd(page), 'finished');
  await sleep(400);
  await assertSummaryAgrees(page, await reference(ctx.base, runId), 'after the drop: ');
  const v = await page.evaluate(() => window.futurescope.model.violations.count);
  assert.equal(v, 0, 'the replay went into a fresh model: no duplicate events');
  assert.match((await page.textContent('#task-panel .task-head')) || '', new RegExp(`#${id}`), 'the selected task is still open');
  assert.deepEqual(page.errors, []);
  await page.close();
});

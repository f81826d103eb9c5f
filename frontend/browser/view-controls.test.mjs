// Controls for looking at a run, against the real binary: pause / resume during a
// live run, zoom and pan (drag, wheel, buttons) on a finished run, loading a saved run with
// the file picker and by drag-and-drop (the loaded model equals the live one), reopening a
// run from the run list and from a ?run= deep link.

import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { useRealServer, reference, assertSummaryAgrees, modelSummary, sleep } from './support/harness.mjs';
import { clickRun, waitForEnd, settle, shot } from './support/browser.mjs';
import { waitForRunEnd } from './support/server.mjs';

const ctx = useRealServer();

/** Everything the model says about a run, for comparing two models of the same events. */
function modelDigest(page) {
  return page.evaluate(() => {
    const m = window.futurescope.model;
    const s = m.summary();
    return {
      summary: { ...s, longestPoll: s.longestPoll.ns, worstDelay: s.worstDelay.ns, alive: s.alive },
      tasks: m.taskList.map((t) => {
        const f = m.taskFigures(t);
        return { id: t.id, name: t.label, polls: f.polls, busy: f.busy, scheduled: f.scheduled, idle: f.idle, wakes: t.wakes, outcome: t.outcome, probes: t.probes.size };
      }),
      workers: m.threadList.map((w) => ({ index: w.index, name: w.name, kind: w.kind, slices: w.slices.length, busy: w.busyNs })),
      lints: m.lints.map((l) => `${l.rule}@${l.t}`),
      marks: m.marks.map((k) => k.label),
      violations: m.violations.count,
    };
  });
}

test('pause during a live run buffers what arrives; resume applies it; the result equals /events', async () => {
  const page = await ctx.open('?scenario=blocking-in-async');
  const runId = await clickRun(page);
  await page.waitForFunction(() => window.futurescope.model.eventCount > 0 && window.futurescope.model.meta.status === 'running');
  await page.click('#pause-btn');
  const c0 = await page.evaluate(() => ({ events: window.futurescope.model.eventCount, endT: window.futurescope.model.endT }));
  assert.equal(await page.$eval('#pause-btn', (b) => b.classList.contains('on')), true, 'the Pause button shows paused');
  assert.match(await page.textContent('#pause-btn'), /Resume/);
  await page.waitForFunction(() => window.futurescope.app.bufferedEvents > 0, null, { timeout: 10000 });
  // Nothing is applied while paused, for as long as the run goes on.
  const server = await waitForRunEnd(ctx.base, runId);
  assert.equal(server.status, 'finished');
  await sleep(300);
  const during = await page.evaluate(() => ({ events: window.futurescope.model.eventCount, endT: window.futurescope.model.endT, buffered: window.futurescope.app.bufferedEvents }));
  assert.equal(during.events, c0.events, 'the model did not change while paused');
  assert.equal(during.endT, c0.endT);
  assert.ok(await page.isVisible('#paused-note'), 'the paused note shows');
  const note = await page.textContent('#paused-note');
  assert.equal(Number(/([\d\u2009]+) events buffered/.exec(note)[1].replace(/\u2009/g, '')), during.buffered, `the note counts the buffered events: "${note}"`);
  await shot(page, 'controls-paused');
  await page.click('#pause-btn');
  const after = await page.evaluate(() => ({ events: window.futurescope.model.eventCount, buffered: window.futurescope.app.bufferedEvents }));
  assert.equal(after.events, c0.events + during.buffered, 'resume applied every buffered event');
  assert.equal(after.buffered, 0);
  assert.equal(await page.isVisible('#paused-note'), false);
  await waitForEnd(page);
  await sleep(300);
  await assertSummaryAgrees(page, await reference(ctx.base, runId), 'after resume: ');
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('a finished run: zoom buttons, wheel zoom at the cursor, drag to pan, Fit; Follow turns off when the user pans', async () => {
  const page = await ctx.open('?scenario=actors-mpsc');
  await clickRun(page);
  await waitForEnd(page);
  await settle(page);
  const vp = () => page.evaluate(() => ({ ...window.futurescope.timeline.viewport.snapshot(), follow: window.futurescope.timeline.follow }));
  const fit = await vp();
  const endT = await page.evaluate(() => window.futurescope.model.endT);
  assert.ok(fit.t0 <= 0 && fit.t1 >= endT, 'a finished run is shown whole');
  await page.click('#zoom-in');
  let v = await vp();
  assert.ok(Math.abs(v.nsPerPx - fit.nsPerPx / 1.6) < 1e-9 * fit.nsPerPx, 'the + button zooms in 1.6×');
  await page.click('#zoom-out');
  v = await vp();
  assert.ok(Math.abs(v.nsPerPx - fit.nsPerPx) < 1e-9 * fit.nsPerPx, 'the − button zooms back out');
  // Wheel: zooms around the cursor.
  const box = await page.$eval('#timeline', (c) => {
    const r = c.getBoundingClientRect();
    return { left: r.left, top: r.top, width: r.width, height: r.height };
  });
  const { GUTTER } = await page.evaluate(async () => ({ GUTTER: (await import('/assets/draw.js')).GUTTER_PX }));
  const cx = 400;
  const tAt = await page.evaluate((x) => window.futurescope.view.xToTime(x), cx);
  await page.mouse.move(box.left + GUTTER + cx, box.top + 200);
  await page.mouse.wheel(0, -400);
  await sleep(100);
  v = await vp();
  assert.ok(v.nsPerPx < fit.nsPerPx / 1.5, `the wheel zoomed in (${fit.nsPerPx} -> ${v.nsPerPx} ns/px)`);
  const tAfter = await page.evaluate((x) => window.futurescope.view.xToTime(x), cx);
  assert.ok(Math.abs(tAfter - tAt) <= v.nsPerPx, 'the time under the cursor stayed put');
  // Drag right by 200 px: the view moves 200 px back in time; Follow goes off.
  const before = await vp();
  await page.mouse.move(box.left + GUTTER + 300, box.top + 200);
  await page.mouse.down();
  await page.mouse.move(box.left + GUTTER + 500, box.top + 200, { steps: 20 });
  await page.mouse.up();
  v = await vp();
  const moved = (before.t0 - v.t0) / v.nsPerPx;
  assert.ok(Math.abs(moved - 200) <= 4, `dragging 200 px panned ${moved.toFixed(1)} px`);
  assert.equal(v.follow, false, 'panning stops following');
  assert.equal(await page.$eval('#follow-btn', (b) => b.classList.contains('on')), false);
  assert.equal(await page.$('#task-panel .task-head'), null, 'a drag is not a click: no task opened');
  await shot(page, 'controls-zoomed');
  await page.click('#fit-btn');
  v = await vp();
  assert.ok(Math.abs(v.nsPerPx - fit.nsPerPx) < 1e-9 * fit.nsPerPx && v.t0 === fit.t0, 'Fit shows the whole run again');
  assert.equal(v.follow, true);
  // The toolbar says how much a pixel is.
  assert.match(await page.textContent('#view-span'), /\/px$/);
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('a saved run opens from the file picker and by drag-and-drop, and equals the live model; the run list and ?run= reopen it', async () => {
  const page = await ctx.open('?scenario=actors-mpsc');
  const runId = await clickRun(page);
  assert.equal(await waitForEnd(page), 'finished');
  await sleep(300);
  const live = await modelDigest(page);
  assert.match(page.url(), new RegExp(`[?&]run=${runId}\\b`), 'the URL links to the run');
  assert.equal(await page.getAttribute('#download-link', 'href'), `/api/runs/${runId}/events`, 'the .jsonl link downloads the run');
  const text = await (await fetch(`${ctx.base}/api/runs/${runId}/events`)).text();
  const file = path.join(os.tmpdir(), `futurescope-run-${runId}-${process.pid}.jsonl`);
  fs.writeFileSync(file, text);
  try {
    // 1. The "Open .jsonl…" button opens the file chooser.
    const [chooser] = await Promise.all([page.waitForEvent('filechooser'), page.click('#open-file')]);
    await chooser.setFiles(file);
    await page.waitForFunction(() => window.futurescope.model.meta.status === 'file');
    await sleep(300);
    const loaded = await modelDigest(page);
    assert.deepEqual(loaded, live, 'the model of the loaded file equals the live one');
    assert.match(await page.textContent('#run-title'), new RegExp(path.basename(file).replace(/\./g, '\\.')));
    assert.equal(await page.isVisible('#download-link'), false, 'no download link for a file');
    assert.match(await page.textContent('.toast'), /Opened .*434|Opened .* events/);
    await assertSummaryAgrees(page, await reference(ctx.base, runId), 'loaded file: ');
    await shot(page, 'controls-loaded-file');

    // 2. Drag-and-drop onto the page: the overlay shows while dragging, the drop opens it.
    await page.click('#fit-btn');
    const dropped = await page.evaluate(async ({ text, name }) => {
      const dt = new DataTransfer();
      dt.items.add(new File([text], name, { type: 'application/x-ndjson' }));
      window.dispatchEvent(new DragEvent('dragenter', { dataTransfer: dt, bubbles: true }));
      const overlay = !document.getElementById('drop-overlay').hidden;
      document.body.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
      document.body.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
      const hiddenAfter = document.getElementById('drop-overlay').hidden;
      return { overlay, hiddenAfter };
    }, { text, name: 'dropped-run.jsonl' });
    assert.equal(dropped.overlay, true, 'the drop overlay shows while a file is dragged over the page');
    assert.equal(dropped.hiddenAfter, true, 'and hides after the drop');
    await page.waitForFunction(() => window.futurescope.model && window.futurescope.model.meta.file === 'dropped-run.jsonl');
    await sleep(300);
    assert.deepEqual(await modelDigest(page), live, 'the dropped file’s model equals the live one');

    // 3. The run list reopens the run from the server (replayed from its start).
    await page.click(`.run-item:has(.run-id:text-is("#${runId}"))`);
    await page.waitForFunction((n) => window.futurescope.model.meta.status === 'finished' && window.futurescope.model.eventCount === n, live.summary.events, { timeout: 15000 });
    await sleep(300);
    assert.deepEqual(await modelDigest(page), live, 'reopened from the run list: same model');
  } finally {
    fs.unlinkSync(file);
  }
  assert.deepEqual(page.errors, []);
  await page.close();

  // 4. A deep link to the run in a new tab.
  const tab = await ctx.open(`?run=${runId}`);
  await tab.waitForFunction((n) => window.futurescope.model && window.futurescope.model.meta.status === 'finished' && window.futurescope.model.eventCount === n, live.summary.events, { timeout: 15000 });
  await sleep(300);
  assert.deepEqual(await modelDigest(tab), live, '?run= replays the same run');
  assert.equal(await tab.textContent('.scenario.selected .scenario-title'), 'Actors over mpsc: who wakes whom', 'and selects its scenario');
  assert.deepEqual(tab.errors, []);
  await tab.close();
});

test('a bad parameter is refused with a reason next to the form (and the API answers 422 naming it); an unknown ?scenario= says so', async () => {
  const api = await fetch(`${ctx.base}/api/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ scenario: 'join-vs-select', params: { a_ms: 5000 } }) });
  assert.equal(api.status, 422);
  assert.match((await api.json()).error, /a_ms/);
  const page = await ctx.open('?scenario=join-vs-select');
  await page.fill('#params [name="a_ms"]', '5000');
  await page.click('#run-btn');
  await page.waitForSelector('#params-error:not([hidden])');
  assert.match(await page.textContent('#params-error'), /a_ms/);
  const runs = await (await fetch(`${ctx.base}/api/runs`)).json();
  assert.ok(!runs.some((r) => r.scenario === 'join-vs-select' && r.params && r.params.a_ms === 5000), 'no run was started');
  await page.close();
  const other = await ctx.open('?scenario=no-such-scenario');
  await other.waitForSelector('.toast');
  assert.match(await other.textContent('.toast'), /no-such-scenario/);
  await other.close();
});

test('a summary figure that points at a moment jumps there: "longest poll" zooms to it and opens its task', async () => {
  const page = await ctx.open('?scenario=blocking-in-async');
  await clickRun(page);
  await waitForEnd(page);
  await sleep(300);
  const s = await modelSummary(page);
  await page.click('.fig[data-fig="longest"]');
  const r = await page.evaluate(() => {
    const { model, view, app } = window.futurescope;
    return { t0: view.t0, t1: view.t1, sel: app.selectedTask, want: model.longestPoll.task, start: model.longestPoll.t, ns: model.longestPoll.ns };
  });
  assert.ok(r.start + r.ns / 2 >= r.t0 && r.start + r.ns / 2 <= r.t1, 'the longest poll is in view');
  assert.equal(r.sel, r.want, 'its task is selected');
  assert.ok(s.longestPoll > 0);
  await page.close();
});

test('the overview strip scrubs: drag the window to move the view, drag its edge to zoom, click elsewhere to jump, double-click to fit', async () => {
  // Needs the overview strip above the timeline: a canvas #overview whose geometry is
  // window.futurescope.overview.scale() (time <-> strip x) and whose window is the
  // timeline's visible range.
  const page = await ctx.open('?scenario=actors-mpsc');
  await clickRun(page);
  await waitForEnd(page);
  assert.ok(await page.$('#overview'), 'the page has an overview strip (#overview)');
  for (let i = 0; i < 3; i++) await page.keyboard.press('+');
  await page.keyboard.press('ArrowLeft');
  await settle(page);
  const geo = () =>
    page.evaluate(() => {
      const { overview, view, timeline } = window.futurescope;
      const s = overview.scale();
      const r = overview.canvas.getBoundingClientRect();
      return { left: r.left, top: r.top, height: r.height, x0: s.timeToX(view.t0), x1: s.timeToX(view.t1), nsPerStripPx: s.tEnd / s.widthPx, t0: view.t0, t1: view.t1, nsPerPx: view.nsPerPx, follow: timeline.follow, scaleLeft: s.left, scaleW: s.widthPx };
    });
  const g = await geo();
  assert.ok(g.x1 - g.x0 > 30, `the window is ${g.x1 - g.x0} px wide in the strip`);
  const y = g.top + g.height / 2;
  // Move: drag the window's middle 80 px to the right.
  const mid = g.left + (g.x0 + g.x1) / 2;
  await page.mouse.move(mid, y);
  await page.mouse.down();
  await page.mouse.move(mid + 80, y, { steps: 8 });
  await page.mouse.up();
  let h = await geo();
  assert.ok(Math.abs(h.t0 - g.t0 - 80 * g.nsPerStripPx) <= 1.5 * g.nsPerStripPx, `dragging the window 80 px moved the view by ${((h.t0 - g.t0) / g.nsPerStripPx).toFixed(1)} strip px`);
  assert.ok(Math.abs(h.nsPerPx - g.nsPerPx) <= 1e-9 * g.nsPerPx, 'moving does not zoom');
  assert.equal(h.follow, false);
  await shot(page, 'controls-overview-scrub');
  // Zoom: drag the right edge 40 px further right; the left edge stays.
  const e = await geo();
  await page.mouse.move(e.left + e.x1, y);
  await page.mouse.down();
  await page.mouse.move(e.left + e.x1 + 40, y, { steps: 5 });
  await page.mouse.up();
  h = await geo();
  assert.ok(Math.abs(h.t0 - e.t0) <= 1e-6 * Math.max(1, Math.abs(e.t0)), 'dragging the right edge keeps the left edge');
  assert.ok(Math.abs(h.t1 - e.t1 - 40 * e.nsPerStripPx) <= 1.5 * e.nsPerStripPx, `the right edge followed the mouse (${((h.t1 - e.t1) / e.nsPerStripPx).toFixed(1)} strip px)`);
  // Jump: a click outside the window centres the view there.
  const target = h.scaleLeft + h.scaleW * 0.9;
  const tTarget = (h.scaleW * 0.9 * h.nsPerStripPx);
  await page.mouse.click(h.left + target, y);
  const j = await geo();
  assert.ok(Math.abs((j.t0 + j.t1) / 2 - tTarget) <= 1.5 * h.nsPerStripPx, 'a click outside the window centres the view on the clicked time');
  // Double-click: fit.
  await page.mouse.dblclick(h.left + h.scaleLeft + 5, y);
  const f = await geo();
  const endT = await page.evaluate(() => window.futurescope.model.endT);
  assert.ok(f.t0 <= 0 && f.t1 >= endT, 'double-click shows the whole run');
  assert.deepEqual(page.errors, []);
  await page.close();
});

// Blocking-in-async, in the browser, against the real binary.
//
// Deep link /?scenario=blocking-in-async, press Run. While it runs and at the end, the
// page's model shows one poll as long as the stall on one worker lane, the tasks woken
// during the stall stay "scheduled" for most of it, the figures in the UI equal the
// model's and what GET /api/runs/{id}/events says (analysed independently here), and the
// canvas really paints it: the long poll's x-range on its lane is ink, idle time is
// background.

import test from 'node:test';
import assert from 'node:assert/strict';
import { useRealServer, reference, assertSummaryAgrees, sleep, revealTaskLane } from './support/harness.mjs';
import { clickRun, waitForEnd, settle, canvasSnapshot, backgroundColours, isBackground, pixelAt, timeToCanvasX, shot } from './support/browser.mjs';
import { taskFigures } from './support/reference.mjs';

const ctx = useRealServer();
const SCENARIO = 'blocking-in-async';

/** One run shared by the tests of this file: the page, the run id, samples taken each frame while it ran. */
let shared = null;
const STALL_MS = 800;
async function runOnce() {
  if (shared) return shared;
  const page = await ctx.open(`?scenario=${SCENARIO}`);
  assert.equal(await page.textContent('.scenario.selected .scenario-title'), 'Blocking inside async', 'the deep link selects the scenario');
  // A stall long enough that a page behind a loaded machine's live lag (p99 under 100 ms
  // with a CPU hog, 200 ms and more past saturation) still sees it grow past half its length.
  await page.fill('#params [name="stall_ms"]', String(STALL_MS));
  // Sample the page's model on every animation frame while the run goes on, and how far
  // to the right the worker lane of an open poll is painted (so a page that draws an open
  // poll up to "now" passes as well as one whose model time moves on).
  await page.evaluate(async () => {
    const { THEME, GUTTER_PX } = await import('/assets/draw.js');
    const bgs = [THEME.bg, THEME.laneAlt, THEME.headerBg].map((hex) => {
      const v = parseInt(hex.slice(1), 16);
      return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
    });
    const isBg = (d, i) => bgs.some((c) => Math.abs(d[i] - c[0]) <= 12 && Math.abs(d[i + 1] - c[1]) <= 12 && Math.abs(d[i + 2] - c[2]) <= 12);
    /** The time up to which the lane of worker `w` is painted from time `start` on (or null). */
    const paintedUntil = (w, start) => {
      const tl = window.futurescope.timeline;
      const j = tl.lanes.threadLaneByIndex.get(w);
      if (j == null) return null;
      const lane = tl.lanes.lanes[j];
      const vp = tl.viewport;
      const dpr = tl.renderer.dpr || 1;
      const y = tl.renderer.axisPx + lane.y - tl.scrollY + lane.height - 6;
      const x0 = Math.max(GUTTER_PX, Math.ceil(GUTTER_PX + vp.timeToX(start)) + 1);
      const x1 = tl.renderer.cssWidth - 2;
      if (x1 <= x0) return null;
      const d = tl.canvas.getContext('2d').getImageData(Math.round(x0 * dpr), Math.round(y * dpr), Math.round((x1 - x0) * dpr), 1).data;
      let last = x0;
      let gap = 0;
      for (let x = x0; x < x1; x++) {
        if (isBg(d, Math.floor((x - x0) * dpr) * 4)) {
          if (++gap > 3) break;
        } else {
          gap = 0;
          last = x;
        }
      }
      return vp.xToTime(last - GUTTER_PX);
    };
    window.__samples = [];
    const loop = () => {
      const m = window.futurescope.model;
      if (m && m.meta.run != null) {
        const open = [];
        for (const w of m.threadList) {
          if (w.openTask < 0) continue;
          const task = m.taskList[w.openTask];
          const start = task.polls.start[task.openPollSlice];
          open.push({ worker: w.index, workerKind: w.kind, task: task.id, start, paintedUntil: paintedUntil(w.index, start) });
        }
        const scheduled = m.taskList.filter((t) => m.taskActivity(t) === 'scheduled').map((t) => t.id);
        window.__samples.push({ at: performance.now(), run: m.meta.run, status: m.meta.status, endT: m.endT, open, scheduled, longest: m.longestPoll.ns, longestTask: m.longestPoll.task >= 0 ? m.taskList[m.longestPoll.task].id : null });
      }
      if (!window.__stopSampling) requestAnimationFrame(loop);
    };
    requestAnimationFrame(loop);
  });
  const runId = await clickRun(page);
  const status = await waitForEnd(page);
  await page.evaluate(() => (window.__stopSampling = true));
  const samples = (await page.evaluate(() => window.__samples)).filter((s) => s.run === runId);
  const ref = await reference(ctx.base, runId);
  const stallNs = ref.header.params.stall_ms * 1e6;
  // The stall, from the recorded events: polls at least 90% of stall_ms on a runtime worker.
  const workerKind = (w) => (ref.run.workers.get(w) || {}).kind;
  const longOnWorkers = [];
  for (const x of ref.run.tasks.values()) for (const p of x.polls) if (p.end - p.start >= 0.9 * stallNs && workerKind(p.worker) === 'worker') longOnWorkers.push(p);
  shared = { page, runId, status, samples, ref, stallNs, longOnWorkers };
  return shared;
}

test('the run finishes; exactly one poll on a runtime worker lane is as long as the stall, in the model and in /events', async () => {
  const { page, status, ref, stallNs, longOnWorkers } = await runOnce();
  assert.equal(status, 'finished');
  assert.equal(longOnWorkers.length, 1, `/events: polls >= 90% of the ${stallNs / 1e6} ms stall on worker threads: ${JSON.stringify(longOnWorkers)}`);
  const stall = longOnWorkers[0];
  const len = stall.end - stall.start;
  assert.ok(len >= stallNs && len <= stallNs * 1.2 + 20e6, `the long poll lasts ${len} ns for a ${stallNs} ns stall`);
  const m = await page.evaluate(
    ({ workerIndex, start }) => {
      const { model } = window.futurescope;
      const w = model.threads.get(workerIndex);
      let slice = null;
      for (let i = 0; i < w.slices.length; i++) if (w.slices.start[i] === start) slice = { start: w.slices.start[i], end: w.slices.end[i], task: model.taskList[w.slices.ref[i]].id };
      return { slice, kind: w.kind };
    },
    { workerIndex: stall.worker, start: stall.start },
  );
  assert.equal(m.kind, 'worker');
  assert.deepEqual(m.slice, { start: stall.start, end: stall.end, task: stall.task }, 'the model has the same slice on the same worker lane');
  // The blocker is the task the scenario names `blocker`.
  assert.equal(ref.run.tasks.get(stall.task).name, 'blocker');
  assert.ok(ref.run.lints.some((l) => l.rule === 'long_poll' && l.task === stall.task), 'the server flagged it long_poll');
});

test('the model agrees with /events after the run: one long worker-lane poll, figures in the summary bar', async () => {
  const { page, ref, stallNs, longOnWorkers } = await runOnce();
  const long = await page.evaluate((ns) => {
    const { model } = window.futurescope;
    const out = [];
    for (const w of model.threadList) {
      if (w.kind !== 'worker') continue;
      for (let i = 0; i < w.slices.length; i++) if (w.slices.end[i] >= 0 && w.slices.end[i] - w.slices.start[i] >= 0.9 * ns) out.push({ worker: w.index, start: w.slices.start[i], end: w.slices.end[i] });
    }
    return out;
  }, stallNs);
  assert.deepEqual(
    long,
    longOnWorkers.map((p) => ({ worker: p.worker, start: p.start, end: p.end })),
    'long polls on runtime worker lanes: model vs /events',
  );
  await settle(page);
  await sleep(300); // the summary bar refreshes at most every 250 ms
  await assertSummaryAgrees(page, ref, 'end of run: ');
  assert.deepEqual(page.errors, [], 'no page errors');
});

test('tasks woken before or during the stall stay "scheduled" until it ends (model == /events)', async () => {
  const { page, ref, longOnWorkers, stallNs } = await runOnce();
  const stall = longOnWorkers[0];
  // /events: the scheduled intervals (woken, waiting for the worker) that overlap the stall.
  // The runtime has one worker, so none of them can end before the stall does.
  const woken = [];
  for (const x of ref.run.tasks.values()) {
    if (x.id === stall.task) continue;
    for (const iv of x.sched) {
      if (iv.end <= stall.start + 1e6 || iv.start >= stall.end - 1e6) continue;
      woken.push({ id: x.id, name: x.name, sched: iv });
    }
  }
  assert.ok(woken.length >= 1, 'some tasks were runnable during the stall');
  for (const w of woken) {
    assert.ok(w.sched.end >= stall.end, `task ${w.id} (${w.name}) was polled at ${w.sched.end}, before the stall ended at ${stall.end}`);
  }
  const covered = (w) => Math.min(w.sched.end, stall.end) - Math.max(w.sched.start, stall.start);
  const best = Math.max(...woken.map(covered));
  assert.ok(best >= 0.75 * stallNs, `a task waited "scheduled" for ${(best / 1e6).toFixed(1)} ms of the ${stallNs / 1e6} ms stall`);
  const modelSched = await page.evaluate((ids) => {
    const { model } = window.futurescope;
    // The model's scheduled interval of each task that overlaps the stall.
    return ids.map(({ id, from, to }) => {
      const t = model.tasks.get(id);
      for (let i = 0; i < t.sched.length; i++) if (t.sched.start[i] < to && t.sched.end[i] > from) return { id, start: t.sched.start[i], end: t.sched.end[i] };
      return { id, start: null, end: null };
    });
  }, woken.map((w) => ({ id: w.id, from: stall.start + 1e6, to: stall.end - 1e6 })));
  assert.deepEqual(
    modelSched,
    woken.map((w) => ({ id: w.id, start: w.sched.start, end: w.sched.end })),
    'the model has the same scheduled intervals',
  );
  // And per task, the busy / scheduled / idle split the model computes equals /events'.
  const figs = await page.evaluate((ids) => {
    const { model } = window.futurescope;
    return ids.map((id) => {
      const f = model.taskFigures(model.tasks.get(id));
      return { id, busy: f.busy, scheduled: f.scheduled, idle: f.idle, polls: f.polls };
    });
  }, [...new Set(woken.map((w) => w.id))]);
  for (const f of figs) {
    const r = taskFigures(ref.run, ref.run.tasks.get(f.id));
    assert.deepEqual(f, { id: f.id, busy: r.busy, scheduled: r.scheduled, idle: r.idle, polls: r.polls }, `task ${f.id} figures`);
  }
});

test('while the run is still going (after the stall), the live model already shows the long poll', async () => {
  const { samples, longOnWorkers } = await runOnce();
  const stall = longOnWorkers[0];
  const running = samples.filter((s) => s.status === 'running');
  assert.ok(running.length > 0, 'samples were taken while the run was running');
  const seen = running.find((s) => s.longest === stall.end - stall.start && s.longestTask === stall.task);
  assert.ok(seen, `no live sample showed the ${(stall.end - stall.start) / 1e6} ms poll while running (samples: ${running.length}, last longest ${running.at(-1).longest})`);
});

test('DURING the stall, the live model shows the poll in progress and the woken tasks scheduled', async () => {
  // The point of watching live: while the worker is stuck, the page should show a poll
  // that keeps growing on its lane and the tickers piling up as "scheduled". This needs
  // the server to stream the blocker's poll_start and the clock thread's wakes while the
  // worker is still blocked.
  const { samples, longOnWorkers, stallNs, ref } = await runOnce();
  const stall = longOnWorkers[0];
  const inProgress = samples.filter((s) => s.status === 'running' && s.open.some((o) => o.task === stall.task && o.start === stall.start));
  // How long the page shows the poll so far: up to its model time, or as far as it paints it.
  const shown = (s) => Math.max(s.endT, s.open.find((o) => o.task === stall.task).paintedUntil ?? 0) - stall.start;
  const grown = inProgress.filter((s) => shown(s) >= 0.5 * stallNs);
  const withScheduled = grown.filter((s) => s.scheduled.some((id) => id !== stall.task));
  assert.ok(
    withScheduled.length > 0,
    `no frame showed the blocker's poll open for >= 50% of the stall with woken tasks scheduled ` +
      `(frames with the poll open: ${inProgress.length}, of them >= 50% grown: ${grown.length}; longest shown: ${(Math.max(0, ...inProgress.map(shown)) / 1e6).toFixed(1)} ms). ` +
      `Gap in the live stream: ${liveGap(samples, stall)}; recorded events strictly inside the stall: ` +
      `${ref.events.filter((e) => e.t > stall.start + 1e6 && e.t < stall.end - 1e6).length}. The page's "now" (model.endT) only moves when events arrive, and an open poll is drawn up to it.`,
  );
});

/** The longest wall-clock time between two frames whose model endT differ (diagnostic). */
function liveGap(samples, stall) {
  let gap = 0;
  let from = null;
  let last = null;
  for (const s of samples) {
    if (last && s.endT !== last.endT) {
      const d = s.at - last.changedAt;
      if (d > gap) {
        gap = d;
        from = { endTBefore: last.endT, endTAfter: s.endT };
      }
    }
    if (!last || s.endT !== last.endT) last = { endT: s.endT, changedAt: s.at };
  }
  return `${Math.round(gap)} ms without new events in the page (model time ${from ? `${(from.endTBefore / 1e6).toFixed(1)} -> ${(from.endTAfter / 1e6).toFixed(1)} ms` : '?'}; stall ${(stall.start / 1e6).toFixed(1)}..${(stall.end / 1e6).toFixed(1)} ms)`;
}

test('pixels: the long poll is painted across its x-range on its worker lane; idle time there is background; woken tasks show hatched scheduled time', async () => {
  const { page, ref, longOnWorkers } = await runOnce();
  const stall = longOnWorkers[0];
  await page.keyboard.press('0'); // fit the whole run
  await page.mouse.move(5, 5); // no hover line over the plot
  await settle(page);
  const bgs = await backgroundColours(page);
  const geo = await canvasSnapshot(page);
  const lane = geo.lanes.find((l) => l.kind === 'thread' && l.thread === stall.worker);
  assert.ok(lane, 'the worker has a lane');
  const snap = await canvasSnapshot(page, {
    laneRows: [
      { lane: lane.j, dy: 5 },
      { lane: lane.j, dy: lane.height - 6 },
    ],
  });
  await shot(page, 'blocking-in-async-end');
  const x0 = timeToCanvasX(snap, stall.start);
  const x1 = timeToCanvasX(snap, stall.end);
  assert.ok(x1 - x0 > 50, `the stall spans ${x1 - x0} px at fit zoom`);
  for (const row of snap.rows) {
    const bad = [];
    for (let x = Math.ceil(x0 + 2); x <= Math.floor(x1 - 2); x++) if (isBackground(pixelAt(row, x), bgs)) bad.push(x);
    assert.deepEqual(bad.slice(0, 10), [], `row y=${row.y}: background pixels inside the long poll [${x0.toFixed(1)}, ${x1.toFixed(1)}] (${bad.length} of ${Math.floor(x1 - 2) - Math.ceil(x0 + 2) + 1})`);
  }
  // Idle stretches of the same lane: between the lane's polls (from /events), away from mark lines.
  const polls = ref.run.workers.get(stall.worker).polls.slice().sort((a, b) => a.start - b.start);
  const markXs = snap.marks.map((t) => timeToCanvasX(snap, t));
  const gaps = [];
  for (let i = 0; i + 1 < polls.length; i++) gaps.push([timeToCanvasX(snap, polls[i].end) + 3, timeToCanvasX(snap, polls[i + 1].start) - 2]);
  gaps.push([timeToCanvasX(snap, polls.at(-1).end) + 3, snap.cssWidth - 8]);
  let idle = 0;
  const inked = [];
  for (const row of snap.rows) {
    for (const [a, b] of gaps) {
      for (let x = Math.ceil(a); x <= Math.floor(b); x++) {
        if (markXs.some((mx) => Math.abs(mx - x) <= 2)) continue;
        idle++;
        if (!isBackground(pixelAt(row, x), bgs)) inked.push([x, row.y, pixelAt(row, x).slice(0, 3).join(',')]);
      }
    }
  }
  assert.ok(idle > 200, `enough idle pixels to judge (${idle})`);
  assert.ok(inked.length <= idle * 0.01, `idle time on the worker lane is background: ${inked.length} of ${idle} idle pixels are not (first: ${JSON.stringify(inked.slice(0, 8))})`);

  // A task woken during the stall: its lane is hatched (non-background) for most of its scheduled interval.
  let woken = null;
  let iv = null;
  for (const x of ref.run.tasks.values()) {
    if (x.id === stall.task) continue;
    for (const s of x.sched) {
      if (s.start < stall.end && s.end >= stall.end && (!iv || s.end - s.start > iv.end - iv.start)) {
        woken = x;
        iv = s;
      }
    }
  }
  assert.ok(iv, 'a task was scheduled through the stall');
  const tl = geo.lanes.find((l) => l.kind === 'task' && l.taskId === woken.id);
  const tsnap = await canvasSnapshot(page, { laneRows: [{ lane: tl.j, dy: Math.round(tl.height / 2) - 3 }] });
  let ink = 0;
  let n = 0;
  for (let x = Math.ceil(timeToCanvasX(tsnap, iv.start) + 3); x <= Math.floor(timeToCanvasX(tsnap, iv.end) - 3); x++) {
    if (markXs.some((mx) => Math.abs(mx - x) <= 2)) continue;
    n++;
    if (!isBackground(pixelAt(tsnap.rows[0], x), bgs)) ink++;
  }
  assert.ok(n > 20 && ink >= 0.8 * n, `task ${woken.id}'s scheduled interval is drawn: ${ink} of ${n} pixels inked`);
});

test('hovering the long poll shows its length and "long poll" in the tooltip', async () => {
  const { page, longOnWorkers } = await runOnce();
  const stall = longOnWorkers[0];
  const geo = await canvasSnapshot(page);
  const lane = geo.lanes.find((l) => l.kind === 'thread' && l.thread === stall.worker);
  const box = await page.$eval('#timeline', (c) => {
    const r = c.getBoundingClientRect();
    return { left: r.left, top: r.top };
  });
  const x = box.left + timeToCanvasX(geo, (stall.start + stall.end) / 2);
  const y = box.top + lane.y + lane.height / 2;
  await page.mouse.move(x, y);
  await page.waitForSelector('#tooltip:not([hidden])');
  const tip = await page.textContent('#tooltip');
  assert.match(tip, /long poll/, tip);
  assert.match(tip, new RegExp(`poll\\s*${Math.round((stall.end - stall.start) / 1e6)} ms`), tip);
  assert.match(tip, /blocker/, tip);
  // Why it was long (issue #18): blocked in the sleep's system call, with the split.
  if (process.platform === 'linux') {
    assert.match(tip, /blocked in (clock_)?nanosleep/, tip);
    assert.match(tip, /observed/, tip);
    assert.match(tip, /a blocking call inside the poll/, tip);
    // and where: the hottest stack, the program's own frame first.
    if (process.arch === 'x64') assert.match(tip, /in blocking_in_async::stall at scenarios\/src\/blocking_in_async\.rs:\d+ \(\d+ of \d+ stack samples\)/, tip);
    await shot(page, 'causes-tooltip-blocked');
  }
  await page.mouse.move(5, 5);
});

test('the task panel lists the long poll and why, and the long_poll lint names the system call', async () => {
  if (process.platform !== 'linux') return;
  const { page, longOnWorkers } = await runOnce();
  const stall = longOnWorkers[0];
  const lane = await revealTaskLane(page, stall.task);
  await sleep(50);
  const again = await revealTaskLane(page, stall.task);
  await page.mouse.click(again.plotX + 40, again.y);
  await page.waitForFunction((tid) => document.querySelector('#task-panel .task-head')?.textContent.includes(`#${tid}`), stall.task);
  assert.ok(lane, 'the blocker has a lane');
  const rows = await page.$$eval('#task-panel .poll-causes li', (lis) => lis.map((li) => li.textContent));
  assert.equal(rows.length, 1, JSON.stringify(rows));
  assert.match(rows[0], /^blocked in (clock_)?nanosleep/, rows[0]);
  const lints = await page.$$eval('#task-panel .lint-list li', (lis) => lis.map((li) => li.textContent));
  assert.ok(lints.some((l) => /long_poll/.test(l) && /blocked in (clock_)?nanosleep/.test(l)), JSON.stringify(lints));
  await shot(page, 'causes-task-panel');
});

test('the task panel draws the long poll\'s stack samples as a flame graph; the source pane jumps to the sleep call', async () => {
  if (process.platform !== 'linux' || process.arch !== 'x64') return;
  const { page, longOnWorkers } = await runOnce();
  const stall = longOnWorkers[0];
  // The panel of the blocker is open (the test before); the line of `std::thread::sleep(d);`.
  await page.waitForFunction((tid) => document.querySelector('#task-panel .task-head')?.textContent.includes(`#${tid}`), stall.task);
  const source = await page.evaluate(async () => (await (await fetch('/api/scenarios')).json()).find((s) => s.name === 'blocking-in-async').source);
  const sleepLine = source.split('\n').findIndex((l) => l.includes('std::thread::sleep(d);')) + 1;
  assert.ok(sleepLine > 0);
  const at = `scenarios/src/blocking_in_async.rs:${sleepLine}`;
  await page.waitForSelector('#task-panel .flame .flame-frame');
  const frames = await page.$$eval('#task-panel .flame .flame-frame', (els) =>
    els.map((e) => ({ fn: e.dataset.fn, loc: e.dataset.loc, n: Number(e.dataset.n), hot: e.classList.contains('hot'), width: e.parentElement.getBoundingClientRect().width })),
  );
  const hot = frames.filter((f) => f.hot);
  assert.equal(hot.length, 1, JSON.stringify(frames));
  assert.equal(hot[0].loc, at, 'the hot frame is the sleep call');
  assert.match(hot[0].fn, /blocking_in_async::stall$/);
  assert.ok(frames.some((f) => /^std::thread::(functions::)?sleep/.test(f.fn)), 'std::thread::sleep is below it');
  // Widths are sample counts: the outermost frame spans the graph, a frame in fewer samples is narrower.
  const widest = Math.max(...frames.map((f) => f.width));
  const total = Math.max(...frames.map((f) => f.n));
  for (const f of frames) assert.ok(f.width <= (widest * f.n) / total + 2, `${f.fn}: ${f.width}px for ${f.n} of ${total}`);
  const panelText = await page.textContent('#task-panel .poll-causes');
  assert.match(panelText, new RegExp(`in blocking_in_async::stall at ${at.replace(/[.]/g, '\\.')} \\(\\d+ of \\d+ stack samples\\)`), panelText);
  // By default the source pane shows the own frame's line.
  const pinned = () => page.evaluate(() => Number(document.querySelector('#source .src-line.pinned, .src-line.pinned')?.dataset.line ?? -1));
  await page.waitForFunction((line) => Number(document.querySelector('.src-line.pinned')?.dataset.line) === line, sleepLine);
  await page.$eval('#task-panel .flame-box', (e) => e.scrollIntoView({ block: 'end' }));
  await shot(page, 'causes-flame-graph');
  // A click on another frame of the scenario's file moves it there, on the hot frame back.
  const other = frames.find((f) => f.loc && f.loc.startsWith('scenarios/src/blocking_in_async.rs:') && f.loc !== at);
  if (other) {
    await page.click(`#task-panel .flame .flame-frame[data-loc="${other.loc}"]`);
    const line = Number(other.loc.split(':').pop());
    await page.waitForFunction((l) => Number(document.querySelector('.src-line.pinned')?.dataset.line) === l, line);
  }
  await page.click('#task-panel .flame .flame-frame.hot');
  await page.waitForFunction((l) => Number(document.querySelector('.src-line.pinned')?.dataset.line) === l, sleepLine);
  assert.equal(await pinned(), sleepLine);
  assert.deepEqual(page.errors, [], 'no page errors');
});

test('the recorded stream is legal: the model saw no violations, /events is in time order, no page errors', async () => {
  const { page, ref } = await runOnce();
  const v = await page.evaluate(() => ({ count: window.futurescope.model.violations.count, messages: window.futurescope.model.violations.messages.slice(0, 5) }));
  const shownChecks = await page.textContent('.fig[data-fig="checks"] .fig-value');
  assert.deepEqual(page.errors, [], 'no page errors');
  assert.deepEqual(
    ref.run.outOfOrder.slice(0, 5),
    [],
    `/events of run ${ref.header.run} goes back in time ${ref.run.outOfOrder.length}× (docs/protocol.md: "a run's stream is ordered by t")`,
  );
  assert.equal(v.count, 0, `the model flagged ${v.count} violations (summary shows "${shownChecks}"): ${JSON.stringify(v.messages)}`);
});

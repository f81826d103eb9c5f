// What the timeline explains, checked against the real binary:
// - actors-mpsc draws a wake arrow for each task-to-task wake (waker's lane at the wake ->
//   the woken task's next poll): the renderer's count of drawn arrows equals the count
//   computed from /events, and pixels at each expected arrowhead change when the edges are
//   toggled off and on (key `e`);
// - blocking-in-async highlights the stall on its worker lane (red outline over exactly the
//   long poll), and the "stall ≥" threshold input moves that highlight;
// - a task panel's figures (polls, busy, scheduled, idle, wakes and by whom, wakers) equal an
//   independent computation from /events, for every task of actors-mpsc.

import test from 'node:test';
import assert from 'node:assert/strict';
import { useRealServer, reference, readKv, revealTaskLane, sleep } from './support/harness.mjs';
import { clickRun, waitForEnd, settle, canvasSnapshot, readPoints, timeToCanvasX, backgroundColours, isBackground, pixelAt, shot } from './support/browser.mjs';
import { taskFigures, shownDurationMatches, parseShownCount } from './support/reference.mjs';

const ctx = useRealServer();

let actors = null;
async function actorsRun() {
  if (actors) return actors;
  const page = await ctx.open('?scenario=actors-mpsc');
  const runId = await clickRun(page);
  assert.equal(await waitForEnd(page), 'finished');
  const ref = await reference(ctx.base, runId);
  actors = { page, runId, ref };
  return actors;
}

/** Task-to-task wakes the timeline should draw an arrow for: [{t, task, by, target}]. */
function expectedArrows(ref) {
  const out = [];
  const pending = new Map(); // task id -> wakes waiting for its next poll_start
  const done = new Set();
  for (const e of ref.events) {
    if (e.k === 'wake' && ref.run.tasks.has(e.task) && !done.has(e.task)) {
      const w = { t: e.t, task: e.task, by: e.by, target: null };
      if (!pending.has(e.task)) pending.set(e.task, []);
      pending.get(e.task).push(w);
      if (e.by != null && ref.run.tasks.has(e.by)) out.push(w);
    } else if (e.k === 'poll_start') {
      for (const w of pending.get(e.task) || []) w.target = e.t;
      pending.delete(e.task);
    } else if (e.k === 'done') {
      done.add(e.task);
      pending.delete(e.task);
    }
  }
  return out.filter((w) => w.target != null);
}

test('actors-mpsc: one wake arrow per task-to-task wake, and the pixels at each arrowhead are the arrow’s', async () => {
  const { page, ref } = await actorsRun();
  await page.keyboard.press('0');
  await page.mouse.move(5, 5);
  assert.equal(await page.evaluate(() => window.futurescope.timeline.options.wakeEdges), true, 'edges are on by default');
  await settle(page);
  const snap = await canvasSnapshot(page);
  const laneOf = new Map(snap.lanes.filter((l) => l.kind === 'task').map((l) => [l.taskId, l]));
  const arrows = expectedArrows(ref)
    .map((w) => {
      const from = laneOf.get(w.by);
      const to = laneOf.get(w.task);
      return { ...w, x0: timeToCanvasX(snap, w.t), x1: timeToCanvasX(snap, w.target), y0: from.y + from.height / 2, y1: to.y + to.height / 2 };
    })
    // Too short to draw: same lane and under 2 px long.
    .filter((a) => !(Math.abs(a.x1 - a.x0) < 2 && Math.abs(a.y1 - a.y0) < 2));
  assert.ok(arrows.length >= 10, `actors-mpsc has task-to-task wakes (${arrows.length})`);
  assert.ok(arrows.length <= 300, 'few enough that none is thinned out');
  assert.equal(snap.stats.edges, arrows.length, `the renderer drew ${snap.stats.edges} wake arrows; /events has ${arrows.length} task-to-task wakes followed by a poll`);

  // Pixels: at each expected arrowhead (just left of the woken task's next poll, mid-lane)
  // the frame with edges differs from the frame without.
  const probes = [];
  for (const a of arrows) for (const dx of [2, 3, 4]) probes.push([a.x1 - dx, a.y1]);
  const on = await readPoints(page, probes);
  await shot(page, 'wakes-actors-edges-on');
  await page.keyboard.press('e');
  await settle(page);
  assert.equal(await page.evaluate(() => window.futurescope.timeline.options.wakeEdges), false, '`e` turns the edges off');
  assert.equal(await page.evaluate(() => window.futurescope.timeline.renderer.stats.edges), 0, 'no arrows drawn with edges off');
  assert.equal(await page.$eval('#edges-btn', (b) => b.classList.contains('on')), false, 'the Edges button shows off');
  const off = await readPoints(page, probes);
  await page.keyboard.press('e');
  await settle(page);
  const missing = [];
  arrows.forEach((a, i) => {
    let diff = 0;
    for (let k = 0; k < 3; k++) {
      const p = on[i * 3 + k];
      const q = off[i * 3 + k];
      diff = Math.max(diff, Math.abs(p[0] - q[0]) + Math.abs(p[1] - q[1]) + Math.abs(p[2] - q[2]));
    }
    if (diff < 30) missing.push({ wake: a.t, task: a.task, by: a.by, head: [Math.round(a.x1), Math.round(a.y1)] });
  });
  assert.ok(missing.length <= arrows.length * 0.1, `${missing.length} of ${arrows.length} arrowheads show no arrow pixels: ${JSON.stringify(missing.slice(0, 5))}`);
  assert.deepEqual(page.errors, []);
});

test('actors-mpsc: every task panel’s figures equal /events (polls, busy, scheduled, idle, wakes by whom, wakers)', async () => {
  const { page, ref } = await actorsRun();
  const run = ref.run;
  for (const x of run.tasks.values()) {
    const lane = await revealTaskLane(page, x.id);
    await sleep(30);
    const at = await revealTaskLane(page, x.id);
    await page.mouse.click(at.gutterX, at.y); // the lane's label in the gutter
    await page.waitForFunction((id) => document.querySelector('#task-panel .task-head')?.textContent.includes(`#${id}`), x.id);
    assert.ok(lane);
    const kv = await readKv(page, '#task-panel');
    const f = taskFigures(run, x);
    const what = `task ${x.id} (${x.name})`;
    assert.equal(parseShownCount(kv.polls), f.polls, `${what} polls: shown ${kv.polls}`);
    for (const [key, ns] of [
      ['life', f.life],
      ['busy', f.busy],
      ['scheduled', f.scheduled],
      ['idle', f.idle],
      ['longest poll', f.longest],
      ['worst delay', f.worstDelay],
    ]) {
      const text = kv[key].split('·')[0].trim();
      assert.ok(shownDurationMatches(text, ns), `${what} ${key}: shown "${kv[key]}", /events gives ${ns} ns`);
    }
    assert.equal(parseShownCount(kv['wakes received']), x.wakes, `${what} wakes received`);
    assert.equal(parseShownCount(kv['self wakes']), x.selfWakes, `${what} self wakes`);
    assert.equal(parseShownCount(kv['waker clones']), x.wakerClones, `${what} waker clones`);
    assert.equal(parseShownCount(kv['waker drops']), x.wakerDrops, `${what} waker drops`);
    const byValue = x.wakeList.filter((w) => w.op === 'wake').length;
    assert.equal(parseShownCount(kv['wakes by value']), byValue, `${what} wakes by value`);
    assert.equal(Number(kv['live wakers']), x.wakerClones - x.wakerDrops - byValue, `${what} live wakers`);
    // Woken by whom: the table's rows.
    const rows = await page.$$eval('#task-panel .wakes table.mini tr', (trs) =>
      trs.slice(1).map((tr) => {
        const tds = tr.querySelectorAll('td');
        return [tds[0].textContent.trim(), tds[1].textContent.trim()];
      }),
    );
    const want = [...x.wakesBy.entries()].map(([by, n]) => [by === 'driver' ? 'driver / thread' : `#${by}`, n]);
    assert.equal(rows.length, Math.min(12, want.length), `${what}: one "woken by" row per waker`);
    for (const [label, n] of want) {
      const row = rows.find(([text]) => (label === 'driver / thread' ? text === label : text.endsWith(label)));
      assert.ok(row, `${what}: a "woken by" row for ${label} (rows: ${JSON.stringify(rows)})`);
      assert.equal(parseShownCount(row[1]), n, `${what}: woken by ${label} ${row[1]}×, /events says ${n}`);
    }
    if (!x.wakes) assert.match(await page.textContent('#task-panel .wakes'), /never woken/);
  }
  await shot(page, 'wakes-actors-panel');
  assert.deepEqual(page.errors, []);
});

test('blocking-in-async: the stall is outlined on its worker lane, only there, and follows the "stall ≥" threshold', async () => {
  const page = await ctx.open('?scenario=blocking-in-async');
  const runId = await clickRun(page);
  assert.equal(await waitForEnd(page), 'finished');
  const ref = await reference(ctx.base, runId);
  const stallNs = ref.header.params.stall_ms * 1e6;
  const workers = ref.run.workers;
  const long = [];
  for (const w of workers.values()) for (const p of w.polls) if (p.end - p.start >= 0.9 * stallNs && w.kind === 'worker') long.push(p);
  assert.equal(long.length, 1, 'one stall on a runtime worker');
  const stall = long[0];
  await page.keyboard.press('0');
  await page.mouse.move(5, 5);
  await settle(page);
  const geo = await canvasSnapshot(page);
  const lane = geo.lanes.find((l) => l.kind === 'thread' && l.thread === stall.worker);
  const red = (p) => p[0] >= 170 && p[1] <= 110 && p[2] <= 110;
  const read = async (threshold) => {
    if (threshold) {
      await page.fill('#stall-input', threshold);
      await page.press('#stall-input', 'Enter');
      await page.$eval('#stall-input', (e) => e.dispatchEvent(new Event('change')));
      await page.mouse.move(5, 5);
      await settle(page);
    }
    const snap = await canvasSnapshot(page, { laneRows: [{ lane: lane.j, dy: 0 }] });
    const row = snap.rows[0];
    const x0 = timeToCanvasX(snap, stall.start);
    const x1 = timeToCanvasX(snap, stall.end);
    let inside = 0;
    let n = 0;
    for (let x = Math.ceil(x0 + 2); x <= x1 - 2; x++, n++) if (red(pixelAt(row, x))) inside++;
    let outside = 0;
    let m = 0;
    for (let x = snap.gutter + 2; x < snap.cssWidth - 4; x++) {
      if (x >= x0 - 3 && x <= x1 + 3) continue;
      m++;
      if (red(pixelAt(row, x))) outside++;
    }
    return { inside, n, outside, m };
  };
  const def = await read(null);
  await shot(page, 'wakes-stall-outline');
  assert.ok(def.inside >= 0.95 * def.n, `the stall's top edge is red over ${def.inside} of ${def.n} px`);
  assert.equal(def.outside, 0, `no red outline elsewhere on that lane (${def.outside} of ${def.m} px)`);
  // Threshold above the stall: no outline; back below: outline again.
  const above = await read(`${Math.round((stallNs * 1.5) / 1e6)}ms`);
  assert.equal(above.inside, 0, `with "stall ≥ ${(stallNs * 1.5) / 1e6} ms" the ${stallNs / 1e6} ms poll is not outlined (${above.inside} red px)`);
  const again = await read('10ms');
  assert.ok(again.inside >= 0.95 * again.n, 'with 10 ms it is outlined again');
  assert.equal(await page.$eval('#stall-input', (e) => e.classList.contains('invalid')), false);
  await page.fill('#stall-input', 'soon');
  await page.$eval('#stall-input', (e) => e.dispatchEvent(new Event('change')));
  assert.equal(await page.$eval('#stall-input', (e) => e.classList.contains('invalid')), true, 'a bad threshold is marked invalid');
  // The short ticker polls on the same lane are not background-coloured gaps: they are drawn.
  const bgs = await backgroundColours(page);
  const short = workers.get(stall.worker).polls.find((p) => p.end < stall.start && timeToCanvasX(geo, p.start) > geo.gutter + 5);
  const snap = await canvasSnapshot(page, { laneRows: [{ lane: lane.j, dy: lane.height - 6 }] });
  assert.equal(isBackground(pixelAt(snap.rows[0], Math.floor(timeToCanvasX(snap, short.start)) + 1), bgs), false, 'a sub-pixel ticker poll is still painted');
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('blocking-in-async: the spawn_blocking run on its blocking-pool lane is not outlined as a stall (it stalls nobody; the server does not lint it)', async () => {
  // The scenario's part 2 is the fix: the same 300 ms call inside spawn_blocking, alone on
  // a blocking-pool thread. Outlining it red ("blocked") like the part-1 stall tells the
  // opposite of the lesson; the server raises long_poll only for the runtime worker.
  const page = await ctx.open('?scenario=blocking-in-async');
  const runId = await clickRun(page);
  assert.equal(await waitForEnd(page), 'finished');
  const ref = await reference(ctx.base, runId);
  const stallNs = ref.header.params.stall_ms * 1e6;
  const pool = [...ref.run.workers.values()].find((w) => w.kind === 'blocking');
  assert.ok(pool, 'part 2 ran on a blocking-pool thread');
  const run = pool.polls.find((p) => p.end - p.start >= 0.9 * stallNs);
  assert.ok(run, 'the spawn_blocking call ran there for the whole stall');
  assert.ok(!ref.run.lints.some((l) => l.rule === 'long_poll' && l.task === run.task), 'the server does not flag it long_poll');
  await page.keyboard.press('0');
  await page.mouse.move(5, 5);
  await settle(page);
  const geo = await canvasSnapshot(page);
  const lane = geo.lanes.find((l) => l.kind === 'thread' && l.thread === pool.index);
  const snap = await canvasSnapshot(page, { laneRows: [{ lane: lane.j, dy: 0 }] });
  const red = (p) => p[0] >= 170 && p[1] <= 110 && p[2] <= 110;
  let n = 0;
  let reds = 0;
  for (let x = Math.ceil(timeToCanvasX(snap, run.start) + 2); x <= timeToCanvasX(snap, run.end) - 2; x++, n++) if (red(pixelAt(snap.rows[0], x))) reds++;
  await shot(page, 'wakes-spawn-blocking-lane');
  assert.ok(n > 50);
  assert.equal(reds, 0, `the blocking-pool lane "${pool.name}" is outlined red over ${reds} of ${n} px of the spawn_blocking run`);
  await page.close();
});

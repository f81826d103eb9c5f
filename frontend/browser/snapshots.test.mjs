// Task dumps on the page. Snapshots taken from the page (the Snapshot button and
// the key d) and the automatic one at a lost_wake lint are checked against the run's
// `snapshot` events from GET /api/runs/{id}/events, read here without frontend/js: a marker on
// the time axis for each (hover names it, a click opens it), the Snapshots tab's await trees
// (every program frame of the task, at its file:line), a frame's jump to its source line, and
// the sampled rows fed by the snapshots.

import test from 'node:test';
import assert from 'node:assert/strict';
import { useRealServer, setParams } from './support/harness.mjs';
import { clickRun, waitForEnd, settle, shot } from './support/browser.mjs';
import { fetchEvents } from './support/server.mjs';

const ctx = useRealServer();

const snapshotsOf = (events) => events.filter((e) => e.k === 'snapshot');
const taskNamed = (events, name) => events.find((e) => e.k === 'spawn' && e.name === name)?.task;
/** A frame of the program (this workspace's scenarios), not tokio's, std's or the recorder's. */
const isProgram = (f) => f.fn.startsWith('futurescope_scenarios::');
const fileLine = (loc) => {
  const m = /^(.*?):(\d+)/.exec(loc);
  return m ? { file: m[1], line: Number(m[2]) } : null;
};

/** The markers drawn on the time axis this frame: [{index, cx, cy}] in page coordinates. */
async function markers(page) {
  await page.evaluate(() => window.futurescope.timeline.draw());
  return page.evaluate(() => {
    const tl = window.futurescope.timeline;
    const r = tl.canvas.getBoundingClientRect();
    return tl.renderer.snapshotBoxes.map((b) => ({ index: b.index, cx: r.left + b.x + b.w / 2, cy: r.top + b.y + b.h / 2 }));
  });
}

/** Shows snapshot `index` by clicking its marker (after zooming so it has a box of its own). */
async function openByMarker(page, index, t) {
  await page.evaluate((t) => window.futurescope.timeline.jumpTo(t, 20e6), t);
  await settle(page);
  const box = (await markers(page)).find((m) => m.index === index);
  assert.ok(box, `snapshot ${index} has a marker on the axis`);
  await page.mouse.move(box.cx, box.cy);
  await page.waitForFunction(() => !document.getElementById('tooltip').hidden && /snapshot/.test(document.getElementById('tooltip').textContent));
  const tip = await page.textContent('#tooltip');
  await page.mouse.click(box.cx, box.cy);
  await page.waitForFunction(() => window.futurescope.app.tab === 'snapshots' && document.querySelector('#snapshot-panel .snap-meta'));
  return tip;
}

/** The open group of the panel that lists task `id`: its summary and its frame rows' titles. */
function panelGroupOf(page, id) {
  return page.evaluate((id) => {
    for (const g of document.querySelectorAll('#snapshot-panel .snap-group')) {
      const ids = [...g.querySelectorAll('.snap-task')].map((b) => b.textContent);
      if (!ids.some((t) => t === `#${id}` || t.endsWith(` #${id}`))) continue;
      g.open = true;
      return {
        summary: g.querySelector('summary').textContent,
        rows: [...g.querySelectorAll('.snap-tree li.frame:not(.folded)')].map((li) => {
          const [fn, loc] = li.title.split('\n');
          return { fn, loc, leaf: li.classList.contains('leaf'), text: li.textContent };
        }),
      };
    }
    return null;
  }, id);
}

test('join-vs-select without labels: snapshots from the button and the key d are markers, trees at their lines, sampled rows', async () => {
  const page = await ctx.open('?scenario=join-vs-select', { width: 1600, height: 1000 });
  // Slow children, so the run is still going while the page takes its snapshots; the
  // scenario's own interval snapshots are rare.
  await setParams(page, { a_ms: 400, b_ms: 1000, snapshot_ms: 1000 });
  await page.uncheck('#params [name="labels"]');
  const run = await clickRun(page);
  await page.waitForFunction(() => !document.getElementById('snapshot-btn').disabled);
  // The button, once the select! part has started (its task is spawned).
  await page.waitForFunction(() => window.futurescope.model.taskList.some((t) => t.name === 'select! task'), null, { timeout: 20000 });
  await page.click('#snapshot-btn');
  await page.waitForFunction(() => window.futurescope.model.snapshots.filter((s) => s.reason === 'manual').length >= 1, null, { timeout: 20000 });
  assert.equal(await page.evaluate(() => window.futurescope.app.tab), 'snapshots', 'taking one opens the Snapshots tab');
  // The key, from the page (not a text field).
  await page.click('#timeline', { position: { x: 5, y: 5 } });
  await page.keyboard.press('d');
  await page.waitForFunction(() => window.futurescope.model.snapshots.filter((s) => s.reason === 'manual').length >= 2, null, { timeout: 20000 });
  const status = await waitForEnd(page);
  assert.equal(status, 'finished');
  assert.ok(await page.$eval('#snapshot-btn', (b) => b.disabled), 'no snapshots of a run that has ended');

  const { events } = await fetchEvents(ctx.base, run);
  await page.waitForFunction((n) => window.futurescope.model.eventCount >= n, events.length);
  const wire = snapshotsOf(events);
  const manual = wire.filter((s) => s.reason === 'manual');
  assert.ok(manual.length >= 2, `two manual snapshots in /events (${wire.map((s) => s.reason)})`);
  // The model holds exactly the run's snapshot events, in order.
  const model = await page.evaluate(() => window.futurescope.model.snapshots.map((s) => ({ t: s.t, reason: s.reason, tasks: s.tasks.length })));
  assert.deepEqual(model, wire.map((s) => ({ t: s.t, reason: s.reason, tasks: s.tasks.length })));
  assert.equal(await page.textContent('#snapshot-count'), String(wire.length), 'the tab counts them');

  // Every snapshot has a marker on the axis once the whole run is in view (nearby ones may share a box).
  await page.evaluate(() => window.futurescope.timeline.fitAll());
  await settle(page);
  const all = await markers(page);
  assert.ok(all.length >= 1 && all.length <= wire.length, `${all.length} markers for ${wire.length} snapshots`);

  const select = taskNamed(events, 'select! task');
  // The first manual snapshot that traced the select! task (it may have been mid-poll in one).
  const snap = manual.find((s) => s.tasks.some((t) => t.task === select && t.frames.length));
  assert.ok(snap, 'a manual snapshot traced the select! task');
  const first = wire.indexOf(snap);
  const tip = await openByMarker(page, first, snap.t);
  assert.match(tip, /snapshot\s*\(manual\)/, tip);
  assert.match(tip, new RegExp(`${snap.tasks.length} tasks?`), tip);
  const meta = await page.textContent('#snapshot-panel .snap-meta');
  assert.match(meta, /^manual/, meta);

  // The select! task's tree in the panel: every program frame of the event, at its file:line,
  // in the event's order; both children waiting at their sleep() lines.
  const traced = snap.tasks.find((t) => t.task === select);
  const group = await panelGroupOf(page, select);
  assert.ok(group, 'the panel lists the select! task');
  const shown = group.rows.filter((r) => isProgram(r));
  assert.deepEqual(
    shown.map((r) => [r.fn, r.loc]),
    traced.frames.filter(isProgram).map((f) => [f.fn, f.loc]),
    'the panel shows the program frames of the event, in order',
  );
  const source = await page.evaluate(() => window.futurescope.app.store.state.scenario.source);
  const lines = source.split('\n');
  for (const child of ['unlabelled_connect', 'unlabelled_chunks']) {
    const f = traced.frames.find((x) => x.fn.includes(child));
    if (!f) continue; // a child that had finished before this snapshot
    const at = fileLine(f.loc);
    assert.equal(at.file, 'scenarios/src/join_vs_select.rs');
    assert.match(lines[at.line - 1], /sleep/, `${child} waits at a sleep: line ${at.line} "${lines[at.line - 1]}"`);
  }
  assert.ok(group.rows.some((r) => r.leaf && /Sleep/.test(r.fn)), 'the leaf future, tokio’s Sleep, stays visible');
  assert.match(group.summary, /waiting at/);

  // A frame's file:line moves the source pane to that line.
  const target = traced.frames.filter(isProgram).at(-1);
  await page.evaluate((loc) => {
    for (const b of document.querySelectorAll('#snapshot-panel .snap-tree .loc')) {
      if (b.closest('li').title.endsWith(`\n${loc}`)) return b.click();
    }
  }, target.loc);
  await page.waitForFunction(() => document.querySelector('#source .src-line.pinned'));
  assert.equal(await page.$eval('#source .src-line.pinned', (e) => Number(e.dataset.line)), fileLine(target.loc).line);

  // Sampled rows: the select! task's row has one sample per snapshot that traced it, at the snapshot's time.
  const rows = await page.evaluate(() => window.futurescope.timeline.sampledRows());
  const row = rows.find((r) => r.task === select);
  assert.ok(row, 'the select! task has a sampled row (its future rows are open by default)');
  const expected = wire.map((s, i) => ({ s, i })).filter(({ s }) => s.tasks.some((t) => t.task === select && t.frames.length));
  assert.deepEqual(row.samples.map((s) => [s.t, s.index, s.reason]), expected.map(({ s, i }) => [s.t, i, s.reason]));
  for (const s of row.samples) assert.match(s.label, /unlabelled_(connect|chunks)|join_vs_select/, s.label);
  // Hovering a sample says SAMPLED, with its time; it is never drawn as a continuous state.
  const s0 = row.samples[0];
  await page.evaluate((t) => window.futurescope.timeline.jumpTo(t, 20e6), s0.t);
  await settle(page);
  const x = await page.evaluate((t) => window.futurescope.timeline.viewport.timeToX(t), s0.t);
  const sampleGeo = await page.evaluate((task) => {
    const tl = window.futurescope.timeline;
    const lane = tl.lanes.lanes.find((l) => l.kind === 'sampled' && l.task.id === task);
    const r = tl.canvas.getBoundingClientRect();
    return { y: r.top + tl.renderer.axisPx + lane.y - tl.scrollY + lane.height / 2, left: r.left };
  }, select);
  await page.mouse.move(sampleGeo.left + 210 + x, sampleGeo.y);
  await page.waitForFunction(() => /SAMPLED/.test(document.getElementById('tooltip').textContent) && !document.getElementById('tooltip').hidden);
  assert.match(await page.textContent('#tooltip'), /state is unknown/);
  // The text alternative says "sampled at", never a current state.
  await page.evaluate(() => window.futurescope.timeline.text.update());
  const text = await page.$$eval('.timeline-text tr[data-kind="sampled"]', (trs) => trs.map((tr) => tr.textContent));
  assert.ok(text.length >= 1 && text.every((t) => /sampled at|no snapshot yet/.test(t)), text.join('\n'));

  for (const width of [1024, 1280, 1600]) {
    await page.setViewportSize({ width, height: 900 });
    await page.evaluate((t) => window.futurescope.timeline.jumpTo(t, 400e6), snap.t);
    await settle(page);
    await shot(page, `snapshots-join-vs-select-${width}`);
  }
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('lost-wakeup: the automatic snapshot at the lint is a marker, and its tree ends at FlagFuture at its line', async () => {
  const page = await ctx.open('?scenario=lost-wakeup', { width: 1280, height: 900 });
  const run = await clickRun(page);
  await waitForEnd(page);
  const { events } = await fetchEvents(ctx.base, run);
  await page.waitForFunction((n) => window.futurescope.model.eventCount >= n, events.length);
  const wire = snapshotsOf(events);
  const at = wire.findIndex((s) => s.reason === 'lost_wake');
  assert.ok(at >= 0, `a lost_wake snapshot in /events (${wire.map((s) => s.reason)})`);
  const forgetful = taskNamed(events, 'forgetful');
  const traced = wire[at].tasks.find((t) => t.task === forgetful);
  assert.ok(traced && traced.frames.length, 'the stuck task is traced');

  const tip = await openByMarker(page, at, wire[at].t);
  assert.match(tip, /snapshot\s*\(lost_wake\)/, tip);
  assert.match(await page.textContent('#snapshot-panel .snap-meta'), /^lost_wake/);
  const group = await panelGroupOf(page, forgetful);
  assert.ok(group, 'the panel lists the forgetful task');
  const leaf = traced.frames.at(-1);
  assert.equal(leaf.fn, 'futurescope_scenarios::lost_wakeup::FlagFuture');
  const last = group.rows.at(-1);
  assert.deepEqual([last.fn, last.loc], [leaf.fn, leaf.loc], 'the tree shown ends at the forgetful future, at its line');
  const source = await page.evaluate(() => window.futurescope.app.store.state.scenario.source);
  assert.match(source.split('\n')[fileLine(leaf.loc).line - 1], /FlagFuture \{ flag \}\.await_point/);
  await shot(page, 'snapshots-lost-wakeup-1280');
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('spawn-many: a snapshot of 10,000 sleeping tasks from the page groups them by identical trees', async () => {
  const page = await ctx.open('?scenario=spawn-many', { width: 1280, height: 900 });
  await setParams(page, { tasks: 10000, nap_ms: 2000 });
  const run = await clickRun(page);
  // Once every task is spawned (and most sleep), take one from the button.
  await page.waitForFunction(() => window.futurescope.model.taskList.length >= 10000, null, { timeout: 60000, polling: 100 });
  await page.click('#snapshot-btn');
  await page.waitForFunction(() => window.futurescope.model.snapshots.some((s) => s.reason === 'manual'), null, { timeout: 60000, polling: 100 });
  // The page still answers: a frame is drawn, the tab is rendered.
  await settle(page);
  await page.waitForFunction(() => document.querySelector('#snapshot-panel .snap-meta'));
  // Stop it here (the lesson's measurements after its naps are not what this test is about).
  // (It may have ended by itself already: cancelling an ended run changes nothing.)
  await page.evaluate((id) => fetch(`/api/runs/${id}/cancel`, { method: 'POST' }), run);
  await waitForEnd(page, 120000);
  const { events } = await fetchEvents(ctx.base, run);
  const snap = snapshotsOf(events).find((s) => s.reason === 'manual');
  // Independent grouping: tasks with the same frames (fn, loc, depth) share a tree.
  const groups = new Map();
  for (const t of snap.tasks) {
    const key = `${JSON.stringify(t.frames.map((f) => [f.fn, f.loc, f.depth]))}${t.frames.length ? '' : t.state}`;
    groups.set(key, (groups.get(key) || 0) + 1);
  }
  const sizes = [...groups.values()].sort((a, b) => b - a);
  assert.ok(snap.tasks.length >= 10000, `${snap.tasks.length} tasks in the snapshot`);
  assert.ok(sizes[0] >= 9000, `most tasks share one tree (${sizes.slice(0, 5)})`);
  await page.evaluate((i) => window.futurescope.app.snapshots.open(i), snapshotsOf(events).indexOf(snap));
  await page.waitForFunction(() => /manual/.test(document.querySelector('#snapshot-panel .snap-meta')?.textContent || ''));
  const shown = await page.$$eval('#snapshot-panel .snap-group .snap-count', (els) => els.map((e) => Number(e.textContent.replace(/[^0-9]/g, ''))));
  assert.equal(shown.length, Math.min(groups.size, 50), 'one group per distinct tree (at most 50 listed)');
  assert.deepEqual(shown, sizes.slice(0, shown.length), 'group sizes, largest first, as the events say');
  const meta = await page.textContent('#snapshot-panel .snap-meta');
  assert.match(meta, new RegExp(`${groups.size} distinct trees?`), meta);
  await shot(page, 'snapshots-spawn-many-1280');
  assert.deepEqual(page.errors, []);
  await page.close();
});

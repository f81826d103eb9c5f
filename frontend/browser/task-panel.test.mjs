// The task panel's await-point state machine, live, against the real binary.
//
// While a scenario with probes runs (hand-written-future; join-vs-select), click a task's
// lane: the panel opens with the state diagram, the current state is highlighted, and the
// counts on its nodes equal counts computed from the recorded `state` events (GET
// /api/runs/{id}/events), both mid-run (over the events the page had ingested) and at the
// end.

import test from 'node:test';
import assert from 'node:assert/strict';
import { useRealServer, setParams, reference, revealTaskLane, sleep } from './support/harness.mjs';
import { clickRun, waitForEnd, shot } from './support/browser.mjs';
import { analyse } from './support/reference.mjs';

const ctx = useRealServer();

/** The diagrams in the open task panel: [{title, ended, currentText, nodes: [{label, count, current}]}]. */
function readDiagrams(page) {
  return page.$$eval('#task-panel .probe', (probes) =>
    probes.map((p) => {
      const title = p.querySelector('.probe-title');
      const nodes = [...p.querySelectorAll('.state-diagram .node')].map((g) => {
        const full = (g.querySelector('title')?.textContent || '').split('\n')[0];
        const figures = g.querySelector('.figures')?.textContent || '';
        const m = /×(\d+)/.exec(figures);
        return { label: full, count: m ? Number(m[1]) : NaN, current: g.classList.contains('current') };
      });
      return { title: title.querySelector('b').textContent, ended: / finished as /.test(title.textContent), currentText: title.querySelector('code')?.textContent || null, nodes };
    }),
  );
}

/** Reference state counts of task `taskId`, per probe name, over events[0..n). */
function stateCounts(events, taskId, n = events.length) {
  const out = new Map(); // name -> Map(label -> count)
  const names = new Map(); // future id -> name
  const last = new Map(); // name -> last label
  for (let i = 0; i < n; i++) {
    const e = events[i];
    if (e.k !== 'state' || e.task !== taskId) continue;
    if (!names.has(e.future)) names.set(e.future, e.name ?? `future ${e.future}`);
    const name = names.get(e.future);
    if (!out.has(name)) out.set(name, new Map());
    const m = out.get(name);
    m.set(e.label, (m.get(e.label) || 0) + 1);
    last.set(name, e.label);
  }
  return { counts: out, last };
}

function assertDiagramsMatch(diagrams, ref, what) {
  const names = diagrams.map((d) => d.title);
  assert.deepEqual([...names].sort(), [...ref.counts.keys()].sort(), `${what}: one diagram per probe future`);
  for (const d of diagrams) {
    const want = ref.counts.get(d.title);
    const shown = Object.fromEntries(d.nodes.map((n) => [n.label, n.count]));
    assert.deepEqual(shown, Object.fromEntries(want), `${what}: state counts of "${d.title}" (panel vs /events)`);
  }
}

/** Clicks task `name`'s lane in the plot area and waits for its panel. */
async function openTaskPanel(page, taskName) {
  const id = await page.evaluate((name) => {
    const t = window.futurescope.model.taskList.find((x) => x.name === name);
    return t ? t.id : null;
  }, taskName);
  assert.ok(id != null, `task "${taskName}" is in the model`);
  const lane = await revealTaskLane(page, id);
  await sleep(50);
  const again = await revealTaskLane(page, id); // after the redraw the lane stays where it is
  await page.mouse.click(again.plotX + 40, again.y);
  await page.waitForFunction((tid) => {
    const h = document.querySelector('#task-panel .task-head');
    return h && h.textContent.includes(`#${tid}`);
  }, id);
  return { id, lane };
}

test('hand-written-future: live, the Handshake state machine shows its current state and the recorded counts', async () => {
  const page = await ctx.open('?scenario=hand-written-future');
  await setParams(page, { delay_ms: 700 });
  const runId = await clickRun(page);
  await page.waitForFunction(() => {
    const m = window.futurescope.model;
    const t = m && m.taskList.find((x) => x.name === 'handshake');
    return t && t.probes.size > 0 && m.meta.status === 'running';
  });
  const { id } = await openTaskPanel(page, 'handshake');
  assert.equal(await page.evaluate(() => window.futurescope.model.meta.status), 'running', 'the panel opened while the run is live');
  assert.ok(await page.$('#task-panel .state-diagram'), 'a state diagram is drawn');

  // Mid-run, twice (two different await points): the highlighted node is the model's current
  // label, and every count equals the state events among the events the page had ingested.
  const seenCurrents = new Set();
  for (let round = 0; round < 2; round++) {
    const snap = await page
      .waitForFunction(
        (tid) => {
          const { model } = window.futurescope;
          const task = model.tasks.get(tid);
          const aw = task.currentAwait();
          const cur = [...document.querySelectorAll('#task-panel .state-diagram .node.current title')].map((t) => t.textContent.split('\n')[0]);
          if (!aw || cur.length !== 1 || cur[0] !== aw.label) return false;
          // The panel must be of the same model state: each node's count equals the model's.
          const probe = [...task.probes.values()][0];
          for (const g of document.querySelectorAll('#task-panel .state-diagram .node')) {
            const label = g.querySelector('title').textContent.split('\n')[0];
            const count = Number(/×(\d+)/.exec(g.querySelector('.figures').textContent)[1]);
            if (!probe.states.has(label) || probe.states.get(label).count !== count) return false;
          }
          if (document.querySelectorAll('#task-panel .state-diagram .node').length !== probe.states.size) return false;
          return { current: aw.label, eventCount: model.eventCount, status: model.meta.status };
        },
        id,
        { timeout: 5000, polling: 50 },
      )
      .then((h) => h.jsonValue());
    assert.equal(snap.status, 'running', 'checked while the run was live');
    const diagrams = await readDiagrams(page);
    const { events } = await reference(ctx.base, runId);
    const ref = stateCounts(events, id, snap.eventCount);
    // The page may have ingested more since the snapshot; re-read only if it did not.
    const nowCount = await page.evaluate(() => window.futurescope.model.eventCount);
    if (nowCount === snap.eventCount) assertDiagramsMatch(diagrams, ref, `mid-run round ${round + 1}`);
    assert.equal(ref.last.get('Handshake'), snap.current, 'the highlighted state is the last recorded state of the probe');
    const cur = diagrams[0].nodes.filter((n) => n.current);
    assert.deepEqual(cur.map((n) => n.label), [snap.current], 'exactly one node is highlighted');
    assert.equal(diagrams[0].currentText, snap.current, 'the diagram title says "now at" the current state');
    assert.equal(diagrams[0].ended, false);
    seenCurrents.add(snap.current);
    if (round === 0) {
      await shot(page, 'task-panel-handshake-live');
      // Wait for the next await point.
      await page.waitForFunction((prev) => {
        const t = window.futurescope.model.taskList.find((x) => x.name === 'handshake');
        const aw = t.currentAwait();
        return aw && aw.label !== prev;
      }, snap.current, { timeout: 5000 });
    }
  }
  assert.equal(seenCurrents.size, 2, 'the highlight moved with the state machine');

  // The end: every count equals /events; the probe finished as "ready" and nothing is highlighted.
  assert.equal(await waitForEnd(page), 'finished');
  await sleep(350);
  const diagrams = await readDiagrams(page);
  const { events } = await reference(ctx.base, runId);
  assertDiagramsMatch(diagrams, stateCounts(events, id), 'end of run');
  assert.equal(diagrams[0].ended, true, 'the title says "finished as"');
  assert.equal(diagrams[0].currentText, 'ready');
  assert.deepEqual(diagrams[0].nodes.filter((n) => n.current), [], 'no node is highlighted once the future finished');
  for (const label of ['start', 'WaitingForHello', 'WaitingForAccept', 'WaitingForData', 'Done', 'ready']) {
    assert.ok(diagrams[0].nodes.some((n) => n.label === label), `state ${label} is in the diagram`);
  }
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('join-vs-select: select! task shows both children live; at the end child b is "cancelled"; counts equal /events', async () => {
  const page = await ctx.open('?scenario=join-vs-select');
  await setParams(page, { a_ms: 200, b_ms: 350 });
  const runId = await clickRun(page);
  // Live: the select! task exists and both children have reported a state.
  await page.waitForFunction(() => {
    const m = window.futurescope.model;
    const t = m && m.taskList.find((x) => x.name === 'select! task');
    return t && t.probes.size >= 2 && m.meta.status === 'running';
  }, null, { timeout: 10000 });
  const { id } = await openTaskPanel(page, 'select! task');
  const live = await page
    .waitForFunction(
      (tid) => {
        const { model } = window.futurescope;
        const task = model.tasks.get(tid);
        const probes = [...task.probes.values()];
        const titles = [...document.querySelectorAll('#task-panel .probe')];
        if (titles.length !== probes.length) return false;
        const out = [];
        for (const el of titles) {
          const name = el.querySelector('.probe-title b').textContent;
          const probe = probes.find((p) => p.name === name);
          if (!probe) return false;
          const cur = [...el.querySelectorAll('.node.current title')].map((t) => t.textContent.split('\n')[0]);
          const want = probe.ended ? [] : [probe.label];
          if (JSON.stringify(cur) !== JSON.stringify(want)) return false;
          out.push({ name, current: cur[0] ?? null });
        }
        return { status: model.meta.status, probes: out };
      },
      id,
      { timeout: 5000, polling: 50 },
    )
    .then((h) => h.jsonValue());
  assert.equal(live.status, 'running', 'checked while the run was live');
  assert.equal(live.probes.length, 2, 'child a and child b');
  assert.ok(live.probes.every((p) => p.current), 'both children are suspended somewhere, each highlighted');
  await shot(page, 'task-panel-select-live');

  assert.equal(await waitForEnd(page), 'finished');
  await sleep(350);
  const diagrams = await readDiagrams(page);
  const { events } = await reference(ctx.base, runId);
  assertDiagramsMatch(diagrams, stateCounts(events, id), 'end of run');
  const b = diagrams.find((d) => d.title === 'child b');
  const a = diagrams.find((d) => d.title === 'child a');
  assert.equal(a.currentText, 'ready');
  assert.equal(b.currentText, 'cancelled', 'select! dropped child b: it finished as cancelled');
  assert.ok(b.nodes.some((n) => n.label === 'cancelled'));
  // The run's other task, join! task, finished both children.
  const run = analyse(events);
  const join = [...run.tasks.values()].find((x) => x.name === 'join! task');
  const jref = stateCounts(events, join.id);
  assert.equal(jref.last.get('child a'), 'ready');
  assert.equal(jref.last.get('child b'), 'ready');
  await openTaskPanel(page, 'join! task');
  await sleep(50);
  assertDiagramsMatch(await readDiagrams(page), jref, 'join! task');
  await shot(page, 'task-panel-join-end');
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('the source pane marks every await point the run reached and highlights the selected task’s current one, live', async () => {
  const page = await ctx.open('?scenario=hand-written-future');
  await setParams(page, { delay_ms: 600 });
  const runId = await clickRun(page);
  await page.waitForFunction(() => {
    const t = window.futurescope.model.taskList.find((x) => x.name === 'handshake');
    return t && t.currentAwait() && t.currentAwait().label === 'WaitingForAccept';
  }, null, { timeout: 10000 });
  await openTaskPanel(page, 'handshake');
  const loc = await page.evaluate(() => window.futurescope.model.taskList.find((x) => x.name === 'handshake').currentAwait().loc);
  const line = Number(/:(\d+)$/.exec(loc)[1]);
  await page.waitForSelector(`#source .src-line.current[data-line="${line}"]`, { timeout: 2000 });
  assert.match(await page.textContent('#await-now'), /suspended at WaitingForAccept/);
  assert.equal((await page.$$('#source .src-line.current')).length, 1, 'one current line');
  assert.equal(await page.evaluate(() => window.futurescope.model.meta.status), 'running');
  await shot(page, 'task-panel-source-live');
  assert.equal(await waitForEnd(page), 'finished');
  await sleep(350);
  const { events } = await reference(ctx.base, runId);
  const file = 'hand_written_future.rs';
  const want = [...new Set(events.filter((e) => e.k === 'state' && e.loc && e.loc.split(':')[0].endsWith(file)).map((e) => Number(e.loc.split(':').pop())))].sort((a, b) => a - b);
  const marked = (await page.$$eval('#source .src-line.await', (els) => els.map((e) => Number(e.dataset.line)))).sort((a, b) => a - b);
  assert.deepEqual(marked, want, 'the lines marked as await points are those of the recorded states');
  assert.match(await page.textContent('#await-now'), /finished \(completed\)/);
  assert.deepEqual(page.errors, []);
  await page.close();
});

// A task's lane coloured by state: with States on (`s`), the bottom strip of a task
// lane shows, in the state diagram's colour, the await point the task's root future was
// suspended at; with it off the strip is background. Checked in pixels against /events.

import test from 'node:test';
import assert from 'node:assert/strict';
import { useRealServer, revealTaskLane } from './support/harness.mjs';
import { clickRun, waitForEnd, settle } from './support/browser.mjs';

const ctx = useRealServer();

/** The pixel (RGBA) of the timeline canvas at CSS coordinates (x, y). */
function pixel(page, x, y) {
  return page.evaluate(
    ([x, y]) => {
      const c = window.futurescope.timeline.canvas;
      const r = c.getBoundingClientRect();
      const s = c.width / r.width;
      return Array.from(c.getContext('2d').getImageData(Math.round((x - r.left) * s), Math.round((y - r.top) * s), 1, 1).data);
    },
    [x, y],
  );
}

test('States colours a task lane by the await point its future is suspended at', async () => {
  const page = await ctx.open('?scenario=hand-written-future');
  await clickRun(page);
  await waitForEnd(page);
  // The handshake task's root probe and its longest suspended state, from the page's model.
  const target = await page.evaluate(() => {
    const m = window.futurescope.model;
    for (const task of m.taskList) {
      const root = task.probeRoots.length ? task.probes.get(task.probeRoots[0]) : null;
      if (!root || !root.history) continue;
      const labels = [];
      for (const n of root.states.values()) labels[n.order] = n.label;
      let best = null;
      for (let i = 0; i < root.history.length; i++) {
        const label = labels[root.history.ref[i]];
        if (['start', 'ready', 'cancelled', 'panicked'].includes(label) || root.history.end[i] < 0) continue;
        const d = root.history.end[i] - root.history.start[i];
        if (!best || d > best.d) best = { d, s: root.history.start[i], e: root.history.end[i], label };
      }
      if (best) return { task: task.id, ...best };
    }
    return null;
  });
  assert.ok(target, 'a task with a suspended root future');
  const events = await (await fetch(`${ctx.base}/api/runs/${await page.evaluate(() => window.futurescope.model.meta.run)}/events`)).text();
  assert.ok(events.includes(`"label":"${target.label}"`), `the state ${target.label} is in /events`);

  // Fit the view to the suspended interval so it spans the plot.
  await page.evaluate(({ s, e }) => {
    const tl = window.futurescope.timeline;
    tl.viewport.t0 = s;
    tl.viewport.nsPerPx = (e - s) / tl.viewport.widthPx;
    tl.requestRedraw();
  }, target);
  await settle(page);
  const lane = await revealTaskLane(page, target.task);
  const laneH = await page.evaluate((j) => window.futurescope.timeline.lanes.lanes[j].height, lane.j);
  const stripY = lane.y + laneH / 2 - 2.5; // the strip: 3 px above the lane's bottom pad
  const midX = await page.evaluate(() => {
    const tl = window.futurescope.timeline;
    const r = tl.canvas.getBoundingClientRect();
    return r.left + r.width * 0.6;
  });
  const off = await pixel(page, midX, stripY);
  await page.keyboard.press('s');
  await settle(page);
  assert.equal(await page.evaluate(() => window.futurescope.timeline.options.stateStrip), true);
  const on = await pixel(page, midX, stripY);
  const diff = Math.abs(on[0] - off[0]) + Math.abs(on[1] - off[1]) + Math.abs(on[2] - off[2]);
  assert.ok(diff > 60, `the strip is drawn in a state colour (off ${off}, on ${on})`);
  await page.keyboard.press('s');
  await settle(page);
  const again = await pixel(page, midX, stripY);
  assert.deepEqual(again, off, 'States off draws the lane as before');
  assert.deepEqual(page.errors || [], []);
  await page.close();
});

// Browser test of a live program's page (issue #16, "A live program is a run with no end"):
// starts the REAL example program examples/echo-server (which calls futurescope::init() in
// its own #[tokio::main] main) with its dashboard on a free port, opens the page it prints,
// and checks that the page shows the program, not a lesson: binary and the child's pid in
// the header with a ticking uptime, no parameter form, Stop disabled, follow-live on, tasks
// appearing live, and the source pane showing the example's own main.rs at a task's spawn line.
//
// The binary: FUTURESCOPE_EXAMPLE_BIN, else echo-server next to FUTURESCOPE_BIN (target/
// release/echo-server in CI, which builds the workspace; target/debug/echo-server with
// `cargo build -p futurescope-example-echo` while iterating).

import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startProgram, getJson } from './support/server.mjs';
import { launchBrowser, openPage, shot } from './support/browser.mjs';
import { revealTaskLane } from './support/harness.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ctx = {};

before(async () => {
  ctx.program = await startProgram();
  ctx.base = ctx.program.url;
  ctx.browser = await launchBrowser();
});
after(async () => {
  await ctx.browser?.close();
  await ctx.program?.stop();
});

/** Lanes the text alternative says the timeline has ("…: 12 lanes, 9 in view, …"). */
const laneCount = (page) => page.$eval('.timeline-text p', (p) => Number(/(\d+) lanes/.exec(p.textContent)?.[1] ?? -1));

test('the example program is one running run naming its binary and the child pid', async () => {
  const runs = await getJson(`${ctx.base}/api/runs`);
  assert.equal(runs.length, 1, 'the program is the one run');
  const [run] = runs;
  assert.equal(run.status, 'running');
  assert.equal(run.scenario, null);
  assert.equal(run.program.binary, 'echo-server');
  assert.equal(run.program.pid, ctx.program.pid, 'the pid is the child the test started');
});

test('the page shows the program live: header, no lesson, tasks growing, its own main.rs at a spawn line', async () => {
  const query = ctx.program.pageUrl.slice(ctx.base.length + 1);
  const page = await openPage(ctx.browser, ctx.base, query, { width: 1280, height: 900 });
  // The header: binary, pid, uptime ticking.
  await page.waitForSelector('#about .program-name');
  assert.equal(await page.textContent('#about .program-name'), 'echo-server');
  assert.equal(await page.textContent('#about .program-pid'), `pid ${ctx.program.pid}`);
  const uptime = await page.textContent('#about .program-uptime');
  assert.match(uptime, /^recorded for \d/);
  await page.waitForFunction((before) => document.querySelector('#about .program-uptime').textContent !== before, uptime, { timeout: 10000 });
  // No lesson: no scenario explanation or parameter form, Stop cannot be used, the title names the program.
  assert.equal(await page.isHidden('#params-form'), true, 'no parameter form');
  assert.equal(await page.$('#about .about-text, #about .lesson'), null, 'no lesson text');
  assert.equal(await page.isDisabled('#stop-btn'), true, 'a program cannot be stopped from the page');
  assert.match(await page.getAttribute('#stop-btn', 'title'), /ends when the program exits/);
  assert.match(await page.textContent('#run-title'), /^echo-server · run #/);
  assert.match(await page.textContent('#source'), /click a task lane/, 'the source pane waits for a task, no scenario source');
  assert.equal(await page.evaluate(() => window.futurescope.timeline.follow), true, 'follow-live is on');

  // Tasks appear while it runs: the load loop opens a connection every 50 ms. Their
  // handlers share a spawn site, so they are one lane for the site, whose count grows.
  await page.waitForFunction(() => window.futurescope.model && window.futurescope.model.taskList.length >= 3, null, { timeout: 20000 });
  assert.ok((await laneCount(page)) > 0, 'the text alternative counts lanes');
  const siteTasks = () => page.$$eval('.timeline-text tr[data-kind="group"]', (rows) => Math.max(0, ...rows.map((r) => Number(r.dataset.tasks))));
  await page.waitForFunction(() => document.querySelector('.timeline-text tr[data-kind="group"]'), null, { timeout: 20000 });
  const tasks0 = await siteTasks();
  assert.ok(tasks0 >= 4, `a spawn site lane of ${tasks0} tasks`);
  await page.waitForFunction(
    (n) => Math.max(0, ...[...document.querySelectorAll('.timeline-text tr[data-kind="group"]')].map((r) => Number(r.dataset.tasks))) > n,
    tasks0,
    { timeout: 20000 },
  );

  // Click a task spawned in the example's main.rs: the pane shows that file at its spawn line.
  const task = await page.evaluate(() => {
    const t = window.futurescope.model.taskList.find((x) => /examples\/echo-server\/src\/main\.rs:\d+/.test(x.loc || ''));
    return t && { id: t.id, loc: t.loc };
  });
  assert.ok(task, 'a task spawned in examples/echo-server/src/main.rs');
  const [, file, line] = /^(.*?):(\d+)(?::\d+)?$/.exec(task.loc);
  await page.evaluate(() => window.futurescope.timeline.setFollow(false)); // hold the lanes still to click one
  const at = await revealTaskLane(page, task.id);
  assert.ok(at, 'the task has a lane');
  await page.mouse.click(at.gutterX, at.y);
  await page.waitForFunction((want) => document.querySelector('#source .src-line.current')?.dataset.line === want, line, { timeout: 10000 });
  assert.equal(await page.textContent('#source-file'), file);
  const onDisk = fs.readFileSync(path.join(repo, file), 'utf8').split('\n');
  const shown = await page.$$eval('#source .src-line .code', (els) => els.map((e) => e.textContent));
  assert.equal(shown.length, onDisk.length - (onDisk.at(-1) === '' ? 1 : 0), 'the whole file is shown');
  assert.equal(await page.textContent('#source .src-line.current .code'), onDisk[Number(line) - 1], 'the spawn line is highlighted');
  assert.match(onDisk[Number(line) - 1], /spawn/, 'the highlighted line spawns the task');
  console.log(await shot(page, 'own-program-1280'));
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('a live program\'s task per connection is one lane per spawn site: its count, who is alive, and its tasks one click away', async () => {
  const query = ctx.program.pageUrl.slice(ctx.base.length + 1);
  const page = await openPage(ctx.browser, ctx.base, query, { width: 1280, height: 900 });
  await page.waitForFunction(() => document.querySelector('.timeline-text tr[data-kind="group"]'), null, { timeout: 20000 });
  assert.equal(await page.getAttribute('#group-btn', 'aria-pressed'), 'true', 'grouping is on for a program');
  await page.evaluate(() => window.futurescope.timeline.setFollow(false));
  // The site lane against the model: every task spawned at that site, and nothing else.
  const site = await page.evaluate(() => {
    const { timeline, model } = window.futurescope;
    const lane = timeline.lanes.lanes.find((l) => l.kind === 'group');
    const sameSite = model.taskList.filter((t) => `${t.kind}@${t.loc}` === lane.site.key).map((t) => t.id);
    return { key: lane.site.key, loc: lane.site.loc, ids: lane.site.tasks.map((t) => t.id), sameSite, taskLanes: timeline.lanes.lanes.filter((l) => l.kind === 'task' && `${l.task.kind}@${l.task.loc}` === lane.site.key).length };
  });
  assert.deepEqual(site.ids, site.sameSite, 'the lane holds exactly the tasks spawned at its site');
  assert.equal(site.taskLanes, 0, 'closed: none of them has a lane of its own');
  assert.match(site.loc, /examples\/echo-server\/src\/main\.rs:\d+/);
  const row = await page.$eval('.timeline-text tr[data-kind="group"]', (r) => ({ name: r.querySelector('th').textContent, alive: Number(r.dataset.alive), tasks: Number(r.dataset.tasks) }));
  assert.match(row.name, /^\d+ tasks @ main\.rs:\d+:\d+$/);
  assert.ok(row.alive >= 0 && row.alive <= row.tasks);
  // Its tooltip says how many were alive and polling, from the tasks' own events.
  const at = await page.evaluate(() => {
    const { timeline } = window.futurescope;
    const j = timeline.lanes.lanes.findIndex((l) => l.kind === 'group');
    const lane = timeline.lanes.lanes[j];
    if (lane.y < timeline.scrollY || lane.y + lane.height > timeline.scrollY + timeline.plotHeight()) timeline.scrollY = lane.y;
    timeline.requestRedraw();
    const r = timeline.canvas.getBoundingClientRect();
    return { y: r.top + timeline.renderer.axisPx + lane.y - timeline.scrollY + lane.height / 2, gutterX: r.left + 60, plotX: r.left + r.width - 40 };
  });
  await page.mouse.move(at.plotX, at.y);
  await page.waitForSelector('#tooltip:not([hidden])');
  const tip = await page.textContent('#tooltip');
  assert.match(tip, /\d+ alive, \d+ polling at/, tip);
  assert.match(tip, /polls in all/);
  // A click on its name shows its task lanes under it, each of that site.
  await page.mouse.click(at.gutterX, at.y);
  await page.waitForFunction(() => document.querySelector('.timeline-text tr[data-kind="group"] td')?.textContent.includes('task lanes shown'));
  const opened = await page.evaluate((key) => {
    const { lanes } = window.futurescope.timeline.lanes;
    const j = lanes.findIndex((l) => l.kind === 'group' && l.site.key === key);
    const after = [];
    for (let k = j + 1; k < lanes.length && lanes[k].kind !== 'group' && (lanes[k].kind !== 'task' || lanes[k].site); k++) if (lanes[k].kind === 'task') after.push(lanes[k].task.id);
    return { after, site: lanes[j].site.tasks.map((t) => t.id) };
  }, site.key);
  assert.deepEqual(opened.after, opened.site, 'the site\'s tasks, in spawn order, right under its lane');
  console.log(await shot(page, 'own-program-sites-1280'));
  // g turns grouping off: a lane per task again.
  await page.keyboard.press('g');
  await page.waitForFunction(() => !document.querySelector('.timeline-text tr[data-kind="group"]') && !window.futurescope.timeline.lanes.lanes.some((l) => l.kind === 'group'));
  assert.equal(await page.getAttribute('#group-btn', 'aria-pressed'), 'false');
  assert.deepEqual(page.errors, []);
  await page.close();
});

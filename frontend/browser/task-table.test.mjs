// Browser test of the task table (issue #16, "Long-lived programs": a sortable task list like
// tokio-console's, one key away, with the many short tasks of one spawn site grouped): the
// real example program examples/echo-server spawns a task per connection; key t opens the
// Tasks tab, headers sort it, "Group by spawn site" folds each site into one row with its
// count, a group opens to list its tasks, and a click on one selects it.

import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startProgram } from './support/server.mjs';
import { launchBrowser, openPage, shot } from './support/browser.mjs';

const ctx = {};

before(async () => {
  ctx.program = await startProgram();
  ctx.browser = await launchBrowser();
});
after(async () => {
  await ctx.browser?.close();
  await ctx.program?.stop();
});

const column = (page, i) => page.$$eval(`#tasks-panel table tbody tr td:nth-child(${i})`, (tds) => tds.map((td) => td.textContent));

test('the task table sorts, groups by spawn site and selects', async () => {
  const base = ctx.program.url;
  const page = await openPage(ctx.browser, base, ctx.program.pageUrl.slice(base.length + 1), { width: 1280, height: 900 });
  await page.waitForFunction(() => window.futurescope.model && window.futurescope.model.taskList.length >= 20, null, { timeout: 30000 });
  await page.click('#pause-btn'); // hold the rows still
  await page.focus('#timeline');
  await page.keyboard.press('t');
  await page.waitForSelector('#tasks-panel table.task-table');
  assert.equal(await page.isVisible('#tasks-panel'), true);
  const tasks = await page.evaluate(() => window.futurescope.model.taskList.length);
  assert.equal((await column(page, 1)).length, Math.min(tasks, 500), 'one row per task');
  assert.match(await page.textContent('#tasks-panel th.sorted'), /Busy ▼/, 'sorted by busy time at first');

  // Sort by polls, most first; again: fewest first.
  await page.click('#tasks-panel th[data-key="polls"]');
  const polls = (await column(page, 4)).map((s) => Number(s.replace(/\D/g, '')));
  assert.deepEqual(polls, [...polls].sort((a, b) => b - a));
  await page.click('#tasks-panel th[data-key="polls"]');
  const up = (await column(page, 4)).map((s) => Number(s.replace(/\D/g, '')));
  assert.deepEqual(up, [...up].sort((a, b) => a - b));

  // Group by spawn site: one row per site, the per-connection site with its count.
  await page.check('#task-table-group');
  const names = await column(page, 1);
  const conn = names.find((n) => /^▸ \d+ tasks @ main\.rs:18:9$/.test(n));
  assert.ok(conn, names.join(' | '));
  const sites = await page.evaluate(() => new Set(window.futurescope.model.taskList.map((t) => t.loc || '')).size);
  assert.equal(names.length, sites);
  const count = Number(/(\d+) tasks/.exec(conn)[1]);
  await page.click(`#tasks-panel tr.group:has-text("${conn.slice(2)}")`);
  assert.equal(await page.$$eval('#tasks-panel tr.member', (trs) => trs.length), Math.min(count, 500 - sites));
  // A member row selects its task.
  const id = Number(await page.$eval('#tasks-panel tr.member', (tr) => tr.dataset.task));
  await page.click('#tasks-panel tr.member');
  const selected = await page.evaluate(() => {
    const s = window.futurescope.app.store.state;
    return { id: s.model.taskList[s.selectedTask]?.id, tab: s.tab };
  });
  assert.deepEqual(selected, { id, tab: 'tasks' });
  assert.equal(await page.$eval('#tasks-panel tr.selected', (tr) => Number(tr.dataset.task)), id);
  console.log(await shot(page, 'task-table-1280'));
  await page.setViewportSize({ width: 1024, height: 800 });
  console.log(await shot(page, 'task-table-1024'));
  await page.keyboard.press('t');
  assert.equal(await page.evaluate(() => window.futurescope.app.store.state.tab), 'task');
  assert.deepEqual(page.errors, []);
  await page.close();
});

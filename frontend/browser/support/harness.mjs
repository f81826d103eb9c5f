// Browser-test support: one real futurescope server and one headless Chromium per test
// file (node:test `before` / `after` hooks), plus page-level helpers the test files share.

import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, fetchEvents } from './server.mjs';
import { launchBrowser, openPage } from './browser.mjs';
import { analyse, parseShownCount, parseShownDuration } from './reference.mjs';

/**
 * Registers before/after hooks that start the binary and the browser. Returns a context
 * object filled in by `before`: {server, base, browser, open(query, opts)}.
 */
export function useRealServer({ serverArgs = [] } = {}) {
  const ctx = {};
  before(async () => {
    ctx.server = await startServer({ args: serverArgs });
    ctx.base = ctx.server.url;
    ctx.browser = await launchBrowser();
    ctx.open = (query = '', opts) => openPage(ctx.browser, ctx.base, query, opts);
  });
  after(async () => {
    await ctx.browser?.close();
    await ctx.server?.stop();
  });
  return ctx;
}

/** Sets scenario parameters in the page's form (inputs named after the params). */
export async function setParams(page, params) {
  for (const [name, value] of Object.entries(params)) {
    const sel = `#params [name="${name}"]`;
    const tag = await page.$eval(sel, (e) => e.tagName);
    if (tag === 'SELECT') await page.selectOption(sel, String(value));
    else await page.fill(sel, String(value));
  }
}

/** The summary bar's figures as shown: {key: text}. */
export function shownFigures(page) {
  return page.$$eval('#figures .fig', (els) => Object.fromEntries(els.map((e) => [e.dataset.fig, e.querySelector('.fig-value').textContent])));
}

/** The model's summary (RunModel.summary) plus violations. */
export function modelSummary(page) {
  return page.evaluate(() => {
    const m = window.futurescope.model;
    const s = m.summary();
    return { ...s, longestPoll: s.longestPoll.ns, worstDelay: s.worstDelay.ns, violationMessages: m.violations.messages.slice(0, 5), status: m.meta.status, run: m.meta.run };
  });
}

/** Events of a run from the server, analysed independently. */
export async function reference(base, runId) {
  const { header, events } = await fetchEvents(base, runId);
  return { header, events, run: analyse(events) };
}

/**
 * Asserts the summary bar shows the model's figures and both equal the reference
 * (analysed /events). `what` prefixes messages.
 */
export async function assertSummaryAgrees(page, ref, what = '') {
  const shown = await shownFigures(page);
  const model = await modelSummary(page);
  const r = ref.run;
  const expect = {
    tasks: r.tasks.size,
    polls: r.polls,
    wakes: r.wakes,
    events: r.events,
    dropped: r.dropped,
  };
  for (const [key, value] of Object.entries(expect)) {
    assert.equal(model[key], value, `${what}model ${key} = ${model[key]}, /events says ${value}`);
    assert.equal(parseShownCount(shown[key]), value, `${what}UI shows ${key} "${shown[key]}", /events says ${value}`);
  }
  let longest = 0;
  let worst = 0;
  for (const x of r.tasks.values()) {
    for (const p of x.polls) longest = Math.max(longest, p.end - p.start);
    for (const s of x.sched) if (s.endedBy === 'poll') worst = Math.max(worst, s.end - s.start);
  }
  assert.equal(model.longestPoll, longest, `${what}model longest poll ${model.longestPoll} vs /events ${longest}`);
  assert.equal(model.worstDelay, worst, `${what}model worst scheduling delay ${model.worstDelay} vs /events ${worst}`);
  for (const [key, ns] of [
    ['longest', longest],
    ['delay', worst],
  ]) {
    const p = parseShownDuration(shown[key]);
    assert.ok(p, `${what}UI figure ${key} "${shown[key]}" is a duration`);
    assert.ok(Math.abs(p.ns - ns) <= p.tol, `${what}UI shows ${key} "${shown[key]}", /events says ${ns} ns`);
  }
  return { shown, model };
}

/** Lane index (in timeline.lanes.lanes) of a task id, after revealing it; and its click point. */
export async function revealTaskLane(page, taskId) {
  return page.evaluate(async (id) => {
    const { model, timeline } = window.futurescope;
    const { GUTTER_PX } = await import('/assets/draw.js');
    const AXIS_PX = timeline.renderer.axisPx;
    const task = model.tasks.get(id);
    if (!task) return null;
    timeline.revealTask(task.index);
    const j = timeline.lanes.taskLaneByIndex[task.index];
    if (j < 0) return null;
    const lane = timeline.lanes.lanes[j];
    const r = timeline.canvas.getBoundingClientRect();
    return { j, index: task.index, gutterX: r.left + GUTTER_PX / 2, plotX: r.left + GUTTER_PX + 5, y: r.top + AXIS_PX + lane.y - timeline.scrollY + lane.height / 2 };
  }, taskId);
}

/** Reads a <dl class="kv"> in `root` as {dt text: dd text}. */
export function readKv(page, rootSel) {
  return page.$eval(rootSel, (root) => {
    const out = {};
    for (const dl of root.querySelectorAll('dl.kv')) {
      const dts = dl.querySelectorAll('dt');
      for (const dt of dts) out[dt.textContent.trim()] = dt.nextElementSibling ? dt.nextElementSibling.textContent.trim() : '';
    }
    return out;
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

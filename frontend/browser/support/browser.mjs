// Browser-test support: headless Chromium (playwright-core driving the system chromium),
// a page helper that collects page errors, and helpers to read what the timeline canvas
// actually painted (pixels via getImageData) and where the model's things are on it.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
  '--disable-quic',
];
const here = path.dirname(fileURLToPath(import.meta.url));
export const SHOTS = path.resolve(here, '../screenshots');

export function launchBrowser(extraArgs = []) {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_ARGS, ...extraArgs] });
}

/** Messages that are expected while a test kills the server on purpose. */
const EXPECTED_CONSOLE = /WebSocket|ERR_CONNECTION|Failed to load resource|net::ERR_/;

/**
 * A new page at `${base}/${query}`, waiting for window.futurescope.ready. `page.errors`
 * collects uncaught exceptions and console errors (connection errors excluded).
 */
export async function openPage(browser, base, query = '', { width = 1600, height = 1000 } = {}) {
  const page = await browser.newPage({ viewport: { width, height } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !EXPECTED_CONSOLE.test(m.text())) errors.push(`console.error: ${m.text()}`);
  });
  page.errors = errors;
  await page.goto(`${base}/${query}`);
  await page.waitForFunction(() => window.futurescope && window.futurescope.isReady, null, { timeout: 20000 });
  return page;
}

/** Saves a screenshot under frontend/browser/screenshots/ (for a human to look at). */
export async function shot(page, name, opts = {}) {
  fs.mkdirSync(SHOTS, { recursive: true });
  const file = path.join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file, ...opts });
  return file;
}

/** Clicks Run and resolves the run id the page opened (from the model's meta). */
export async function clickRun(page, timeoutMs = 10000) {
  const before = await page.evaluate(() => (window.futurescope.model ? window.futurescope.model.meta.run : null));
  await page.click('#run-btn');
  const handle = await page.waitForFunction(
    (prev) => {
      const m = window.futurescope.model;
      return m && m.meta.run != null && m.meta.run !== prev ? m.meta.run : false;
    },
    before,
    { timeout: timeoutMs },
  );
  return handle.jsonValue();
}

/** Waits until the open run's status (model.meta.status) is not `running`; returns it. */
export async function waitForEnd(page, timeoutMs = 60000) {
  const h = await page.waitForFunction(
    () => {
      const m = window.futurescope.model;
      return m && m.meta.status !== 'running' ? m.meta.status : false;
    },
    null,
    { timeout: timeoutMs, polling: 50 },
  );
  return h.jsonValue();
}

/** Waits until the page has nothing pending: two animation frames. */
export function settle(page) {
  return page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r()))));
}

/** The model's violations {count, messages}. */
export function violations(page) {
  return page.evaluate(() => {
    const v = window.futurescope.model.violations;
    return { count: v.count, messages: v.messages.slice(0, 10) };
  });
}

/**
 * In the page, synchronously: optionally redraws (`draw`), then returns the timeline's
 * geometry (gutter, axis, dpr, viewport, lanes with y/height/kind/thread index/task
 * index) and the RGBA pixels of the given CSS-pixel rows of the canvas: rows =
 * [{y, x0, x1}] -> [{y, x0, x1, data: number[] (RGBA per CSS px, sampled at the px centre)}].
 * Everything comes from one moment, so geometry and pixels agree.
 */
export function canvasSnapshot(page, { draw = false, rows = [], laneRows = [] } = {}) {
  return page.evaluate(
    async ({ draw, rows, laneRows }) => {
      const fs = window.futurescope;
      const tl = fs.timeline;
      const { GUTTER_PX } = await import('/assets/draw.js');
      if (draw) tl.draw();
      // The axis grows by a row per row of colliding mark labels (draw.js layoutMarks).
      const AXIS_PX = tl.renderer.axisPx;
      const vp = tl.viewport;
      const dpr = tl.renderer.dpr || 1;
      const ctx = tl.canvas.getContext('2d');
      const lanes = tl.lanes.lanes.map((l, j) => ({
        j,
        kind: l.kind,
        key: l.key,
        y: AXIS_PX + l.y - tl.scrollY,
        height: l.height,
        thread: l.thread ? l.thread.index : null,
        task: l.task ? l.task.index : null,
        taskId: l.task ? l.task.id : null,
      }));
      const read = ({ y, x0, x1 }) => {
        const X0 = Math.max(0, Math.floor(x0));
        const X1 = Math.min(tl.renderer.cssWidth, Math.ceil(x1));
        const w = Math.max(1, X1 - X0);
        const img = ctx.getImageData(Math.round(X0 * dpr), Math.round(y * dpr), Math.round(w * dpr), 1).data;
        const data = [];
        for (let i = 0; i < w; i++) {
          const px = Math.min(Math.round(w * dpr) - 1, Math.floor((i + 0.5) * dpr));
          data.push(img[px * 4], img[px * 4 + 1], img[px * 4 + 2], img[px * 4 + 3]);
        }
        return { y, x0: X0, x1: X0 + w, data };
      };
      // laneRows: [{lane: j, dy}] rows relative to a lane's top, across the whole plot.
      const allRows = rows.concat(laneRows.map(({ lane, dy }) => ({ y: lanes[lane].y + dy, x0: GUTTER_PX, x1: tl.renderer.cssWidth })));
      return {
        gutter: GUTTER_PX,
        axis: AXIS_PX,
        dpr,
        cssWidth: tl.renderer.cssWidth,
        cssHeight: tl.renderer.cssHeight,
        viewport: { t0: vp.t0, nsPerPx: vp.nsPerPx, widthPx: vp.widthPx, t1: vp.t1 },
        scrollY: tl.scrollY,
        lanes,
        endT: fs.model ? fs.model.endT : 0,
        marks: fs.model ? fs.model.marks.map((m) => m.t) : [],
        stats: { ...tl.renderer.stats },
        rows: allRows.map(read),
      };
    },
    { draw, rows, laneRows },
  );
}

/**
 * The timeline's background colours (what draw.js paints under empty time): the canvas
 * background, the alternate lane shade, the header shade, and with `selected` the
 * selected lane's shade.
 */
export async function backgroundColours(page, { selected = false } = {}) {
  return page.evaluate(async (selected) => {
    const { THEME } = await import('/assets/draw.js');
    const list = [THEME.bg, THEME.laneAlt, THEME.headerBg];
    if (selected) list.push(THEME.laneSelected);
    return list.map((hex) => {
      const v = parseInt(hex.slice(1), 16);
      return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
    });
  }, selected);
}

/**
 * True when an RGBA pixel is "background": within `tol` per channel of one of the
 * background colours (the faint grid lines, white at 4.5% alpha, stay within it).
 */
export function isBackground(rgba, bgs, tol = 12) {
  return bgs.some((c) => Math.abs(rgba[0] - c[0]) <= tol && Math.abs(rgba[1] - c[1]) <= tol && Math.abs(rgba[2] - c[2]) <= tol);
}

/** The pixel at CSS x `x` of a row read by canvasSnapshot. */
export function pixelAt(row, x) {
  const i = Math.floor(x) - row.x0;
  if (i < 0 || i >= row.data.length / 4) return null;
  return row.data.slice(i * 4, i * 4 + 4);
}

/** CSS x on the canvas of time `t` in a snapshot. */
export function timeToCanvasX(snap, t) {
  return snap.gutter + (t - snap.viewport.t0) / snap.viewport.nsPerPx;
}

/** Counts non-background pixels in the plot area (right of the gutter, below the axis). */
export function countPlotInk(snap, bgs) {
  let ink = 0;
  let total = 0;
  for (const row of snap.rows) {
    for (let i = 0; i < row.data.length / 4; i++) {
      const x = row.x0 + i;
      if (x < snap.gutter + 1) continue;
      total++;
      if (!isBackground(row.data.slice(i * 4, i * 4 + 4), bgs)) ink++;
    }
  }
  return { ink, total };
}

/**
 * RGBA of CSS-pixel points of the timeline canvas (each the centre of its pixel),
 * optionally after a synchronous redraw. points: [[x, y]] -> [[r, g, b, a]].
 */
export function readPoints(page, points, { draw = false } = {}) {
  return page.evaluate(
    ({ points, draw }) => {
      const tl = window.futurescope.timeline;
      if (draw) tl.draw();
      const dpr = tl.renderer.dpr || 1;
      const ctx = tl.canvas.getContext('2d');
      const W = tl.canvas.width;
      const H = tl.canvas.height;
      const img = ctx.getImageData(0, 0, W, H).data;
      return points.map(([x, y]) => {
        const px = Math.min(W - 1, Math.max(0, Math.floor((Math.floor(x) + 0.5) * dpr)));
        const py = Math.min(H - 1, Math.max(0, Math.floor((Math.floor(y) + 0.5) * dpr)));
        const i = (py * W + px) * 4;
        return [img[i], img[i + 1], img[i + 2], img[i + 3]];
      });
    },
    { points, draw },
  );
}


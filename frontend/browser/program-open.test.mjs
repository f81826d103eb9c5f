// `futurescope open FILE` of a watched program's run, in both saved formats (issue #16,
// "Saving"): the real example program examples/echo-server runs with console-subscriber
// beside futurescope and a tokio-console recording (TOKIO_CONSOLE_RECORD_PATH); its run is
// saved from GET /api/runs/{id}/events (what the page's Save does). `futurescope open` of
// the saved run shows the program's tasks exactly as saved, named by the program; of the
// console recording, the same program's tasks at the same spawn locations.

import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BIN, startProgram, getJson } from './support/server.mjs';
import { launchBrowser, openPage, shot } from './support/browser.mjs';

const ctx = {};

function startOpen(file) {
  const proc = spawn(BIN, ['open', file, '--bind', '127.0.0.1:0', '--no-console'], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`no URL printed: ${out}`)), 15000);
    proc.stderr.on('data', (d) => {
      err += d;
    });
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /dashboard on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, url: m[1] });
      }
    });
    proc.on('exit', (code) => reject(new Error(`futurescope open exited with ${code}: ${out} ${err}`)));
  });
}

before(async () => {
  ctx.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'futurescope-program-open-'));
  ctx.recording = path.join(ctx.dir, 'echo-server.console.json');
  process.env.FUTURESCOPE_CONSOLE_BIND = '127.0.0.1:0';
  process.env.TOKIO_CONSOLE_RECORD_PATH = ctx.recording;
  const program = await startProgram();
  delete process.env.FUTURESCOPE_CONSOLE_BIND;
  delete process.env.TOKIO_CONSOLE_RECORD_PATH;
  try {
    // A few dozen connections (one every 50 ms), then save and stop.
    const deadline = Date.now() + 30000;
    let run;
    do {
      await new Promise((r) => setTimeout(r, 300));
      [run] = await getJson(`${program.url}/api/runs`);
    } while (run.counts.tasks < 40 && Date.now() < deadline);
    const res = await fetch(`${program.url}/api/runs/${run.id}/events`);
    ctx.saved = path.join(ctx.dir, 'echo-server.jsonl');
    fs.writeFileSync(ctx.saved, await res.text());
    // console-subscriber writes its recording as it goes: wait until it has the tasks too.
    const until = Date.now() + 20000;
    while ((!fs.existsSync(ctx.recording) || (fs.readFileSync(ctx.recording, 'utf8').match(/"Spawn"/g) || []).length < 40) && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await program.stop();
  }
  ctx.browser = await launchBrowser();
});
after(async () => {
  await ctx.browser?.close();
  fs.rmSync(ctx.dir, { recursive: true, force: true });
});

async function opened(file, shotName) {
  const { proc, url } = await startOpen(file);
  try {
    const base = url.replace(/\/\?opened=1$/, '');
    const page = await openPage(ctx.browser, base, '?opened=1', { width: 1280, height: 900 });
    await page.waitForFunction(() => window.futurescope.model && window.futurescope.model.taskList.length > 0, null, { timeout: 15000 });
    const shown = await page.evaluate(() => {
      const m = window.futurescope.model;
      return {
        events: m.summary().events,
        tasks: m.taskList.map((t) => ({ id: t.id, loc: t.loc })),
        meta: { scenario: m.meta.scenario ?? null, source: m.meta.source ?? null },
        violations: m.violations.count,
        title: document.querySelector('#run-title')?.textContent || '',
      };
    });
    console.log(await shot(page, shotName));
    assert.deepEqual(page.errors, []);
    await page.close();
    return shown;
  } finally {
    proc.kill('SIGTERM');
  }
}

test("futurescope open of a program's saved run shows it as saved", async () => {
  const lines = fs.readFileSync(ctx.saved, 'utf8').trim().split('\n');
  const header = JSON.parse(lines[0]);
  assert.equal(header.format, 'futurescope-events');
  assert.equal(header.scenario, null);
  assert.equal(header.program.binary, 'echo-server');
  const events = lines.slice(1).map((l) => JSON.parse(l));
  const shown = await opened(ctx.saved, 'program-open-saved-1280');
  assert.equal(shown.events, events.length);
  assert.equal(shown.tasks.length, events.filter((e) => e.k === 'spawn').length);
  assert.equal(shown.violations, 0);
  assert.ok(shown.tasks.some((t) => /^examples\/echo-server\/src\/main\.rs:\d+:\d+$/.test(t.loc || '')), JSON.stringify(shown.tasks.slice(0, 3)));
  assert.match(shown.title, /echo-server/, 'the page names the program, not "?"');
});

test("futurescope open of the program's tokio-console recording shows the same tasks", async () => {
  const text = fs.readFileSync(ctx.recording, 'utf8');
  assert.ok(text.length > 0, 'console-subscriber recorded the program');
  const shown = await opened(ctx.recording, 'program-open-console-1280');
  assert.ok(shown.tasks.length >= 40, `${shown.tasks.length} tasks`);
  assert.notEqual(shown.meta.source, 'futurescope-events', 'read as a console recording');
  assert.equal(shown.violations, 0);
  // As many tasks as futurescope's own recording of the program had by then, give or take the
  // connections made between the save and the stop.
  const saved = fs.readFileSync(ctx.saved, 'utf8').trim().split('\n').slice(1).map((l) => JSON.parse(l));
  const spawns = saved.filter((e) => e.k === 'spawn').length;
  assert.ok(shown.tasks.length >= spawns - 5, `${shown.tasks.length} tasks in the recording, ${spawns} saved`);
});

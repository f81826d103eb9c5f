// `futurescope open FILE`: the dashboard starts with a saved run loaded (deep link ?opened=1),
// and the page's model of it equals the model of the same run opened live.

import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BIN } from './support/server.mjs';
import { launchBrowser, openPage } from './support/browser.mjs';

function startOpen(file) {
  const proc = spawn(BIN, ['open', file, '--bind', '127.0.0.1:0', '--no-console'], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no URL printed: ${out}`)), 15000);
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /dashboard on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, url: m[1] });
      }
    });
    proc.on('exit', (code) => reject(new Error(`futurescope open exited with ${code}: ${out}`)));
  });
}

test('futurescope open FILE shows the saved run exactly as recorded', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'futurescope-open-'));
  const file = path.join(dir, 'join-vs-select.jsonl');
  execFileSync(BIN, ['run', 'join-vs-select', '--out', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
  const events = lines.slice(1).map((l) => JSON.parse(l));
  const { proc, url } = await startOpen(file);
  const browser = await launchBrowser();
  try {
    assert.match(url, /\?opened=1$/);
    const base = url.replace(/\/\?opened=1$/, '');
    const page = await openPage(browser, base, '?opened=1');
    await page.waitForFunction(() => window.futurescope.model && window.futurescope.model.summary().events > 0, null, { timeout: 15000 });
    const shown = await page.evaluate(() => {
      const s = window.futurescope.model.summary();
      return { events: s.events, polls: s.polls, tasks: s.tasks, wakes: s.wakes, scenario: window.futurescope.model.meta.scenario };
    });
    assert.equal(shown.events, events.length);
    assert.equal(shown.polls, events.filter((e) => e.k === 'poll_start').length);
    assert.equal(shown.tasks, events.filter((e) => e.k === 'spawn').length);
    assert.equal(shown.wakes, events.filter((e) => e.k === 'wake').length);
    assert.equal(shown.scenario, 'join-vs-select');
    assert.deepEqual(page.errors || [], []);
  } finally {
    await browser.close();
    proc.kill('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// An opened file exports to Perfetto: the page's Chrome-trace exporter
// (frontend/js/chrome-trace.js) gives the same document as the server's
// /api/runs/{id}/export?format=chrome of the same run, for a saved run opened with Open….

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { useRealServer } from './support/harness.mjs';
import { clickRun, waitForEnd } from './support/browser.mjs';

const ctx = useRealServer();

for (const scenario of ['actors-mpsc', 'blocking-in-async']) {
  test(`${scenario}: a saved run opened from a file exports to Perfetto exactly as the server exports the run`, async () => {
    const page = await ctx.open(`?scenario=${scenario}`, { width: 1280, height: 800 });
    const runId = await clickRun(page);
    assert.equal(await waitForEnd(page), 'finished');
    const events = await (await fetch(`${ctx.base}/api/runs/${runId}/events`)).text();
    const server = await (await fetch(`${ctx.base}/api/runs/${runId}/export?format=chrome`)).json();
    assert.ok(server.traceEvents.some((e) => e.ph === 'X'), 'the run has polls');
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'fs-export-')), `run${runId}.jsonl`);
    fs.writeFileSync(file, events);
    await page.setInputFiles('#file-input', file);
    await page.waitForFunction((name) => window.futurescope.model && window.futurescope.model.meta.file === name, path.basename(file));
    assert.ok(await page.isHidden('#download-link'), 'no Save run for a file');
    assert.ok(await page.isVisible('#export-link'), 'Perfetto is offered for a file');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export-link')]);
    assert.equal(download.suggestedFilename(), `run${runId}.trace.json`);
    const saved = JSON.parse(fs.readFileSync(await download.path(), 'utf8'));
    assert.deepEqual(saved, server);
    if (scenario === 'blocking-in-async' && process.platform === 'linux') {
      // The long poll's cause is in its slices (issue #18), in both exports alike.
      const slices = server.traceEvents.filter((e) => e.ph === 'X' && e.args?.cause);
      assert.equal(slices.length, 2, 'the blocker\'s long poll, on its thread and its task');
      assert.match(slices[0].name, /\(blocked in (clock_)?nanosleep(, in [^)]+)?\)$/, slices[0].name);
      assert.equal(slices[0].args.cause.cause, 'blocked');
      if (process.arch === 'x64') {
        // With its stack samples and hot frame (the scenario's `stall`), saved and reopened alike.
        assert.match(slices[0].name, /, in futurescope_scenarios::blocking_in_async::stall\)$/, slices[0].name);
        assert.ok(slices[0].args.cause.stacks.length >= 1, JSON.stringify(slices[0].args.cause));
        assert.match(slices[0].args.cause.hot.loc, /^scenarios\/src\/blocking_in_async\.rs:\d+$/);
        const opened = await page.evaluate(() => {
          const c = window.futurescope.model.pollCauses.byTask.values().next().value.values().next().value;
          return { stacks: c.stacks.length, hot: c.hot };
        });
        assert.equal(opened.stacks, slices[0].args.cause.stacks.length, 'the opened file has the stacks');
        assert.equal(opened.hot.loc, slices[0].args.cause.hot.loc);
      }
    }
    assert.deepEqual(page.errors, []);
    await page.close();
  });
}

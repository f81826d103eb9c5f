// A recording made by console-subscriber of a scenario, imported by the dashboard's importer
// (frontend/js/console-recording.js), shows the same polls per task as the dashboard's own
// recording of that very run. Both are made by one `futurescope run ... --console-recording`.
//
// Needs the binary: FUTURESCOPE_BIN (default ../../target/release/futurescope).

import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConsoleRecording } from '../js/console-recording.js';
import { RunModel, OPEN } from '../js/model.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const BIN = process.env.FUTURESCOPE_BIN || path.join(here, '../../target/release/futurescope');

function pollsPerTask(events) {
  const polls = new Map();
  for (const e of events) if (e.k === 'poll_start') polls.set(e.task, (polls.get(e.task) || 0) + 1);
  return polls;
}

for (const scenario of ['join-vs-select', 'actors-mpsc', 'timeout-cancellation']) {
  test(`${scenario}: console-subscriber's recording imports with the dashboard's polls per task`, () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'futurescope-console-'));
    const ours = path.join(dir, 'run.jsonl');
    const theirs = path.join(dir, 'console.jsonl');
    execFileSync(BIN, ['run', scenario, '--out', ours, '--console-recording', theirs], { stdio: ['ignore', 'ignore', 'pipe'] });
    const recorded = fs.readFileSync(ours, 'utf8').trim().split('\n').slice(1).map((l) => JSON.parse(l));
    const { events, report } = parseConsoleRecording(fs.readFileSync(theirs, 'utf8'));
    assert.equal(report.errorCount, 0, JSON.stringify(report.errors));
    assert.ok(report.dropPairs > 0, 'the drop of each finished task is recognised and left out');
    const model = new RunModel();
    model.ingest(events);
    assert.equal(model.violations.count, 0, JSON.stringify(model.violations.messages.slice(0, 5)));
    // Every closed task had its drop pair: as many drop pairs as tasks that ended.
    assert.equal(report.dropPairs, model.taskList.filter((t) => t.doneT !== OPEN).length);

    const mine = pollsPerTask(recorded);
    const console = pollsPerTask(events);
    const spawned = recorded.filter((e) => e.k === 'spawn').map((e) => e.task);
    assert.ok(spawned.length >= 2);
    for (const task of spawned) {
      assert.equal(console.get(task) || 0, mine.get(task) || 0, `polls of task ${task} (console vs dashboard)`);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });
}

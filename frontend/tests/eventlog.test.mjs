// Tests of eventlog.js: the JSON-lines format of /api/runs/{id}/events and saved files.

import test from 'node:test';
import assert from 'node:assert/strict';
import { parseEventLines } from '../js/eventlog.js';
import { RunModel } from '../js/model.js';

test('header, events, blank lines and a bad line', () => {
  const text = [
    '{"format":"futurescope-events","v":1,"run":4,"scenario":"lazy-future","params":{"n":2}}',
    '{"k":"spawn","t":1,"task":1,"name":"a","kind":"task","loc":"x.rs:1:1","size":64,"parent":null}',
    '',
    '{"k":"poll_start","t":2,"task":1,"worker":0}',
    '{not json',
    '{"t":3}',
    '{"k":"poll_end","t":4,"task":1,"worker":0,"ready":true}\r',
  ].join('\n');
  const r = parseEventLines(text);
  assert.equal(r.header.scenario, 'lazy-future');
  assert.deepEqual(r.header.params, { n: 2 });
  assert.deepEqual(r.events.map((e) => e.k), ['spawn', 'poll_start', 'poll_end']);
  assert.equal(r.errorCount, 2);
  assert.deepEqual(r.errors.map((e) => e.line), [5, 6]);
  const m = new RunModel();
  m.ingest(r.events);
  assert.equal(m.tasks.get(1).busyNs, 2);
});

test('no header is fine; a foreign header is refused', () => {
  assert.equal(parseEventLines('{"k":"mark","t":0,"label":"x"}\n').header, null);
  assert.throws(() => parseEventLines('{"format":"chrome-trace"}\n'), /not a futurescope event log/);
  assert.throws(() => parseEventLines('{"format":"futurescope-events","v":2}\n'), /version 2/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatUptime, isProgramRun, programOf, splitLoc, ProgramSource } from '../js/views/program-header.js';

test('uptime reads in the largest two units', () => {
  assert.equal(formatUptime(12_400), '12 s');
  assert.equal(formatUptime(245_000), '4 min 05 s');
  assert.equal(formatUptime(3 * 3600_000 + 2 * 60_000), '3 h 02 min');
  assert.equal(formatUptime(-5), '0 s');
});

test('a program run is one whose summary names a program', () => {
  assert.equal(isProgramRun({ scenario: 'lazy-future' }), false);
  assert.equal(isProgramRun({ scenario: null, program: { binary: 'echo-server', pid: 7 } }), true);
});

test('locations split into file and line', () => {
  assert.deepEqual(splitLoc('examples/echo-server/src/main.rs:15:5'), { file: 'examples/echo-server/src/main.rs', line: 15 });
  assert.equal(splitLoc(''), null);
});

test('program source is fetched once per file and its error is shown', async () => {
  const asked = [];
  const fetchJson = async (url) => {
    asked.push(url);
    return url.includes('gone.rs') ? { error: 'cannot read gone.rs: No such file' } : { text: 'fn main() {}\nfn b() {}\n' };
  };
  const shown = [];
  const view = {
    container: { replaceChildren: (node) => shown.push(['note', node]) },
    setSource: (text, file) => shown.push(['source', file, text.length]),
    highlight: (line) => shown.push(['line', line]),
  };
  const src = new ProgramSource(fetchJson, (text) => ({ text }));
  await src.show(1, 'src/main.rs:2:1', view);
  await src.show(1, 'src/main.rs:1:1', view);
  assert.equal(asked.length, 1, 'one request per file');
  assert.deepEqual(shown.filter((s) => s[0] !== 'note'), [['source', 'src/main.rs', 23], ['line', 2], ['line', 1]]);
  await src.show(1, 'src/gone.rs:3:1', view);
  assert.equal(shown.at(-1)[0], 'note', 'says why it cannot show the file');
});

test('programOf finds the open run only when it is a program', () => {
  const runs = [
    { id: 1, scenario: null, status: 'running', program: { binary: 'echo-server', pid: 9, args: [] } },
    { id: 2, scenario: 'lazy-future', status: 'done' },
  ];
  assert.equal(programOf(runs, 1), runs[0]);
  assert.equal(programOf(runs, '1'), runs[0], 'ids from the URL are strings');
  assert.equal(programOf(runs, 2), null);
  assert.equal(programOf(runs, 3), null);
  assert.equal(programOf(runs, null), null);
});

test('a late answer for an earlier task does not replace the newer one', async () => {
  let release;
  const slow = new Promise((r) => (release = r));
  const fetchJson = (url) => (url.includes('slow.rs') ? slow : Promise.resolve({ text: 'a\nb\nc\n' }));
  const shown = [];
  const view = { container: { replaceChildren() {} }, setSource: (text, file) => shown.push(file), highlight: (l) => shown.push(l) };
  const src = new ProgramSource(fetchJson, (t) => t);
  const first = src.show(1, 'src/slow.rs:1:1', view);
  await src.show(1, 'src/fast.rs:3:1', view);
  release({ text: 'x\n' });
  await first;
  assert.deepEqual(shown, ['src/fast.rs', 3]);
});

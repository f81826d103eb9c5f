// Bench support: writes a large, legal futurescope run (docs/protocol.md) as a .jsonl file
// in the format of GET /api/runs/{id}/events (header line, then one event per line, in
// time order), without holding it in memory.
//
// Shape: `workers` runtime workers and `tasks` tasks, all spawned first; then time runs in
// ticks of `tickNs`: in each tick every worker polls one task (task = tick * workers +
// worker, modulo tasks), each poll preceded in the same tick by a wake of that task (half
// by a driver, half by the task that ran on that worker in the tick before). Every task is
// polled slices / tasks times; its last poll returns Ready and is followed by `done`. So a
// task's polls never overlap, a worker runs one poll at a time, and every event is legal
// for the task's phase.

import fs from 'node:fs';

/** Deterministic PRNG (xorshift32). */
function rng(seed) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
}

/**
 * Writes the run to `file`. Options: slices (poll slices, default 1e6), tasks (1e4),
 * workers (8), tickNs (10_000), seed. Returns {events, slices, tasks, workers, bytes, endT}.
 */
export function writeSyntheticRun(file, { slices = 1_000_000, tasks = 10_000, workers = 8, tickNs = 10_000, seed = 7 } = {}) {
  if (slices % tasks !== 0) throw new Error('slices must be a multiple of tasks');
  const rand = rng(seed);
  const fd = fs.openSync(file, 'w');
  let buf = [];
  let bufLen = 0;
  let bytes = 0;
  let events = 0;
  const flush = () => {
    const text = buf.join('');
    fs.writeSync(fd, text);
    bytes += Buffer.byteLength(text);
    buf = [];
    bufLen = 0;
  };
  const line = (s) => {
    buf.push(s, '\n');
    bufLen += s.length + 1;
    if (bufLen > 1 << 22) flush();
  };
  const ev = (s) => {
    events++;
    line(s);
  };
  line(JSON.stringify({ format: 'futurescope-events', v: 1, run: 1, scenario: 'synthetic', params: { slices, tasks, workers } }));
  for (let w = 0; w < workers; w++) ev(`{"k":"worker","t":0,"worker":${w},"name":"bench-worker-${w}","kind":"worker"}`);
  const firstId = 100;
  for (let i = 0; i < tasks; i++) {
    ev(`{"k":"spawn","t":${1000 + i * 10},"task":${firstId + i},"name":"task ${i}","kind":"task","loc":"bench/synthetic.rs:${10 + (i % 50)}:5","size":${64 + (i % 32) * 16},"parent":null}`);
  }
  const pollsPerTask = slices / tasks;
  const polls = new Uint16Array(tasks);
  const ticks = slices / workers;
  const prevOnWorker = new Int32Array(workers).fill(-1);
  const start0 = 1000 + tasks * 10 + 10_000;
  const tick = [];
  for (let k = 0; k < ticks; k++) {
    const base = start0 + k * tickNs;
    tick.length = 0;
    for (let w = 0; w < workers; w++) {
      const i = (k * workers + w) % tasks;
      const id = firstId + i;
      const wakeT = base + 10 + w * 10;
      const by = prevOnWorker[w] >= 0 && rand() < 0.5 ? firstId + prevOnWorker[w] : null;
      tick.push([wakeT, `{"k":"wake","t":${wakeT},"task":${id},"by":${by},"op":"wake_by_ref"}`]);
      const s = base + 200 + Math.floor(rand() * 800);
      const d = 1000 + Math.floor(rand() * (tickNs - 2200));
      polls[i]++;
      const last = polls[i] === pollsPerTask;
      tick.push([s, `{"k":"poll_start","t":${s},"task":${id},"worker":${w}}`]);
      tick.push([s + d, `{"k":"poll_end","t":${s + d},"task":${id},"worker":${w},"ready":${last}}`]);
      if (last) tick.push([s + d + 1, `{"k":"done","t":${s + d + 1},"task":${id},"outcome":"completed"}`]);
      prevOnWorker[w] = i;
    }
    tick.sort((a, b) => a[0] - b[0]);
    for (const [, s] of tick) ev(s);
  }
  flush();
  fs.closeSync(fd);
  return { events, slices, tasks, workers, bytes, endT: start0 + ticks * tickNs };
}

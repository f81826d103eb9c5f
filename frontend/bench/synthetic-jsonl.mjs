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
//
// With `probes` (default on), every task's future is a probe: `start` at spawn, one `state`
// per poll (cycling over three await points, `ready` at the last poll); and task 0 fans out
// (as buffered(32) does): in each of its polls, the children whose work is done end `ready`
// and new ones start, so `fanOut` (32) child futures are in flight under its root at once.

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
const rootOf = (i) => 1e8 + i;

export function writeSyntheticRun(file, { slices = 1_000_000, tasks = 10_000, workers = 8, tickNs = 10_000, seed = 7, probes = true, fanOut = 32 } = {}) {
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
    if (probes) ev(`{"k":"state","t":${1000 + i * 10 + 1},"task":${firstId + i},"future":${rootOf(i)},"parent":null,"label":"start","loc":"bench/synthetic.rs:1","name":"task ${i} body"}`);
  }
  const AWAITS = ['rx.recv().await', 'sleep(tick).await', 'socket.read(&mut buf).await'];
  let nextChild = 1e9;
  const children = []; // task 0's children in flight: [id, polls left]
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
      if (probes) {
        if (i === 0) {
          // The fan-out: children done end ready, new ones fill the slots, the rest report.
          let at = s + 1;
          for (let c = children.length - 1; c >= 0; c--) {
            if (--children[c][1] > 0) continue;
            tick.push([at, `{"k":"state","t":${at},"task":${id},"future":${children[c][0]},"parent":null,"label":"ready","loc":null}`]);
            at++;
            children.splice(c, 1);
          }
          while (children.length < fanOut && !last) {
            const cid = nextChild++;
            children.push([cid, 1 + Math.floor(rand() * 12)]);
            tick.push([at, `{"k":"state","t":${at},"task":${id},"future":${cid},"parent":${rootOf(0)},"label":"start","loc":"bench/synthetic.rs:2","name":"process(req)"}`]);
            at++;
            tick.push([at, `{"k":"state","t":${at},"task":${id},"future":${cid},"parent":null,"label":"sleep(cost).await","loc":"bench/synthetic.rs:3"}`]);
            at++;
          }
          if (last) {
            for (const [cid] of children) {
              tick.push([at, `{"k":"state","t":${at},"task":${id},"future":${cid},"parent":null,"label":"cancelled","loc":null}`]);
              at++;
            }
            children.length = 0;
          }
        }
        const label = last ? 'ready' : AWAITS[polls[i] % AWAITS.length];
        tick.push([s + d - 1, `{"k":"state","t":${s + d - 1},"task":${id},"future":${rootOf(i)},"parent":null,"label":"${label}","loc":${last ? 'null' : '"bench/synthetic.rs:4"'}}`]);
      }
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

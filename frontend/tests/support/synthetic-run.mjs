// TEST SUPPORT ONLY. synthetic-run.mjs — makes a plausible, legal futurescope event
// stream (docs/protocol.md) by simulating a tiny multi-threaded executor: worker threads,
// a run queue, timers that wake tasks (driver wakes), tasks that wake each other, yields,
// one task whose poll blocks its worker (a long_poll stall), one task that loses its wake,
// waker clones and drops, and probe `state` events at await points.
//
// It is deterministic (seeded PRNG) so tests can rely on its shape, and big enough on
// demand (1,000,000 events) for the model's speed test. The fixture server streams it to
// the browser when the real backend is not available. It is not the recorder: the real
// events come from backend/recorder.

export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FILE = 'scenarios/src/blocking_in_async.rs';
const AWAITS = [
  { label: 'sleep(tick).await', loc: `${FILE}:31` },
  { label: 'rx.recv().await', loc: `${FILE}:36` },
  { label: 'yield_now().await', loc: `${FILE}:40` },
];

/**
 * Returns an array of events sorted by `t`. Options: seed, workers, tasks, pollsPerTask,
 * stallNs (0 = no stall), lostWake (bool).
 */
export function syntheticRun(opts = {}) {
  const { seed = 1, workers = 4, tasks = 40, pollsPerTask = 30, stallNs = 25e6, lostWake = true } = opts;
  const rand = mulberry32(seed);
  const out = [];
  let seq = 0;
  const emit = (ev) => {
    ev._seq = seq++;
    out.push(ev);
  };
  const mainThread = workers;
  for (let w = 0; w < workers; w++) emit({ k: 'worker', t: 0, worker: w, name: `tokio-rt-worker-${w}`, kind: 'worker' });
  emit({ k: 'worker', t: 0, worker: mainThread, name: 'main', kind: 'thread' });
  emit({ k: 'mark', t: 0, label: 'phase 1: spawn workers' });

  // Root task: block_on on the main thread; spawns the others during its first poll.
  const ROOT = 1;
  emit({ k: 'spawn', t: 0, task: ROOT, name: 'main', kind: 'block_on', loc: `${FILE}:12:5`, size: 1024, parent: null });
  emit({ k: 'poll_start', t: 100, task: ROOT, worker: mainThread });
  emit({ k: 'state', t: 110, task: ROOT, future: 1, parent: null, label: 'start', loc: null });
  const state = new Map();
  let t = 200;
  for (let i = 0; i < tasks; i++) {
    const id = i + 2;
    t += 150 + Math.floor(rand() * 200);
    emit({
      k: 'spawn',
      t,
      task: id,
      name: i % 5 === 0 ? '' : `worker-task-${i}`,
      kind: 'task',
      loc: `${FILE}:${20 + (i % 3)}:9`,
      size: 256 + ((i * 64) % 2048),
      parent: ROOT,
    });
    state.set(id, { id, remaining: 1 + Math.floor(pollsPerTask * (0.5 + rand())), readyAt: t, busyUntil: 0, polls: 0, future: id * 10 });
  }
  t += 100;
  emit({ k: 'state', t, task: ROOT, future: 1, parent: null, label: 'join_all(handles).await', loc: `${FILE}:25` });
  emit({ k: 'poll_end', t: t + 10, task: ROOT, worker: mainThread, ready: false });

  // A heap of future wakes: {t, task, by, op}.
  const timers = [];
  const pushTimer = (x) => {
    timers.push(x);
    timers.sort((a, b) => b.t - a.t); // small sizes: simple is fine
  };
  const runQueue = [...state.keys()]; // FIFO of runnable task ids (spawned = runnable)
  const waiting = new Set(); // ids idle until another task wakes them
  const freeAt = new Array(workers).fill(500);
  let alive = state.size;
  let stalled = false;
  let lost = false;
  let now = t;
  let guard = 0;
  while (alive > 0 && guard++ < 50_000_000) {
    // Deliver due wakes.
    while (timers.length && timers[timers.length - 1].t <= now) {
      const w = timers.pop();
      emit({ k: 'wake', t: w.t, task: w.task, by: w.by, op: w.op });
      const st = state.get(w.task);
      st.readyAt = Math.max(w.t, st.busyUntil + 1); // woken mid-poll: runs after that poll
      runQueue.push(w.task);
    }
    let progressed = false;
    for (let w = 0; w < workers; w++) {
      if (freeAt[w] > now || !runQueue.length) continue;
      const id = runQueue.shift();
      const st = state.get(id);
      const start = Math.max(now, freeAt[w], st.readyAt) + 200 + Math.floor(rand() * 800);
      let dur = 2_000 + Math.floor(rand() * 40_000);
      const isStall = stallNs > 0 && !stalled && id === 3 && st.polls === 2;
      if (isStall) {
        dur = stallNs;
        stalled = true;
        emit({ k: 'mark', t: start - 50, label: 'phase 2: std::thread::sleep inside a poll' });
      }
      const end = start + dur;
      st.busyUntil = end;
      emit({ k: 'poll_start', t: start, task: id, worker: w });
      if (st.polls === 0) emit({ k: 'state', t: start + 20, task: id, future: st.future, parent: null, label: 'start', loc: null });
      st.polls++;
      st.remaining--;
      // Wake somebody who waits for a message.
      if (waiting.size && rand() < 0.5) {
        const other = [...waiting][Math.floor(rand() * waiting.size)];
        waiting.delete(other);
        pushTimer({ t: start + Math.floor(dur / 2), task: other, by: id, op: 'wake_by_ref' });
      }
      if (st.remaining <= 0) {
        emit({ k: 'state', t: end - 10, task: id, future: st.future, parent: null, label: 'ready', loc: null });
        emit({ k: 'poll_end', t: end, task: id, worker: w, ready: true });
        emit({ k: 'done', t: end + 1, task: id, outcome: 'completed' });
        alive--;
      } else if (lostWake && !lost && id === 5 && st.polls === 3) {
        // Returns Pending without storing the waker: nobody will ever wake it.
        emit({ k: 'state', t: end - 10, task: id, future: st.future, parent: null, label: 'rx.recv().await', loc: AWAITS[1].loc });
        emit({ k: 'poll_end', t: end, task: id, worker: w, ready: false });
        lost = true;
        alive--;
        emit({ k: 'lint', t: end + 1_000_000, task: id, rule: 'lost_wake', detail: `task ${id} returned Pending with no live waker and was never woken again` });
      } else {
        const r = rand();
        const aw = r < 0.6 ? AWAITS[0] : r < 0.85 ? AWAITS[1] : AWAITS[2];
        emit({ k: 'state', t: end - 10, task: id, future: st.future, parent: null, label: aw.label, loc: aw.loc });
        if (aw === AWAITS[0]) {
          emit({ k: 'waker_clone', t: end - 5, task: id });
          pushTimer({ t: end + 50_000 + Math.floor(rand() * 900_000), task: id, by: null, op: 'wake' });
        } else if (aw === AWAITS[1]) {
          emit({ k: 'waker_clone', t: end - 5, task: id });
          emit({ k: 'waker_drop', t: end - 4, task: id });
          waiting.add(id);
        } else {
          pushTimer({ t: end - 3, task: id, by: id, op: 'wake_by_ref' });
        }
        emit({ k: 'poll_end', t: end, task: id, worker: w, ready: false });
      }
      if (isStall) {
        emit({ k: 'lint', t: end + 1, task: id, rule: 'long_poll', detail: `a poll of task ${id} ran for ${(dur / 1e6).toFixed(1)} ms without yielding; other tasks on worker ${w} waited` });
      }
      freeAt[w] = end;
      progressed = true;
    }
    // Nobody left to wake the waiting ones: a driver does (a channel closing, say).
    if (!progressed && !timers.length && !runQueue.length && waiting.size) {
      for (const id of waiting) pushTimer({ t: now + 10_000, task: id, by: null, op: 'wake_by_ref' });
      waiting.clear();
    }
    // Advance to the next moment something can happen.
    let next = Infinity;
    if (timers.length) next = timers[timers.length - 1].t;
    if (runQueue.length) for (let w = 0; w < workers; w++) next = Math.min(next, Math.max(freeAt[w], now + 1));
    if (next === Infinity) next = Math.max(...freeAt, now + 1);
    now = Math.max(now + 1, next);
  }
  const last = Math.max(now, ...freeAt) + 5_000;
  emit({ k: 'wake', t: last, task: ROOT, by: null, op: 'wake_by_ref' });
  emit({ k: 'poll_start', t: last + 500, task: ROOT, worker: mainThread });
  emit({ k: 'state', t: last + 600, task: ROOT, future: 1, parent: null, label: 'ready', loc: null });
  emit({ k: 'poll_end', t: last + 700, task: ROOT, worker: mainThread, ready: true });
  emit({ k: 'done', t: last + 701, task: ROOT, outcome: 'completed' });
  out.sort((a, b) => a.t - b.t || a._seq - b._seq);
  for (const ev of out) delete ev._seq;
  return out;
}

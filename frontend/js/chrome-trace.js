// chrome-trace.js — a run's events as a Chrome trace (the Trace Event Format that Perfetto
// UI and chrome://tracing open), the same document as the server's
// `GET /api/runs/{id}/export?format=chrome` (backend/server/src/export.rs), so a run
// opened from a file (or a tokio-console recording) can be exported too.
//
// Process 1 holds one thread per thread lane, process 2 one track per task. Each poll is
// a complete slice (`ph: "X"`) on both its thread and its task; a wake followed by a poll
// of the woken task is a flow (`s` at the wake on the waker's track, `f` at that poll's
// start). Lints and marks are global instants, a snapshot an instant on the tasks process;
// a long poll's cause (`poll_cause`) is in its slices' args (its stack samples and hot frame
// too) and, in words, in their names.
// Times are microseconds. Keep it in step with export.rs: a browser test compares the two
// on the same run.

const WORKERS_PID = 1;
const TASKS_PID = 2;
const us = (ns) => ns / 1000;

/** The trace document (an object; JSON.stringify it to save) of wire `events`. */
export function chromeTrace(events, scenario) {
  const out = [
    { ph: 'M', pid: WORKERS_PID, tid: 0, name: 'process_name', args: { name: `${scenario}: worker threads` } },
    { ph: 'M', pid: TASKS_PID, tid: 0, name: 'process_name', args: { name: `${scenario}: tasks` } },
  ];
  const names = new Map(); // task -> track name
  const open = new Map(); // task -> [start, lane] of its poll under way
  const pendingWake = new Map(); // task -> [t, pid, tid] of the first wake since its last poll
  let flowId = 0;
  const lastPoll = new Map(); // task -> [start, its two slices], for its cause
  for (const e of events) {
    switch (e.k) {
      case 'worker':
        out.push({ ph: 'M', pid: WORKERS_PID, tid: e.worker, name: 'thread_name', args: { name: `${e.name} (${e.kind})` } });
        break;
      case 'spawn': {
        const name = e.name ? `${e.name} #${e.task}` : `task #${e.task}`;
        out.push({ ph: 'M', pid: TASKS_PID, tid: e.task, name: 'thread_name', args: { name } });
        names.set(e.task, name);
        break;
      }
      case 'poll_start': {
        open.set(e.task, [e.t, e.worker]);
        const wake = pendingWake.get(e.task);
        if (wake) {
          pendingWake.delete(e.task);
          flowId++;
          out.push({ ph: 's', id: flowId, pid: wake[1], tid: wake[2], ts: us(wake[0]), name: 'wake', cat: 'wake' });
          out.push({ ph: 'f', bp: 'e', id: flowId, pid: TASKS_PID, tid: e.task, ts: us(e.t), name: 'wake', cat: 'wake' });
        }
        break;
      }
      case 'poll_end': {
        const poll = open.get(e.task);
        if (!poll) break;
        open.delete(e.task);
        const [start, lane] = poll;
        const name = names.get(e.task) ?? `task #${e.task}`;
        const args = { task: e.task, worker: lane, ready: e.ready };
        for (const [pid, tid] of [
          [WORKERS_PID, lane],
          [TASKS_PID, e.task],
        ]) {
          out.push({ ph: 'X', pid, tid, ts: us(start), dur: us(e.t - start), name, cat: 'poll', args });
        }
        lastPoll.set(e.task, [start, out.slice(-2)]);
        break;
      }
      case 'wake': {
        const [pid, tid] = e.by != null ? [TASKS_PID, e.by] : e.worker != null ? [WORKERS_PID, e.worker] : [TASKS_PID, e.task];
        if (!pendingWake.has(e.task)) pendingWake.set(e.task, [e.t, pid, tid]);
        break;
      }
      case 'done':
        out.push({ ph: 'i', s: 't', pid: TASKS_PID, tid: e.task, ts: us(e.t), name: `done: ${e.outcome}` });
        break;
      case 'lint':
        out.push({ ph: 'i', s: 'g', pid: WORKERS_PID, tid: 0, ts: us(e.t), name: e.rule, args: { detail: e.detail, task: e.task ?? null } });
        break;
      case 'mark':
        out.push({ ph: 'i', s: 'g', pid: WORKERS_PID, tid: 0, ts: us(e.t), name: e.label, args: { detail: null, task: e.task ?? null } });
        break;
      case 'snapshot':
        out.push({ ph: 'i', s: 'g', pid: TASKS_PID, tid: 0, ts: us(e.t), name: `snapshot: ${typeof e.reason === 'string' ? e.reason : ''}`, args: { reason: e.reason, tasks: e.tasks } });
        break;
      case 'poll_cause': {
        const poll = lastPoll.get(e.task);
        if (!poll || poll[0] !== e.since) break;
        const summary = e.cause === 'on_cpu' ? 'on CPU' : e.cause === 'runnable' ? 'waiting for a CPU' : e.syscall ? `blocked in ${e.syscall}` : 'blocked';
        const { since, cause, on_cpu, runnable, blocked, syscall, wchan, samples } = e;
        const stacks = Array.isArray(e.stacks) ? e.stacks : [];
        const hot = e.hot ?? null;
        const where = hot && typeof hot.fn === 'string' ? `, in ${hot.fn}` : '';
        for (const slice of poll[1]) {
          slice.args = { ...slice.args, cause: { since, cause, on_cpu, runnable, blocked, syscall, wchan, samples, stacks, hot } };
          slice.name = `${slice.name} (${summary}${where})`;
        }
        break;
      }
      default:
      // waker_clone, waker_drop, state, dropped: not in the trace.
    }
  }
  return { traceEvents: out, displayTimeUnit: 'ns', otherData: { generator: 'futurescope', scenario } };
}

/** The download name of a trace: the run file's name with .trace.json. */
export function traceFileName(fileName) {
  return `${String(fileName || 'events').replace(/\.[^./]*$/, '')}.trace.json`;
}

// console-recording.js — imports a tokio-console recording (the JSON-lines file that
// console-subscriber writes when built with `recording_path`) as futurescope wire events
// (docs/protocol.md), so a recording of any tokio app opens in the same timeline.
//
// The file: a header line {"v":1}, then one record a line, each an object with one key:
//   {"Spawn":{"id":SPAN,"at":AT,"fields":[{"name":"task.id","value":7},...]}}
//   {"Enter":{"id":SPAN,"at":AT}}   {"Exit":{"id":SPAN,"at":AT}}   {"Close":{"id":SPAN,"at":AT}}
//   {"Waker":{"id":SPAN,"op":"Clone"|"Drop"|{"Wake":{"self_wake":B}}|{"WakeByRef":{...}},"at":AT}}
// where AT is a SystemTime, {"secs_since_epoch":S,"nanos_since_epoch":N}. The reader is
// lenient about shapes seen in other versions or hand-made files: AT as {"secs","nanos"}
// or as a number of ns, `fields` as an object, `op` as a plain string ("Wake",
// "WakeByRef", "Clone", "Drop"), extra keys such as `parent_id` (ignored).
//
// The conversion (what each record becomes):
// - Span ids are tracing span ids, not task ids. A Spawn's `task.id` field is the tokio
//   task id, used as the task id; without it the span id is used (or a fresh id when that
//   number is taken). Span ids are read as text: they can exceed 2^53, and the registry
//   reuses an id after its span closed, so a mapping lives from Spawn to Close only.
// - Enter/Exit of ids that were not spawned as tasks (resources and async ops, or tasks
//   spawned before the recording began) are skipped, and so is the span of a runtime
//   worker thread (kind `blocking`, `fn` inside `tokio::runtime::`), entered for its life.
// - A poll is one Enter/Exit pair of a task span, on no known thread (`worker: null`).
// - THE DROP RULE: tokio wraps every task's future in `Instrumented`, whose Drop enters
//   the span once more to drop the future. So when a task span closes, its LAST Enter/Exit
//   pair before the Close (no other Enter in between) was the drop of the future, not a
//   poll: it is left out. A task aborted before its first poll thus has no poll at all.
//   A span still open when the recording ends has not been dropped: all its pairs count.
// - Close becomes `done` with outcome "closed": the recording cannot tell a completed
//   future from a cancelled one.
// - Waker ops become wake / waker_clone / waker_drop. `by` is not recorded, except that
//   console-subscriber marks self-wakes: those get `by` = the task itself.
// - Times: ns since the earliest `at` in the file. Records are sorted by time (stable), as
//   console-subscriber's writer thread can receive them from several threads out of order.
//
// It only converts; building the model is model.js's, choosing the importer runfile.js's.

import { forEachLine } from './jsonlines.js';

export const CONSOLE_FORMAT = 'tokio-console-recording';

/** What a console recording does not contain, in the words the page shows: "what (detail)". */
export const CONSOLE_RECORDING_LACKS = [
  'spawn locations (none, unless the recording has them as fields)',
  'worker threads (no worker lanes: polls show on task lanes only)',
  'who woke whom (wakes have no waker; only self-wakes are marked)',
  'await points (no future state machines)',
  'outcomes (a closed task may have completed or been cancelled)',
];

const RECORD_KINDS = ['Spawn', 'Enter', 'Exit', 'Close', 'Waker'];
const MAX_ERRORS = 20;

/** True when the first non-empty line of `text` is a console recording's header or record. */
export function looksLikeConsoleRecording(text) {
  const line = firstLine(text);
  if (!line) return false;
  let obj;
  try {
    obj = JSON.parse(line);
  } catch {
    return false;
  }
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) return false;
  if (obj.format !== undefined || obj.k !== undefined) return false;
  const keys = Object.keys(obj);
  if (keys.length === 1 && keys[0] === 'v') return true;
  return keys.length === 1 && RECORD_KINDS.includes(keys[0]);
}

function firstLine(text) {
  let first = '';
  forEachLine(text, (line) => {
    first = line;
    return false;
  });
  return first;
}

/** Span ids as text, so ids above 2^53 survive JSON.parse. */
const SPAN_ID_NUMBER = /"(id|parent_id)"\s*:\s*(\d+)/g;

/**
 * An `at` as [seconds, nanoseconds], or null. Accepts {secs_since_epoch,
 * nanos_since_epoch}, {secs, nanos} and a plain number of nanoseconds.
 */
export function readInstant(at) {
  if (typeof at === 'number' && Number.isFinite(at)) return [Math.floor(at / 1e9), at % 1e9];
  if (!at || typeof at !== 'object') return null;
  const secs = at.secs_since_epoch ?? at.secs;
  const nanos = at.nanos_since_epoch ?? at.nanos ?? 0;
  if (typeof secs !== 'number' || typeof nanos !== 'number') return null;
  return [secs, nanos];
}

/** Fields as a plain object: from [{name, value}] or from an object already. */
export function readFields(fields) {
  const out = {};
  if (Array.isArray(fields)) {
    for (const f of fields) if (f && typeof f.name === 'string') out[f.name] = f.value;
  } else if (fields && typeof fields === 'object') {
    Object.assign(out, fields);
  }
  return out;
}

/** A waker op as {kind: 'wake'|'wake_by_ref'|'waker_clone'|'waker_drop', self: bool} or null. */
export function readWakerOp(op) {
  let name = op;
  let self = false;
  if (op && typeof op === 'object') {
    name = Object.keys(op)[0];
    const body = op[name];
    self = Boolean(body && body.self_wake);
  }
  switch (name) {
    case 'Wake':
      return { kind: 'wake', self };
    case 'WakeByRef':
      return { kind: 'wake_by_ref', self };
    case 'Clone':
      return { kind: 'waker_clone', self };
    case 'Drop':
      return { kind: 'waker_drop', self };
    default:
      return null;
  }
}

/** A field value as text without Debug quotes. */
function text(value) {
  if (value == null) return '';
  const s = String(value);
  return s.length >= 2 && s.startsWith('"') && s.endsWith('"') ? s.slice(1, -1) : s;
}

/** A field value as a non-negative integer, or null ("Id(7)" and "7" read as 7). */
function integer(value) {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
  const m = /(\d+)/.exec(String(value ?? ''));
  return m ? Number(m[1]) : null;
}

/** The spawn location from fields, when a recording has it ("file:line:col"), else null. */
function spawnLocation(f) {
  for (const key of ['spawn.location', 'location', 'loc']) if (f[key]) return text(f[key]);
  const file = f['loc.file'];
  if (!file) return null;
  const line = f['loc.line'];
  const col = f['loc.col'];
  return `${text(file)}${line != null ? `:${line}` : ''}${line != null && col != null ? `:${col}` : ''}`;
}

/** A runtime worker thread's own span: a blocking "task" entered for the thread's life. */
function isRuntimeThread(f) {
  return text(f.kind) === 'blocking' && /(^|[^\w])tokio::runtime::/.test(text(f.fn));
}

/**
 * Parses a console recording. Returns {events, header, report} where `events` are
 * futurescope wire events sorted by `t`, and `report` counts what was read and left out:
 * {records, tasks, polls, dropPairs, runtimeThreads, otherSpans, unmatched, selfWakes,
 * withoutLocation, errors: [{line, message}], errorCount, startEpoch: [secs, nanos] | null}.
 * Throws when the header announces a format version other than 1.
 */
export function parseConsoleRecording(text_) {
  const report = {
    records: 0,
    tasks: 0,
    polls: 0,
    dropPairs: 0,
    runtimeThreads: 0,
    otherSpans: 0,
    unmatched: 0,
    selfWakes: 0,
    withoutLocation: 0,
    errors: [],
    errorCount: 0,
    startEpoch: null,
  };
  const error = (line, message) => {
    report.errorCount++;
    if (report.errors.length < MAX_ERRORS) report.errors.push({ line, message });
  };

  // 1. Read: records with their time as [secs, nanos] and their line (the tie-break).
  let header = null;
  const records = [];
  forEachLine(text_, (line, lineNo) => {
    let obj;
    try {
      obj = JSON.parse(line.replace(SPAN_ID_NUMBER, '"$1":"$2"'));
    } catch (err) {
      error(lineNo, `not JSON: ${err.message || err}`);
      return;
    }
    const keys = obj && typeof obj === 'object' ? Object.keys(obj) : [];
    if (header === null && records.length === 0 && keys.length && keys.every((k) => k === 'v')) {
      if (obj.v !== 1) throw new Error(`tokio-console recording format v${obj.v}; this page reads v1`);
      header = obj;
      return;
    }
    const kind = keys.length === 1 ? keys[0] : null;
    const body = kind ? obj[kind] : null;
    if (!RECORD_KINDS.includes(kind) || !body || typeof body !== 'object') {
      error(lineNo, `not a console record (keys: ${keys.join(', ') || 'none'})`);
      return;
    }
    const at = readInstant(body.at);
    if (!at) {
      error(lineNo, `${kind} without a readable "at"`);
      return;
    }
    if (body.id == null) {
      error(lineNo, `${kind} without an "id"`);
      return;
    }
    records.push({ kind, body, span: String(body.id), secs: at[0], nanos: at[1], line: lineNo });
  });
  report.records = records.length;
  if (!records.length) return { events: [], header, report };

  // Times relative to the earliest record, exact: seconds and nanoseconds apart.
  let base = records[0];
  for (const r of records) if (r.secs < base.secs || (r.secs === base.secs && r.nanos < base.nanos)) base = r;
  report.startEpoch = [base.secs, base.nanos];
  for (const r of records) r.t = (r.secs - base.secs) * 1e9 + (r.nanos - base.nanos);
  records.sort((a, b) => a.t - b.t || a.line - b.line);

  // 2. Find the drop pairs: per span lifetime, the last Enter/Exit pair before its Close.
  const dropRecords = new Set();
  {
    const live = new Map(); // span -> {enter, exit, open} of the latest pair
    for (const r of records) {
      if (r.kind === 'Spawn') live.set(r.span, { enter: null, exit: null, open: false });
      const s = live.get(r.span);
      if (!s) continue;
      if (r.kind === 'Enter') {
        s.enter = r;
        s.exit = null;
        s.open = true;
      } else if (r.kind === 'Exit' && s.open) {
        s.exit = r;
        s.open = false;
      } else if (r.kind === 'Close') {
        if (s.enter && s.exit && !s.open) {
          dropRecords.add(s.enter);
          dropRecords.add(s.exit);
        }
        live.delete(r.span);
      }
    }
  }

  // 3. Convert, in time order.
  const events = [];
  const usedIds = new Set();
  let nextFreeId = 1;
  const freshId = () => {
    while (usedIds.has(nextFreeId)) nextFreeId++;
    return nextFreeId;
  };
  const spans = new Map(); // span -> {task, open, skip}
  const skipped = new Set(); // spans of runtime threads (for their life)
  for (const r of records) {
    const t = r.t;
    if (r.kind === 'Spawn') {
      const f = readFields(r.body.fields);
      if (isRuntimeThread(f)) {
        report.runtimeThreads++;
        skipped.add(r.span);
        continue;
      }
      let task = integer(f['task.id']);
      if (task == null || usedIds.has(task)) {
        const asNumber = Number(r.span);
        task = task == null && Number.isSafeInteger(asNumber) && !usedIds.has(asNumber) ? asNumber : freshId();
      }
      usedIds.add(task);
      spans.set(r.span, { task, open: false });
      const loc = spawnLocation(f);
      if (!loc) report.withoutLocation++;
      const size = integer(f['size.bytes']);
      report.tasks++;
      events.push({ k: 'spawn', t, task, name: text(f['task.name']), kind: text(f.kind) || 'task', loc, size, parent: null });
      continue;
    }
    const s = spans.get(r.span);
    if (!s) {
      if (skipped.has(r.span)) {
        if (r.kind === 'Close') skipped.delete(r.span);
      } else if (r.kind === 'Enter') {
        report.otherSpans++;
      }
      continue;
    }
    switch (r.kind) {
      case 'Enter':
        if (dropRecords.has(r)) {
          report.dropPairs++;
          break;
        }
        if (s.open) {
          report.unmatched++;
          break;
        }
        s.open = true;
        report.polls++;
        events.push({ k: 'poll_start', t, task: s.task, worker: null });
        break;
      case 'Exit':
        if (dropRecords.has(r)) break;
        if (!s.open) {
          report.unmatched++;
          break;
        }
        s.open = false;
        events.push({ k: 'poll_end', t, task: s.task, worker: null, ready: false });
        break;
      case 'Close':
        if (s.open) {
          // Closed while entered: end the poll where the span ended.
          events.push({ k: 'poll_end', t, task: s.task, worker: null, ready: false });
          report.unmatched++;
        }
        events.push({ k: 'done', t, task: s.task, outcome: 'closed' });
        spans.delete(r.span);
        break;
      case 'Waker': {
        const op = readWakerOp(r.body.op);
        if (!op) {
          error(r.line, `unknown waker op ${JSON.stringify(r.body.op)}`);
          break;
        }
        if (op.kind === 'wake' || op.kind === 'wake_by_ref') {
          if (op.self) report.selfWakes++;
          events.push({ k: 'wake', t, task: s.task, by: op.self ? s.task : null, op: op.kind });
        } else {
          events.push({ k: op.kind, t, task: s.task });
        }
        break;
      }
      default:
        break;
    }
  }
  report.errors.sort((a, b) => a.line - b.line);
  return { events, header, report };
}

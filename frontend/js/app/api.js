// app/api.js — the page's HTTP calls (docs/protocol.md, "HTTP API"), one function each.
// They return what the server answered or throw an Error whose message a user can read
// (the server's JSON `error` when it gave one). No state: callers put results in the store.

/** The JSON body of a response, or {} when there is none. */
async function json(res) {
  return res.json().catch(() => ({}));
}

/** Throws with the server's `error` (or the status line) unless `res` is OK. */
async function check(res, what) {
  if (res.ok) return res;
  const data = await json(res);
  const err = new Error(data.error || `${what}: ${res.status} ${res.statusText}`);
  err.status = res.status;
  throw err;
}

export async function fetchScenarios() {
  const res = await check(await fetch('/api/scenarios'), 'scenarios');
  return res.json();
}

export async function fetchRuns() {
  const res = await check(await fetch('/api/runs'), 'runs');
  return res.json();
}

/** /api/console: whether console-subscriber is on and how many clients attached. */
export async function fetchConsole() {
  const res = await check(await fetch('/api/console'), 'console');
  return res.json();
}

/** Starts a run (paused before its first poll with `step`); returns the server's answer ({run, step?, ...}). */
export async function startRun(scenario, params, { step = false } = {}) {
  const body = step ? { scenario, params, step: true } : { scenario, params };
  const res = await fetch('/api/runs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  await check(res, 'start');
  return json(res);
}

/** Run `id`'s step state (GET /api/runs/{id}/step). */
export async function fetchStepState(id) {
  const res = await check(await fetch(`/api/runs/${encodeURIComponent(id)}/step`), `step state of run ${id}`);
  return res.json();
}

/**
 * A step command on stepped run `id`: `step`, `step-to-wake`, `run-until` (with `task`),
 * `continue` or `pause`. Returns the step state the server answered with.
 */
export async function stepCommand(id, command, token, extra = {}) {
  const res = await fetch(`/api/runs/${encodeURIComponent(id)}/${command}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token, ...extra }),
  });
  await check(res, command);
  return json(res);
}

export async function cancelRun(id) {
  await check(await fetch(`/api/runs/${encodeURIComponent(id)}/cancel`, { method: 'POST' }), 'Cancel failed');
}

/**
 * Run `id`'s summary. With `instance`, the server answers 410 when the run belongs to an
 * earlier server (the Error then has `status` 410), 404 when it has no such run.
 */
export async function fetchRun(id, instance = null) {
  const q = instance ? `?instance=${encodeURIComponent(instance)}` : '';
  const res = await check(await fetch(`/api/runs/${encodeURIComponent(id)}${q}`), `run ${id}`);
  return res.json();
}

/** Run `id`'s recorded events as JSON-lines text. */
export async function fetchRunEvents(id) {
  const res = await check(await fetch(`/api/runs/${encodeURIComponent(id)}/events`), `run ${id}`);
  return res.text();
}

/** The run given on the command line (`futurescope open FILE`): {text, name}. */
export async function fetchOpened() {
  const res = await check(await fetch('/api/opened'), 'opened run');
  const name = (res.headers.get('content-disposition') || '').match(/filename="([^"]*)"/);
  return { text: await res.text(), name: name ? name[1] : 'opened run' };
}

/** Takes a task dump of running run `id` now; returns the snapshot ({t, reason, tasks, pause_ns, resolve_ns}). */
export async function takeSnapshot(id) {
  const res = await check(await fetch(`/api/runs/${encodeURIComponent(id)}/snapshot`, { method: 'POST' }), 'Snapshot failed');
  return res.json();
}

/** Where a run's events download from, and its Chrome-trace export. */
export const runEventsUrl = (id) => `/api/runs/${encodeURIComponent(id)}/events`;
export const runExportUrl = (id) => `/api/runs/${encodeURIComponent(id)}/export?format=chrome`;

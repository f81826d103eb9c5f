// program-header.js — a live program's run (futurescope::init() in the program's own main):
// what the page shows instead of a lesson. The header names the program (binary, pid, how long
// it has been recorded), and the source pane shows the program's own file at a task's spawn
// location, fetched from /api/runs/{id}/source, or says why it cannot.
//
// The page calls `renderProgramHeader(box, summary, now)` when a program run is opened (and
// every second for the uptime), and `ProgramSource.show(runId, loc, sourceView)` when a task
// is selected. Both are plain functions of their inputs, so the unit tests drive them without
// a page.

import { el, replaceChildren } from './dom.js';

/** "3 h 02 min", "4 min 05 s", "12 s": how long a program has been running. */
export function formatUptime(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const two = (n) => String(n).padStart(2, '0');
  if (h) return `${h} h ${two(m)} min`;
  if (m) return `${m} min ${two(sec)} s`;
  return `${sec} s`;
}

/** Whether a run summary is a live program's (rather than a scenario's). */
export function isProgramRun(summary) {
  return Boolean(summary && summary.program);
}

/** Fills `box` with the program's header: binary, pid, arguments, uptime, live state. */
export function renderProgramHeader(box, summary, now = Date.now()) {
  const p = summary.program;
  const running = summary.status === 'running';
  const uptime = formatUptime(now - (summary.started_ms || now));
  replaceChildren(
    box,
    el('h2', { class: 'program-name' }, p.binary),
    el(
      'p',
      { class: 'program-facts' },
      `pid ${p.pid}`,
      ' · ',
      running ? `recorded for ${uptime}` : `${summary.status}`,
      running ? el('span', { class: 'program-live', title: 'a live program: the run has no end' }, ' ● live') : '',
    ),
    p.args && p.args.length ? el('p', { class: 'program-args dim' }, `args: ${p.args.join(' ')}`) : '',
    el(
      'p',
      { class: 'dim' },
      'Your own program, watched live (futurescope::init()). Click a task to see its source at its spawn location.',
    ),
  );
}

/** "path/to/file.rs" and the line of a "file:line:col" location, or null. */
export function splitLoc(loc) {
  const m = /^(.*?):(\d+)(?::\d+)?$/.exec(String(loc || ''));
  return m ? { file: m[1], line: Number(m[2]) } : null;
}

/** Loads the program's source files on demand (one request per file) into a SourceView. */
export class ProgramSource {
  constructor(fetchJson, note = (text) => el('p', { class: 'dim pad' }, text)) {
    this.fetchJson = fetchJson;
    this.note = note;
    this.files = new Map(); // file -> Promise<{text} | {error}>
    this.shown = null;
  }

  /** Shows the file of `loc` with its line highlighted; says why when it cannot be read. */
  async show(runId, loc, view) {
    const at = splitLoc(loc);
    if (!at) {
      view.setSource('', '');
      view.container.replaceChildren(this.note('This task has no spawn location.'));
      return;
    }
    const key = `${runId}\n${at.file}`;
    if (!this.files.has(key)) {
      const url = `/api/runs/${encodeURIComponent(runId)}/source?file=${encodeURIComponent(at.file)}`;
      this.files.set(key, this.fetchJson(url).catch((err) => ({ error: err.message })));
    }
    const got = await this.files.get(key);
    if (got.error || typeof got.text !== 'string') {
      this.shown = null;
      view.setSource('', at.file);
      view.container.replaceChildren(this.note(`Cannot show ${at.file}: ${got.error || 'no text'}`));
      return;
    }
    if (this.shown !== key) view.setSource(got.text, at.file);
    this.shown = key;
    view.highlight(at.line);
  }
}

// views/program-header.js — a live program's run (futurescope::init() in the program's own
// main): what the page shows instead of a lesson. The side panel names the program (binary,
// pid, arguments, how long it has been recorded, ticking) with no lesson text and no
// parameter form; Stop is disabled (the run ends when the program exits); the source pane
// shows the program's own file at the selected task's spawn location, fetched from
// GET /api/runs/{id}/source, or says why it cannot.
//
// Hooked in through the store: `new ProgramView(app)` subscribes; when `runId`/`runs` make
// the open run a program's it sets `store.state.program` (that run's summary, else null),
// and renders from `program` and `selectedTask`. Selecting a scenario leaves program mode.
// The helpers below are plain functions of their inputs, so unit tests drive them without a page.

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
  return Boolean(summary && summary.program && !summary.scenario);
}

/** The summary of run `runId` in `runs` if it is a program's run, else null. */
export function programOf(runs, runId) {
  if (runId == null) return null;
  const summary = (runs || []).find((r) => String(r.id) === String(runId));
  return isProgramRun(summary) ? summary : null;
}

/** Fills `box` with the program's header: binary, pid, arguments, uptime, live state. */
export function renderProgramHeader(box, summary, now = Date.now()) {
  const p = summary.program;
  const running = summary.status === 'running';
  const uptime = formatUptime(now - (summary.started_ms || now));
  replaceChildren(
    box,
    el('h2', { class: 'about-title program-name' }, p.binary),
    el(
      'p',
      { class: 'program-facts' },
      el('span', { class: 'program-pid' }, `pid ${p.pid}`),
      ' · ',
      running ? el('span', { class: 'program-uptime' }, `recorded for ${uptime}`) : el('span', { class: 'program-uptime' }, summary.status),
      running ? el('span', { class: 'program-live', title: 'a live program: its run has no end' }, ' ● live') : null,
    ),
    p.path ? el('p', { class: 'program-path dim', title: p.path }, p.path) : null,
    p.args && p.args.length ? el('p', { class: 'program-args dim' }, `args: ${p.args.join(' ')}`) : null,
    el(
      'p',
      { class: 'dim' },
      'Your own program, watched live (futurescope::init()). Its run ends when the program exits, so there is nothing to run or stop here. Click a task to see its source at its spawn location.',
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
  constructor(fetchJson, note = (text) => el('p', { class: 'dim pad program-source-note' }, text)) {
    this.fetchJson = fetchJson;
    this.note = note;
    this.files = new Map(); // runId + file -> Promise<{text} | {error}>
    this.shown = null;
    this.asked = 0; // the newest show(): an older answer arriving late is dropped
  }

  /** Says `text` in the source pane instead of a file. */
  say(view, text, file = '') {
    this.shown = null;
    view.setSource('', file);
    view.container.replaceChildren(this.note(text));
  }

  /** Shows the file of `loc` with its line highlighted; says why when it cannot be read. */
  async show(runId, loc, view) {
    const ask = ++this.asked;
    const at = splitLoc(loc);
    if (!at) {
      this.say(view, 'This task has no spawn location.');
      return;
    }
    const key = `${runId}\n${at.file}`;
    if (!this.files.has(key)) {
      const url = `/api/runs/${encodeURIComponent(runId)}/source?file=${encodeURIComponent(at.file)}`;
      this.files.set(key, this.fetchJson(url).catch((err) => ({ error: err.message })));
    }
    const got = await this.files.get(key);
    if (ask !== this.asked) return;
    if (got.error || typeof got.text !== 'string') {
      this.say(view, `Cannot show ${at.file}: ${got.error || 'no text'}`, at.file);
      return;
    }
    if (this.shown !== key) view.setSource(got.text, at.file);
    this.shown = key;
    view.highlight(at.line);
  }
}

const $ = (id) => document.getElementById(id);

/** The page's program mode: store subscriber, header with a ticking uptime, source pane. */
export class ProgramView {
  constructor(app) {
    this.app = app;
    this.store = app.store;
    this.timer = null;
    this.source = new ProgramSource(async (url) => {
      const res = await fetch(url);
      const body = await res.json().catch(() => ({}));
      return res.ok ? body : { error: body.error || `HTTP ${res.status}` };
    });
    this.store.subscribe((state, changed) => this.update(state, changed));
  }

  update(state, changed) {
    if (changed.has('scenario') && state.program && !changed.has('program')) {
      this.store.update({ program: null }); // the user picked a lesson
      return;
    }
    if (changed.has('runId') || changed.has('runs')) {
      const program = programOf(state.runs, state.runId);
      if (program !== state.program && !(program && state.program && program.id === state.program.id && program.status === state.program.status)) {
        this.store.update({ program });
        return;
      }
    }
    if (changed.has('program')) this.render(state.program);
    if (state.program && (changed.has('selectedTask') || changed.has('program'))) this.showSource(state);
  }

  render(program) {
    clearInterval(this.timer);
    this.timer = null;
    $('params-form').hidden = Boolean(program);
    if (!program) {
      const s = this.store.state.scenario;
      if (s) this.app.selectScenario(s.name, { updateUrl: false });
      return;
    }
    renderProgramHeader($('about'), program);
    if (program.status === 'running') this.timer = setInterval(() => this.store.state.program && renderProgramHeader($('about'), this.store.state.program), 1000);
    this.app.timeline.setFollow?.(true);
  }

  showSource(state) {
    const view = this.app.source;
    const task = state.model && state.model.taskList[state.selectedTask];
    if (!task) {
      this.source.say(view, `The source pane shows ${state.program.program.binary}'s own file at a task's spawn location: click a task lane.`);
      return;
    }
    this.source.show(state.runId, task.loc, view);
  }
}

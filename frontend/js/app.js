// app.js — the dashboard page's controller: loads scenarios and runs over HTTP, keeps the
// WebSocket connection (socket.js), owns the current run's model (model.js) and feeds it
// batches (or buffers them while paused), and wires the views: scenario picker, params
// form, timeline, source, task panel, lints, summary, run list, keyboard shortcuts, deep
// links (/?scenario=NAME&run=ID&autorun=1) and opening saved .jsonl runs.
//
// Figures are model.js's, geometry layout.js's, painting draw.js's; views/ render DOM.
// For browser tests it exposes window.futurescope = {model, view, app, ready}.

import { RunModel } from './model.js';
import { LiveConnection, socketUrl, connectionBanner } from './socket.js';
import { parseEventLines } from './eventlog.js';
import { TimelineView } from './views/timeline.js';
import { renderScenarioList, renderScenarioAbout } from './views/scenario-picker.js';
import { renderParamsForm } from './views/params-form.js';
import { SourceView } from './views/source-view.js';
import { renderRunList } from './views/run-list.js';
import { renderTaskPanel } from './views/task-panel.js';
import { renderLints, renderChecks } from './views/lint-list.js';
import { renderSummary } from './views/summary-bar.js';
import { formatDuration, parseDuration, formatCount } from './units.js';
import { el } from './views/dom.js';

const $ = (id) => document.getElementById(id);
const PANEL_REFRESH_MS = 250;

class App {
  constructor() {
    this.scenarios = [];
    this.scenario = null; // selected scenario object
    this.params = null; // params form handle
    this.runs = []; // run summaries, newest first
    this.model = null; // the open run
    this.runId = null;
    this.live = false;
    this.paused = false;
    this.buffered = []; // batches received while paused
    this.bufferedEvents = 0;
    this.selectedTask = -1;
    this.tab = 'task';
    this.panelTimer = null;
    this.panelVersion = -1;
    this.console = document.body.dataset.console || null;
    this.version = document.body.dataset.version || '';
    this.readyResolve = null;
    this.ready = new Promise((resolve) => (this.readyResolve = resolve));
    this.isReady = false;
  }

  async start() {
    this.source = new SourceView($('source'), $('source-file'));
    this.timeline = new TimelineView({
      wrap: $('timeline-wrap'),
      canvas: $('timeline'),
      tooltip: $('tooltip'),
      onSelectTask: (i) => this.selectTask(i),
      onViewChange: () => this.updateToolbar(),
    });
    this.bindControls();
    this.bindKeys();
    this.bindFileDrop();
    this.connection = new LiveConnection({
      url: socketUrl(window.location),
      handlers: {
        onHello: (m) => this.onHello(m),
        onRun: (m) => this.onRunAnnounced(m),
        onBatch: (m) => this.onBatch(m),
        onEnd: (m) => this.onEnd(m),
        onServerError: (m) => this.flash(`Server: ${m.error}`, 'bad'),
        onProtocolError: (text) => this.flash(`Protocol: ${text}`, 'bad'),
        onResubscribe: (run) => this.onResubscribe(run),
        onStatus: () => this.updateBanner(),
      },
    });
    this.connection.connect();
    setInterval(() => this.updateBanner(), 1000);

    const url = new URLSearchParams(window.location.search);
    await Promise.all([this.loadScenarios(), this.loadRuns()]);
    const wanted = url.get('scenario');
    if (wanted && this.scenarios.some((s) => s.name === wanted)) this.selectScenario(wanted, { updateUrl: false });
    else if (wanted) this.flash(`Unknown scenario "${wanted}"`, 'bad');
    else if (this.scenarios.length) this.selectScenario(this.scenarios[0].name, { updateUrl: false });
    const run = url.get('run');
    if (run) this.openRun(parseRunId(run));
    else if (url.get('autorun') === '1' && this.scenario) this.startRun();
    this.renderAll();
    this.isReady = true;
    this.readyResolve(true);
  }

  // ---- HTTP ------------------------------------------------------------------------

  async loadScenarios() {
    try {
      const res = await fetch('/api/scenarios');
      if (!res.ok) throw new Error(`${res.status} ${res.statusText}`);
      this.scenarios = await res.json();
    } catch (err) {
      this.scenarios = [];
      this.flash(`Could not load scenarios: ${err.message}`, 'bad');
    }
    this.renderScenarios();
  }

  async loadRuns() {
    try {
      const res = await fetch('/api/runs');
      if (res.ok) this.runs = await res.json();
    } catch {
      // The hello message carries the runs too.
    }
    this.renderRuns();
  }

  async startRun() {
    if (!this.scenario) return;
    const errors = this.params.errors();
    const box = $('params-error');
    box.hidden = !errors.length;
    box.textContent = errors.join('; ');
    if (errors.length) return;
    const body = { scenario: this.scenario.name, params: this.params.read() };
    $('run-btn').disabled = true;
    try {
      const res = await fetch('/api/runs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const data = await res.json().catch(() => ({}));
      if (!res.ok) {
        box.hidden = false;
        box.textContent = data.error || `${res.status} ${res.statusText}`;
        return;
      }
      this.addRun({ id: data.run, scenario: body.scenario, params: body.params, status: 'running' });
      this.openRun(data.run, { live: true });
    } catch (err) {
      this.flash(`Could not start the run: ${err.message}`, 'bad');
    } finally {
      $('run-btn').disabled = false;
    }
  }

  async stopRun() {
    if (this.runId == null) return;
    try {
      const res = await fetch(`/api/runs/${encodeURIComponent(this.runId)}/cancel`, { method: 'POST' });
      const data = await res.json().catch(() => ({}));
      if (!res.ok) this.flash(data.error || `Cancel failed: ${res.status}`, 'bad');
    } catch (err) {
      this.flash(`Cancel failed: ${err.message}`, 'bad');
    }
  }

  // ---- runs ------------------------------------------------------------------------

  /** Opens run `id`: a fresh model, subscribed over the WebSocket (replayed from its start). */
  openRun(id, { live = true } = {}) {
    if (this.runId != null && String(this.runId) !== String(id)) this.connection.unsubscribe(this.runId);
    this.runId = id;
    const summary = this.runs.find((r) => String(r.id) === String(id));
    const scenario = summary ? summary.scenario : this.scenario && this.scenario.name;
    if (summary && summary.scenario && (!this.scenario || this.scenario.name !== summary.scenario)) {
      this.selectScenario(summary.scenario, { updateUrl: false });
    }
    this.setModel(new RunModel({ run: id, scenario, params: summary ? summary.params : {}, status: summary ? summary.status : 'running' }), live);
    this.connection.subscribe(id);
    this.updateUrl();
    $('download-link').href = `/api/runs/${encodeURIComponent(id)}/events`;
    $('download-link').download = `futurescope-run-${id}.jsonl`;
    $('export-link').href = `/api/runs/${encodeURIComponent(id)}/export?format=chrome`;
    $('download-link').hidden = false;
    $('export-link').hidden = false;
  }

  setModel(model, live) {
    this.model = model;
    this.live = live;
    this.buffered = [];
    this.bufferedEvents = 0;
    this.selectedTask = -1;
    this.timeline.setModel(model, { live });
    this.renderAll();
  }

  onHello(msg) {
    if (msg.console && !this.console) this.console = msg.console;
    if (Array.isArray(msg.runs) && msg.runs.length) {
      this.runs = msg.runs;
      this.renderRuns();
    }
    this.serverName = msg.server;
  }

  onRunAnnounced(msg) {
    this.addRun({ id: msg.run, scenario: msg.scenario, params: msg.params, status: msg.status || 'running' });
  }

  addRun(summary) {
    const i = this.runs.findIndex((r) => String(r.id) === String(summary.id));
    if (i >= 0) this.runs[i] = { ...this.runs[i], ...summary };
    else this.runs.unshift(summary);
    this.renderRuns();
  }

  onBatch(msg) {
    if (!this.model || String(msg.run) !== String(this.runId)) return;
    if (this.paused) {
      this.buffered.push(msg.events);
      this.bufferedEvents += msg.events.length;
      this.updateToolbar();
      return;
    }
    this.model.ingest(msg.events);
    this.afterIngest();
  }

  onEnd(msg) {
    const run = this.runs.find((r) => String(r.id) === String(msg.run));
    if (run) Object.assign(run, { status: msg.status, error: msg.error, counts: msg.counts || run.counts });
    else this.addRun({ id: msg.run, status: msg.status, error: msg.error, counts: msg.counts });
    this.renderRuns();
    if (this.model && String(msg.run) === String(this.runId)) {
      this.model.meta.status = msg.status;
      this.model.meta.error = msg.error;
      this.model.meta.counts = msg.counts;
      this.live = false;
      this.timeline.live = false;
      if (msg.error) this.flash(`Run ${msg.run} ${msg.status}: ${msg.error}`, 'bad');
      this.timeline.refresh();
      this.renderHead();
      this.schedulePanels(true);
    }
  }

  /** The connection came back: the server replays the run from its start. */
  onResubscribe(run) {
    if (String(run) !== String(this.runId) || !this.model) return;
    const meta = this.model.meta;
    const keepTask = this.selectedTask;
    const view = this.timeline.viewport.snapshot();
    const follow = this.timeline.follow;
    this.setModel(new RunModel({ ...meta }), this.live || meta.status === 'running');
    this.timeline.viewport.t0 = view.t0;
    this.timeline.viewport.nsPerPx = view.nsPerPx;
    this.timeline.follow = follow;
    this.timeline.autoFit = follow;
    this.pendingSelect = keepTask;
  }

  afterIngest() {
    if (this.pendingSelect != null && this.pendingSelect >= 0 && this.pendingSelect < this.model.taskList.length) {
      this.selectedTask = this.pendingSelect;
      this.timeline.selectTask(this.pendingSelect);
      this.pendingSelect = null;
    }
    this.timeline.refresh();
    this.schedulePanels();
  }

  togglePause(force) {
    this.paused = force ?? !this.paused;
    if (!this.paused && this.buffered.length) {
      const batches = this.buffered;
      this.buffered = [];
      this.bufferedEvents = 0;
      for (const events of batches) this.model.ingest(events);
      this.afterIngest();
    }
    this.updateToolbar();
  }

  loadFile(file) {
    const reader = new FileReader();
    reader.onload = () => {
      try {
        const { header, events, errorCount } = parseEventLines(String(reader.result));
        if (this.runId != null) this.connection.unsubscribe(this.runId);
        this.runId = null;
        const model = new RunModel({ run: header ? header.run : null, scenario: header ? header.scenario : null, params: header ? header.params : {}, status: 'file', file: file.name });
        model.ingest(events);
        if (header && header.scenario && this.scenarios.some((s) => s.name === header.scenario)) this.selectScenario(header.scenario, { updateUrl: false });
        this.setModel(model, false);
        $('download-link').hidden = true;
        $('export-link').hidden = true;
        this.flash(`Opened ${file.name}: ${formatCount(events.length)} events${errorCount ? `, ${errorCount} unreadable lines skipped` : ''}`, errorCount ? 'bad' : 'good');
      } catch (err) {
        this.flash(`Could not open ${file.name}: ${err.message}`, 'bad');
      }
    };
    reader.readAsText(file);
  }

  // ---- selection -------------------------------------------------------------------

  selectScenario(name, { updateUrl = true } = {}) {
    const s = this.scenarios.find((x) => x.name === name);
    if (!s) return;
    this.scenario = s;
    renderScenarioAbout($('about'), s);
    this.params = renderParamsForm($('params'), s.params || []);
    $('params-error').hidden = true;
    this.source.setSource(s.source || '', scenarioFile(s));
    this.renderScenarios();
    this.renderHead();
    if (updateUrl) this.updateUrl();
    this.schedulePanels(true);
  }

  selectTask(index) {
    this.selectedTask = index;
    this.timeline.selectTask(index);
    if (index >= 0) this.timeline.revealTask(index);
    this.showTab('task');
    this.schedulePanels(true);
  }

  jumpTo(t, taskIndex) {
    const span = this.timeline.viewport.t1 - this.timeline.viewport.t0;
    // Zoom in to about 50 ms around the moment unless already closer.
    this.timeline.jumpTo(t, Math.min(span, 50e6));
    if (taskIndex != null && taskIndex >= 0) {
      this.selectedTask = taskIndex;
      this.timeline.selectTask(taskIndex);
      this.timeline.revealTask(taskIndex);
      this.schedulePanels(true);
    }
  }

  updateUrl() {
    const q = new URLSearchParams();
    if (this.scenario) q.set('scenario', this.scenario.name);
    if (this.runId != null) q.set('run', String(this.runId));
    const next = `${window.location.pathname}?${q}`;
    if (next !== `${window.location.pathname}${window.location.search}`) history.replaceState(null, '', next);
  }

  // ---- rendering -------------------------------------------------------------------

  renderAll() {
    this.renderHead();
    this.renderRuns();
    this.updateToolbar();
    this.schedulePanels(true);
  }

  renderScenarios() {
    renderScenarioList($('scenario-list'), this.scenarios, {
      selected: this.scenario && this.scenario.name,
      filter: $('scenario-filter').value,
      onSelect: (name) => this.selectScenario(name),
    });
  }

  renderRuns() {
    renderRunList($('run-list'), this.runs.slice(0, 50), { current: this.runId, onOpen: (id) => this.openRun(id) });
  }

  renderHead() {
    const m = this.model;
    const title = $('run-title');
    const status = $('run-status');
    if (!m) {
      title.textContent = this.scenario ? this.scenario.title || this.scenario.name : 'no run';
      status.hidden = true;
    } else {
      const what = m.meta.file ? m.meta.file : `run #${m.meta.run}`;
      title.textContent = `${m.meta.scenario || 'events'} · ${what}`;
      status.hidden = false;
      status.textContent = m.meta.status;
      status.className = `pill ${m.meta.status}`;
    }
    $('stop-btn').disabled = !(m && m.meta.status === 'running' && this.runId != null);
  }

  updateToolbar() {
    const tl = this.timeline;
    $('follow-btn').classList.toggle('on', tl.follow);
    $('pause-btn').classList.toggle('on', this.paused);
    $('pause-btn').innerHTML = this.paused ? '&#9654; Resume' : '&#10073;&#10073; Pause';
    $('edges-btn').classList.toggle('on', tl.options.wakeEdges);
    $('collapse-btn').classList.toggle('on', tl.laneOptions.collapseTasks);
    const note = $('paused-note');
    note.hidden = !this.paused;
    note.textContent = `Paused — ${formatCount(this.bufferedEvents)} events buffered`;
    $('view-span').textContent = this.model ? `${formatDuration(tl.viewport.nsPerPx)}/px` : '';
  }

  /** Re-renders DOM panels at most every PANEL_REFRESH_MS (they are heavier than a frame). */
  schedulePanels(now = false) {
    if (now) {
      clearTimeout(this.panelTimer);
      this.panelTimer = null;
      this.renderPanels();
      return;
    }
    if (this.panelTimer) return;
    this.panelTimer = setTimeout(() => {
      this.panelTimer = null;
      this.renderPanels();
    }, PANEL_REFRESH_MS);
  }

  renderPanels() {
    const m = this.model;
    renderSummary($('figures'), m, { onJump: (t, ti) => this.jumpTo(t, ti), onChecks: () => this.showTab('checks') });
    $('lint-count').textContent = m && m.lints.length ? String(m.lints.length) : '';
    $('check-count').textContent = m && (m.violations.count || m.dropped) ? String(m.violations.count + (m.dropped ? 1 : 0)) : '';
    $('check-count').classList.toggle('bad', Boolean(m && (m.violations.count || m.dropped)));
    this.updateToolbar();
    this.renderHead();
    if (this.tab === 'task') this.renderTask();
    else if (this.tab === 'lints') renderLints($('lint-panel'), m, { onJump: (t, ti) => this.jumpTo(t, ti) });
    else renderChecks($('check-panel'), m);
    this.renderSourceMarks();
  }

  renderTask() {
    const m = this.model;
    const box = $('task-panel');
    if (!m || this.selectedTask < 0 || !m.taskList[this.selectedTask]) {
      if (!box.dataset.empty) {
        box.dataset.empty = '1';
        box.replaceChildren(el('p', { class: 'dim pad' }, 'Click a task lane (or a slice on a worker lane) to see the task’s polls, wakes, wakers and await-point state machine.'));
      }
      return;
    }
    delete box.dataset.empty;
    const scroll = box.scrollTop;
    renderTaskPanel(box, m, m.taskList[this.selectedTask], {
      onJump: (t, ti) => this.jumpTo(t, ti),
      onSelect: (ti) => this.selectTask(ti),
      onClose: () => this.selectTask(-1),
    });
    box.scrollTop = scroll;
  }

  /** Await points in the source: all lines reached, and the selected task's current one. */
  renderSourceMarks() {
    const m = this.model;
    const lines = new Map();
    let current = -1;
    let currentText = '';
    if (m) {
      // Bounded: with many tasks, look at the first few thousand probes only.
      let budget = 5000;
      for (const task of m.taskList) {
        for (const probe of task.probes.values()) {
          if (budget-- <= 0) break;
          for (const node of probe.states.values()) {
            const line = this.source.lineOf(node.loc);
            if (line > 0) lines.set(line, (lines.get(line) || 0) + node.count);
          }
        }
        if (budget <= 0) break;
      }
      const task = m.taskList[this.selectedTask];
      if (task) {
        const aw = task.currentAwait();
        if (task.doneT >= 0 && m.taskActivity(task) === 'done') {
          currentText = `${task.label} #${task.id} finished (${task.outcome})`;
        } else if (aw) {
          current = this.source.lineOf(aw.loc);
          currentText = `${task.label} #${task.id} ${m.taskActivity(task) === 'running' ? 'running, last at' : 'suspended at'} ${aw.label}${aw.loc ? ` (${aw.loc})` : ''}`;
        } else {
          currentText = `${task.label} #${task.id}: no await point reported`;
        }
      }
    }
    this.source.markAwaitPoints(lines);
    this.source.highlight(current);
    $('await-now').textContent = currentText;
    $('await-now').hidden = !currentText;
  }

  showTab(tab) {
    this.tab = tab;
    for (const b of document.querySelectorAll('.tab')) b.classList.toggle('active', b.dataset.tab === tab);
    for (const b of document.querySelectorAll('.tab-body')) b.hidden = b.dataset.body !== tab;
    this.schedulePanels(true);
  }

  updateBanner() {
    const text = connectionBanner(this.connection.status, Date.now());
    const banner = $('banner');
    banner.hidden = !text;
    if (text) {
      banner.replaceChildren(text, ' ', el('button', { class: 'small', onclick: () => this.connection.retryNow() }, 'Retry now'));
    }
    const conn = $('conn');
    const st = this.connection.status.state;
    conn.className = `conn ${st}`;
    conn.textContent = st === 'open' ? 'live' : st === 'connecting' ? 'connecting' : 'offline';
  }

  flash(text, kind = '') {
    const box = el('div', { class: `toast ${kind}` }, text);
    document.body.append(box);
    setTimeout(() => box.remove(), kind === 'bad' ? 8000 : 4000);
  }

  // ---- input -----------------------------------------------------------------------

  bindControls() {
    $('run-btn').addEventListener('click', () => this.startRun());
    $('stop-btn').addEventListener('click', () => this.stopRun());
    $('params-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.startRun();
    });
    $('scenario-filter').addEventListener('input', () => this.renderScenarios());
    $('follow-btn').addEventListener('click', () => this.timeline.setFollow(!this.timeline.follow));
    $('pause-btn').addEventListener('click', () => this.togglePause());
    $('zoom-in').addEventListener('click', () => this.timeline.zoom(1.6));
    $('zoom-out').addEventListener('click', () => this.timeline.zoom(1 / 1.6));
    $('fit-btn').addEventListener('click', () => this.timeline.fitAll());
    $('edges-btn').addEventListener('click', () => this.toggleEdges());
    $('collapse-btn').addEventListener('click', () => this.toggleCompact());
    $('task-filter').addEventListener('input', (ev) => this.timeline.setLaneOptions({ filter: ev.target.value }));
    const stall = $('stall-input');
    stall.addEventListener('change', () => {
      const ns = parseDuration(stall.value);
      stall.classList.toggle('invalid', ns == null);
      if (ns == null) return;
      this.timeline.options.stallNs = ns;
      stall.value = formatDuration(ns).replace(' ', '');
      this.timeline.requestRedraw();
    });
    $('help-btn').addEventListener('click', () => this.toggleHelp());
    $('help').addEventListener('click', (ev) => {
      if (ev.target.id === 'help') this.toggleHelp(false);
    });
    $('open-file').addEventListener('click', () => $('file-input').click());
    $('file-input').addEventListener('change', (ev) => {
      const f = ev.target.files[0];
      if (f) this.loadFile(f);
      ev.target.value = '';
    });
    for (const b of document.querySelectorAll('.tab')) b.addEventListener('click', () => this.showTab(b.dataset.tab));
    this.showTab('task');
  }

  toggleEdges() {
    this.timeline.options.wakeEdges = !this.timeline.options.wakeEdges;
    this.timeline.requestRedraw();
    this.updateToolbar();
  }

  toggleCompact() {
    this.timeline.setLaneOptions({ collapseTasks: !this.timeline.laneOptions.collapseTasks });
    this.updateToolbar();
  }

  toggleHelp(force) {
    const help = $('help');
    help.hidden = force === undefined ? !help.hidden : !force;
  }

  bindKeys() {
    window.addEventListener('keydown', (ev) => {
      const target = ev.target;
      if (target && (target.tagName === 'INPUT' || target.tagName === 'SELECT' || target.tagName === 'TEXTAREA')) {
        if (ev.key === 'Escape') target.blur();
        return;
      }
      if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
      const tl = this.timeline;
      const step = tl.viewport.widthPx / 5;
      switch (ev.key) {
        case ' ':
          this.togglePause();
          break;
        case 'f':
          tl.setFollow(!tl.follow);
          break;
        case '+':
        case '=':
          tl.zoom(1.6);
          break;
        case '-':
        case '_':
          tl.zoom(1 / 1.6);
          break;
        case '0':
          tl.fitAll();
          break;
        case 'ArrowLeft':
          tl.pan(step);
          break;
        case 'ArrowRight':
          tl.pan(-step);
          break;
        case 'ArrowUp':
          tl.scrollBy(-60);
          break;
        case 'ArrowDown':
          tl.scrollBy(60);
          break;
        case 'e':
          this.toggleEdges();
          break;
        case 'c':
          this.toggleCompact();
          break;
        case 'r':
          this.startRun();
          break;
        case 'l':
          this.showTab('lints');
          break;
        case '?':
          this.toggleHelp();
          break;
        case 'Escape':
          if (!$('help').hidden) this.toggleHelp(false);
          else this.selectTask(-1);
          break;
        default:
          return;
      }
      ev.preventDefault();
    });
  }

  bindFileDrop() {
    const overlay = $('drop-overlay');
    let depth = 0;
    window.addEventListener('dragenter', (ev) => {
      if (!ev.dataTransfer || ![...ev.dataTransfer.types].includes('Files')) return;
      depth++;
      overlay.hidden = false;
    });
    window.addEventListener('dragleave', () => {
      depth = Math.max(0, depth - 1);
      if (!depth) overlay.hidden = true;
    });
    window.addEventListener('dragover', (ev) => ev.preventDefault());
    window.addEventListener('drop', (ev) => {
      ev.preventDefault();
      depth = 0;
      overlay.hidden = true;
      const f = ev.dataTransfer && ev.dataTransfer.files[0];
      if (f) this.loadFile(f);
    });
  }
}

/** The file a scenario's source is, for matching state `loc`s: `file` if the server says, else derived from the name. */
export function scenarioFile(scenario) {
  if (scenario.file) return scenario.file;
  return `${scenario.name.replace(/-/g, '_')}.rs`;
}

/** Run ids in URLs are text; numeric ones are sent as numbers. */
function parseRunId(text) {
  return /^\d+$/.test(text) ? Number(text) : text;
}

const app = new App();
window.futurescope = {
  app,
  get model() {
    return app.model;
  },
  get view() {
    return app.timeline ? app.timeline.viewport : null;
  },
  get timeline() {
    return app.timeline;
  },
  ready: app.ready,
  get isReady() {
    return app.isReady;
  },
};
app.start().catch((err) => {
  console.error(err);
  app.flash(`The dashboard failed to start: ${err.message}`, 'bad');
});

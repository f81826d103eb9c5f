// app.js — the dashboard page's controller: loads scenarios and runs over HTTP, keeps the
// WebSocket connection (socket.js), owns the current run's model (model.js) and feeds it
// batches through a LiveFeed (which holds them while paused), and wires the views:
// scenario picker, params form, overview strip and timeline, source, task panel, lints,
// summary, run list, the tokio-console pairing box (polling /api/console), saving a run
// and opening saved runs or tokio-console recordings (runfile.js), comparing two runs
// (views/compare.js), keyboard shortcuts and deep links
// (/?scenario=NAME&run=ID&autorun=1, /?compare=ID1,ID2).
//
// Figures are model.js's, geometry layout.js's, painting draw.js's; views/ render DOM.
// For browser tests it exposes window.futurescope = {model, view, timeline, overview,
// compare: {left, right, viewport, view} | null, app, ready}.

import { RunModel } from './model.js';
import { LiveConnection, socketUrl, connectionBanner } from './socket.js';
import { LiveFeed } from './live-feed.js';
import { openRunText, runFileName } from './runfile.js';
import { CONSOLE_FORMAT } from './console-recording.js';
import { TimelineView } from './views/timeline.js';
import { OverviewView } from './views/overview.js';
import { CompareView, paramsText } from './views/compare.js';
import { consoleStatus, renderConsoleBox, copyText } from './views/console-box.js';
import { renderScenarioList, renderScenarioAbout } from './views/scenario-picker.js';
import { isProgramRun, renderProgramHeader, ProgramSource } from './views/program-header.js';
import { renderParamsForm } from './views/params-form.js';
import { SourceView } from './views/source-view.js';
import { renderRunList } from './views/run-list.js';
import { renderTaskPanel, renderOutsidePanel } from './views/task-panel.js';
import { renderLints, renderChecks } from './views/lint-list.js';
import { renderSummary } from './views/summary-bar.js';
import { formatDuration, parseDuration, formatCount } from './units.js';
import { el } from './views/dom.js';

const $ = (id) => document.getElementById(id);
const PANEL_REFRESH_MS = 250;
const CONSOLE_POLL_MS = 3000;

class App {
  constructor() {
    this.scenarios = [];
    this.scenario = null; // selected scenario object
    this.params = null; // params form handle
    this.runs = []; // run summaries, newest first
    this.model = null; // the open run
    this.runId = null;
    this.live = false;
    this.feed = new LiveFeed(new RunModel()); // the open run's gate: applies or holds batches
    this.compare = null; // {ids: [a, b], models, loading} while comparing two runs
    this.replay = null; // after a reconnect: the run the server is asked to replay (see onResubscribe)
    this.importBannerDismissed = false;
    this.selectedTask = -1;
    this.selectedProbe = null; // id of a probe future outside any task whose panel is open
    this.tab = 'task';
    this.panelTimer = null;
    this.panelVersion = -1;
    this.console = document.body.dataset.console || null;
    this.version = document.body.dataset.version || '';
    this.readyResolve = null;
    this.ready = new Promise((resolve) => (this.readyResolve = resolve));
    this.isReady = false;
  }

  /** Whether incoming batches are held back (the LiveFeed's state; it outlives runs). */
  get paused() {
    return this.feed.paused;
  }

  get bufferedEvents() {
    return this.feed.bufferedEvents;
  }

  get buffered() {
    return this.feed.buffered;
  }

  /** The view the toolbar and the keys act on: the timeline, or the comparison. */
  activeView() {
    return this.compare ? this.compareView : this.timeline;
  }

  async start() {
    this.source = new SourceView($('source'), $('source-file'));
    this.timeline = new TimelineView({
      wrap: $('timeline-wrap'),
      canvas: $('timeline'),
      tooltip: $('tooltip'),
      onSelectTask: (i) => this.selectTask(i),
      onSelectProbe: (id) => this.selectProbe(id),
      onViewChange: () => this.updateToolbar(),
      onDrawn: () => this.overview && this.overview.draw(),
    });
    this.overview = new OverviewView({ wrap: $('overview-wrap'), canvas: $('overview'), target: this.timeline });
    this.compareView = new CompareView({
      panes: {
        a: { wrap: $('compare-a-wrap'), canvas: $('compare-a-canvas'), tooltip: $('compare-a-tooltip'), head: $('compare-a-head') },
        b: { wrap: $('compare-b-wrap'), canvas: $('compare-b-canvas'), tooltip: $('compare-b-tooltip'), head: $('compare-b-head') },
      },
      figures: $('compare-figures'),
      onViewChange: () => this.updateToolbar(),
      onDrawn: () => this.compareOverview && this.compareOverview.draw(),
    });
    this.compareOverview = new OverviewView({ wrap: $('compare-overview-wrap'), canvas: $('compare-overview'), target: this.compareView });
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
        onServerError: (m) => this.onServerError(m),
        onEvicted: (m) => this.onEvicted(m),
        onProtocolError: (text) => this.flash(`Protocol: ${text}`, 'bad'),
        onResubscribe: (run) => this.onResubscribe(run),
        onStatus: () => {
          this.updateBanner();
          this.syncLiveEdge();
        },
      },
    });
    this.connection.connect();
    setInterval(() => this.updateBanner(), 1000);
    this.showConsole(null);
    this.pollConsole();
    setInterval(() => {
      if (!document.hidden) this.pollConsole();
    }, CONSOLE_POLL_MS);

    const url = new URLSearchParams(window.location.search);
    await Promise.all([this.loadScenarios(), this.loadRuns()]);
    const wanted = url.get('scenario');
    if (wanted && this.scenarios.some((s) => s.name === wanted)) this.selectScenario(wanted, { updateUrl: false });
    else if (wanted) this.flash(`Unknown scenario "${wanted}"`, 'bad');
    else if (this.scenarios.length) this.selectScenario(this.scenarios[0].name, { updateUrl: false });
    const run = url.get('run');
    if (url.get('opened') === '1') await this.loadOpened();
    else if (run) this.openRun(parseRunId(run));
    else if (url.get('autorun') === '1' && this.scenario) this.startRun();
    const compare = parseCompareParam(url.get('compare'));
    if (compare) this.enterCompare(compare[0], compare[1]);
    else if (url.get('compare') != null) this.flash('?compare= wants two run ids: /?compare=ID1,ID2', 'bad');
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

  /** Asks /api/console whether console-subscriber is on and how many clients attached. */
  async pollConsole() {
    let info = null;
    try {
      const res = await fetch('/api/console');
      if (res.ok) info = await res.json();
    } catch {
      // Offline: keep what the page was rendered with.
    }
    this.consoleInfo = info;
    this.showConsole(info);
  }

  showConsole(info) {
    renderConsoleBox(
      { box: $('console-box'), pill: $('console-status'), command: $('console-command'), copy: $('console-copy'), note: $('console-note'), topPill: $('console-pill') },
      consoleStatus(info, this.console),
    );
  }

  async copyConsoleCommand() {
    const button = $('console-copy');
    const ok = await copyText($('console-command').textContent);
    button.textContent = ok ? 'Copied' : 'Copy failed';
    button.classList.toggle('done', ok);
    clearTimeout(this.copyTimer);
    this.copyTimer = setTimeout(() => {
      button.textContent = 'Copy';
      button.classList.remove('done');
    }, 1600);
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
    if (this.compare) this.exitCompare({ updateUrl: false });
    this.replay = null;
    if (this.runId != null && String(this.runId) !== String(id)) this.connection.unsubscribe(this.runId);
    this.runId = id;
    const summary = this.runs.find((r) => String(r.id) === String(id));
    const scenario = summary ? summary.scenario : this.scenario && this.scenario.name;
    if (summary && summary.scenario && (!this.scenario || this.scenario.name !== summary.scenario)) {
      this.selectScenario(summary.scenario, { updateUrl: false });
    }
    this.setModel(new RunModel({ run: id, scenario, params: summary ? summary.params : {}, status: summary ? summary.status : 'running' }), live);
    this.showProgram(isProgramRun(summary) ? summary : null);
    this.connection.subscribe(id);
    this.updateUrl();
    $('download-link').href = `/api/runs/${encodeURIComponent(id)}/events`;
    $('download-link').download = runFileName(scenario, id);
    $('export-link').href = `/api/runs/${encodeURIComponent(id)}/export?format=chrome`;
    $('download-link').hidden = false;
    $('export-link').hidden = false;
  }

  /** A live program's run (views/program-header.js) instead of a lesson, or back (null). */
  showProgram(summary) {
    clearInterval(this.programTimer);
    this.program = summary;
    if (!summary) return;
    renderProgramHeader($('about'), summary);
    this.programTimer = setInterval(() => renderProgramHeader($('about'), this.program), 1000);
    $('params').replaceChildren();
    this.programSource = new ProgramSource((url) => fetch(url).then((r) => r.json()));
    this.source.setSource('', '');
    this.timeline.setFollow(true);
  }

  /** Shows `model`; a new LiveFeed feeds it (paused if the page was paused). */
  setModel(model, live) {
    this.model = model;
    this.live = live;
    const paused = this.feed.paused;
    this.feed = new LiveFeed(model, () => this.afterIngest());
    if (paused) this.feed.pause();
    this.selectedTask = -1;
    this.selectedProbe = null;
    this.timeline.setModel(model, { live });
    this.timeline.options.selectedProbe = null;
    this.syncLiveEdge();
    this.renderImportBanner();
    this.renderAll();
  }

  /** What an imported tokio-console recording cannot show, above the timeline. */
  renderImportBanner() {
    const m = this.model;
    const show = Boolean(m && m.meta.source === CONSOLE_FORMAT && !this.importBannerDismissed && !this.compare);
    $('import-banner').hidden = !show;
    if (!show) return;
    const r = m.meta.importReport || {};
    $('import-title').textContent = `Imported from a tokio-console recording (${m.meta.file}).`;
    const parts = [`${formatCount(r.tasks)} tasks, ${formatCount(r.polls)} polls`];
    if (r.dropPairs) parts.push(`${formatCount(r.dropPairs)} enter/exits that dropped a finished future not counted as polls`);
    if (r.runtimeThreads) parts.push(`${formatCount(r.runtimeThreads)} runtime thread spans skipped`);
    if (r.otherSpans) parts.push(`${formatCount(r.otherSpans)} enters of non-task spans skipped`);
    $('import-summary').textContent = `${parts.join(' · ')}.`;
    // "what (detail)": the what in bold.
    const lacks = m.meta.lacks.flatMap((text, i) => {
      const what = text.split(' (')[0];
      return [i ? '; ' : '', el('b', {}, what), text.slice(what.length)];
    });
    $('import-lacks').replaceChildren(...lacks, '.');
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
    if (this.isReplayOf(msg)) this.takeReplay();
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
    if (this.isReplayOf(msg)) this.takeReplay();
    if (!this.feed.push(msg.events)) this.updateToolbar();
  }

  onEnd(msg) {
    if (this.isReplayOf(msg)) this.takeReplay();
    const run = this.runs.find((r) => String(r.id) === String(msg.run));
    if (run) Object.assign(run, { status: msg.status, error: msg.error, counts: msg.counts || run.counts });
    else this.addRun({ id: msg.run, status: msg.status, error: msg.error, counts: msg.counts });
    this.renderRuns();
    if (this.model && String(msg.run) === String(this.runId)) {
      this.model.meta.status = msg.status;
      this.model.meta.error = msg.error;
      this.model.meta.counts = msg.counts;
      this.live = false;
      this.timeline.setLive(false);
      if (msg.error) this.flash(`Run ${msg.run} ${msg.status}: ${msg.error}`, 'bad');
      this.renderHead();
      this.schedulePanels(true);
    }
  }

  /** The connection came back: the server replays the run from its start. */
  /**
   * The connection came back and the run was subscribed again: the server replays it
   * from its start. What the page has stays on screen until the server confirms it still
   * has the run (its `run` message or a first batch); a restarted server may not, and
   * then says so with an error for that run, and the page keeps what it had.
   */
  onResubscribe(run) {
    if (String(run) !== String(this.runId) || !this.model) return;
    this.replay = {
      run,
      meta: { ...this.model.meta },
      keepTask: this.selectedTask,
      view: this.timeline.viewport.snapshot(),
      follow: this.timeline.follow,
    };
  }

  /** Swaps in a fresh model for the replay the server confirmed, keeping the view. */
  takeReplay() {
    const r = this.replay;
    this.replay = null;
    this.setModel(new RunModel({ ...r.meta }), this.live || r.meta.status === 'running');
    this.timeline.viewport.t0 = r.view.t0;
    this.timeline.viewport.nsPerPx = r.view.nsPerPx;
    this.timeline.follow = r.follow;
    this.timeline.autoFit = r.follow;
    this.pendingSelect = r.keepTask;
  }

  isReplayOf(msg) {
    return Boolean(this.replay && msg.run != null && String(msg.run) === String(this.replay.run));
  }

  /** The server dropped a kept run (memory budget): it can no longer be opened or saved. */
  onEvicted(msg) {
    this.runs = this.runs.filter((r) => String(r.id) !== String(msg.run));
    this.renderRuns();
    if (String(msg.run) === String(this.runId)) {
      $('download-link').hidden = true;
      $('export-link').hidden = true;
      this.flash(`The server evicted run ${msg.run}${msg.reason ? ` (${msg.reason})` : ''}: this page keeps what it received, but it can no longer be saved.`, 'bad');
    }
  }

  onServerError(msg) {
    if (this.isReplayOf(msg)) {
      // The server restarted and no longer has the run: keep what the page received.
      this.replay = null;
      this.connection.unsubscribe(msg.run);
      if (this.model.meta.status === 'running') this.model.meta.status = 'unknown';
      this.live = false;
      this.timeline.setLive(false);
      this.renderHead();
      this.flash(`The server no longer has run ${msg.run} (it restarted): showing what this page had received of it.`, 'bad');
      return;
    }
    this.flash(`Server: ${msg.error}`, 'bad');
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

  /** Pauses or resumes applying live batches; on resume the held ones go in, in order. */
  togglePause(force) {
    this.feed.setPaused(force ?? !this.feed.paused);
    this.syncLiveEdge();
    this.updateToolbar();
  }

  /** The live edge stands still while paused or offline (no events can be on their way). */
  syncLiveEdge() {
    if (!this.timeline) return;
    const offline = this.connection && this.connection.status.state !== 'open';
    this.timeline.setFrozen(this.feed.paused || Boolean(offline));
  }

  /** Opens a saved run or a tokio-console recording (file picker or drop). */
  loadFile(file) {
    const reader = new FileReader();
    reader.onload = () => this.loadText(String(reader.result), file.name);
    reader.onerror = () => this.flash(`Could not read ${file.name}: ${reader.error && reader.error.message}`, 'bad');
    reader.readAsText(file);
  }

  /** The run given on the command line (`futurescope open FILE`, deep link `?opened=1`). */
  async loadOpened() {
    try {
      const res = await fetch('/api/opened');
      if (!res.ok) throw new Error(`${res.status} ${res.statusText}`);
      const name = (res.headers.get('content-disposition') || '').match(/filename="([^"]*)"/);
      this.loadText(await res.text(), name ? name[1] : 'opened run');
    } catch (err) {
      this.flash(`Could not load the opened run: ${err.message}`, 'bad');
    }
  }

  /** Shows a saved run or a console recording given as text. */
  loadText(text, fileName) {
    try {
      const opened = openRunText(text, fileName);
      if (this.compare) this.exitCompare({ updateUrl: false });
      this.replay = null;
      if (this.runId != null) this.connection.unsubscribe(this.runId);
      this.runId = null;
      const scenario = opened.model.meta.scenario;
      if (scenario && this.scenarios.some((s) => s.name === scenario)) this.selectScenario(scenario, { updateUrl: false });
      this.importBannerDismissed = false;
      this.setModel(opened.model, false);
      $('download-link').hidden = true;
      $('export-link').hidden = true;
      this.updateUrl();
      this.flash(opened.note, opened.tone);
    } catch (err) {
      this.flash(`Could not open ${fileName}: ${err.message}`, 'bad');
    }
  }

  // ---- comparing two runs ----------------------------------------------------------

  /** Opens the dialog to pick runs A and B; proposes the open run and its predecessor. */
  openCompareDialog() {
    const runs = this.runs.filter((r) => r.id != null);
    if (runs.length < 2) {
      this.flash('Comparing needs two runs: run a scenario twice (e.g. two variants) first.', 'bad');
      return;
    }
    const label = (r) => `#${r.id} ${r.scenario || '?'}${paramsText(r.params) ? ` (${paramsText(r.params)})` : ''}${r.status && r.status !== 'finished' ? ` — ${r.status}` : ''}`;
    const fill = (select, selected) => {
      select.replaceChildren(...runs.map((r) => el('option', { value: String(r.id), selected: String(r.id) === String(selected) }, label(r))));
    };
    const current = this.compare ? this.compare.ids : null;
    const a = current ? current[0] : this.runId != null ? this.runId : runs[1].id;
    const aRun = runs.find((r) => String(r.id) === String(a));
    const sameScenario = runs.find((r) => String(r.id) !== String(a) && aRun && r.scenario === aRun.scenario);
    const b = current ? current[1] : (sameScenario || runs.find((r) => String(r.id) !== String(a))).id;
    // A is the older run when both are proposed: "before" on top.
    const [first, second] = !current && Number(b) < Number(a) ? [b, a] : [a, b];
    fill($('compare-pick-a'), first);
    fill($('compare-pick-b'), second);
    $('compare-error').hidden = true;
    $('compare-dialog').hidden = false;
    $('compare-pick-a').focus();
  }

  /**
   * Loads runs `a` and `b` (their recorded events, over HTTP) and shows them compared. A
   * run still going is compared as it is so far, and reloaded when it ends (`keepView`
   * then keeps the zoom).
   */
  async enterCompare(a, b, { keepView = false } = {}) {
    $('compare-dialog').hidden = true;
    const ids = [parseRunId(String(a)), parseRunId(String(b))];
    const token = {};
    const view = keepView ? this.compareView.viewport.snapshot() : null;
    this.compare = { ids, token, loading: true, models: [null, null] };
    this.showCompareLayout(true);
    if (!keepView) this.compareView.clear();
    $('compare-title').textContent = `#${ids[0]} and #${ids[1]}: loading…`;
    this.renderHead();
    this.updateUrl();
    this.updateToolbar();
    try {
      const models = await Promise.all(ids.map((id) => this.fetchRunModel(id)));
      if (!this.compare || this.compare.token !== token) return;
      this.compare.models = models;
      this.compare.loading = false;
      this.compareView.setModels(models[0], models[1]);
      // The source pane shows A's scenario (the comparison is usually of one scenario's variants).
      const scenario = models[0].meta.scenario;
      if (scenario && (!this.scenario || this.scenario.name !== scenario) && this.scenarios.some((s) => s.name === scenario)) {
        this.selectScenario(scenario, { updateUrl: false });
      }
      if (view) this.compareView.setView(view.t0, view.nsPerPx);
      const same = models[0].meta.scenario === models[1].meta.scenario;
      const going = models.filter((m) => m.meta.status === 'running').map((m) => `#${m.meta.run}`);
      $('compare-title').textContent = `${same ? `${models[0].meta.scenario}: ` : ''}two runs on one time axis, each from its own start${
        going.length ? ` — ${going.join(' and ')} still running: shown so far, reloaded when it ends` : ''
      }`;
      this.updateToolbar();
      if (going.length) this.reloadCompareWhenDone(token);
    } catch (err) {
      if (!this.compare || this.compare.token !== token) return;
      this.flash(`Could not compare: ${err.message}`, 'bad');
      this.exitCompare();
    }
  }

  /** Polls the compared runs that are still going; reloads the comparison when one ends. */
  async reloadCompareWhenDone(token) {
    const current = () => this.compare && this.compare.token === token;
    while (current()) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      if (!current()) return;
      const going = this.compare.models.filter((m) => m.meta.status === 'running');
      const statuses = await Promise.all(
        going.map((m) =>
          fetch(`/api/runs/${encodeURIComponent(m.meta.run)}`)
            .then((r) => (r.ok ? r.json() : { status: 'running' }))
            .then((r) => r.status)
            .catch(() => 'running'),
        ),
      );
      if (!current()) return;
      if (statuses.some((st) => st !== 'running')) {
        for (const [i, m] of going.entries()) {
          const run = this.runs.find((r) => String(r.id) === String(m.meta.run));
          if (run) run.status = statuses[i];
        }
        this.enterCompare(this.compare.ids[0], this.compare.ids[1], { keepView: true });
        return;
      }
    }
  }

  /** Run `id`'s recorded events as a model (a snapshot when it is still running). */
  async fetchRunModel(id) {
    // The status first: a run that was over before its events were read is complete.
    const info = await fetch(`/api/runs/${encodeURIComponent(id)}`)
      .then((r) => (r.ok ? r.json() : null))
      .catch(() => null);
    const res = await fetch(`/api/runs/${encodeURIComponent(id)}/events`);
    if (!res.ok) {
      const data = await res.json().catch(() => ({}));
      throw new Error(data.error || `run ${id}: ${res.status} ${res.statusText}`);
    }
    const { model } = openRunText(await res.text(), `run ${id}`);
    const summary = this.runs.find((r) => String(r.id) === String(id));
    const status = info ? info.status : summary ? summary.status : 'finished';
    if (summary && info) summary.status = info.status;
    Object.assign(model.meta, { run: model.meta.run ?? id, status, file: null });
    return model;
  }

  exitCompare({ updateUrl = true } = {}) {
    if (!this.compare) return;
    this.compare = null;
    this.compareView.clear();
    this.showCompareLayout(false);
    if (updateUrl) this.updateUrl();
    this.timeline.requestRedraw();
    this.renderHead();
    this.updateToolbar();
  }

  showCompareLayout(on) {
    $('compare-pane').hidden = !on;
    for (const id of ['overview-wrap', 'timeline-wrap', 'dock']) $(id).hidden = on;
    this.renderImportBanner();
    for (const id of ['follow-btn', 'pause-btn']) $(id).disabled = on;
  }

  // ---- selection -------------------------------------------------------------------

  selectScenario(name, { updateUrl = true } = {}) {
    const s = this.scenarios.find((x) => x.name === name);
    if (!s) return;
    this.scenario = s;
    if (this.program) this.showProgram(null);
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
    this.selectedProbe = null;
    this.timeline.options.selectedProbe = null;
    this.timeline.selectTask(index);
    if (index >= 0) this.timeline.revealTask(index);
    const task = this.program && this.model && this.model.taskList[index];
    if (task) this.programSource.show(this.runId, task.loc, this.source);
    this.showTab('task');
    this.schedulePanels(true);
  }

  /** Opens the state machines of the probe futures outside any task, `id` selected. */
  selectProbe(id) {
    this.selectedTask = -1;
    this.selectedProbe = id;
    this.timeline.options.selectedProbe = id;
    this.timeline.selectTask(-1);
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
    // The comparison's link is the two ids alone, with a plain comma: /?compare=3,4.
    const query = this.compare ? `compare=${this.compare.ids.map((id) => encodeURIComponent(id)).join(',')}` : String(q);
    const next = `${window.location.pathname}?${query}`;
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
    if (this.compare) {
      title.textContent = `compare #${this.compare.ids[0]} · #${this.compare.ids[1]}`;
      status.hidden = true;
    } else if (!m) {
      title.textContent = this.scenario ? this.scenario.title || this.scenario.name : 'no run';
      status.hidden = true;
    } else {
      const what = m.meta.file ? m.meta.file : `run #${m.meta.run}`;
      const source = m.meta.source === CONSOLE_FORMAT ? 'tokio-console recording' : 'events';
      title.textContent = `${m.meta.scenario || source} · ${what}`;
      status.hidden = false;
      status.textContent = m.meta.status;
      status.className = `pill ${m.meta.status}`;
    }
    $('stop-btn').disabled = !(m && m.meta.status === 'running' && this.runId != null);
  }

  updateToolbar() {
    const tl = this.activeView();
    // Called on every wheel event (onViewChange): only write what changed, so input
    // never dirties the layout for nothing.
    $('follow-btn').classList.toggle('on', tl.follow);
    $('pause-btn').classList.toggle('on', this.paused);
    setText($('pause-btn'), this.paused ? '\u25B6 Resume' : '\u2759\u2759 Pause');
    $('edges-btn').classList.toggle('on', tl.options.wakeEdges);
    $('states-btn').classList.toggle('on', Boolean(tl.options.stateStrip));
    $('collapse-btn').classList.toggle('on', tl.laneOptions.collapseTasks);
    const note = $('paused-note');
    if (note.hidden !== !this.paused) note.hidden = !this.paused;
    if (this.paused) {
      // Only shown while paused (formatting the count costs more than the rest of this).
      const ended = this.model && this.model.meta.status !== 'running' && this.bufferedEvents ? ' (the run has ended)' : '';
      setText(note, `Paused — ${formatCount(this.bufferedEvents)} events buffered${ended}`);
    }
    setText($('view-span'), this.model || this.compare ? `${formatDuration(tl.viewport.nsPerPx)}/px` : '');
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
    if (m && this.selectedProbe != null && m.outside.probes.has(this.selectedProbe)) {
      delete box.dataset.empty;
      const scroll = box.scrollTop;
      renderOutsidePanel(box, m, this.selectedProbe, { onClose: () => this.selectTask(-1) });
      box.scrollTop = scroll;
      return;
    }
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
    // A program's pane highlights the selected task's spawn line (views/program-header.js).
    if (!this.program || current > 0) this.source.highlight(current);
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
    $('zoom-in').addEventListener('click', () => this.activeView().zoom(1.6));
    $('zoom-out').addEventListener('click', () => this.activeView().zoom(1 / 1.6));
    $('fit-btn').addEventListener('click', () => this.activeView().fitAll());
    $('edges-btn').addEventListener('click', () => this.toggleEdges());
    $('states-btn').addEventListener('click', () => this.toggleStates());
    $('collapse-btn').addEventListener('click', () => this.toggleCompact());
    $('task-filter').addEventListener('input', (ev) => {
      // Both the run's timeline and the comparison follow the filter.
      this.timeline.setLaneOptions({ filter: ev.target.value });
      this.compareView.setLaneOptions({ filter: ev.target.value });
    });
    const stall = $('stall-input');
    stall.addEventListener('change', () => {
      const ns = parseDuration(stall.value);
      stall.classList.toggle('invalid', ns == null);
      if (ns == null) return;
      this.timeline.options.stallNs = ns;
      this.compareView.setOption('stallNs', ns);
      stall.value = formatDuration(ns).replace(' ', '');
      this.timeline.requestRedraw();
    });
    $('compare-btn').addEventListener('click', () => this.openCompareDialog());
    $('compare-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const a = $('compare-pick-a').value;
      const b = $('compare-pick-b').value;
      if (a === b) {
        $('compare-error').hidden = false;
        $('compare-error').textContent = 'Pick two different runs.';
        return;
      }
      this.enterCompare(a, b);
    });
    $('compare-cancel').addEventListener('click', () => ($('compare-dialog').hidden = true));
    $('compare-dialog').addEventListener('click', (ev) => {
      if (ev.target.id === 'compare-dialog') $('compare-dialog').hidden = true;
    });
    $('compare-close').addEventListener('click', () => this.exitCompare());
    $('compare-swap').addEventListener('click', () => {
      if (this.compare) this.enterCompare(this.compare.ids[1], this.compare.ids[0]);
    });
    $('import-dismiss').addEventListener('click', () => {
      this.importBannerDismissed = true;
      this.renderImportBanner();
    });
    $('console-copy').addEventListener('click', () => this.copyConsoleCommand());
    // The top bar's address (only there when the console is on) points at the pairing box.
    $('console-pill')?.addEventListener('click', () => {
      const box = $('console-box');
      box.scrollIntoView({ block: 'nearest' });
      box.classList.remove('flash');
      void box.offsetWidth; // restart the highlight animation
      box.classList.add('flash');
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
    const on = !this.activeView().options.wakeEdges;
    this.timeline.options.wakeEdges = on;
    this.compareView.setOption('wakeEdges', on);
    this.timeline.requestRedraw();
    this.updateToolbar();
  }

  /** Colours task lanes by the await point their root future is suspended at (`s`). */
  toggleStates() {
    const on = !this.activeView().options.stateStrip;
    this.timeline.options.stateStrip = on;
    this.compareView.setOption('stateStrip', on);
    this.timeline.requestRedraw();
    this.updateToolbar();
  }

  toggleCompact() {
    const on = !this.activeView().laneOptions.collapseTasks;
    this.timeline.setLaneOptions({ collapseTasks: on });
    this.compareView.setLaneOptions({ collapseTasks: on });
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
      if (!$('compare-dialog').hidden) {
        if (ev.key === 'Escape') $('compare-dialog').hidden = true;
        return;
      }
      const tl = this.activeView();
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
        case 's':
          this.toggleStates();
          break;
        case 'r':
          this.startRun();
          break;
        case 'l':
          this.showTab('lints');
          break;
        case 'k':
          this.openCompareDialog();
          break;
        case '?':
          this.toggleHelp();
          break;
        case 'Escape':
          if (!$('help').hidden) this.toggleHelp(false);
          else if (this.compare) this.exitCompare();
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

/** `?compare=ID1,ID2` as two run ids, or null. */
function parseCompareParam(text) {
  if (!text) return null;
  const ids = text.split(',').map((x) => x.trim()).filter(Boolean);
  return ids.length === 2 ? ids.map(parseRunId) : null;
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
  get overview() {
    return app.overview;
  },
  /** While comparing: {left, right} models (null until loaded), the shared viewport, the view. */
  get compare() {
    if (!app.compare) return null;
    const [left, right] = app.compare.models;
    return { ids: app.compare.ids, left, right, loading: app.compare.loading, viewport: app.compareView.viewport, view: app.compareView, overview: app.compareOverview };
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

/** Sets an element's text only when it differs (a write that changes nothing still invalidates layout). */
function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

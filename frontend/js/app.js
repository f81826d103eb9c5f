// app.js — the dashboard page: creates the store, the views and the app modules, wires
// them, and reads the deep link. It is also the run controller: starting, stopping and
// opening runs, showing a model, selecting scenarios and tasks.
//
// Module layout (plain ES modules, no build step):
//   app/store.js           the ONE owner of the page's state: `store.state`, one update
//                          path `store.update(patch)`, `store.subscribe(fn(state, changed))`.
//                          Every field the page keeps is listed in `initialState()`.
//   app/api.js             every HTTP call (fetch*, startRun, cancelRun); no state
//   app/live.js            the WebSocket (socket.js) and its messages; the LiveFeed gate of
//                          the open run's batches; replay after a reconnect; the banner
//   app/compare-mode.js    comparing two runs: the dialog, loading, polling a going run
//   app/files.js           Open…, drag-and-drop, ?opened=1
//   app/toolbar.js         the toolbar; TOGGLES, the one on/off mechanism; Save/Perfetto
//   app/keys.js            keyboard shortcuts
//   app/panels.js          run head, scenario and run lists, figure bar, dock tabs, source
//                          marks, import banner: rendered from the store
//   app/console-pairing.js the tokio-console pairing box (polls /api/console)
//   app/snapshots.js       task dumps: Snapshot button / key d, the Snapshots tab, frame → source
//   app/toast.js           flash(text, kind)
//   app/retention.js       a live run's bounded window on the page and its "showing the
//                          last N minutes" notice (retained-window.js keeps the batches)
// Drawing and DOM rendering are views/*.js's, figures model.js's, geometry layout.js's.
//
// Hooking in a new piece of UI (future rows, a Marks tab, a step bar, ...):
//   - put it in a NEW module (frontend/js/views/your-thing.js for rendering; app/ for
//     behaviour), give it the app (`app.store`, `app.timeline`, ...) and add one line
//     below in `start()` creating it;
//   - state it keeps that other parts read goes in `initialState()` (app/store.js) and
//     changes only through `app.store.update({...})`; render it from a subscriber:
//     `app.store.subscribe((state, changed) => { if (changed.has('yourKey')) ... })`;
//   - an on/off toolbar toggle is a row in TOGGLES (app/toolbar.js) plus its button; a
//     timeline drawing option reaches the timelines only in `applyDisplay` below, through
//     `setOption` / `setLaneOptions` (never by writing `timeline.options`);
//   - a dock tab is a `.tab` button + `.tab-body` in index.html; `store.update({tab})`
//     shows it, and panels.js renders it when its name is the tab.
//
// Deep links: /?scenario=NAME&run=ID[&instance=X] (X: the server's instance, so a link
// made before a restart says so instead of showing another run #ID), &autorun=1 (runs when linked from the dashboard
// itself; from another site it only focuses Run: starting work takes the user's action), &step=1
// (step mode: focuses the Step button, which starts the run paused; with autorun from the
// dashboard itself it starts stepped), /?compare=ID1,ID2, /?opened=1.
// For browser tests it exposes window.futurescope = {model, view, timeline, overview,
// compare: {left, right, viewport, view} | null, app, ready}.

import { RunModel } from './model.js';
import { TimelineView } from './views/timeline.js';
import { OverviewView } from './views/overview.js';
import { CompareView } from './views/compare.js';
import { renderScenarioAbout } from './views/scenario-picker.js';
import { renderParamsForm } from './views/params-form.js';
import { SourceView } from './views/source-view.js';
import { ProgramView } from './views/program-header.js';
import { Store, initialState } from './app/store.js';
import * as api from './app/api.js';
import { Live } from './app/live.js';
import { CompareMode, parseRunId, parseCompareParam } from './app/compare-mode.js';
import { Files } from './app/files.js';
import { Toolbar } from './app/toolbar.js';
import { bindKeys } from './app/keys.js';
import { Panels } from './app/panels.js';
import { ConsolePairing } from './app/console-pairing.js';
import { Snapshots } from './app/snapshots.js';
import { flash } from './app/toast.js';
import { Retention, windowLimits } from './app/retention.js';
import { TaskTable } from './views/task-table.js';
import { StepBar } from './views/step-bar.js';

const $ = (id) => document.getElementById(id);

class App {
  constructor() {
    this.store = new Store(initialState({ console: document.body.dataset.console || null, version: document.body.dataset.version || '' }));
    this.params = null; // the selected scenario's params form (a DOM handle, not state)
    this.readyResolve = null;
    this.ready = new Promise((resolve) => (this.readyResolve = resolve));
    this.isReady = false;
  }

  // Read-only views of the store for the browser tests and the console.
  get paused() {
    return this.store.state.paused;
  }
  get tab() {
    return this.store.state.tab;
  }
  get selectedTask() {
    return this.store.state.selectedTask;
  }
  get bufferedEvents() {
    return this.live.feed.bufferedEvents;
  }
  get connection() {
    return this.live.connection;
  }

  /** The view the toolbar and the keys act on: the timeline, or the comparison. */
  activeView() {
    return this.store.state.compare ? this.compareView : this.timeline;
  }

  async start() {
    const store = this.store;
    this.source = new SourceView($('source'), $('source-file'));
    this.timeline = new TimelineView({
      wrap: $('timeline-wrap'),
      canvas: $('timeline'),
      tooltip: $('tooltip'),
      onSelectTask: (i) => this.selectTask(i),
      onSelectProbe: (id) => this.selectProbe(id),
      onSelectSnapshot: (i, task) => this.snapshots.open(i, { task }),
      onViewChange: () => this.toolbar.update(),
      onDrawn: () => this.overview && this.overview.draw(),
      defaultOpenFutures: (m) => this.store.state.scenarios.find((s) => s.name === m.meta.scenario)?.open_futures || [],
    });
    this.overview = new OverviewView({ wrap: $('overview-wrap'), canvas: $('overview'), target: this.timeline });
    this.compareView = new CompareView({
      panes: {
        a: { wrap: $('compare-a-wrap'), canvas: $('compare-a-canvas'), tooltip: $('compare-a-tooltip'), head: $('compare-a-head') },
        b: { wrap: $('compare-b-wrap'), canvas: $('compare-b-canvas'), tooltip: $('compare-b-tooltip'), head: $('compare-b-head') },
      },
      figures: $('compare-figures'),
      onViewChange: () => this.toolbar.update(),
      onDrawn: () => this.compareOverview && this.compareOverview.draw(),
    });
    this.compareOverview = new OverviewView({ wrap: $('compare-overview-wrap'), canvas: $('compare-overview'), target: this.compareView });

    this.retention = new Retention(this, windowLimits(window.location.search));
    this.live = new Live(this);
    this.toolbar = new Toolbar(this);
    this.panels = new Panels(this);
    this.compareMode = new CompareMode(this);
    this.files = new Files(this);
    this.consolePairing = new ConsolePairing(this);
    this.programView = new ProgramView(this);
    this.taskTable = new TaskTable($('tasks-panel'), { onSelect: (i) => this.store.update({ selectedTask: i, selectedProbe: null }) });
    this.stepBar = new StepBar(this);
    this.snapshots = new Snapshots(this);
    store.subscribe((state, changed) => this.applyDisplay(state, changed));
    this.toolbar.bind();
    this.panels.bind();
    this.compareMode.bind();
    this.files.bind();
    this.stepBar.bind();
    this.snapshots.bind();
    this.bindControls();
    bindKeys(this);
    this.live.start();
    this.consolePairing.start();

    const url = new URLSearchParams(window.location.search);
    await Promise.all([this.loadScenarios(), this.loadRuns()]);
    const { scenarios } = store.state;
    const wanted = url.get('scenario');
    if (wanted && scenarios.some((s) => s.name === wanted)) this.selectScenario(wanted, { updateUrl: false });
    else if (wanted) flash(`Unknown scenario "${wanted}"`, 'bad');
    else if (scenarios.length) this.selectScenario(scenarios[0].name, { updateUrl: false });
    const run = url.get('run');
    if (url.get('opened') === '1') await this.files.loadOpened();
    else if (run) await this.openLinkedRun(parseRunId(run), url.get('instance'));
    else if (url.get('autorun') === '1' && store.state.scenario) {
      // Starting work takes the user's own action: a link from another site (or with no
      // referrer) only gets the scenario ready to run; a link within the dashboard runs it.
      const step = url.get('step') === '1';
      if (sameOriginReferrer()) this.startRun({ step });
      else this.offerRun({ step });
    } else if (url.get('step') === '1' && store.state.scenario) this.offerRun({ step: true });
    const compare = parseCompareParam(url.get('compare'));
    if (compare) this.compareMode.enter(compare[0], compare[1]);
    else if (url.get('compare') != null) flash('?compare= wants two run ids: /?compare=ID1,ID2', 'bad');
    this.panels.renderAll();
    this.toolbar.update();
    this.isReady = true;
    this.readyResolve(true);
  }

  /** Pushes the store's display state to the timelines: the only place that sets their options. */
  applyDisplay(state, changed) {
    const views = [this.timeline, this.compareView];
    for (const key of ['wakeEdges', 'stateStrip', 'stallNs']) {
      if (changed.has(key)) for (const v of views) v.setOption(key, state[key]);
    }
    if (changed.has('collapseTasks')) for (const v of views) v.setLaneOptions({ collapseTasks: state.collapseTasks });
    if (changed.has('taskFilter')) for (const v of views) v.setLaneOptions({ filter: state.taskFilter });
    if (changed.has('groupSites')) for (const v of views) v.setLaneOptions({ groupSites: state.groupSites });
    if (changed.has('program') && state.program && !this.sitesDefaulted) {
      // A live program's tasks per connection are one lane per spawn site, until the user says otherwise.
      this.sitesDefaulted = true;
      if (!state.groupSites) queueMicrotask(() => this.store.update({ groupSites: true }));
    }
    if (changed.has('selectedProbe')) this.timeline.setOption('selectedProbe', state.selectedProbe);
    if (changed.has('selectedTask')) this.timeline.selectTask(state.selectedTask);
    if (changed.has('live') && this.timeline.live !== state.live) this.timeline.setLive(state.live);
    if (changed.has('paused')) this.syncLiveEdge();
  }

  bindControls() {
    $('run-btn').addEventListener('click', () => this.startRun());
    $('stop-btn').addEventListener('click', () => this.stopRun());
    $('params-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.startRun();
    });
    $('help-btn').addEventListener('click', () => this.toggleHelp());
    $('help').addEventListener('click', (ev) => {
      if (ev.target.id === 'help') this.toggleHelp(false);
    });
  }

  toggleHelp(force) {
    const help = $('help');
    help.hidden = force === undefined ? !help.hidden : !force;
  }

  // ---- what the server offers ------------------------------------------------------

  async loadScenarios() {
    try {
      this.store.update({ scenarios: await api.fetchScenarios() });
    } catch (err) {
      this.store.update({ scenarios: [] });
      flash(`Could not load scenarios: ${err.message}`, 'bad');
    }
  }

  async loadRuns() {
    try {
      this.store.update({ runs: await api.fetchRuns() });
    } catch {
      // The hello message carries the runs too.
    }
  }

  // ---- runs ------------------------------------------------------------------------

  /**
   * Highlights and focuses Run with "press Run to start" (an `autorun` link from elsewhere);
   * with `step` (`?step=1`), the Step button, which starts the run paused.
   */
  offerRun({ step = false } = {}) {
    const button = $(step ? 'step-run-btn' : 'run-btn');
    button.classList.add('ready');
    $('run-hint').textContent = step ? 'press Step to start it paused' : 'press Run to start';
    $('run-hint').hidden = false;
    button.focus();
  }

  /** Starts the selected scenario; with `step`, paused before its first poll (step mode). */
  async startRun({ step = false } = {}) {
    $('run-btn').classList.remove('ready');
    $('step-run-btn').classList.remove('ready');
    $('run-hint').hidden = true;
    const scenario = this.store.state.scenario;
    if (!scenario) return;
    const errors = this.params.errors();
    const box = $('params-error');
    box.hidden = !errors.length;
    box.textContent = errors.join('; ');
    if (errors.length) return;
    const params = this.params.read();
    $('run-btn').disabled = true;
    $('step-run-btn').disabled = true;
    try {
      const data = await api.startRun(scenario.name, params, { step });
      this.live.addRun({ id: data.run, scenario: scenario.name, params, status: 'running' });
      this.openRun(data.run, { live: true });
      if (data.step) this.stepBar.begin(data.run, data.step);
    } catch (err) {
      if (err.status) {
        box.hidden = false;
        box.textContent = err.message;
      } else flash(`Could not start the run: ${err.message}`, 'bad');
    } finally {
      $('run-btn').disabled = false;
      $('step-run-btn').disabled = false;
    }
  }

  async stopRun() {
    const runId = this.store.state.runId;
    if (runId == null) return;
    try {
      await api.cancelRun(runId);
    } catch (err) {
      flash(err.status ? err.message : `Cancel failed: ${err.message}`, 'bad');
    }
  }

  /**
   * A run from a link: asked for over HTTP first, so a run the server does not have (404),
   * or one of an earlier server (410, when the link names the server's instance), shows
   * as such instead of as an empty "running" run.
   */
  async openLinkedRun(id, instance = null) {
    try {
      const summary = await api.fetchRun(id, instance);
      if (summary && summary.id != null) this.live.addRun(summary);
    } catch (err) {
      if (err.status === 404) return this.showMissing(id, 'missing');
      if (err.status === 410) return this.showMissing(id, 'earlier');
      // Offline or another error: open it as a click in the run list would.
    }
    this.openRun(id, { instance });
  }

  /** Shows "no such run" (or "belongs to an earlier server") for run `id`: nothing that cannot work is offered. */
  showMissing(id, reason) {
    const state = this.store.state;
    if (state.compare) this.compareMode.exit({ updateUrl: false });
    this.live.unsubscribe(state.runId);
    this.live.feedModel(new RunModel());
    this.timeline.emptyText = `No run #${id} ${reason === 'earlier' ? 'of this server' : 'on this server'}`;
    this.timeline.setModel(null);
    this.toolbar.showRunLinks(null);
    this.store.update({ runId: null, runInstance: null, model: null, live: false, selectedTask: -1, selectedProbe: null, missing: { run: id, reason, kept: false } });
  }

  /**
   * The open run belongs to an earlier server (the server restarted, its instance changed):
   * what the page received stays on screen, marked as such, and nothing more is asked of
   * the new server about it (its run with the same id is another run).
   */
  markEarlierServer() {
    const { runId, model } = this.store.state;
    if (runId == null || !model) return;
    this.live.unsubscribe(runId);
    if (model.meta.status === 'running') model.meta.status = 'unknown';
    this.toolbar.showRunLinks(null);
    this.store.update({ runId: null, runInstance: null, model, live: false, missing: { run: runId, reason: 'earlier', kept: true } });
  }

  /** Opens run `id`: a fresh model, subscribed over the WebSocket (replayed from its start). */
  openRun(id, { live = true, instance = null } = {}) {
    const state = this.store.state;
    if (state.compare) this.compareMode.exit({ updateUrl: false });
    if (state.runId != null && String(state.runId) !== String(id)) this.live.unsubscribe(state.runId);
    const summary = state.runs.find((r) => String(r.id) === String(id));
    const scenario = summary ? summary.scenario : state.scenario && state.scenario.name;
    if (summary && summary.scenario && (!state.scenario || state.scenario.name !== summary.scenario)) {
      this.selectScenario(summary.scenario, { updateUrl: false });
    }
    this.store.update({ runId: id, runInstance: (summary && summary.instance) || instance || state.instance || null });
    this.setModel(new RunModel({ run: id, scenario, params: summary ? summary.params : {}, status: summary ? summary.status : 'running' }), live);
    this.live.subscribe(id);
    this.updateUrl();
    this.toolbar.showRunLinks(id, scenario);
  }

  /** Shows an opened file's model (not one of the server's runs); `events` feed its Perfetto export. */
  showFile(model, reread) {
    const state = this.store.state;
    if (state.compare) this.compareMode.exit({ updateUrl: false });
    this.live.unsubscribe(state.runId);
    this.store.update({ runId: null, runInstance: null, importBannerDismissed: false });
    const scenario = model.meta.scenario;
    if (scenario && state.scenarios.some((s) => s.name === scenario)) this.selectScenario(scenario, { updateUrl: false });
    this.setModel(model, false);
    this.toolbar.showFileExport(reread, model.meta.scenario || (model.meta.source === 'futurescope-events' ? 'events' : 'tokio-console recording'), model.meta.file);
    this.updateUrl();
  }

  /** Shows `model`; a new LiveFeed feeds it (paused if the page is paused). */
  setModel(model, live) {
    this.live.feedModel(model);
    this.timeline.emptyText = undefined;
    this.timeline.setModel(model, { live });
    this.store.update({ model, live, selectedTask: -1, selectedProbe: null, missing: null });
    this.syncLiveEdge();
  }

  /** Pauses or resumes applying live batches; on resume the held ones go in, in order. */
  togglePause(force) {
    this.store.update({ paused: force ?? !this.store.state.paused });
  }

  /** The live edge stands still while paused or offline (no events can be on their way). */
  syncLiveEdge() {
    if (!this.timeline || !this.live) return;
    const offline = this.live.connection.status.state !== 'open';
    this.timeline.setFrozen(this.store.state.paused || offline);
  }

  // ---- selection -------------------------------------------------------------------

  selectScenario(name, { updateUrl = true } = {}) {
    const s = this.store.state.scenarios.find((x) => x.name === name);
    if (!s) return;
    renderScenarioAbout($('about'), s);
    this.params = renderParamsForm($('params'), s.params || []);
    $('params-error').hidden = true;
    this.source.setSource(s.source || '', scenarioFile(s));
    this.store.update({ scenario: s });
    if (updateUrl) this.updateUrl();
    this.panels.schedule(true);
  }

  selectTask(index) {
    this.store.update({ selectedTask: index, selectedProbe: null, tab: 'task' });
    if (index >= 0) this.timeline.revealTask(index);
  }

  /** Selects the task lane above (`dir` -1) or below (+1) the selected one, in lane order (keys [ and ]). */
  selectAdjacentTask(dir) {
    if (this.store.state.compare) return;
    const order = this.timeline.lanes.lanes.filter((l) => l.kind === 'task').map((l) => l.task.index);
    if (!order.length) return;
    const at = order.indexOf(this.store.state.selectedTask);
    const next = at < 0 ? (dir > 0 ? 0 : order.length - 1) : Math.min(order.length - 1, Math.max(0, at + dir));
    this.selectTask(order[next]);
  }

  /** Opens the state machines of the probe futures outside any task, `id` selected. */
  selectProbe(id) {
    this.store.update({ selectedTask: -1, selectedProbe: id, tab: 'task' });
  }

  jumpTo(t, taskIndex) {
    const span = this.timeline.viewport.t1 - this.timeline.viewport.t0;
    // Zoom in to about 50 ms around the moment unless already closer.
    this.timeline.jumpTo(t, Math.min(span, 50e6));
    if (taskIndex != null && taskIndex >= 0) {
      this.store.update({ selectedTask: taskIndex });
      this.timeline.revealTask(taskIndex);
    }
  }

  updateUrl() {
    const { scenario, runId, runInstance, compare, missing } = this.store.state;
    if (missing && !missing.kept) return; // the link stays as it was given
    const q = new URLSearchParams();
    if (scenario) q.set('scenario', scenario.name);
    if (runId != null) q.set('run', String(runId));
    // The server's instance makes the link mean this run even after a restart.
    if (runId != null && runInstance) q.set('instance', runInstance);
    // The comparison's link is the two ids alone, with a plain comma: /?compare=3,4.
    const query = compare ? `compare=${compare.ids.map((id) => encodeURIComponent(id)).join(',')}` : String(q);
    const next = `${window.location.pathname}?${query}`;
    if (next !== `${window.location.pathname}${window.location.search}`) history.replaceState(null, '', next);
  }
}

/** Whether this page was reached from a page of the dashboard itself. */
function sameOriginReferrer() {
  try {
    return Boolean(document.referrer) && new URL(document.referrer).origin === window.location.origin;
  } catch {
    return false;
  }
}

/** The file a scenario's source is, for matching state `loc`s: `file` if the server says, else derived from the name. */
export function scenarioFile(scenario) {
  if (scenario.file) return scenario.file;
  return `${scenario.name.replace(/-/g, '_')}.rs`;
}

const app = new App();
window.futurescope = {
  app,
  get model() {
    return app.store.state.model;
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
    const c = app.store.state.compare;
    if (!c) return null;
    const [left, right] = c.models;
    return { ids: c.ids, left, right, loading: c.loading, viewport: app.compareView.viewport, view: app.compareView, overview: app.compareOverview };
  },
  ready: app.ready,
  get isReady() {
    return app.isReady;
  },
};
app.start().catch((err) => {
  console.error(err);
  flash(`The dashboard failed to start: ${err.message}`, 'bad');
});

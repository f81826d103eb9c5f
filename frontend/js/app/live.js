// app/live.js — the live side of the page: the WebSocket connection (socket.js) and what
// its messages do. hello / run / end / evicted keep the run list in the store; the open
// run's batches go through a LiveFeed (live-feed.js: applies them, or holds them while
// paused); after a reconnect the server replays the open run from its start, and the
// page swaps in the replayed model only once the server confirms it still has the run.

import { RunModel } from '../model.js';
import { LiveConnection, socketUrl, connectionBanner } from '../socket.js';
import { LiveFeed } from '../live-feed.js';
import { el } from '../views/dom.js';
import { flash } from './toast.js';

const $ = (id) => document.getElementById(id);

export class Live {
  constructor(app) {
    this.app = app;
    this.store = app.store;
    this.feed = new LiveFeed(new RunModel()); // the open run's gate
    this.replay = null; // after a reconnect: the run the server is asked to replay
    this.pendingSelect = null; // task index to select again once the replay has it
    this.connection = new LiveConnection({
      url: socketUrl(window.location),
      handlers: {
        onHello: (m) => this.onHello(m),
        onRun: (m) => this.onRunAnnounced(m),
        onBatch: (m) => this.onBatch(m),
        onEnd: (m) => this.onEnd(m),
        onServerError: (m) => this.onServerError(m),
        onEvicted: (m) => this.onEvicted(m),
        onStep: (m) => this.app.stepBar.onStep(m),
        onDriving: (m) => this.app.stepBar.onDriving(m),
        onProtocolError: (text) => flash(`Protocol: ${text}`, 'bad'),
        onResubscribe: (run) => this.onResubscribe(run),
        onStatus: () => {
          this.updateBanner();
          this.app.syncLiveEdge();
        },
      },
    });
    // The gate follows the store's `paused`.
    this.store.subscribe((state, changed) => {
      if (changed.has('paused') && state.paused !== this.feed.paused) this.feed.setPaused(state.paused);
    });
  }

  start() {
    this.connection.connect();
    setInterval(() => this.updateBanner(), 1000);
  }

  /** A fresh gate for `model` (paused if the page is paused). */
  feedModel(model) {
    this.feed = new LiveFeed(model, () => this.afterIngest(), this.app.retention?.windowFor() ?? null);
    if (this.store.state.paused) this.feed.pause();
  }

  subscribe(id) {
    this.replay = null;
    this.connection.subscribe(id);
  }

  unsubscribe(id) {
    this.replay = null;
    if (id != null) this.connection.unsubscribe(id);
  }

  /** Adds or updates one run summary in the store's list. */
  addRun(summary) {
    const runs = this.store.state.runs.slice();
    const i = runs.findIndex((r) => String(r.id) === String(summary.id));
    if (i >= 0) runs[i] = { ...runs[i], ...summary };
    else runs.unshift(summary);
    this.store.update({ runs });
  }

  onHello(msg) {
    const state = this.store.state;
    const patch = {};
    if (msg.console && !state.console) patch.console = msg.console;
    // The server's instance: a new one means it restarted and its run ids start again.
    const instance = typeof msg.instance === 'string' && msg.instance ? msg.instance : null;
    const restarted = Boolean(instance && state.instance && instance !== state.instance);
    if (instance) patch.instance = instance;
    if (Array.isArray(msg.runs) && (msg.runs.length || restarted)) patch.runs = msg.runs;
    this.store.update(patch);
    const runInstance = this.store.state.runInstance;
    if (instance && runInstance && instance !== runInstance && state.runId != null) {
      this.replay = null;
      this.app.markEarlierServer();
    } else if (instance && state.runId != null && !runInstance) {
      this.store.update({ runInstance: instance });
      this.app.updateUrl();
    }
  }

  onRunAnnounced(msg) {
    if (this.isReplayOf(msg)) {
      // Same id, another server: not the run the page was showing.
      const runInstance = this.store.state.runInstance;
      if (msg.instance && runInstance && msg.instance !== runInstance) {
        this.replay = null;
        this.app.markEarlierServer();
      } else this.takeReplay();
    }
    this.addRun({ id: msg.run, scenario: msg.scenario, params: msg.params, status: msg.status || 'running', ...(msg.instance ? { instance: msg.instance } : {}), ...(msg.program ? { program: msg.program } : {}) });
  }

  onBatch(msg) {
    const { model, runId } = this.store.state;
    if (!model || String(msg.run) !== String(runId)) return;
    if (this.isReplayOf(msg)) this.takeReplay();
    if (!this.feed.push(msg.events)) this.app.toolbar.update();
    this.app.stepBar.onEvents(msg.run, msg.events);
  }

  onEnd(msg) {
    if (this.isReplayOf(msg)) this.takeReplay();
    this.addRun({ id: msg.run, status: msg.status, error: msg.error, counts: msg.counts || this.store.state.runs.find((r) => String(r.id) === String(msg.run))?.counts });
    const { model, runId } = this.store.state;
    if (model && String(msg.run) === String(runId)) {
      Object.assign(model.meta, { status: msg.status, error: msg.error, counts: msg.counts });
      if (msg.error) flash(`Run ${msg.run} ${msg.status}: ${msg.error}`, 'bad');
      this.store.update({ model, live: false });
      this.app.panels.schedule(true);
    }
  }

  /**
   * The connection came back and the run was subscribed again: the server replays it
   * from its start. What the page has stays on screen until the server confirms it still
   * has the run (its `run` message or a first batch); a restarted server may not, and
   * then says so with an error for that run, and the page keeps what it had.
   */
  onResubscribe(run) {
    const { model, runId, selectedTask } = this.store.state;
    if (String(run) !== String(runId) || !model) return;
    const tl = this.app.timeline;
    this.replay = { run, meta: { ...model.meta }, keepTask: selectedTask, view: tl.viewport.snapshot(), follow: tl.follow };
  }

  /** Swaps in a fresh model for the replay the server confirmed, keeping the view. */
  takeReplay() {
    const r = this.replay;
    this.replay = null;
    this.app.setModel(new RunModel({ ...r.meta }), this.store.state.live || r.meta.status === 'running');
    const tl = this.app.timeline;
    tl.viewport.t0 = r.view.t0;
    tl.viewport.nsPerPx = r.view.nsPerPx;
    tl.follow = r.follow;
    tl.autoFit = r.follow;
    this.pendingSelect = r.keepTask;
  }

  isReplayOf(msg) {
    return Boolean(this.replay && msg.run != null && String(msg.run) === String(this.replay.run));
  }

  /** The server dropped a kept run (memory budget): it can no longer be opened or saved. */
  onEvicted(msg) {
    this.store.update({ runs: this.store.state.runs.filter((r) => String(r.id) !== String(msg.run)) });
    if (String(msg.run) === String(this.store.state.runId)) {
      this.app.toolbar.showRunLinks(null);
      flash(`The server evicted run ${msg.run}${msg.reason ? ` (${msg.reason})` : ''}: this page keeps what it received, but it can no longer be saved.`, 'bad');
    }
  }

  onServerError(msg) {
    if (this.isReplayOf(msg)) {
      // The server restarted and no longer has the run: keep what the page received.
      this.replay = null;
      this.connection.unsubscribe(msg.run);
      const model = this.store.state.model;
      if (model.meta.status === 'running') model.meta.status = 'unknown';
      this.store.update({ model, live: false });
      flash(`The server no longer has run ${msg.run} (it restarted): showing what this page had received of it.`, 'bad');
      return;
    }
    const { runId, model } = this.store.state;
    if (msg.run != null && String(msg.run) === String(runId) && model && model.eventCount === 0 && /^no run /.test(msg.error || '')) {
      // Subscribing to a run the server does not have (a stale link, an evicted run).
      this.app.showMissing(msg.run, 'missing');
      return;
    }
    flash(`Server: ${msg.error}`, 'bad');
  }

  afterIngest() {
    const model = this.store.state.model;
    if (this.pendingSelect != null && this.pendingSelect >= 0 && this.pendingSelect < model.taskList.length) {
      const index = this.pendingSelect;
      this.pendingSelect = null;
      this.store.update({ selectedTask: index });
    }
    this.app.retention?.afterIngest(this.feed);
    this.app.timeline.refresh();
    this.app.panels.schedule();
  }

  updateBanner() {
    const text = connectionBanner(this.connection.status, Date.now());
    const banner = $('banner');
    banner.hidden = !text;
    if (text) banner.replaceChildren(text, ' ', el('button', { class: 'small', onclick: () => this.connection.retryNow() }, 'Retry now'));
    const conn = $('conn');
    const st = this.connection.status.state;
    conn.className = `conn ${st}`;
    conn.textContent = st === 'open' ? 'live' : st === 'connecting' ? 'connecting' : 'offline';
  }
}

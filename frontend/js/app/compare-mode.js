// app/compare-mode.js — comparing two runs on one time axis (views/compare.js draws them):
// the dialog that picks runs A and B, loading both runs' recorded events over HTTP, and,
// while one of them is still going, polling its status to reload the comparison when it
// ends. The comparison itself is the store's `compare` ({ids, models, loading, token}).

import { openRunText } from '../runfile.js';
import { paramsText } from '../views/compare.js';
import { el } from '../views/dom.js';
import { fetchRun, fetchRunEvents } from './api.js';
import { flash } from './toast.js';

const $ = (id) => document.getElementById(id);
const POLL_MS = 1000;

export class CompareMode {
  constructor(app) {
    this.app = app;
    this.store = app.store;
    this.returnFocus = null; // what had the focus before the dialog opened
  }

  bind() {
    $('compare-btn').addEventListener('click', () => this.openDialog());
    $('compare-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const a = $('compare-pick-a').value;
      const b = $('compare-pick-b').value;
      if (a === b) {
        $('compare-error').hidden = false;
        $('compare-error').textContent = 'Pick two different runs.';
        return;
      }
      this.enter(a, b);
    });
    $('compare-cancel').addEventListener('click', () => this.closeDialog());
    $('compare-dialog').addEventListener('click', (ev) => {
      if (ev.target.id === 'compare-dialog') this.closeDialog();
    });
    $('compare-close').addEventListener('click', () => this.exit());
    $('compare-swap').addEventListener('click', () => {
      const c = this.store.state.compare;
      if (c) this.enter(c.ids[1], c.ids[0]);
    });
  }

  get dialogOpen() {
    return !$('compare-dialog').hidden;
  }

  closeDialog() {
    const dialog = $('compare-dialog');
    if (dialog.hidden) return;
    dialog.hidden = true;
    // Back to where the user was (the Compare… button when the dialog came from it).
    if (this.returnFocus && document.contains(this.returnFocus)) this.returnFocus.focus();
    this.returnFocus = null;
  }

  /** Opens the dialog to pick runs A and B; proposes the open run and its predecessor. */
  openDialog() {
    const { runs: all, compare, runId } = this.store.state;
    const runs = all.filter((r) => r.id != null);
    if (runs.length < 2) {
      flash('Comparing needs two runs: run a scenario twice (e.g. two variants) first.', 'bad');
      return;
    }
    const label = (r) => `#${r.id} ${r.scenario || '?'}${paramsText(r.params) ? ` (${paramsText(r.params)})` : ''}${r.status && r.status !== 'finished' ? ` — ${r.status}` : ''}`;
    const fill = (select, selected) => {
      select.replaceChildren(...runs.map((r) => el('option', { value: String(r.id), selected: String(r.id) === String(selected) }, label(r))));
    };
    const current = compare ? compare.ids : null;
    const a = current ? current[0] : runId != null ? runId : runs[1].id;
    const aRun = runs.find((r) => String(r.id) === String(a));
    const sameScenario = runs.find((r) => String(r.id) !== String(a) && aRun && r.scenario === aRun.scenario);
    const b = current ? current[1] : (sameScenario || runs.find((r) => String(r.id) !== String(a))).id;
    // A is the older run when both are proposed: "before" on top.
    const [first, second] = !current && Number(b) < Number(a) ? [b, a] : [a, b];
    fill($('compare-pick-a'), first);
    fill($('compare-pick-b'), second);
    $('compare-error').hidden = true;
    this.returnFocus = document.activeElement instanceof HTMLElement && document.activeElement !== document.body ? document.activeElement : null;
    $('compare-dialog').hidden = false;
    $('compare-pick-a').focus();
  }

  /**
   * Loads runs `a` and `b` (their recorded events, over HTTP) and shows them compared. A
   * run still going is compared as it is so far, and reloaded when it ends (`keepView`
   * then keeps the zoom).
   */
  async enter(a, b, { keepView = false } = {}) {
    const app = this.app;
    const view = app.compareView;
    this.closeDialog();
    const ids = [parseRunId(String(a)), parseRunId(String(b))];
    const token = {};
    const kept = keepView ? view.viewport.snapshot() : null;
    this.showLayout(true);
    if (!keepView) view.clear();
    $('compare-title').textContent = `#${ids[0]} and #${ids[1]}: loading…`;
    this.store.update({ compare: { ids, token, loading: true, models: [null, null] } });
    this.app.updateUrl();
    const current = () => this.store.state.compare && this.store.state.compare.token === token;
    try {
      const models = await Promise.all(ids.map((id) => this.fetchRunModel(id)));
      if (!current()) return;
      view.setModels(models[0], models[1]);
      // The source pane shows A's scenario (the comparison is usually of one scenario's variants).
      const scenario = models[0].meta.scenario;
      const { scenario: selected, scenarios } = this.store.state;
      if (scenario && (!selected || selected.name !== scenario) && scenarios.some((s) => s.name === scenario)) {
        app.selectScenario(scenario, { updateUrl: false });
      }
      if (kept) view.setView(kept.t0, kept.nsPerPx);
      const same = models[0].meta.scenario === models[1].meta.scenario;
      const going = models.filter((m) => m.meta.status === 'running').map((m) => `#${m.meta.run}`);
      $('compare-title').textContent = `${same ? `${models[0].meta.scenario}: ` : ''}two runs on one time axis, each from its own start${
        going.length ? ` — ${going.join(' and ')} still running: shown so far, reloaded when it ends` : ''
      }`;
      this.store.update({ compare: { ...this.store.state.compare, models, loading: false } });
      if (going.length) this.reloadWhenDone(token);
    } catch (err) {
      if (!current()) return;
      flash(`Could not compare: ${err.message}`, 'bad');
      this.exit();
    }
  }

  /** Polls the compared runs that are still going; reloads the comparison when one ends. */
  async reloadWhenDone(token) {
    const current = () => this.store.state.compare && this.store.state.compare.token === token;
    while (current()) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      if (!current()) return;
      const going = this.store.state.compare.models.filter((m) => m.meta.status === 'running');
      const statuses = await Promise.all(
        going.map((m) =>
          fetchRun(m.meta.run)
            .then((r) => r.status)
            .catch(() => 'running'),
        ),
      );
      if (!current()) return;
      if (statuses.some((st) => st !== 'running')) {
        const runs = this.store.state.runs.map((r) => {
          const i = going.findIndex((m) => String(m.meta.run) === String(r.id));
          return i >= 0 ? { ...r, status: statuses[i] } : r;
        });
        this.store.update({ runs });
        const ids = this.store.state.compare.ids;
        this.enter(ids[0], ids[1], { keepView: true });
        return;
      }
    }
  }

  /** Run `id`'s recorded events as a model (a snapshot when it is still running). */
  async fetchRunModel(id) {
    // The status first: a run that was over before its events were read is complete.
    const info = await fetchRun(id).catch(() => null);
    const { model } = openRunText(await fetchRunEvents(id), `run ${id}`);
    const summary = this.store.state.runs.find((r) => String(r.id) === String(id));
    const status = info ? info.status : summary ? summary.status : 'finished';
    if (summary && info && summary.status !== info.status) this.app.live.addRun({ id: summary.id, status: info.status });
    Object.assign(model.meta, { run: model.meta.run ?? id, status, file: null });
    return model;
  }

  exit({ updateUrl = true } = {}) {
    if (!this.store.state.compare) return;
    this.app.compareView.clear();
    this.showLayout(false);
    this.store.update({ compare: null });
    if (updateUrl) this.app.updateUrl();
    this.app.timeline.requestRedraw();
  }

  showLayout(on) {
    $('compare-pane').hidden = !on;
    for (const id of ['overview-wrap', 'timeline-wrap', 'dock']) $(id).hidden = on;
    for (const id of ['follow-btn', 'pause-btn']) $(id).disabled = on;
  }
}

/** Run ids in URLs are text; numeric ones are sent as numbers. */
export function parseRunId(text) {
  return /^\d+$/.test(text) ? Number(text) : text;
}

/** `?compare=ID1,ID2` as two run ids, or null. */
export function parseCompareParam(text) {
  if (!text) return null;
  const ids = text.split(',').map((x) => x.trim()).filter(Boolean);
  return ids.length === 2 ? ids.map(parseRunId) : null;
}

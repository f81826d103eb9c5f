// app/panels.js — the DOM around the timeline, rendered from the store: the run head
// (title, status, Stop), the scenario and run lists, the figure bar, the dock's tabs
// (task panel, lints, marks, checks, snapshots: app/snapshots.js), the await points in the source pane and the import banner.
// Panels heavier than a frame are re-rendered at most every PANEL_REFRESH_MS while a run
// streams in (`schedule`), at once when the selection or the tab changes.

import { CONSOLE_FORMAT } from '../console-recording.js';
import { renderScenarioList } from '../views/scenario-picker.js';
import { renderRunList } from '../views/run-list.js';
import { renderTaskPanel, renderOutsidePanel } from '../views/task-panel.js';
import { renderLints, renderChecks } from '../views/lint-list.js';
import { renderMarks, markCount } from '../views/mark-list.js';
import { renderSummary } from '../views/summary-bar.js';
import { formatCount } from '../units.js';
import { el } from '../views/dom.js';
import { renderFilterNote } from './toolbar.js';

const $ = (id) => document.getElementById(id);
const PANEL_REFRESH_MS = 250;

export class Panels {
  constructor(app) {
    this.app = app;
    this.store = app.store;
    this.timer = null;
  }

  bind() {
    const tabs = [...document.querySelectorAll('.tab')];
    for (const b of tabs) {
      b.addEventListener('click', () => this.store.update({ tab: b.dataset.tab }));
      // The tablist's arrow keys (WAI-ARIA tabs): left / right move to the next tab.
      b.addEventListener('keydown', (ev) => {
        if (ev.key !== 'ArrowLeft' && ev.key !== 'ArrowRight') return;
        ev.preventDefault();
        ev.stopPropagation();
        const next = tabs[(tabs.indexOf(b) + (ev.key === 'ArrowRight' ? 1 : tabs.length - 1)) % tabs.length];
        this.store.update({ tab: next.dataset.tab });
        next.focus();
      });
    }
    $('scenario-filter').addEventListener('input', () => this.renderScenarios());
    $('import-dismiss').addEventListener('click', () => this.store.update({ importBannerDismissed: true }));
    this.store.subscribe((state, changed) => {
      const has = (...keys) => keys.some((k) => changed.has(k));
      if (has('tab')) this.renderTabs();
      if (has('scenarios', 'scenario')) this.renderScenarios();
      if (has('runs', 'runId')) this.renderRuns();
      if (has('model', 'compare', 'scenario', 'runId', 'missing', 'program')) this.renderHead();
      if (has('missing', 'compare')) this.renderMissing();
      if (has('model', 'compare', 'importBannerDismissed')) this.renderImportBanner();
      if (has('tab', 'selectedTask', 'selectedProbe', 'model')) this.schedule(true);
      if (has('taskFilter')) renderFilterNote(state.taskFilter, state.model, this.app.timeline.lanes);
    });
    this.renderTabs();
  }

  /** Re-renders the panels at most every PANEL_REFRESH_MS (`now`: at once). */
  schedule(now = false) {
    if (now) {
      clearTimeout(this.timer);
      this.timer = null;
      this.render();
      return;
    }
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.render();
    }, PANEL_REFRESH_MS);
  }

  renderAll() {
    this.renderHead();
    this.renderRuns();
    this.schedule(true);
  }

  render() {
    const { model: m, tab } = this.store.state;
    const jump = (t, ti) => this.app.jumpTo(t, ti);
    renderSummary($('figures'), m, { onJump: jump, onChecks: () => this.store.update({ tab: 'checks' }) });
    $('lint-count').textContent = m && m.lints.length ? String(m.lints.length) : '';
    $('mark-count').textContent = markCount(m);
    $('check-count').textContent = m && (m.violations.count || m.dropped) ? String(m.violations.count + (m.dropped ? 1 : 0)) : '';
    $('check-count').classList.toggle('bad', Boolean(m && (m.violations.count || m.dropped)));
    this.app.toolbar.update();
    this.renderHead();
    if (tab === 'task') this.renderTask();
    else if (tab === 'lints') renderLints($('lint-panel'), m, { onJump: jump });
    else if (tab === 'marks') renderMarks($('mark-panel'), m, { onJump: jump });
    else if (tab === 'tasks') this.app.taskTable.render(m, this.store.state.selectedTask);
    else if (tab === 'checks') renderChecks($('check-panel'), m);
    this.app.snapshots.render(tab === 'snapshots');
    this.renderSourceMarks();
    renderFilterNote(this.store.state.taskFilter, m, this.app.timeline.lanes);
  }

  renderTabs() {
    const tab = this.store.state.tab;
    for (const b of document.querySelectorAll('.tab')) {
      b.classList.toggle('active', b.dataset.tab === tab);
      b.setAttribute('aria-selected', String(b.dataset.tab === tab));
      b.tabIndex = b.dataset.tab === tab ? 0 : -1;
    }
    for (const b of document.querySelectorAll('.tab-body')) b.hidden = b.dataset.body !== tab;
  }

  renderTask() {
    const { model: m, selectedProbe, selectedTask } = this.store.state;
    const box = $('task-panel');
    if (m && selectedProbe != null && m.outside.probes.has(selectedProbe)) {
      delete box.dataset.empty;
      const scroll = box.scrollTop;
      renderOutsidePanel(box, m, selectedProbe, { onClose: () => this.app.selectTask(-1) });
      box.scrollTop = scroll;
      return;
    }
    if (!m || selectedTask < 0 || !m.taskList[selectedTask]) {
      if (!box.dataset.empty) {
        box.dataset.empty = '1';
        box.replaceChildren(el('p', { class: 'dim pad' }, 'Click a task lane (or a slice on a worker lane) to see the task’s polls, wakes, wakers and await-point state machine.'));
      }
      return;
    }
    delete box.dataset.empty;
    const scroll = box.scrollTop;
    renderTaskPanel(box, m, m.taskList[selectedTask], {
      focusFuture: this.app.timeline.options.selectedFuture,
      onJump: (t, ti) => this.app.jumpTo(t, ti),
      onSelect: (ti) => this.app.selectTask(ti),
      onClose: () => this.app.selectTask(-1),
      // A long poll's stack frame; shown unasked only when it is in the source pane's file.
      onLoc: (loc, { auto = false } = {}) => {
        if (auto && !this.store.state.program && this.app.source.lineOf(loc) < 0) return;
        this.app.snapshots.showLoc(loc);
      },
    });
    box.scrollTop = scroll;
  }

  /** Await points in the source: all lines reached, and the selected task's current one. */
  renderSourceMarks() {
    const { model: m, selectedTask } = this.store.state;
    const source = this.app.source;
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
            const line = source.lineOf(node.loc);
            if (line > 0) lines.set(line, (lines.get(line) || 0) + node.count);
          }
        }
        if (budget <= 0) break;
      }
      const task = m.taskList[selectedTask];
      if (task) {
        const aw = task.currentAwait();
        if (task.doneT >= 0 && m.taskActivity(task) === 'done') {
          currentText = `${task.label} #${task.id} finished (${task.outcome})`;
        } else if (aw) {
          current = source.lineOf(aw.loc);
          currentText = `${task.label} #${task.id} ${m.taskActivity(task) === 'running' ? 'running, last at' : 'suspended at'} ${aw.label}${aw.loc ? ` (${aw.loc})` : ''}`;
        } else {
          currentText = `${task.label} #${task.id}: no await point reported`;
        }
      }
    }
    source.markAwaitPoints(lines);
    // A program's pane highlights the selected task's spawn line (views/program-header.js).
    if (!this.store.state.program || current > 0) source.highlight(current);
    $('await-now').textContent = currentText;
    $('await-now').hidden = !currentText;
  }

  renderScenarios() {
    const { scenarios, scenario } = this.store.state;
    renderScenarioList($('scenario-list'), scenarios, {
      selected: scenario && scenario.name,
      filter: $('scenario-filter').value,
      onSelect: (name) => this.app.selectScenario(name),
    });
  }

  renderRuns() {
    const { runs, runId } = this.store.state;
    renderRunList($('run-list'), runs.slice(0, 50), { current: runId, onOpen: (id) => this.app.openRun(id) });
  }

  renderHead() {
    const { model: m, compare, scenario, runId, missing, program } = this.store.state;
    const title = $('run-title');
    const status = $('run-status');
    if (compare) {
      title.textContent = `compare #${compare.ids[0]} · #${compare.ids[1]}`;
      status.hidden = true;
    } else if (missing && !missing.kept) {
      title.textContent = `run #${missing.run}`;
      status.hidden = false;
      status.textContent = missing.reason === 'earlier' ? 'earlier server' : 'no such run';
      status.className = 'pill missing';
    } else if (!m) {
      title.textContent = scenario ? scenario.title || scenario.name : 'no run';
      status.hidden = true;
    } else {
      const what = m.meta.file ? m.meta.file : `run #${m.meta.run}`;
      const source = m.meta.source === CONSOLE_FORMAT ? 'tokio-console recording' : 'events';
      title.textContent = `${m.meta.scenario || (program && program.program.binary) || source} · ${what}`;
      status.hidden = false;
      status.textContent = m.meta.status;
      status.className = `pill ${m.meta.status}`;
    }
    // A live program's run cannot be stopped from the page: it ends when the program exits.
    $('stop-btn').disabled = !(m && m.meta.status === 'running' && runId != null && !program);
    $('stop-btn').title = program ? 'A live program’s run ends when the program exits' : 'Cancel the running run';
  }

  /** Why a linked run is not shown (or is shown as it was, from an earlier server). */
  renderMissing() {
    const { missing, compare } = this.store.state;
    const box = $('run-missing');
    box.hidden = !missing || Boolean(compare);
    if (box.hidden) return;
    const n = `#${missing.run}`;
    box.textContent =
      missing.reason === 'missing'
        ? `This server has no run ${n}: it never existed here, was evicted to stay within the memory budget, or the server restarted since the link was made. Pick a run from the list, or press Run.`
        : missing.kept
          ? `Run ${n} belongs to an earlier server (it restarted): this is what the page received of it; it can no longer be saved or exported, and this server's run ${n}, if any, is another run.`
          : `Run ${n} of this link belongs to an earlier server (it restarted since the link was made); this server's run ${n}, if any, is another run. Pick a run from the list, or press Run.`;
  }

  /** What an imported tokio-console recording cannot show, above the timeline. */
  renderImportBanner() {
    const { model: m, importBannerDismissed, compare } = this.store.state;
    const show = Boolean(m && m.meta.source === CONSOLE_FORMAT && !importBannerDismissed && !compare);
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
}

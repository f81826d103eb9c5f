// app/snapshots.js — task dumps on the page: the Snapshot button and key (d), the Snapshots
// tab (views/snapshot-panel.js), opening a snapshot from its marker on the time axis or from
// a sampled state on a future row, and a frame's jump to its line in the source pane.
//
// A snapshot taken here is POST /api/runs/{id}/snapshot; the page shows it when its
// `snapshot` event arrives on the run's stream (like the automatic ones: lost_wake, cancel,
// time limit, a scenario's interval), so what the tab lists is always the run's events.
// Which snapshot the tab shows is the panel's own (like its unfolded frames); the tab is the store's.

import { SnapshotPanel } from '../views/snapshot-panel.js';
import { splitLoc } from '../views/program-header.js';
import { formatTime, formatCount } from '../units.js';
import * as api from './api.js';
import { flash } from './toast.js';

const $ = (id) => document.getElementById(id);

export class Snapshots {
  constructor(app) {
    this.app = app;
    this.store = app.store;
    this.panel = new SnapshotPanel($('snapshot-panel'));
    this.taking = false;
    // After a snapshot taken here: select the first snapshot beyond this count once it arrives.
    this.awaiting = null;
    this.shownKey = null;
    this.model = null;
  }

  bind() {
    $('snapshot-btn').addEventListener('click', () => this.take());
    this.store.subscribe((state, changed) => {
      if (changed.has('model') || changed.has('runId') || changed.has('program') || changed.has('live')) this.updateButton();
      if (changed.has('model') && state.model !== this.model) {
        // Another run: nothing selected, nothing awaited.
        this.model = state.model;
        this.awaiting = null;
        this.panel.select(-1);
      }
    });
    this.updateButton();
  }

  /** Whether the open run can be dumped now (one of this server's runs, still running). */
  canTake() {
    const { model, runId, missing } = this.store.state;
    return Boolean(model && runId != null && !missing && model.meta.status === 'running');
  }

  updateButton() {
    const b = $('snapshot-btn');
    const can = this.canTake();
    b.disabled = !can || this.taking;
    b.title = can
      ? 'Take a snapshot: a task dump of the running run, where every task waits (d)'
      : 'Snapshots are taken of a running run (this one has ended, or is a file): its snapshots are in the Snapshots tab';
  }

  /** Takes a snapshot of the running run (the button, the key d, the tab's button). */
  async take() {
    if (!this.canTake()) {
      flash('Snapshots are of a running run: this run has ended (its snapshots are in the Snapshots tab).', 'bad');
      return;
    }
    if (this.taking) return;
    const { runId, model } = this.store.state;
    this.taking = true;
    $('snapshot-btn').classList.add('busy');
    this.updateButton();
    this.awaiting = model.snapshots.length;
    this.store.update({ tab: 'snapshots' });
    try {
      const snap = await api.takeSnapshot(runId);
      const tasks = snap.tasks || [];
      const traced = tasks.filter((t) => t.frames && t.frames.length).length;
      flash(`Snapshot at ${formatTime(snap.t)}: ${formatCount(tasks.length)} tasks (${formatCount(traced)} traced), workers paused ${formatTime(snap.pause_ns || 0)}`);
    } catch (err) {
      this.awaiting = null;
      flash(err.message, 'bad');
    } finally {
      this.taking = false;
      $('snapshot-btn').classList.remove('busy');
      this.updateButton();
      this.app.panels.schedule(true);
    }
  }

  /** Opens snapshot `index` of the open run in the Snapshots tab (`task`: a task id to point at). */
  open(index, { task = null } = {}) {
    this.awaiting = null;
    this.panel.select(index, { task });
    this.store.update({ tab: 'snapshots' });
    this.app.panels.schedule(true);
  }

  /** The tab's count, and the tab itself when it is shown (panels.js calls this on each refresh). */
  render(shown) {
    const m = this.store.state.model;
    const n = m ? m.snapshots.length : 0;
    const count = $('snapshot-count');
    if (count.textContent !== (n ? String(n) : '')) count.textContent = n ? String(n) : '';
    if (this.awaiting != null && n > this.awaiting) {
      this.panel.select(this.awaiting);
      this.awaiting = null;
    }
    if (!shown) return;
    const box = $('snapshot-panel');
    // Re-render only when the snapshots or the selection changed (the tab keeps its scroll and open groups).
    const key = `${n}/${this.panel.selected}/${this.canTake()}/${m ? m.meta.run : ''}`;
    if (key === this.shownKey && box.childElementCount) return;
    const scroll = box.scrollTop;
    this.panel.render(m, this.actions());
    this.shownKey = `${n}/${this.panel.selected}/${this.canTake()}/${m ? m.meta.run : ''}`;
    box.scrollTop = scroll;
  }

  actions() {
    const m = this.store.state.model;
    return {
      onSnapshot: this.canTake() ? () => this.take() : undefined,
      onJump: (t) => this.app.jumpTo(t),
      onLoc: (loc) => this.showLoc(loc),
      onTask: (id) => {
        const task = m && m.tasks.get(id);
        if (task) this.app.selectTask(task.index);
        else flash(`Task ${id} is not in this run's events (it was never spawned in the run)`, 'bad');
      },
    };
  }

  /** Shows a frame's `file:line` in the source pane: the scenario's file, or a program's own file. */
  async showLoc(loc) {
    const { program, runId } = this.store.state;
    const source = this.app.source;
    const at = splitLoc(loc);
    if (!at) return;
    if (program && runId != null) {
      await this.app.programView.source.show(runId, loc, source);
      source.pin(at.line);
      return;
    }
    const line = source.lineOf(loc);
    if (line > 0) {
      source.pin(line);
      return;
    }
    flash(`${loc}: not in the source pane's file (${source.file || 'none'}); tokio's and the standard library's sources are not served`, 'bad');
  }
}

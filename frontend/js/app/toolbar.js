// app/toolbar.js — the toolbar above the timeline: Follow, Pause, zoom, Fit, the display
// toggles, the stall threshold, the task filter, and the Save run / Perfetto links.
// It acts on the active view (the timeline, or the comparison while comparing) and shows
// the store's state; it changes display state only through `store.update`.
//
// TOGGLES is the one toggle mechanism: a row is a boolean store key, its button and its
// key. `toggle(key)` flips the key; app.js pushes it to the timelines; `update()` shows it
// (class `on` and aria-pressed). A new on/off control is one row here, one button in
// index.html and, when the timelines draw it, one line in app.js's `applyDisplay`.

import { formatDuration, parseDuration, formatCount } from '../units.js';
import { runFileName, runTextEvents } from '../runfile.js';
import { flash } from './toast.js';
import { runEventsUrl, runExportUrl } from './api.js';
import { chromeTrace, traceFileName } from '../chrome-trace.js';

const $ = (id) => document.getElementById(id);

export const TOGGLES = [
  { key: 'wakeEdges', button: 'edges-btn', shortcut: 'e' },
  { key: 'stateStrip', button: 'states-btn', shortcut: 's' },
  { key: 'collapseTasks', button: 'collapse-btn', shortcut: 'c' },
  { key: 'groupSites', button: 'group-btn', shortcut: 'g' },
];

export class Toolbar {
  constructor(app) {
    this.app = app;
    this.store = app.store;
    this.fileExport = null; // {events, scenario, fileName} of an opened file, exported here
    this.exportUrl = null; // the blob: URL of the last trace built here
  }

  bind() {
    const app = this.app;
    $('follow-btn').addEventListener('click', () => app.timeline.setFollow(!app.timeline.follow));
    $('pause-btn').addEventListener('click', () => app.togglePause());
    $('zoom-in').addEventListener('click', () => app.activeView().zoom(1.6));
    $('zoom-out').addEventListener('click', () => app.activeView().zoom(1 / 1.6));
    $('fit-btn').addEventListener('click', () => app.activeView().fitAll());
    for (const t of TOGGLES) $(t.button).addEventListener('click', () => this.toggle(t.key));
    // Both the run's timeline and the comparison follow the filter.
    $('task-filter').addEventListener('input', (ev) => this.store.update({ taskFilter: ev.target.value }));
    const stall = $('stall-input');
    // The stall highlight starts at the recorder's long_poll threshold (the page template
    // renders it into the box): one threshold for the red stalls and the lints.
    const lintNs = parseDuration(stall.value);
    if (lintNs != null) this.store.update({ stallNs: lintNs });
    stall.addEventListener('change', () => {
      const ns = parseDuration(stall.value);
      const ok = ns != null && ns > 0;
      stall.classList.toggle('invalid', !ok);
      stall.setAttribute('aria-invalid', String(!ok));
      const error = $('stall-error');
      error.hidden = ok;
      if (!ok) {
        error.textContent = `"${stall.value.trim()}" is not a stall threshold: give a duration above 0, like 10ms, 500us or 1s (kept ${formatDuration(this.store.state.stallNs)}).`;
        return;
      }
      stall.value = formatDuration(ns).replace(' ', '');
      this.store.update({ stallNs: ns });
    });
    // An opened file's Perfetto export is built on the click, from the file read again.
    $('export-link').addEventListener('click', (ev) => {
      const f = this.fileExport;
      if (!f) return;
      ev.preventDefault();
      this.exportFile(f).catch((err) => flash(`Could not export ${f.fileName}: ${err.message}`, 'bad'));
    });
    this.store.subscribe(() => this.update());
  }

  /** Flips the boolean store key `key` (a TOGGLES row). */
  toggle(key) {
    this.store.update({ [key]: !this.store.state[key] });
  }

  /** Downloads opened file `f`'s Chrome trace, built from its text read again. */
  async exportFile(f) {
    const trace = JSON.stringify(chromeTrace(runTextEvents(await f.reread()), f.scenario));
    if (this.fileExport !== f) return; // another run is shown by now
    if (this.exportUrl) URL.revokeObjectURL(this.exportUrl);
    this.exportUrl = URL.createObjectURL(new Blob([trace], { type: 'application/json' }));
    const a = document.createElement('a');
    a.href = this.exportUrl;
    a.download = traceFileName(f.fileName);
    a.click();
  }

  /** An opened file: no Save run (it is a file already); Perfetto exports it, read again. */
  showFileExport(reread, scenario, fileName) {
    this.showRunLinks(null);
    this.fileExport = { reread, scenario, fileName };
    const exportLink = $('export-link');
    exportLink.href = '#';
    exportLink.hidden = false;
  }

  /** The Save run and Perfetto links for server run `id` (hidden when null). */
  showRunLinks(id, scenario) {
    const download = $('download-link');
    const exportLink = $('export-link');
    this.fileExport = null;
    exportLink.removeAttribute('download');
    if (id != null) {
      download.href = runEventsUrl(id);
      download.download = runFileName(scenario, id);
      exportLink.href = runExportUrl(id);
    }
    download.hidden = id == null;
    exportLink.hidden = id == null;
  }

  /** Shows the state. Called on every wheel event too: only writes what changed. */
  update() {
    const state = this.store.state;
    const tl = this.app.activeView();
    const paused = state.paused;
    setPressed($('follow-btn'), tl.follow);
    setPressed($('pause-btn'), paused);
    setText($('pause-btn'), paused ? '\u25B6 Resume' : '\u2759\u2759 Pause');
    for (const t of TOGGLES) setPressed($(t.button), Boolean(state[t.key]));
    const note = $('paused-note');
    if (note.hidden !== !paused) note.hidden = !paused;
    if (paused) {
      // Only shown while paused (formatting the count costs more than the rest of this).
      const buffered = this.app.live.feed.bufferedEvents;
      const ended = state.model && state.model.meta.status !== 'running' && buffered ? ' (the run has ended)' : '';
      setText(note, `Paused — ${formatCount(buffered)} events buffered${ended}`);
    }
    setText($('view-span'), state.model || state.compare ? `${formatDuration(tl.viewport.nsPerPx)}/px` : '');
  }
}

/** A toggle button's state: class `on` and aria-pressed, written only when they change. */
function setPressed(button, on) {
  button.classList.toggle('on', on);
  const pressed = String(on);
  if (button.getAttribute('aria-pressed') !== pressed) button.setAttribute('aria-pressed', pressed);
}

/** "No task matches" under the task filter when it hides every task lane. */
export function renderFilterNote(filter, model, lanes) {
  const note = $('task-filter-note');
  const q = filter.trim();
  const none = Boolean(q && model && model.taskList.length && !lanes.lanes.some((l) => l.kind === 'task'));
  note.hidden = !none;
  if (none) setText(note, `No task matches "${q}"`);
}

/** Sets an element's text only when it differs (a write that changes nothing still invalidates layout). */
export function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

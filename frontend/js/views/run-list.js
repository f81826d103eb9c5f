// views/run-list.js — the list of runs (newest first): scenario (or a watched program's
// binary), status, length, counts;
// click opens one (the app subscribes and the server replays it). Keeping the list up to
// date from /api/runs and `run` / `end` messages is the app's.

import { el, replaceChildren } from './dom.js';
import { formatDuration, formatCount } from '../units.js';

/** What a run is called in the list: its scenario, or the program it watches. */
export function runName(r) {
  if (r.scenario) return r.scenario;
  if (r.program && r.program.binary) return r.program.binary;
  return '?';
}

export function renderRunList(container, runs, { current, onOpen }) {
  if (!runs.length) {
    replaceChildren(container, el('p', { class: 'dim' }, 'No runs yet.'));
    return;
  }
  replaceChildren(
    container,
    runs.map((r) => {
      const counts = r.counts || {};
      return el(
        'button',
        { class: `run-item${String(r.id) === String(current) ? ' selected' : ''}`, onclick: () => onOpen(r.id), title: r.error || '' },
        el('span', { class: 'run-id' }, `#${r.id}`),
        el('span', { class: 'run-scenario', title: r.program ? `${r.program.binary}, pid ${r.program.pid}` : '' }, runName(r)),
        el('span', { class: `pill ${r.status || ''}` }, r.status || ''),
        el('span', { class: 'run-meta dim' }, [r.duration_ns != null ? formatDuration(r.duration_ns) : null, counts.events != null ? `${formatCount(counts.events)} ev` : null].filter(Boolean).join(' · ')),
      );
    }),
  );
}

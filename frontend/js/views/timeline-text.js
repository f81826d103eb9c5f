// views/timeline-text.js — the timeline as text, for screen readers (and the browser tests,
// which read it like one): a table of the lanes in view (threads, tasks, future rows, futures
// outside tasks) with what each was doing at the right edge of the view (or now, when that
// is later than the last event) and its last event before then. It is kept in step with the
// canvas: rebuilt after a frame is drawn, at most a few times a second, and only written to
// the DOM when its text changed.
//
// It reads the TimelineView (model, lanes, viewport, scroll) and futures.js; it draws nothing.

import { OPEN } from '../model.js';
import { visibleLanes, upperBound, siteAt } from '../layout.js';
import { AXIS_PX, siteTitle } from '../draw.js';
import { probeAtRow, probeStateAt, cancelNotes, countAt, ROOTS } from '../futures.js';
import { sampleLabel } from '../sampled.js';
import { formatTime } from '../units.js';
import { escapeHtml } from './dom.js';

const UPDATE_MS = 250;
let nextId = 0;

export class TimelineText {
  constructor(view) {
    this.view = view;
    this.timer = null;
    this.last = 0;
    this.html = '';
    const id = `timeline-text-${++nextId}`;
    this.box = document.createElement('div');
    this.box.id = id;
    this.box.className = 'timeline-text';
    this.box.setAttribute('role', 'region');
    this.box.setAttribute('aria-label', 'Timeline as text');
    this.box.setAttribute('aria-live', 'off');
    // Visually hidden, still read by assistive technology.
    Object.assign(this.box.style, { position: 'absolute', width: '1px', height: '1px', overflow: 'hidden', clipPath: 'inset(50%)', whiteSpace: 'nowrap', left: '0', top: '0' });
    view.wrap.append(this.box);
    if (!view.canvas.hasAttribute('aria-describedby')) view.canvas.setAttribute('aria-describedby', id);
  }

  /** After a frame: rebuild soon (at most every UPDATE_MS). */
  schedule() {
    if (this.timer) return;
    const wait = Math.max(0, this.last + UPDATE_MS - performance.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      this.update();
    }, wait);
  }

  /** Rebuilds the table now. */
  update() {
    this.last = performance.now();
    const html = this.render();
    if (html !== this.html) {
      this.html = html;
      this.box.innerHTML = html;
    }
  }

  render() {
    const v = this.view;
    const m = v.model;
    if (!m) return '<p>No run shown.</p>';
    const now = v.nowT();
    const at = Math.max(0, Math.min(v.viewport.t1, now));
    const { lanes } = v.lanes;
    const [j0, j1] = visibleLanes(lanes, v.scrollY, Math.max(1, (v.renderer.cssHeight || 0) - (v.renderer.axisPx || AXIS_PX)));
    const rows = [];
    for (let j = j0; j < j1; j++) {
      const row = this.laneRow(lanes[j], at, now);
      if (row) rows.push(row);
    }
    const shown = `${formatTime(Math.max(0, v.viewport.t0))} to ${formatTime(at)}`;
    return `<p>Timeline of ${escapeHtml(m.meta.scenario || 'the run')}, ${m.meta.status}: ${lanes.length} lanes, ${j1 - j0} in view, from ${shown}. States are as of ${formatTime(at)}.</p><table><thead><tr><th>lane</th><th>kind</th><th>state</th><th>last event</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
  }

  laneRow(lane, at, now) {
    const m = this.view.model;
    const tr = (attrs, name, kind, state, last) =>
      `<tr ${Object.entries(attrs)
        .map(([k, val]) => `data-${k}="${escapeHtml(String(val ?? ''))}"`)
        .join(' ')}><th scope="row">${escapeHtml(name)}</th><td>${kind}</td><td>${escapeHtml(state)}</td><td>${escapeHtml(last)}</td></tr>`;
    switch (lane.kind) {
      case 'header':
        return `<tr data-kind="header"><th colspan="4">${escapeHtml(lane.title)}</th></tr>`;
      case 'thread': {
        const w = lane.thread;
        const col = w.slices;
        const i = upperBound(col.start, col.length, at) - 1;
        let state = 'idle';
        let last = 'none';
        if (i >= 0) {
          const end = col.end[i] === OPEN ? Infinity : col.end[i];
          const task = m.taskList[col.ref[i]];
          if (end > at) {
            state = `polling ${task.label} #${task.id}`;
            last = `poll_start of ${task.label} at ${formatTime(col.start[i])}`;
          } else last = `poll_end of ${task.label} at ${formatTime(end)}`;
        }
        return tr({ kind: 'thread', thread: w.index, state }, w.name, `${w.kind} thread`, state, last);
      }
      case 'task': {
        const task = lane.task;
        const polls = task.polls;
        const i = upperBound(polls.start, polls.length, at) - 1;
        let state = 'idle';
        let last = task.spawnT !== OPEN && task.spawnT <= at ? `spawn at ${formatTime(task.spawnT)}` : 'not spawned yet';
        if (task.spawnT === OPEN || task.spawnT > at) state = 'not spawned yet';
        if (i >= 0) {
          const end = polls.end[i] === OPEN ? Infinity : polls.end[i];
          if (end > at) {
            state = 'polling';
            last = `poll_start at ${formatTime(polls.start[i])}`;
          } else last = `poll_end at ${formatTime(end)}`;
        }
        if (task.doneT !== OPEN && task.doneT <= at) {
          state = `done (${task.outcome})`;
          last = `done at ${formatTime(task.doneT)}`;
        }
        const open = task.probes.size || task.samples ? this.view.futuresOpen(task) : null;
        let futures = '';
        if (open && task.futureCache) futures = `; ${countAt(task.futureCache.pack.counts.get(ROOTS), at)} root futures in flight`;
        const kind = `task${task.probes.size ? `, ${task.probes.size} futures, rows ${open ? 'open' : 'closed'}` : ''}`;
        return tr({ kind: 'task', task: task.id, state }, `${task.label} #${task.id}`, kind, `${state}${futures}`, last);
      }
      case 'future': {
        const task = lane.task;
        const row = lane.pack.rows[lane.row];
        const probe = probeAtRow(task, row, at);
        const name = `${'└ '.repeat(Math.min(5, row.depth + 1))}${row.name}`;
        const kind = `future row of ${task.label} #${task.id}${row.ids.length > 1 ? `, ${row.ids.length} futures over time` : ''}`;
        if (!probe) return tr({ kind: 'future', task: task.id, row: lane.row, state: 'not created' }, name, kind, 'no future yet', 'none');
        const s = probeStateAt(task, probe, at);
        const label = s.label ?? '';
        let state;
        switch (s.state) {
          case 'start':
            state = 'start: created, not polled yet';
            break;
          case 'await':
            state = `suspended at ${label}`;
            break;
          case 'polled':
            state = `polled (reported ${label})`;
            break;
          case 'cancelled': {
            const notes = cancelNotes(m, task, probe).map((x) => x.label);
            state = `cancelled at ${label}${notes.length ? `; ${notes.join('; ')}` : ''}`;
            break;
          }
          default:
            state = s.state;
        }
        if (probe.children.length) state += `; ${countAt(lane.pack.counts.get(probe.id), at)} children in flight`;
        const last = s.lastEvent ? `${s.lastEvent.label} at ${formatTime(s.lastEvent.t)}` : 'none';
        return tr({ kind: 'future', task: task.id, row: lane.row, future: probe.id, state: s.state, label }, `${name} (future ${probe.id})`, kind, state, last);
      }
      case 'probe': {
        const p = lane.probe;
        const s = this.view.probeStateAt(p, at, now);
        return tr({ kind: 'probe', future: p.id, state: s.label }, p.name || `future ${p.id}`, 'future outside any task', s.before ? 'not created yet' : `at ${s.label}`, s.before ? 'none' : `${s.label} at ${formatTime(s.start)}`);
      }
      case 'sampled': {
        // The last sample at or before `at`: a past instant, never "its state now".
        const task = lane.task;
        const s = task.samples.filter((x) => x.t <= at).pop();
        const kind = `sampled row of ${task.label} #${task.id} (${task.samples.length} snapshots)`;
        if (!s) return tr({ kind: 'sampled', task: task.id, state: 'none' }, '└ sampled', kind, 'no snapshot yet', 'none');
        return tr({ kind: 'sampled', task: task.id, state: 'sampled' }, '└ sampled', kind, `sampled at ${formatTime(s.t)}: waiting at ${sampleLabel(s)}; unknown since`, `${s.reason} snapshot at ${formatTime(s.t)}`);
      }
      case 'group': {
        const site = lane.site;
        const s = siteAt(site, at, now);
        const open = this.view.options.expandedSites.has(site.key);
        const state = `${s.alive} alive, ${s.polling} polling`;
        return tr({ kind: 'group', site: site.key, tasks: site.tasks.length, alive: s.alive, polling: s.polling }, siteTitle(site), `spawn site ${site.loc}, task lanes ${open ? 'shown' : 'hidden'}`, state, `${s.polls} polls in all`);
      }
      case 'driver':
        return tr({ kind: 'driver' }, 'driver / thread wakes', 'wakes from a timer, I/O or a plain thread', `${m.driverWakes.length} wakes`, '');
      default:
        return '';
    }
  }
}

// views/task-table.js — the run's tasks as a sortable table, like tokio-console's task list:
// name, spawn location, state, polls, busy, scheduled, idle, wakes. A click on a column
// header sorts by it (again: the other way); a click on a row selects the task (the timeline
// scrolls to its lane, the Task tab shows it). "Group by spawn site" folds the tasks spawned
// at one location (one per connection, say) into one row with their count and their summed
// figures ("202 tasks @ server.rs:259:13"), which ▸ opens to list them.
//
// Hooked in as the dock's "Tasks" tab (key t): app/panels.js calls `render` while the tab is
// shown. The row building, grouping and sorting below are plain functions of the model, so
// unit tests drive them without a page.

import { el, replaceChildren } from './dom.js';
import { formatDuration, formatCount } from '../units.js';
import { OPEN } from '../model.js';

/** The columns: key, header, and whether it is a figure (sorted largest first). */
export const COLUMNS = [
  { key: 'name', label: 'Task', figure: false },
  { key: 'loc', label: 'Location', figure: false },
  { key: 'state', label: 'State', figure: false },
  { key: 'polls', label: 'Polls', figure: true },
  { key: 'busy', label: 'Busy', figure: true, ns: true },
  { key: 'scheduled', label: 'Scheduled', figure: true, ns: true },
  { key: 'idle', label: 'Idle', figure: true, ns: true },
  { key: 'wakes', label: 'Wakes', figure: true },
];

/** At most this many rows are drawn (the sort decides which). */
export const MAX_ROWS = 500;

/** What a task is doing at the model's end: running, scheduled, idle or done. */
export function taskState(task) {
  if (task.phase === 'done') return 'done';
  if (task.phase === 'running') return 'running';
  return task.schedOpenT !== OPEN ? 'scheduled' : 'idle';
}

/** One row per task of `model`, with its figures as of `now` (default: the model's end). */
export function taskRows(model, now = model.endT) {
  return model.taskList.map((task) => {
    const f = model.taskFigures(task, now);
    return {
      index: task.index,
      id: task.id,
      name: `${task.label} #${task.id}`,
      loc: task.loc || '',
      state: taskState(task),
      polls: f.polls,
      busy: f.busy,
      scheduled: f.scheduled,
      idle: f.idle,
      wakes: task.wakes,
    };
  });
}

/** The rows folded per spawn location: {loc, count, alive, polls, busy, scheduled, idle, wakes, rows}. */
export function groupRows(rows) {
  const groups = new Map();
  for (const r of rows) {
    let g = groups.get(r.loc);
    if (!g) {
      g = { loc: r.loc, name: '', state: '', count: 0, alive: 0, polls: 0, busy: 0, scheduled: 0, idle: 0, wakes: 0, rows: [] };
      groups.set(r.loc, g);
    }
    g.count++;
    if (r.state !== 'done') g.alive++;
    for (const k of ['polls', 'busy', 'scheduled', 'idle', 'wakes']) g[k] += r[k];
    g.rows.push(r);
  }
  for (const g of groups.values()) {
    g.name = `${formatCount(g.count)} task${g.count === 1 ? '' : 's'} @ ${shortLoc(g.loc) || '(no location)'}`;
    g.state = `${formatCount(g.alive)} alive`;
  }
  return [...groups.values()];
}

/** Sorts `rows` in place by column `key`; `dir` 1 ascending, -1 descending. Ties by id. */
export function sortRows(rows, key, dir) {
  const col = COLUMNS.find((c) => c.key === key) || COLUMNS[4];
  const value = (r) => (key === 'state' && r.count != null ? r.alive : r[col.key]);
  rows.sort((a, b) => {
    const x = value(a);
    const y = value(b);
    const c = col.figure || typeof x === 'number' ? x - y : String(x).localeCompare(String(y));
    return c * dir || (a.id ?? 0) - (b.id ?? 0) || String(a.loc).localeCompare(String(b.loc));
  });
  return rows;
}

/** `file.rs:line:col` of a location, without its directories. */
export function shortLoc(loc) {
  return String(loc || '').split('/').pop();
}

export class TaskTable {
  /** `onSelect(index)`: a task row was clicked. */
  constructor(container, { onSelect }) {
    this.container = container;
    this.onSelect = onSelect;
    this.sortKey = 'busy';
    this.dir = -1;
    this.grouped = false;
    this.open = new Set(); // spawn locations whose group is open
  }

  sortBy(key) {
    const col = COLUMNS.find((c) => c.key === key);
    if (!col) return;
    if (this.sortKey === key) this.dir = -this.dir;
    else {
      this.sortKey = key;
      this.dir = col.figure ? -1 : 1;
    }
  }

  render(model, selected = -1) {
    this.model = model;
    this.selected = selected;
    if (!model || !model.taskList.length) {
      replaceChildren(this.container, el('p', { class: 'dim pad' }, 'No tasks yet.'));
      return;
    }
    const rows = taskRows(model);
    const head = el(
      'tr',
      {},
      COLUMNS.map((c) =>
        el(
          'th',
          {
            class: `${c.figure ? 'num ' : ''}sortable${this.sortKey === c.key ? ' sorted' : ''}`,
            dataset: { key: c.key },
            'aria-sort': this.sortKey === c.key ? (this.dir > 0 ? 'ascending' : 'descending') : 'none',
            onclick: () => {
              this.sortBy(c.key);
              this.render(this.model, this.selected);
            },
          },
          c.label + (this.sortKey === c.key ? (this.dir > 0 ? ' ▲' : ' ▼') : ''),
        ),
      ),
    );
    const body = [];
    let shown = 0;
    if (this.grouped) {
      const groups = sortRows(groupRows(rows), this.sortKey === 'name' ? 'loc' : this.sortKey, this.dir);
      for (const g of groups) {
        if (shown >= MAX_ROWS) break;
        const isOpen = this.open.has(g.loc);
        body.push(this.row(g, { group: true, isOpen }));
        shown++;
        if (isOpen) {
          for (const r of sortRows(g.rows, this.sortKey, this.dir)) {
            if (shown >= MAX_ROWS) break;
            body.push(this.row(r, { member: true }));
            shown++;
          }
        }
      }
    } else {
      for (const r of sortRows(rows, this.sortKey, this.dir).slice(0, MAX_ROWS)) body.push(this.row(r, {}));
      shown = Math.min(rows.length, MAX_ROWS);
    }
    const sites = new Set(rows.map((r) => r.loc)).size;
    replaceChildren(
      this.container,
      el(
        'div',
        { class: 'task-table-bar' },
        el(
          'label',
          {},
          el('input', {
            type: 'checkbox',
            id: 'task-table-group',
            checked: this.grouped,
            onchange: (ev) => {
              this.grouped = ev.target.checked;
              this.render(this.model, this.selected);
            },
          }),
          ` Group by spawn site (${formatCount(sites)})`,
        ),
        el('span', { class: 'dim' }, ` ${formatCount(rows.length)} tasks${shown < (this.grouped ? sites : rows.length) ? ` · showing the first ${MAX_ROWS}` : ''} · click a header to sort, a row to select`),
      ),
      el('table', { class: 'task-table' }, el('thead', {}, head), el('tbody', {}, body)),
    );
  }

  row(r, { group = false, isOpen = false, member = false }) {
    const cells = COLUMNS.map((c) => {
      let v = r[c.key];
      if (c.key === 'loc') v = group ? '' : shortLoc(v);
      else if (c.ns) v = formatDuration(v);
      else if (c.figure) v = formatCount(v);
      if (c.key === 'name' && group) v = `${isOpen ? '▾' : '▸'} ${v}`;
      return el('td', { class: c.figure ? 'num' : c.key === 'state' ? `state ${r.state}` : '', title: c.key === 'loc' || (group && c.key === 'name') ? r.loc : '' }, v);
    });
    const cls = `${group ? 'group' : 'task'}${member ? ' member' : ''}${!group && r.index === this.selected ? ' selected' : ''}`;
    const onclick = group
      ? () => {
          if (isOpen) this.open.delete(r.loc);
          else this.open.add(r.loc);
          this.render(this.model, this.selected);
        }
      : () => this.onSelect(r.index);
    return el('tr', { class: cls, dataset: group ? { loc: r.loc } : { task: String(r.id) }, onclick }, cells);
  }
}

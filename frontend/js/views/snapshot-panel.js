// views/snapshot-panel.js — task dumps: where every task waited when a snapshot was taken.
//
// A `snapshot` event lists, per task, its await tree (frames outermost first, in pre-order
// with `depth`, from tokio's task dump). This view groups tasks with identical trees (as Go's
// goroutine dumps are grouped: "197 tasks waiting at …"), folds the frames of tokio's, the
// standard library's and the recorder's own internals (one click unfolds them) while keeping
// the leaf future each task waits on visible, and asks the app to jump the source pane to a
// frame's line. Grouping and folding are pure functions, tested in frontend/tests.

import { el, replaceChildren } from './dom.js';
import { formatTime, formatCount } from '../units.js';

/** Crates whose frames are machinery rather than the program's own code. */
const INTERNAL = /^<?(?:&(?:mut )?)?(?:tokio|std|core|alloc|tracing|futurescope_recorder|futures_util|futures_core|pin_project_lite|backtrace)::/;

/** Whether a frame belongs to tokio, std, core, tracing or the recorder (folded by default). */
export function isInternal(frame) {
  return INTERNAL.test(String(frame.fn || ''));
}

/** `file:line` → the file's last component and the line ("join_vs_select.rs:74"). */
export function shortLoc(loc) {
  if (!loc) return '';
  const m = /^(.*?):(\d+)(?::\d+)?$/.exec(String(loc));
  if (!m) return String(loc);
  return `${m[1].split('/').pop()}:${m[2]}`;
}

/** A function name without crate paths, generics and closure markers ("unlabelled_connect"). */
export function shortFn(name) {
  let s = String(name || '?');
  // `<T as Trait>::poll` → `T::poll`
  s = s.replace(/^<(.+?) as [^>]+>::/, '$1::');
  s = s.replace(/<[^<>]*(?:<[^<>]*>[^<>]*)*>/g, '');
  s = s.replace(/::\{\{closure\}\}/g, '');
  const parts = s.split('::').filter(Boolean);
  return parts.slice(-2).join('::') || s;
}

/**
 * The rows to show for one tree: the program's frames, and between them runs of internal
 * frames folded into `{fold: [frames]}`, except the leaf under a program frame (the future it
 * awaits: `Sleep::poll`, `JoinHandle::poll`), which stays visible with `leaf: true`.
 */
export function foldFrames(frames) {
  const rows = [];
  let run = [];
  const flush = () => {
    if (run.length) rows.push({ fold: run });
    run = [];
  };
  for (let i = 0; i < frames.length; i++) {
    const f = frames[i];
    if (!isInternal(f)) {
      flush();
      rows.push({ frame: f });
      continue;
    }
    const parent = parentOf(frames, i);
    // The first internal frame under a program frame, with no program frame beneath it: the leaf future.
    if ((parent == null || !isInternal(frames[parent])) && !hasProgramBelow(frames, i)) {
      flush();
      rows.push({ frame: f, leaf: true });
      continue;
    }
    run.push(f);
  }
  flush();
  return rows;
}

function parentOf(frames, i) {
  const d = frames[i].depth ?? i;
  for (let j = i - 1; j >= 0; j--) if ((frames[j].depth ?? j) < d) return j;
  return null;
}

function hasProgramBelow(frames, i) {
  const d = frames[i].depth ?? i;
  for (let j = i + 1; j < frames.length && (frames[j].depth ?? j) > d; j++) if (!isInternal(frames[j])) return true;
  return false;
}

/**
 * The innermost program frames of a tree (one per branch): where its task waits, as a
 * person reads it ("unlabelled_connect at join_vs_select.rs:82").
 */
export function waitSites(frames) {
  return frames.filter((f, i) => !isInternal(f) && !hasProgramBelow(frames, i));
}

/** The key two tasks share when their trees are identical. */
function treeKey(frames) {
  return frames.map((f) => `${f.depth ?? ''}|${f.fn}|${f.loc ?? ''}`).join('\n');
}

/**
 * Tasks of a snapshot grouped by identical trees, largest group first (ties: the first task's
 * id). Each group: `{frames, tasks: [ids], states: {idle, scheduled, running}, sites}`.
 */
export function groupSnapshot(snapshot) {
  const groups = new Map();
  for (const t of snapshot.tasks || []) {
    const frames = t.frames || [];
    const key = `${treeKey(frames)}\n#${frames.length ? '' : t.state}`;
    let g = groups.get(key);
    if (!g) {
      g = { frames, tasks: [], states: { idle: 0, scheduled: 0, running: 0 }, sites: waitSites(frames) };
      groups.set(key, g);
    }
    g.tasks.push(t.task);
    g.states[t.state] = (g.states[t.state] || 0) + 1;
  }
  return [...groups.values()].sort((a, b) => b.tasks.length - a.tasks.length || a.tasks[0] - b.tasks[0]);
}

/** One line for a group: "197 tasks waiting at unlabelled_connect join_vs_select.rs:82". */
export function groupTitle(g) {
  const n = g.tasks.length;
  const who = n === 1 ? '1 task' : `${formatCount(n)} tasks`;
  if (!g.frames.length) {
    const st = Object.entries(g.states).find(([, c]) => c)?.[0] || 'idle';
    return st === 'running' ? `${who} running (a task being polled cannot be traced)` : `${who} ${st}, no trace (its last poll reached no tokio resource)`;
  }
  const sites = g.sites.length ? g.sites : [g.frames[0]];
  const at = sites.map((f) => `${shortFn(f.fn)} ${shortLoc(f.loc)}`).join(' + ');
  return `${who} waiting at ${at}`;
}

/** Largest number of groups listed at once (the rest behind "show all"). */
const MAX_GROUPS = 50;
/** Largest number of task ids listed in a group. */
const MAX_IDS = 40;

/**
 * The Snapshots tab: the run's snapshots, and the selected one's groups. `actions`:
 * `onSnapshot()` takes one now (absent when the run is over), `onJump(t)` moves the timeline,
 * `onLoc(loc)` shows a frame's line in the source pane, `onTask(id)` selects a task.
 */
export class SnapshotPanel {
  constructor(container) {
    this.container = container;
    this.selected = -1;
    this.unfolded = new Set();
    this.showAll = false;
    this.highlightTask = null;
  }

  /** Selects snapshot `i` of the model's list (e.g. its marker was clicked). */
  select(i, { task = null } = {}) {
    if (i !== this.selected) {
      this.unfolded.clear();
      this.showAll = false;
    }
    this.selected = i;
    this.highlightTask = task;
  }

  render(model, actions = {}) {
    const snaps = model ? model.snapshots || [] : [];
    const head = el(
      'div',
      { class: 'snap-head pad' },
      actions.onSnapshot ? el('button', { class: 'snap-take', onclick: () => actions.onSnapshot(), title: 'Take a task dump of the running run now (key d)' }, 'Take snapshot') : null,
      el('span', { class: 'dim' }, snaps.length ? ` ${snaps.length} snapshot${snaps.length === 1 ? '' : 's'} · sampled: each shows where tasks waited at that instant` : ' No snapshots in this run yet.'),
    );
    if (!snaps.length) {
      replaceChildren(this.container, head, el('p', { class: 'dim pad' }, 'A snapshot is a tokio task dump: every idle task’s await tree (async fn frames with file:line, down to the leaf future it waits on). They are taken on request, when a lost_wake lint fires, when a run is cancelled or hits its time limit, and at intervals a scenario chooses.'));
      return;
    }
    if (this.selected < 0 || this.selected >= snaps.length) this.selected = snaps.length - 1;
    const snap = snaps[this.selected];
    const list = el(
      'div',
      { class: 'snap-list' },
      snaps.map((s, i) =>
        el(
          'button',
          { class: `snap-chip${i === this.selected ? ' on' : ''}`, title: `${s.reason} snapshot at ${formatTime(s.t)}: ${s.tasks.length} tasks`, onclick: () => { this.select(i); actions.onJump?.(s.t); this.render(model, actions); } },
          `${formatTime(s.t)} · ${s.reason}`,
        ),
      ),
    );
    const groups = groupSnapshot(snap);
    const shown = this.showAll ? groups : groups.slice(0, MAX_GROUPS);
    const body = el(
      'div',
      { class: 'snap-groups' },
      el('p', { class: 'snap-meta dim' }, `${snap.reason} · ${formatTime(snap.t)} · ${formatCount(snap.tasks.length)} tasks in ${formatCount(groups.length)} distinct tree${groups.length === 1 ? '' : 's'}`, snap.pause_ns != null ? ` · workers paused ${formatTime(snap.pause_ns)}` : ''),
      shown.map((g, gi) => this.renderGroup(model, g, gi, actions)),
      groups.length > shown.length ? el('button', { class: 'linkish', onclick: () => { this.showAll = true; this.render(model, actions); } }, `show all ${groups.length} groups`) : null,
    );
    replaceChildren(this.container, head, list, body);
  }

  renderGroup(model, g, gi, actions) {
    const mine = this.highlightTask != null && g.tasks.includes(this.highlightTask);
    const ids = g.tasks.slice(0, MAX_IDS).map((id) => {
      const task = model.tasks?.get?.(id);
      return el('button', { class: `snap-task${id === this.highlightTask ? ' on' : ''}`, title: task ? `${task.label} #${id}` : `task ${id}`, onclick: () => actions.onTask?.(id) }, task && task.label !== `task ${id}` ? `${task.label} #${id}` : `#${id}`);
    });
    const more = g.tasks.length > MAX_IDS ? el('span', { class: 'dim' }, ` and ${formatCount(g.tasks.length - MAX_IDS)} more`) : null;
    const rows = foldFrames(g.frames).map((row, ri) => {
      if (row.fold) {
        const key = `${gi}:${ri}`;
        if (!this.unfolded.has(key)) {
          return el('li', { class: 'frame folded', style: { paddingLeft: `${(row.fold[0].depth ?? 0) * 12}px` } }, el('button', { class: 'linkish', onclick: () => { this.unfolded.add(key); this.render(model, actions); }, title: 'Show tokio / std / recorder frames' }, `… ${row.fold.length} internal frame${row.fold.length === 1 ? '' : 's'}`));
        }
        return row.fold.map((f) => frameRow(f, 'frame internal', actions));
      }
      return frameRow(row.frame, row.leaf ? 'frame leaf' : 'frame', actions);
    });
    return el(
      'details',
      { class: `snap-group${mine ? ' mine' : ''}`, open: gi < 8 || mine },
      el('summary', {}, el('span', { class: 'snap-count' }, formatCount(g.tasks.length)), ' ', groupTitle(g)),
      el('ul', { class: 'snap-tree' }, rows),
      el('div', { class: 'snap-ids' }, ids, more),
    );
  }
}

function frameRow(f, cls, actions) {
  return el(
    'li',
    { class: cls, style: { paddingLeft: `${(f.depth ?? 0) * 12}px` }, title: `${f.fn}\n${f.loc || 'no line table'}` },
    el('code', { class: 'fn' }, shortFn(f.fn)),
    ' ',
    f.loc ? el('button', { class: 'linkish loc', onclick: () => actions.onLoc?.(f.loc) }, shortLoc(f.loc)) : el('span', { class: 'dim' }, '?'),
  );
}

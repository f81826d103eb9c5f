// views/task-panel.js — the detail panel of one task: identity (name, id, kind, spawn
// location, size, parent), its figures (polls, busy / scheduled / idle time and shares),
// histograms of poll durations and scheduling delays, wakes received and from whom,
// waker clones / drops / live, its lints, and the state diagrams of its probe futures
// as a tree (nested futures indented under their parent), the current state live.
// `renderOutsidePanel` shows the same state diagrams for the probe futures polled outside
// any task (a hand-written executor on a plain thread: `model.outside`).
//
// All figures come from model.js; the panel only lays them out. Selecting a task and
// refreshing the panel while the run goes on is the app's.

import { el, replaceChildren } from './dom.js';
import { formatDuration, formatShare, formatCount, formatBytes, formatTime } from '../units.js';
import { log2Histogram, probeGroups, DRIVER, OPEN } from '../model.js';
import { taskColor } from '../draw.js';
import { stateDiagram } from './state-diagram.js';

/**
 * Renders task `task` of `model` into `container`. `onJump(t, taskIndex)` moves the
 * timeline; `onSelect(taskIndex)` opens another task (parent, wakers).
 */
export function renderTaskPanel(container, model, task, { onJump, onSelect, onClose }) {
  const f = model.taskFigures(task);
  const now = model.endT;
  const activity = model.taskActivity(task);
  const link = (id) => {
    const other = model.tasks.get(id);
    if (!other) return el('span', {}, `#${id}`);
    return el('a', { href: '#', class: 'task-link', onclick: (ev) => (ev.preventDefault(), onSelect(other.index)) }, el('span', { class: 'sw', style: { background: taskColor(other) } }), `${other.label} #${other.id}`);
  };

  const head = el(
    'div',
    { class: 'task-head' },
    el('span', { class: 'sw big', style: { background: taskColor(task) } }),
    el('div', { class: 'task-title' }, el('b', {}, task.label), el('span', { class: 'dim' }, ` #${task.id}`), el('span', { class: `pill ${activity}` }, task.outcome || activity)),
    el('button', { class: 'icon', title: 'Close (Esc)', onclick: onClose }, '✕'),
  );

  const identity = el(
    'dl',
    { class: 'kv' },
    kv('kind', task.kind),
    kv('spawned at', el('code', { class: 'loc' }, task.loc || (model.meta.lacks ? 'not in the recording' : 'unknown'))),
    kv('size', formatBytes(task.size)),
    kv('parent', task.parent != null ? link(task.parent) : 'none'),
    kv('spawned', formatTime(task.spawnT)),
    kv('ended', task.doneT !== OPEN ? `${formatTime(task.doneT)} (${task.outcome})` : 'alive'),
  );

  const bar = el(
    'div',
    { class: 'share-bar', title: 'busy / scheduled / idle share of the task’s life' },
    el('span', { class: 'busy', style: { width: `${f.busyShare * 100}%`, background: taskColor(task) } }),
    el('span', { class: 'sched', style: { width: `${f.scheduledShare * 100}%` } }),
    el('span', { class: 'idle', style: { width: `${f.idleShare * 100}%` } }),
  );
  const figures = el(
    'dl',
    { class: 'kv' },
    kv('polls', formatCount(f.polls)),
    kv('life', formatDuration(f.life)),
    kv('busy', `${formatDuration(f.busy)} · ${formatShare(f.busyShare)}`),
    kv('scheduled', `${formatDuration(f.scheduled)} · ${formatShare(f.scheduledShare)}`),
    kv('idle', `${formatDuration(f.idle)} · ${formatShare(f.idleShare)}`),
    kv('mean poll', formatDuration(f.meanPoll)),
    kv('longest poll', formatDuration(f.longestPoll)),
    kv('worst delay', formatDuration(f.worstDelay)),
  );

  const wakers = [...task.wakesBy.entries()].sort((a, b) => b[1] - a[1]);
  const wakes = el(
    'div',
    { class: 'wakes' },
    el('dl', { class: 'kv' }, kv('wakes received', formatCount(task.wakes)), kv('self wakes', formatCount(task.selfWakes)), kv('waker clones', formatCount(task.wakerClones)), kv('waker drops', formatCount(task.wakerDrops)), kv('wakes by value', formatCount(task.wakesByValue)), kv('live wakers', el('b', { class: task.liveWakers === 0 && activity === 'idle' ? 'bad' : '' }, String(task.liveWakers)))),
    wakers.length
      ? el(
          'table',
          { class: 'mini' },
          el('tr', {}, el('th', {}, 'woken by'), el('th', { class: 'num' }, 'count')),
          wakers.slice(0, 12).map(([by, n]) => el('tr', {}, el('td', {}, by === DRIVER ? el('span', { class: 'driver' }, model.meta.unknownWaker ? 'not recorded' : 'driver / thread') : link(by)), el('td', { class: 'num' }, formatCount(n)))),
        )
      : el('p', { class: 'dim' }, 'never woken'),
  );

  const hists = el('div', { class: 'hists' }, histogram('poll durations', model.pollDurations(task), taskColor(task)), histogram('scheduling delays', model.scheduledDurations(task), '#8b93a3'));

  const lints = task.lints.length
    ? el(
        'ul',
        { class: 'lint-list compact' },
        task.lints.map((l) => el('li', { onclick: () => onJump(l.t, task.index) }, el('span', { class: `rule ${l.rule}` }, l.rule), el('span', { class: 'dim' }, formatTime(l.t)), ' ', l.detail)),
      )
    : el('p', { class: 'dim' }, 'no lints');

  const probes = task.probes.size ? probeTree(task, now) : el('div', { class: 'probes' }, el('p', { class: 'dim' }, 'No probe futures in this task: its await points are not instrumented.'));

  replaceChildren(
    container,
    head,
    el(
      'div',
      { class: 'task-body' },
      el('section', {}, el('h3', {}, 'Task'), identity, bar, figures),
      el('section', {}, el('h3', {}, 'Wakes & wakers'), wakes),
      el('section', {}, el('h3', {}, 'Histograms'), hists),
      el('section', { class: 'wide' }, el('h3', {}, 'Await points (state machine)'), probes, el('h3', {}, `Lints (${task.lints.length})`), lints),
    ),
  );
}

/**
 * The state diagrams of a task's probe futures as a tree; the group holding probe
 * `selectedId` (if any) is marked `selected`.
 */
function probeTree(task, now, selectedId = null) {
  const probes = el('div', { class: 'probes' });
  const addGroup = (g, depth) => {
    const title = el(
      'div',
      { class: 'probe-title' },
      el('b', {}, g.name || `future ${g.ids[0]}`),
      g.instances > 1 ? el('span', { class: 'dim' }, ` ×${g.instances} instances${g.live ? `, ${g.live} live` : ''}`) : null,
      g.ended ? ' finished as ' : ' now at ',
      el('code', { class: g.ended ? '' : 'current' }, g.label),
      g.loc ? el('span', { class: 'dim' }, ` ${g.loc}`) : null,
    );
    const selected = selectedId != null && g.ids.includes(selectedId);
    probes.append(el('div', { class: `probe${selected ? ' selected' : ''}`, style: { marginLeft: `${depth * 18}px` } }, depth ? el('span', { class: 'tree' }, '└ ') : null, title, el('div', { class: 'diagram-scroll' }, stateDiagram(g, now))));
    for (const child of g.children) addGroup(child, depth + 1);
  };
  for (const g of probeGroups(task, now)) addGroup(g, 0);
  return probes;
}

/**
 * Renders the probe futures polled outside any task (`model.outside`) into `container`:
 * their state diagrams, the one holding probe `probeId` marked as selected.
 */
export function renderOutsidePanel(container, model, probeId, { onClose }) {
  const outside = model.outside;
  const head = el(
    'div',
    { class: 'task-head' },
    el('div', { class: 'task-title' }, el('b', {}, 'Futures outside tasks'), el('span', { class: 'dim' }, ` ${outside.probes.size} probe future${outside.probes.size === 1 ? '' : 's'}`)),
    el('button', { class: 'icon', title: 'Close (Esc)', onclick: onClose }, '✕'),
  );
  const note = el('p', { class: 'dim' }, 'Polled by an executor of their own on a plain thread (no tokio task): the recorder sees them only through their probes, so there are no polls or wakes to show, only their await points.');
  replaceChildren(
    container,
    head,
    el('div', { class: 'task-body' }, el('section', { class: 'wide' }, el('h3', {}, 'Await points (state machine)'), note, probeTree(outside, model.endT, probeId))),
  );
}

function kv(key, value) {
  return [el('dt', {}, key), el('dd', {}, value)];
}

/** A small bar chart of durations in power-of-two buckets. */
function histogram(title, durations, color) {
  const { buckets, max } = log2Histogram(durations);
  const box = el('div', { class: 'hist' }, el('div', { class: 'hist-title' }, `${title} `, el('span', { class: 'dim' }, `(${formatCount(durations.length)})`)));
  if (!buckets.length) {
    box.append(el('div', { class: 'dim' }, 'none yet'));
    return box;
  }
  const rows = el('div', { class: 'hist-rows' });
  for (const b of buckets) {
    rows.append(
      el(
        'div',
        { class: 'hist-row', title: `${formatDuration(b.lo)} – ${formatDuration(b.hi)}: ${b.count}` },
        el('span', { class: 'hist-label' }, `< ${formatDuration(b.hi)}`),
        el('span', { class: 'hist-bar' }, el('span', { style: { width: `${(b.count / max) * 100}%`, background: color } })),
        el('span', { class: 'hist-count' }, formatCount(b.count)),
      ),
    );
  }
  box.append(rows);
  return box;
}

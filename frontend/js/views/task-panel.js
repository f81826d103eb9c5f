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
import { longPollCauses } from './poll-cause-view.js';

/**
 * Renders task `task` of `model` into `container`. `onJump(t, taskIndex)` moves the
 * timeline; `onSelect(taskIndex)` opens another task (parent, wakers); `onLoc(loc, {auto})`
 * shows a `file:line` in the source pane (a long poll's stack frame).
 */
export function renderTaskPanel(container, model, task, { onJump, onSelect, onClose, onLoc, focusFuture = null }) {
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

  const probes = task.probes.size ? probeTree(task, now, focusFuture) : el('div', { class: 'probes' }, el('p', { class: 'dim' }, 'No probe futures in this task: its await points are not instrumented.'));

  replaceChildren(
    container,
    head,
    el(
      'div',
      { class: 'task-body' },
      el('section', {}, el('h3', {}, 'Task'), identity, bar, figures),
      el('section', {}, el('h3', {}, 'Wakes & wakers'), wakes),
      el('section', {}, el('h3', {}, 'Histograms'), hists),
      el('section', { class: 'wide' }, el('h3', {}, 'Await points (state machine)'), probes, el('h3', {}, `Lints (${task.lints.length})`), lints, longPollCauses(model, task, onJump, onLoc)),
    ),
  );
}

/** Per task, the instance chosen in each group's selector (group key -> probe id). */
const chosenInstances = new WeakMap();

/**
 * The state diagrams of a task's probe futures as a tree, one per group of instances of the
 * same future in the source (a loop makes a new probe per iteration), each showing ONE
 * instance: the one picked in the group's selector, else `focusId` (the future row clicked on
 * the timeline) when it is in the group, else the live instance, else the latest. The
 * selector lists `focusId`'s instance first, then the others newest first.
 */
function probeTree(task, now, focusId = null) {
  const probes = el('div', { class: 'probes' });
  let chosen = chosenInstances.get(task);
  if (!chosen) chosenInstances.set(task, (chosen = new Map()));
  const addGroup = (g, depth) => {
    const members = g.ids.map((id) => task.probes.get(id)).filter(Boolean);
    const focus = focusId != null && g.ids.includes(focusId) ? focusId : null;
    if (focus != null && chosen.get(`focus:${g.key}`) !== focus) {
      // A newly clicked row wins over an earlier pick.
      chosen.set(`focus:${g.key}`, focus);
      chosen.set(g.key, focus);
    }
    const order = members.slice().sort((a, b) => (a.id === focus ? -1 : b.id === focus ? 1 : b.firstT - a.firstT));
    const live = members.filter((p) => !p.ended).sort((a, b) => b.since - a.since)[0];
    const pick = task.probes.get(chosen.get(g.key)) || task.probes.get(focus) || live || order[0];
    const index = members.indexOf(pick) + 1;
    const selector =
      members.length > 1
        ? el(
            'select',
            {
              class: 'instance-select',
              'aria-label': `instance of ${g.name || 'the future'}`,
              onchange: (ev) => {
                chosen.set(g.key, Number(ev.target.value));
                const box = ev.target.closest('.probe');
                const p = task.probes.get(Number(ev.target.value));
                if (box && p) box.replaceWith(groupBox(g, p, depth, ev.target, members.indexOf(p) + 1, members.length, focus));
              },
            },
            order.map((p) => el('option', { value: String(p.id), selected: p === pick }, `#${members.indexOf(p) + 1} of ${members.length} · future ${p.id} · ${p.ended ? p.label : `at ${p.label}`} · from ${formatTime(p.firstT)}`)),
          )
        : null;
    probes.append(groupBox(g, pick, depth, selector, index, members.length, focus));
    for (const child of g.children) addGroup(child, depth + 1);
  };
  const groupBox = (g, probe, depth, selector, index, count, focus) => {
    const title = el(
      'div',
      { class: 'probe-title' },
      el('b', {}, g.name || `future ${g.ids[0]}`),
      count > 1 ? el('span', { class: 'dim' }, ` instance ${index} of ${count}${g.live ? `, ${g.live} live` : ''}`) : null,
      probe.ended ? ' finished as ' : probe.label === 'start' ? ' created, not polled yet: at ' : ' now at ',
      el('code', { class: probe.ended ? '' : 'current' }, probe.label),
      probe.loc ? el('span', { class: 'dim' }, ` ${probe.loc}`) : null,
    );
    const selected = focus != null && probe.id === focus;
    return el('div', { class: `probe${selected ? ' selected' : ''}`, 'data-future': String(probe.id), style: { marginLeft: `${depth * 18}px` } }, depth ? el('span', { class: 'tree' }, '└ ') : null, title, selector, el('div', { class: 'diagram-scroll' }, stateDiagram(probe, now)));
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

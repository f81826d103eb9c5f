// views/lint-list.js — the run's lints (click jumps the timeline to the moment and opens
// the task) and the stream checks: violations of the legal-transition table, dropped
// events, event kinds this page does not know. The findings themselves are model.js's.

import { el, replaceChildren } from './dom.js';
import { formatTime, formatCount } from '../units.js';
import { taskColor } from '../draw.js';

export function renderLints(container, model, { onJump }) {
  if (!model || !model.lints.length) {
    replaceChildren(container, el('p', { class: 'dim pad' }, model ? 'No lints so far: no long polls, lost wakes or self wakes were flagged.' : 'No run open.'));
    return;
  }
  replaceChildren(
    container,
    el(
      'ul',
      { class: 'lint-list' },
      model.lints.map((l) => {
        const task = l.task != null ? model.tasks.get(l.task) : null;
        return el(
          'li',
          { onclick: () => onJump(l.t, task ? task.index : -1), title: 'Show on the timeline' },
          el('span', { class: `rule ${l.rule}` }, l.rule),
          el('span', { class: 'lint-time' }, formatTime(l.t)),
          task ? el('span', { class: 'lint-task' }, el('span', { class: 'sw', style: { background: taskColor(task) } }), `${task.label} #${task.id}`) : el('span', { class: 'lint-task dim' }, 'run'),
          el('span', { class: 'lint-detail' }, l.detail),
        );
      }),
    ),
  );
}

export function renderChecks(container, model) {
  if (!model) {
    replaceChildren(container, el('p', { class: 'dim pad' }, 'No run open.'));
    return;
  }
  const v = model.violations;
  const unknown = [...model.unknownKinds.entries()];
  replaceChildren(
    container,
    el(
      'div',
      { class: 'checks pad' },
      el(
        'p',
        {},
        v.count === 0
          ? el('span', { class: 'good' }, '✓ Every event was legal for the task’s phase (spawn → polls → done).')
          : el('span', { class: 'bad' }, `${formatCount(v.count)} events broke the legal-transition table.`),
        ' ',
        model.dropped ? el('span', { class: 'bad' }, `${formatCount(model.dropped)} events were dropped by the recorder or on the way: figures are lower bounds and some violations may come from the gap.`) : el('span', { class: 'dim' }, 'No events dropped.'),
      ),
      v.messages.length
        ? el(
            'table',
            { class: 'mini' },
            el('tr', {}, el('th', {}, 'time'), el('th', {}, 'event'), el('th', {}, 'what was wrong')),
            v.messages.map((m) => el('tr', {}, el('td', {}, m.t != null ? formatTime(m.t) : '–'), el('td', {}, el('code', {}, m.kind || '?')), el('td', {}, m.message))),
          )
        : null,
      v.count > v.messages.length ? el('p', { class: 'dim' }, `…and ${formatCount(v.count - v.messages.length)} more.`) : null,
      unknown.length ? el('p', { class: 'dim' }, `Event kinds this page does not know (ignored): ${unknown.map(([k, n]) => `${k} ×${n}`).join(', ')}`) : null,
    ),
  );
}

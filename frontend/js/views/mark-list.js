// views/mark-list.js — the Marks tab: every mark of the run (a scenario's own annotation,
// often the sentence that carries the lesson's answer: "4 lost", "woke up to 195 ms late"),
// with its time, the task that made it and its full text. Clicking one shows its moment on
// the timeline (and selects its task). The marks themselves are model.js's; the timeline
// draws them on the axis (draw.js drawAxis), where a label that has to be cut shows its full
// text on hover.

import { el, replaceChildren } from './dom.js';
import { formatTime } from '../units.js';
import { taskColor } from '../draw.js';

/** How many marks the tab's count shows ('' for none). */
export function markCount(model) {
  return model && model.marks.length ? String(model.marks.length) : '';
}

/** Fills `container` with the run's marks; `onJump(t, taskIndex)` shows one (taskIndex -1: none). */
export function renderMarks(container, model, { onJump }) {
  if (!model || !model.marks.length) {
    replaceChildren(container, el('p', { class: 'dim pad' }, model ? 'No marks in this run: the scenario annotated nothing yet.' : 'No run open.'));
    return;
  }
  replaceChildren(
    container,
    el(
      'ul',
      { class: 'mark-list' },
      model.marks.map((m) => {
        const task = m.task != null ? model.tasks.get(m.task) : null;
        return el(
          'li',
          { onclick: () => onJump(m.t, task ? task.index : -1), title: 'Show on the timeline' },
          el('span', { class: 'mark-time' }, formatTime(m.t)),
          task ? el('span', { class: 'mark-task' }, el('span', { class: 'sw', style: { background: taskColor(task) } }), `${task.label} #${task.id}`) : el('span', { class: 'mark-task dim' }, 'run'),
          el('span', { class: 'mark-text' }, m.label),
        );
      }),
    ),
  );
}

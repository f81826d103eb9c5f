// How a long poll's cause (`poll_cause`, see ../poll-causes.js) is shown: a few lines and a
// bar of the observed split in the poll's tooltip, and a "Long polls: why" list in the task
// panel (click a row to jump to the poll).

import { el, escapeHtml } from './dom.js';
import { formatDuration, formatTime } from '../units.js';
import { causeLabel, causeParts, causeSplitText, causeVerdict } from '../poll-causes.js';

/** A bar of the split: one coloured part per kind of time, as wide as its share. */
function splitBarHtml(c) {
  const total = c.onCpu + c.runnable + c.blocked;
  if (!total) return '';
  const parts = causeParts(c)
    .map(([label, ns, cls]) => `<span class="cause-${cls}" style="width:${((100 * ns) / total).toFixed(1)}%" title="${escapeHtml(label)}"></span>`)
    .join('');
  return `<div class="cause-bar">${parts}</div>`;
}

/** The tooltip lines for a poll with cause `c`. */
export function causeTipHtml(c) {
  const where = c.cause === 'blocked' && c.wchan ? ` <span class="dim">(kernel: ${escapeHtml(c.wchan)})</span>` : '';
  return `<div class="tip-cause"><b class="cause-${c.cause === 'on_cpu' ? 'cpu' : c.cause}">${escapeHtml(causeLabel(c))}</b>${where}</div>${splitBarHtml(c)}<div class="dim">${escapeHtml(causeSplitText(c))}</div><div class="dim">${escapeHtml(causeVerdict(c))}</div>`;
}

/** The task panel's list of the task's long polls and why each was long (nothing if none). */
export function longPollCauses(model, task, onJump) {
  const causes = model.pollCauses.ofTask(task.id);
  if (!causes.length) return null;
  return [
    el('h3', {}, `Long polls: why (${causes.length})`),
    el(
      'ul',
      { class: 'lint-list compact poll-causes' },
      causes.map((c) =>
        el(
          'li',
          { onclick: () => onJump(c.since, task.index) },
          el('span', { class: `cause cause-${c.cause === 'on_cpu' ? 'cpu' : c.cause}` }, causeLabel(c)),
          el('span', { class: 'dim' }, formatTime(c.since)),
          ' ',
          `${formatDuration(c.onCpu + c.runnable + c.blocked)} observed: ${causeSplitText(c)}`,
          c.cause === 'runnable' ? el('div', { class: 'dim' }, causeVerdict(c)) : null,
        ),
      ),
    ),
  ];
}

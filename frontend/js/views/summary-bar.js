// views/summary-bar.js — the run's summary figures in the top bar: tasks, polls, wakes,
// longest poll, worst scheduling delay, events, dropped, checks. Each figure is computed
// by model.js (RunModel.summary); a click on one that points at a moment jumps there.

import { el, replaceChildren } from './dom.js';
import { formatDuration, formatCount } from '../units.js';

export function renderSummary(container, model, { onJump, onChecks }) {
  if (!model) {
    replaceChildren(container);
    return;
  }
  const s = model.summary();
  const taskName = (i) => (i >= 0 ? `${model.taskList[i].label} #${model.taskList[i].id}` : '');
  const fig = (label, value, opts = {}) =>
    el(
      'div',
      { class: `fig${opts.cls ? ` ${opts.cls}` : ''}${opts.onclick ? ' clickable' : ''}`, title: opts.title || '', onclick: opts.onclick, dataset: { fig: opts.key || label } },
      el('span', { class: 'fig-value' }, value),
      el('span', { class: 'fig-label' }, label),
    );
  replaceChildren(
    container,
    fig('tasks', formatCount(s.tasks), { title: `${s.alive} alive, ${s.done} done`, key: 'tasks' }),
    fig('polls', formatCount(s.polls), { key: 'polls' }),
    fig('wakes', formatCount(s.wakes), { key: 'wakes' }),
    fig('longest poll', formatDuration(s.longestPoll.ns), {
      key: 'longest',
      title: s.longestPoll.task >= 0 ? `${taskName(s.longestPoll.task)} — click to show it` : '',
      onclick: s.longestPoll.task >= 0 ? () => onJump(s.longestPoll.t + s.longestPoll.ns / 2, s.longestPoll.task) : null,
      cls: s.longestPoll.ns >= 10e6 ? 'warn' : '',
    }),
    fig('worst sched delay', formatDuration(s.worstDelay.ns), {
      key: 'delay',
      title: s.worstDelay.task >= 0 ? `${taskName(s.worstDelay.task)}: from its wake to its next poll — click to show it` : '',
      onclick: s.worstDelay.task >= 0 ? () => onJump(s.worstDelay.t + s.worstDelay.ns / 2, s.worstDelay.task) : null,
    }),
    fig('events', formatCount(s.events), { key: 'events' }),
    fig('dropped', formatCount(s.dropped), { key: 'dropped', cls: s.dropped ? 'bad' : 'quiet' }),
    fig('checks', s.violations ? `${formatCount(s.violations)} ✗` : '✓', {
      key: 'checks',
      cls: s.violations ? 'bad' : 'good',
      title: 'events that broke the legal-transition table',
      onclick: onChecks,
    }),
  );
}

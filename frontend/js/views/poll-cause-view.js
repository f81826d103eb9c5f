// How a long poll's cause (`poll_cause`, see ../poll-causes.js) is shown: a few lines, a bar of
// the observed split and the hottest stack (the program's own frame first) in the poll's
// tooltip, and a "Long polls: why" list in the task panel: click a row to jump to the poll;
// the chosen poll's stack samples are drawn below as a small flame graph (outermost frame on
// top, each frame as wide as the samples it was in), whose frames jump the source pane to
// their line. When a task's panel first shows a poll with a hot frame, the source pane jumps
// to it.

import { el, escapeHtml } from './dom.js';
import { formatDuration, formatTime } from '../units.js';
import { causeLabel, causeParts, causeSplitText, causeVerdict, flameTree, hotText, hottestStack, shortFn, stackSamples } from '../poll-causes.js';

/** A bar of the split: one coloured part per kind of time, as wide as its share. */
function splitBarHtml(c) {
  const total = c.onCpu + c.runnable + c.blocked;
  if (!total) return '';
  const parts = causeParts(c)
    .map(([label, ns, cls]) => `<span class="cause-${cls}" style="width:${((100 * ns) / total).toFixed(1)}%" title="${escapeHtml(label)}"></span>`)
    .join('');
  return `<div class="cause-bar">${parts}</div>`;
}

/** The hottest stack for the tooltip: its own frame first, what it called, who called it. */
function stackTipHtml(c) {
  const s = hottestStack(c);
  if (!s) return '';
  const own = s.own ?? s.frames.length - 1;
  const f = s.frames[own];
  const head = c.hot ? hotText(c) : `${shortFn(f.fn)}${f.loc ? ` at ${f.loc}` : ''}`;
  const inner = s.frames.slice(own + 1).map((x) => shortFn(x.fn));
  const outer = s.frames.slice(0, own).reverse().slice(0, 3).map((x) => shortFn(x.fn));
  return `<div class="tip-stack"><b>${escapeHtml(head)}</b>${inner.length ? `<div class="dim">calling ${escapeHtml(inner.join(' → '))}</div>` : ''}${
    outer.length ? `<div class="dim">called from ${escapeHtml(outer.join(' ← '))}${own > 3 ? ' ← …' : ''}</div>` : ''
  }<div class="dim">hottest stack: ${s.n} of ${stackSamples(c)} stack samples</div></div>`;
}

/** The tooltip lines for a poll with cause `c`. */
export function causeTipHtml(c) {
  const where = c.cause === 'blocked' && c.wchan ? ` <span class="dim">(kernel: ${escapeHtml(c.wchan)})</span>` : '';
  return `<div class="tip-cause"><b class="cause-${c.cause === 'on_cpu' ? 'cpu' : c.cause}">${escapeHtml(causeLabel(c))}</b>${where}</div>${splitBarHtml(c)}<div class="dim">${escapeHtml(causeSplitText(c))}</div>${stackTipHtml(c)}<div class="dim">${escapeHtml(causeVerdict(c))}</div>`;
}

/** The poll chosen in each task's list (task id -> poll start), and the polls whose hot frame
 * the source pane was already sent to. */
const chosen = new Map();
const jumped = new Set();

/** A flame graph of one poll's stacks: nested boxes, root on top. `onLoc(loc)` on a click. */
export function flameGraph(c, onLoc) {
  const tree = flameTree(c);
  if (!tree.n) return null;
  const node = (n, parentN) => {
    const f = n.frame;
    const label = `${shortFn(f.fn)}`;
    const title = `${f.fn}${f.loc ? `\n${f.loc}` : ''}\n${n.n} of ${tree.n} samples${n.own ? ' (own code)' : ''}`;
    const cls = `flame-frame${n.own ? ' own' : ''}${n.hot ? ' hot' : ''}${f.loc ? ' has-loc' : ''}`;
    return el(
      'div',
      { class: 'flame-node', style: { width: `${((100 * n.n) / parentN).toFixed(3)}%` } },
      el(
        'div',
        {
          class: cls,
          title,
          dataset: { loc: f.loc || '', fn: f.fn, n: String(n.n) },
          onclick: (ev) => {
            ev.stopPropagation();
            if (f.loc && onLoc) onLoc(f.loc);
          },
        },
        label,
      ),
      n.children.length ? el('div', { class: 'flame-row' }, n.children.map((ch) => node(ch, n.n))) : null,
    );
  };
  return el(
    'div',
    { class: 'flame', title: '' },
    el('div', { class: 'flame-row' }, tree.children.map((ch) => node(ch, tree.n))),
  );
}

/** The task panel's list of the task's long polls and why each was long (nothing if none).
 * `onLoc(loc)` shows a `file:line` in the source pane. */
export function longPollCauses(model, task, onJump, onLoc) {
  const causes = model.pollCauses.ofTask(task.id);
  if (!causes.length) return null;
  const withStacks = causes.filter((c) => c.stacks.length);
  let pick = causes.find((c) => c.since === chosen.get(task.id) && c.stacks.length) || withStacks[0] || null;
  const runKey = `${model.meta?.run ?? ''}/${task.id}`;
  if (pick && pick.hot?.loc && onLoc && !jumped.has(`${runKey}/${pick.since}`)) {
    jumped.add(`${runKey}/${pick.since}`);
    // After the panel is in place: the source pane is the app's.
    queueMicrotask(() => onLoc(pick.hot.loc, { auto: true }));
  }
  const flame = pick ? flameGraph(pick, onLoc) : null;
  return [
    el('h3', {}, `Long polls: why (${causes.length})`),
    el(
      'ul',
      { class: 'lint-list compact poll-causes' },
      causes.map((c) =>
        el(
          'li',
          {
            class: c === pick ? 'chosen' : '',
            onclick: () => {
              chosen.set(task.id, c.since);
              onJump(c.since, task.index);
              if (c.hot?.loc && onLoc) onLoc(c.hot.loc);
            },
          },
          el('span', { class: `cause cause-${c.cause === 'on_cpu' ? 'cpu' : c.cause}` }, causeLabel(c)),
          el('span', { class: 'dim' }, formatTime(c.since)),
          ' ',
          `${formatDuration(c.onCpu + c.runnable + c.blocked)} observed: ${causeSplitText(c)}`,
          c.hot ? el('div', { class: 'hot-frame' }, hotText(c)) : null,
          c.cause === 'runnable' ? el('div', { class: 'dim' }, causeVerdict(c)) : null,
        ),
      ),
    ),
    flame
      ? el(
          'div',
          { class: 'flame-box' },
          el('h3', {}, `Stack samples of the poll at ${formatTime(pick.since)} (${stackSamples(pick)}; outermost frame on top, click a frame for its source)`),
          flame,
        )
      : null,
  ];
}

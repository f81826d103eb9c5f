// views/source-view.js — a scenario's source with line numbers, the await points that
// state events reported marked in the gutter, and the selected task's current await
// point highlighted (state event `loc` = "file:line", matched when the file ends with the
// scenario's file). Which task is selected and when to refresh is the app's.

import { el, replaceChildren } from './dom.js';

export class SourceView {
  constructor(container, fileLabel) {
    this.container = container;
    this.fileLabel = fileLabel;
    this.lines = [];
    this.file = null;
    this.current = -1;
    this.marked = new Set();
    this.pinned = -1;
  }

  /** Shows `source` (text) of `file` (a path, e.g. "scenarios/src/lost_wakeup.rs"). */
  setSource(source, file) {
    this.file = file;
    this.fileLabel.textContent = file || '';
    this.current = -1;
    this.pinned = -1;
    this.marked = new Set();
    const text = source || '';
    const rows = text.split('\n');
    if (rows.length && rows[rows.length - 1] === '') rows.pop();
    const state = { inString: false };
    this.lines = rows.map((line, i) => el('div', { class: 'src-line', dataset: { line: i + 1 } }, el('span', { class: 'ln' }, String(i + 1)), el('span', { class: 'code' }, highlightRust(line, state))));
    replaceChildren(this.container, this.lines.length ? this.lines : el('p', { class: 'dim pad' }, 'No source for this run.'));
  }

  /** Line number of `loc` ("file:line[:col]") if it points into this file, else -1. */
  lineOf(loc) {
    if (!loc || !this.file) return -1;
    const m = /^(.*?):(\d+)(?::\d+)?$/.exec(String(loc));
    if (!m) return -1;
    const file = m[1];
    const base = this.file.split('/').pop();
    if (!(file.endsWith(this.file) || this.file.endsWith(file) || file.endsWith(`/${base}`) || file === base)) return -1;
    return Number(m[2]);
  }

  /** Marks the await points seen so far (a Map of line -> count). */
  markAwaitPoints(lineCounts) {
    for (const n of this.marked) this.lines[n - 1]?.classList.remove('await');
    this.marked = new Set();
    for (const [line, count] of lineCounts) {
      const row = this.lines[line - 1];
      if (!row) continue;
      row.classList.add('await');
      row.title = `await point reached ${count}×`;
      this.marked.add(line);
    }
  }

  /** Marks `line` as the one a snapshot frame was jumped to (kept apart from `highlight`'s), scrolled into view; -1 clears. */
  pin(line) {
    this.lines[this.pinned - 1]?.classList.remove('pinned');
    this.pinned = line;
    const row = this.lines[line - 1];
    if (!row) return;
    row.classList.add('pinned');
    row.scrollIntoView({ block: 'center', behavior: 'smooth' });
  }

  /** Highlights `line` (1-based) as the current await point; -1 clears. */
  highlight(line, { scroll = true } = {}) {
    if (line === this.current) return;
    this.lines[this.current - 1]?.classList.remove('current');
    this.current = line;
    const row = this.lines[line - 1];
    if (!row) return;
    row.classList.add('current');
    if (scroll) row.scrollIntoView({ block: 'center', behavior: 'smooth' });
  }
}

const KEYWORDS = new Set(
  'as async await break const continue crate dyn else enum extern false fn for if impl in let loop match mod move mut pub ref return self Self static struct super trait true type unsafe use where while'.split(' '),
);

/**
 * A minimal Rust highlighter: comments, strings, keywords, macros, numbers, lifetimes.
 * `state.inString` carries a string literal that spans lines from one call to the next.
 */
export function highlightRust(line, state = { inString: false }) {
  const frag = document.createDocumentFragment();
  let last = 0;
  if (state.inString) {
    const close = /^(?:[^"\\]|\\.)*"/.exec(line);
    const end = close ? close[0].length : line.length;
    frag.append(el('span', { class: 'tok-string' }, line.slice(0, end)));
    last = end;
    state.inString = !close;
  }
  const re = /(\/\/.*$)|("(?:[^"\\]|\\.)*(?:"|\\?$))|('[a-z_]+\b(?!'))|(\b[A-Za-z_][A-Za-z0-9_]*!?)|(\b\d[\d_]*(?:\.\d+)?\b)/g;
  re.lastIndex = last;
  let m;
  while ((m = re.exec(line))) {
    if (m.index > last) frag.append(line.slice(last, m.index));
    const [text] = m;
    let cls = null;
    if (m[1]) cls = 'tok-comment';
    else if (m[2]) {
      cls = 'tok-string';
      // An opening quote with no closing one on this line: the string goes on.
      if (!/^"(?:[^"\\]|\\.)*"$/.test(text)) state.inString = true;
    }
    else if (m[3]) cls = 'tok-lifetime';
    else if (m[4]) cls = text.endsWith('!') ? 'tok-macro' : KEYWORDS.has(text) ? 'tok-kw' : /^[A-Z]/.test(text) ? 'tok-type' : null;
    else if (m[5]) cls = 'tok-num';
    frag.append(cls ? el('span', { class: cls }, text) : text);
    last = m.index + text.length;
  }
  if (last < line.length) frag.append(line.slice(last));
  return frag;
}

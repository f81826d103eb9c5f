// views/dom.js — the small DOM vocabulary the views share: building elements, escaping
// text, rendering a scenario's explanation text. No state and no knowledge of runs.

/**
 * Creates an element. `attrs`: properties and attributes (`class`, `dataset`, `on*`
 * handlers, `style` object, anything else as an attribute); `children`: nodes, strings
 * (as text) or arrays of them; null/false children are skipped.
 */
export function el(tag, attrs = {}, ...children) {
  const node = tag === 'svg' || SVG_TAGS.has(tag) ? document.createElementNS(SVG_NS, tag) : document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value == null || value === false) continue;
    if (key === 'class') node.setAttribute('class', value);
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key === 'style' && typeof value === 'object') Object.assign(node.style, value);
    else if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else if (key === 'text') node.textContent = value;
    else if (key in node && !(node instanceof SVGElement) && key !== 'list') node[key] = value;
    else node.setAttribute(key, value === true ? '' : value);
  }
  append(node, children);
  return node;
}

const SVG_NS = 'http://www.w3.org/2000/svg';
const SVG_TAGS = new Set(['g', 'path', 'rect', 'text', 'line', 'circle', 'title', 'defs', 'marker', 'tspan', 'polygon']);

function append(node, children) {
  for (const child of children) {
    if (child == null || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else node.append(child instanceof Node ? child : String(child));
  }
}

/** Replaces all children of `node`. */
export function replaceChildren(node, ...children) {
  node.textContent = '';
  append(node, children);
}

export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

/**
 * A scenario's explanation text as paragraphs: blank lines separate paragraphs, lines
 * starting with "- " make a list, `backticks` make code. Everything is escaped first.
 */
export function renderProse(text) {
  const frag = document.createDocumentFragment();
  const blocks = String(text || '').split(/\n\s*\n/);
  for (const block of blocks) {
    const lines = block.trim().split('\n');
    if (!lines[0]) continue;
    if (lines.every((l) => /^\s*[-*] /.test(l))) {
      const ul = document.createElement('ul');
      for (const l of lines) {
        const li = document.createElement('li');
        li.innerHTML = inline(l.replace(/^\s*[-*] /, ''));
        ul.append(li);
      }
      frag.append(ul);
    } else {
      const p = document.createElement('p');
      p.innerHTML = inline(lines.join(' '));
      frag.append(p);
    }
  }
  return frag;
}

function inline(text) {
  return escapeHtml(text)
    .replace(/`([^`]+)`/g, '<code>$1</code>')
    .replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>');
}

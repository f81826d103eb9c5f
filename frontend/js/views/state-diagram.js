// views/state-diagram.js — draws the state machine of one probe future as SVG: one node
// per state (await point) with its count and time spent, one arrow per transition with
// its count, the current state highlighted. Forward transitions arc above the row of
// nodes, backward ones below, self-loops as a small loop.
//
// The counts and times come from model.js's ProbeRecord; nesting of probes into a tree
// is task-panel.js's.

import { el } from './dom.js';
import { formatDuration } from '../units.js';

const NODE_W = 132;
const NODE_H = 40;
const GAP = 46;
const PAD = 10;

/** An <svg> for a probe (ProbeRecord or ProbeGroup: states, transitions, label, timeIn) at time `now`. */
export function stateDiagram(probe, now) {
  const nodes = [...probe.states.values()].sort((a, b) => a.order - b.order);
  const edges = [...probe.transitions.values()];
  const pos = new Map();
  nodes.forEach((n, i) => pos.set(n.label, PAD + i * (NODE_W + GAP)));
  const span = (e) => Math.abs(nodes.findIndex((n) => n.label === e.to) - nodes.findIndex((n) => n.label === e.from));
  const maxFwd = Math.max(0, ...edges.filter((e) => pos.get(e.to) > pos.get(e.from)).map(span));
  const maxBack = Math.max(0, ...edges.filter((e) => pos.get(e.to) <= pos.get(e.from)).map(span));
  const top = 18 + Math.min(4, maxFwd) * 12;
  const width = PAD * 2 + nodes.length * NODE_W + Math.max(0, nodes.length - 1) * GAP;
  const height = top + NODE_H + 22 + Math.min(4, maxBack) * 12;
  const svg = el('svg', { class: 'state-diagram', width, height, viewBox: `0 0 ${width} ${height}` });
  const defs = el(
    'defs',
    {},
    el('marker', { id: 'arrow', viewBox: '0 0 8 8', refX: 7, refY: 4, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, el('path', { d: 'M0,0 L8,4 L0,8 z', class: 'arrowhead' })),
  );
  svg.append(defs);

  const cy = top + NODE_H / 2;
  for (const e of edges) {
    const x0 = pos.get(e.from);
    const x1 = pos.get(e.to);
    let d;
    let lx;
    let ly;
    if (e.from === e.to) {
      const cx = x0 + NODE_W - 18;
      d = `M${cx - 8},${top} C${cx - 14},${top - 22} ${cx + 14},${top - 22} ${cx + 8},${top}`;
      lx = cx;
      ly = top - 18;
    } else if (x1 > x0) {
      const sx = x0 + NODE_W;
      const ex = x1;
      if (x1 - x0 === NODE_W + GAP) {
        d = `M${sx},${cy} L${ex - 1},${cy}`;
        lx = (sx + ex) / 2;
        ly = cy - 5;
      } else {
        const lift = 10 + Math.min(4, span(e)) * 12;
        const a = x0 + NODE_W / 2 + 10;
        const b = x1 + NODE_W / 2 - 10;
        d = `M${a},${top} C${a},${top - lift} ${b},${top - lift} ${b},${top - 1}`;
        lx = (a + b) / 2;
        ly = top - lift * 0.75 - 2;
      }
    } else {
      const drop = 12 + Math.min(4, span(e)) * 12;
      const a = x0 + NODE_W / 2 - 10;
      const b = x1 + NODE_W / 2 + 10;
      const bottom = top + NODE_H;
      d = `M${a},${bottom} C${a},${bottom + drop} ${b},${bottom + drop} ${b},${bottom + 1}`;
      lx = (a + b) / 2;
      ly = bottom + drop * 0.75 + 9;
    }
    svg.append(el('path', { d, class: 'edge', 'marker-end': 'url(#arrow)' }));
    svg.append(el('text', { x: lx, y: ly, class: 'edge-count', 'text-anchor': 'middle' }, `×${e.count}`));
  }

  for (const n of nodes) {
    const x = pos.get(n.label);
    const current = !probe.ended && n.label === probe.label;
    const terminal = n.label === 'ready' || n.label === 'cancelled' || n.label === 'panicked';
    const cls = ['node', current ? 'current' : '', terminal ? `terminal ${n.label}` : '', n.label === 'start' ? 'start' : ''].join(' ');
    const g = el('g', { class: cls });
    g.append(el('title', {}, `${n.label}${n.loc ? `\n${n.loc}` : ''}\nentered ${n.count}×, ${formatDuration(probe.timeIn(n.label, now))} in total`));
    g.append(el('rect', { x, y: top, width: NODE_W, height: NODE_H, rx: 5 }));
    g.append(el('text', { x: x + 8, y: top + 16, class: 'label' }, clip(n.label, 19)));
    g.append(el('text', { x: x + 8, y: top + 31, class: 'figures' }, `×${n.count} · ${formatDuration(probe.timeIn(n.label, now))}`));
    svg.append(g);
  }
  return svg;
}

function clip(text, n) {
  return text.length > n ? `${text.slice(0, n - 1)}…` : text;
}

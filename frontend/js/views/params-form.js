// views/params-form.js — builds the parameter form of a scenario from its param specs
// (docs/protocol.md: {name, type: int|bool|choice, default, min, max, choices, help}) and
// reads it back as a typed params object for POST /api/runs. The server validates too;
// this form only keeps a user inside the documented bounds.

import { el, replaceChildren } from './dom.js';

/** Renders the form; returns {read(): params, errors(): [messages]}. `initial` overrides defaults. */
export function renderParamsForm(container, specs = [], initial = {}) {
  const fields = [];
  const rows = specs.map((spec) => {
    const value = initial[spec.name] ?? spec.default;
    let input;
    if (spec.type === 'bool') {
      input = el('input', { type: 'checkbox', checked: Boolean(value), name: spec.name });
    } else if (spec.type === 'choice') {
      input = el(
        'select',
        { name: spec.name },
        (spec.choices || []).map((c) => el('option', { value: String(c), selected: String(c) === String(value) }, String(c))),
      );
    } else {
      input = el('input', {
        type: 'number',
        name: spec.name,
        step: 1,
        min: spec.min ?? undefined,
        max: spec.max ?? undefined,
        value: value ?? '',
      });
    }
    fields.push({ spec, input });
    const bounds = spec.type === 'int' && (spec.min != null || spec.max != null) ? `${spec.min ?? '…'}–${spec.max ?? '…'}` : '';
    return el(
      'label',
      { class: `param param-${spec.type}`, title: spec.help || '' },
      el('span', { class: 'param-name' }, spec.name),
      input,
      bounds ? el('span', { class: 'param-bounds' }, bounds) : null,
      spec.help ? el('span', { class: 'param-help' }, spec.help) : null,
    );
  });
  replaceChildren(container, rows.length ? rows : el('p', { class: 'dim' }, 'No parameters.'));

  const read = () => {
    const params = {};
    for (const { spec, input } of fields) {
      if (spec.type === 'bool') params[spec.name] = input.checked;
      else if (spec.type === 'choice') params[spec.name] = input.value;
      else params[spec.name] = input.value === '' ? spec.default : Number(input.value);
    }
    return params;
  };
  const errors = () => {
    const out = [];
    for (const { spec, input } of fields) {
      if (spec.type !== 'int') continue;
      const v = Number(input.value);
      const bad = !Number.isInteger(v) || (spec.min != null && v < spec.min) || (spec.max != null && v > spec.max);
      input.classList.toggle('invalid', bad);
      if (bad) out.push(`${spec.name} must be an integer${spec.min != null ? ` ≥ ${spec.min}` : ''}${spec.max != null ? ` and ≤ ${spec.max}` : ''}`);
    }
    return out;
  };
  return { read, errors };
}

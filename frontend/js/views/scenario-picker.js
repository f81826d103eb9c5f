// views/scenario-picker.js — the list of scenarios grouped by topic (title and summary of
// each), and the selected scenario's explanation. Fetching scenarios and starting runs
// is the app's; the parameter form is params-form.js's.

import { el, replaceChildren, renderProse } from './dom.js';

/** Renders the grouped list into `container`; `onSelect(name)` on click. */
export function renderScenarioList(container, scenarios, { selected, filter = '', onSelect }) {
  const q = filter.trim().toLowerCase();
  const groups = new Map();
  for (const s of scenarios) {
    const hay = `${s.name} ${s.title} ${s.topic} ${s.summary || ''}`.toLowerCase();
    if (q && !hay.includes(q)) continue;
    const topic = s.topic || 'Other';
    if (!groups.has(topic)) groups.set(topic, []);
    groups.get(topic).push(s);
  }
  const nodes = [];
  for (const [topic, list] of groups) {
    nodes.push(
      el(
        'div',
        { class: 'topic' },
        el('div', { class: 'topic-name' }, topic),
        list.map((s) =>
          el(
            'button',
            {
              class: `scenario${s.name === selected ? ' selected' : ''}`,
              dataset: { name: s.name },
              title: s.name,
              onclick: () => onSelect(s.name),
            },
            el('span', { class: 'scenario-title' }, s.title || s.name),
            s.summary ? el('span', { class: 'scenario-summary' }, s.summary) : null,
          ),
        ),
      ),
    );
  }
  if (!nodes.length) nodes.push(el('p', { class: 'dim' }, scenarios.length ? 'No scenario matches.' : 'No scenarios loaded.'));
  replaceChildren(container, nodes);
}

/** The explanation of one scenario: title, topic, summary, description paragraphs. */
export function renderScenarioAbout(container, scenario) {
  if (!scenario) {
    replaceChildren(container, el('p', { class: 'dim' }, 'Pick a scenario to read what it shows.'));
    return;
  }
  replaceChildren(
    container,
    el('div', { class: 'about-topic' }, scenario.topic || ''),
    el('h2', { class: 'about-title' }, scenario.title || scenario.name),
    el('div', { class: 'about-name' }, el('code', {}, scenario.name)),
    scenario.summary ? el('p', { class: 'about-summary' }, scenario.summary) : null,
    el('div', { class: 'prose' }, renderProse(scenario.description || '')),
  );
}

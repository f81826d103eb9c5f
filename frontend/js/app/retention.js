// app/retention.js — the open live run's bounded window on the page, and the notice that says
// what is shown. Live (app/live.js) gives every live model a RetainedWindow
// (retained-window.js) and calls `afterIngest` after each applied batch: once the window is
// full the model is rebuilt from its newest part and swapped in, keeping the view, the
// follow state and the selected task. The notice above the timeline ("Showing the last
// 10 min 00 s: 1,204,331 earlier events and 20,010 finished tasks were evicted") appears as
// soon as the server or the page evicted anything, from the model's `windowStart`,
// `evicted` and `trimmed`.

import { RetainedWindow } from '../retained-window.js';
import { formatCount } from '../units.js';
import { formatUptime } from '../views/program-header.js';

const $ = (id) => document.getElementById(id);

/**
 * The page's window limits: the defaults, or `?window_events=N` / `?window_s=S` in the page's
 * address (to keep less, or to see the trimming without waiting for a million events).
 */
export function windowLimits(search) {
  const q = new URLSearchParams(search);
  const limits = {};
  const events = Number(q.get('window_events'));
  if (Number.isInteger(events) && events >= 100) limits.maxEvents = events;
  const secs = Number(q.get('window_s'));
  if (secs > 0) limits.maxAgeNs = secs * 1e9;
  return limits;
}

/** The notice's text for `model`, or '' when nothing was evicted. */
export function windowNotice(model) {
  if (!model || !(model.windowStart > 0)) return '';
  const events = model.evicted.events + model.trimmed.events;
  const tasks = model.evicted.tasks + model.trimmed.tasks;
  const span = formatUptime((model.endT - model.windowStart) / 1e6);
  const by = model.evicted.events && model.trimmed.events ? 'by the server and this page' : model.trimmed.events ? 'by this page' : 'by the server';
  const tasksText = tasks ? ` and ${formatCount(tasks)} finished task${tasks === 1 ? '' : 's'}` : '';
  return `Showing the last ${span} (the retention window): ${formatCount(events)} earlier event${events === 1 ? '' : 's'}${tasksText} were evicted ${by}.`;
}

export class Retention {
  constructor(app, limits = {}) {
    this.app = app;
    this.limits = limits;
    this.shown = '';
    app.store.subscribe((state, changed) => {
      if (changed.has('model')) this.render(state.model);
    });
  }

  /** A fresh window for a model fed live. */
  windowFor() {
    return new RetainedWindow(this.limits);
  }

  /** After a batch went in: trims the page's window when it is full, then updates the notice. */
  afterIngest(feed) {
    const window = feed.window;
    const state = this.app.store.state;
    if (window && window.full() && state.model === feed.model) this.trim(feed);
    this.render(this.app.store.state.model);
  }

  trim(feed) {
    const app = this.app;
    const state = app.store.state;
    const old = state.model;
    const selected = old.taskList[state.selectedTask];
    const model = feed.window.rebuild(old.meta);
    const tl = app.timeline;
    const view = tl.viewport.snapshot();
    const follow = tl.follow;
    app.setModel(model, state.live);
    app.live.feed.window = feed.window; // the same window goes on with the new model
    tl.viewport.t0 = view.t0;
    tl.viewport.nsPerPx = view.nsPerPx;
    tl.follow = follow;
    tl.autoFit = follow;
    const again = selected ? model.tasks.get(selected.id) : null;
    if (again) app.store.update({ selectedTask: again.index });
  }

  render(model) {
    const box = $('window-notice');
    if (!box) return;
    const text = windowNotice(model);
    if (text === this.shown) return;
    this.shown = text;
    box.hidden = !text;
    box.textContent = text;
  }
}

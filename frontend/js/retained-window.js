// retained-window.js — the page's bounded window of a live run. A watched program's run has
// no end: the server keeps a retention window (docs/protocol.md, `evicted`), and the page
// keeps one too, so a tab left open for a day does not grow without bound.
//
// A RetainedWindow remembers the batches the open run's model took, in order. Once they hold
// more than `maxEvents` events, or span more than `maxAgeNs`, `rebuild` drops the oldest
// batches (down to three quarters of the limits) and builds a fresh RunModel from what is
// left, exactly as the server does for a reader that starts after an eviction: first the
// carried events (every lane, and the spawn of every task whose `done` was not dropped
// with it), then the kept batches. What it dropped is counted
// (`dropped.events`, `dropped.tasks`) and the model's `windowStart` says where the picture
// now begins.
//
// It knows nothing of sockets or the DOM: app/retention.js decides when to rebuild and swaps
// the model in.

import { RunModel } from './model.js';

/** Default limits: a million events (a few hundred MB of page at most), ten minutes. */
export const DEFAULT_WINDOW = { maxEvents: 1_000_000, maxAgeNs: 10 * 60e9 };

export class RetainedWindow {
  constructor({ maxEvents = DEFAULT_WINDOW.maxEvents, maxAgeNs = DEFAULT_WINDOW.maxAgeNs } = {}) {
    this.maxEvents = maxEvents;
    this.maxAgeNs = maxAgeNs;
    this.batches = []; // event arrays, oldest first
    this.events = 0;
    this.lanes = new Map(); // worker index -> its `worker` event (carried)
    this.spawns = new Map(); // task id -> its `spawn` event (carried until its `done` goes)
    this.dropped = { events: 0, tasks: 0 };
    this.serverNotice = null; // the last `evicted` event dropped: the server's own counts
  }

  /** A batch the model took. */
  record(events) {
    if (!events.length) return;
    this.batches.push(events);
    this.events += events.length;
  }

  firstT() {
    const b = this.batches[0];
    return b ? b[0].t : 0;
  }

  lastT() {
    const b = this.batches[this.batches.length - 1];
    return b ? b[b.length - 1].t : 0;
  }

  /** True when the window holds more than its limits allow (then `rebuild`). */
  full() {
    if (this.batches.length < 2) return false;
    return this.events > this.maxEvents || (this.maxAgeNs > 0 && this.lastT() - this.firstT() > this.maxAgeNs);
  }

  /** Drops the oldest batches to three quarters of the limits; returns the new model. */
  rebuild(meta) {
    const keepEvents = Math.floor(this.maxEvents * 0.75);
    const keepFrom = this.maxAgeNs > 0 ? this.lastT() - this.maxAgeNs * 0.75 : -Infinity;
    while (this.batches.length > 1 && (this.events > keepEvents || this.batches[0][this.batches[0].length - 1].t < keepFrom)) {
      const batch = this.batches.shift();
      this.events -= batch.length;
      this.forget(batch);
    }
    return this.model(meta);
  }

  forget(batch) {
    for (const e of batch) {
      if (e.k === 'worker') this.lanes.set(e.worker, e);
      else if (e.k === 'spawn') this.spawns.set(e.task, e);
      else {
        if (e.k === 'evicted') this.serverNotice = e;
        if (e.k === 'done') {
          if (this.spawns.delete(e.task)) this.dropped.events++;
          this.dropped.tasks++;
        }
        this.dropped.events++;
      }
    }
  }

  /** A fresh model of the carried events, then the kept batches. */
  model(meta) {
    const model = new RunModel({ ...meta });
    const carried = [...this.lanes.values(), ...this.spawns.values()].sort((a, b) => a.t - b.t);
    model.ingest(carried);
    if (this.serverNotice) model.onEvicted(this.serverNotice);
    model.cutWindow(this.firstT(), this.dropped);
    for (const batch of this.batches) model.ingest(batch);
    return model;
  }
}

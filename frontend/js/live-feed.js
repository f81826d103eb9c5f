// live-feed.js — the gate between a live run's batches and its model: applies each batch
// at once, or, while paused, holds the batches (in arrival order) and applies them all on
// resume, so pausing freezes the picture without losing or reordering an event.
//
// It knows nothing of sockets or views: the app pushes the batches socket.js delivers and
// redraws when `onApplied` says the model changed.

export class LiveFeed {
  /**
   * `model`: the RunModel fed; `onApplied()`: called after one or more batches went in;
   * `window`: a RetainedWindow that remembers what went in (retained-window.js), or null.
   */
  constructor(model, onApplied = () => {}, window = null) {
    this.model = model;
    this.onApplied = onApplied;
    this.window = window;
    this.paused = false;
    this.buffered = []; // batches (event arrays) received while paused
    this.bufferedEvents = 0;
  }

  /** A batch arrived: applied now, or buffered while paused. Returns true when applied. */
  push(events) {
    if (this.paused) {
      this.buffered.push(events);
      this.bufferedEvents += events.length;
      return false;
    }
    this.model.ingest(events);
    this.window?.record(events);
    this.onApplied();
    return true;
  }

  pause() {
    this.paused = true;
  }

  /** Applies everything buffered, in arrival order, then lets batches through again. */
  resume() {
    this.paused = false;
    if (!this.buffered.length) return;
    const batches = this.buffered;
    this.buffered = [];
    this.bufferedEvents = 0;
    for (const events of batches) {
      this.model.ingest(events);
      this.window?.record(events);
    }
    this.onApplied();
  }

  setPaused(paused) {
    if (paused) this.pause();
    else this.resume();
  }
}

// sampled.js — future states read from snapshots (task dumps), for the futures nobody labelled.
//
// A probe (`#[instrument]`, `.await_point(site!(..))`) records a future's every state change,
// so its future row is continuous. A snapshot sees every idle task's await tree at one instant
// only: where the task was waiting then, and nothing about before or after. So a task's
// *sampled* row (under its lane, with its future rows) shows one marker per snapshot that traced
// the task, labelled with where it waited (the innermost program frames and the leaf future
// under them), and nothing between two markers: the state between samples is unknown.
//
// Pure functions of the model's `snapshots` (RunModel.onSnapshot); the samples of a task are
// cached on its TaskRecord (`task.samples`), extended as snapshots arrive.

import { waitSites, foldFrames, shortFn, shortLoc } from './views/snapshot-panel.js';

/**
 * Brings every task's `samples` up to date with the model's snapshots and returns the number
 * of tasks that have any. A sample: {t, index (into model.snapshots), reason, state, sites:
 * [{fn, loc}] (where it waits, one per branch), leaves: [{fn, loc}] (the futures it waits on)}.
 * Tasks a snapshot listed without frames (running, or a wait tokio could not trace) get none.
 */
export function updateSamples(model) {
  let c = model.sampleCache;
  if (!c) c = model.sampleCache = { n: 0, tasks: 0 };
  const snaps = model.snapshots;
  for (; c.n < snaps.length; c.n++) {
    const s = snaps[c.n];
    for (const entry of s.tasks) {
      if (!entry.frames.length) continue;
      const task = model.tasks.get(entry.task);
      if (!task) continue;
      if (!task.samples) {
        task.samples = [];
        c.tasks++;
      }
      task.samples.push(sampleOf(s, c.n, entry));
    }
  }
  return c.tasks;
}

function sampleOf(snapshot, index, entry) {
  const leaves = foldFrames(entry.frames)
    .filter((r) => r.leaf)
    .map((r) => r.frame);
  return { t: snapshot.t, index, reason: snapshot.reason, state: entry.state, sites: waitSites(entry.frames), leaves };
}

/** "unlabelled_connect join_vs_select.rs:82 → Sleep::poll": where a sample says the task waited. */
export function sampleLabel(sample) {
  const at = sample.sites.map((f) => `${shortFn(f.fn)} ${shortLoc(f.loc)}`).join(' + ');
  const on = [...new Set(sample.leaves.map((f) => shortFn(f.fn)))].join(', ');
  return on ? `${at} → ${on}` : at;
}

/** Index of the sample nearest `t` within `slackNs`, or -1. Samples are in time order. */
export function sampleNear(samples, t, slackNs) {
  let best = -1;
  let bestD = slackNs;
  let lo = 0;
  let hi = samples.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (samples[mid].t < t) lo = mid + 1;
    else hi = mid;
  }
  for (const i of [lo - 1, lo]) {
    if (i < 0 || i >= samples.length) continue;
    const d = Math.abs(samples[i].t - t);
    if (d <= bestD) {
      best = i;
      bestD = d;
    }
  }
  return best;
}

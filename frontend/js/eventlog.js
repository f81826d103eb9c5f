// eventlog.js — reads a run's recorded history in the JSON-lines format of
// `GET /api/runs/{id}/events` (docs/protocol.md): an optional header line
// {"format":"futurescope-events","v":1,...} and then one event object per line.
// Used for the /events endpoint and for .jsonl files a user opens or drops on the page.
//
// It only parses; turning events into state is model.js's.

import { forEachLine } from './jsonlines.js';

export const EVENTS_FORMAT = 'futurescope-events';

/** Events per batch handed to `parseEventLines`' `onBatch`. */
const BATCH = 65_536;

/**
 * Parses JSON-lines text. Returns {header, events, count, errors} where `errors` holds the
 * first few unreadable lines ({line, message}) and `errorCount` all of them. A file without
 * a header is accepted (events only); a header of another format or version is an error.
 *
 * With `onBatch`, the events are handed over in batches as they are read (`onBatch(events,
 * header)`, in order) instead of being collected: a caller that builds a model from them
 * then never holds every event object of a big file at once (`events` is empty; `count`
 * says how many there were).
 */
export function parseEventLines(text, onBatch = null) {
  let events = [];
  const errors = [];
  let errorCount = 0;
  let count = 0;
  let header = null;
  forEachLine(text, (line, lineNo) => {
    let obj;
    try {
      obj = JSON.parse(line);
    } catch (err) {
      errorCount++;
      if (errors.length < 20) errors.push({ line: lineNo, message: String(err.message || err) });
      return;
    }
    if (header === null && count === 0 && obj && obj.format !== undefined) {
      if (obj.format !== EVENTS_FORMAT) {
        throw new Error(`not a futurescope event log (format "${obj.format}")`);
      }
      if (obj.v !== 1) throw new Error(`event log version ${obj.v}; this page reads version 1`);
      header = obj;
      return;
    }
    if (!obj || typeof obj.k !== 'string') {
      errorCount++;
      if (errors.length < 20) errors.push({ line: lineNo, message: 'not an event object (no "k")' });
      return;
    }
    events.push(obj);
    count++;
    if (onBatch && events.length === BATCH) {
      onBatch(events, header);
      events = [];
    }
  });
  if (onBatch && events.length) {
    onBatch(events, header);
    events = [];
  }
  return { header, events, count, errors, errorCount };
}

// eventlog.js — reads a run's recorded history in the JSON-lines format of
// `GET /api/runs/{id}/events` (docs/protocol.md): an optional header line
// {"format":"futurescope-events","v":1,...} and then one event object per line.
// Used for the /events endpoint and for .jsonl files a user opens or drops on the page.
//
// It only parses; turning events into state is model.js's.

import { forEachLine } from './jsonlines.js';

export const EVENTS_FORMAT = 'futurescope-events';

/**
 * Parses JSON-lines text. Returns {header, events, errors} where `errors` holds the first
 * few unreadable lines ({line, message}) and `errorCount` all of them. A file without a
 * header is accepted (events only); a header of another format or version is an error.
 */
export function parseEventLines(text) {
  const events = [];
  const errors = [];
  let errorCount = 0;
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
    if (header === null && events.length === 0 && obj && obj.format !== undefined) {
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
  });
  return { header, events, errors, errorCount };
}

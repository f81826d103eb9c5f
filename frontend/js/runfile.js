// runfile.js — runs as files: the name a saved run gets, and opening a file a user picks
// or drops. A file is either futurescope's own event log (the JSON lines of
// `GET /api/runs/{id}/events`, read by eventlog.js) or a tokio-console recording
// (converted by console-recording.js); `openRunText` tells them apart and builds the
// RunModel, so a saved run opens as exactly the model the live run built.
//
// Reading the File object and showing the result is the app's.

import { RunModel } from './model.js';
import { formatCount } from './units.js';
import { parseEventLines } from './eventlog.js';
import { looksLikeConsoleRecording, parseConsoleRecording, CONSOLE_FORMAT, CONSOLE_RECORDING_LACKS } from './console-recording.js';

/** The download name of run `id` of `scenario`: futurescope-<scenario>-run<id>.jsonl. */
export function runFileName(scenario, id) {
  const safe = (s) => String(s ?? '').replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '');
  return `futurescope-${safe(scenario) || 'events'}-run${safe(id) || 'unknown'}.jsonl`;
}

/**
 * Builds the model of a run file's text. Returns {model, format, events, note, tone}:
 * `format` is 'futurescope-events' or CONSOLE_FORMAT, `note` a sentence for the user
 * (what was read, what was skipped), `tone` 'good' or 'bad'. Throws with a message a user
 * can act on when the text is neither format.
 */
export function openRunText(text, fileName = 'file') {
  if (looksLikeConsoleRecording(text)) {
    const { events, report } = parseConsoleRecording(text);
    if (!report.records) throw new Error('the tokio-console recording has no records');
    const model = new RunModel({
      run: null,
      scenario: null,
      params: {},
      status: 'file',
      file: fileName,
      source: CONSOLE_FORMAT,
      lacks: CONSOLE_RECORDING_LACKS,
      unknownWaker: true,
      importReport: report,
    });
    model.ingest(events);
    const skipped = report.errorCount ? `, ${report.errorCount} unreadable lines skipped` : '';
    return {
      model,
      format: CONSOLE_FORMAT,
      events,
      note: `Imported tokio-console recording ${fileName}: ${formatCount(report.tasks)} tasks, ${formatCount(report.polls)} polls${skipped}`,
      tone: report.errorCount ? 'bad' : 'good',
    };
  }
  const { header, events, errorCount } = parseEventLines(text);
  if (!header && !events.length) {
    throw new Error(errorCount ? 'no event could be read: it is neither a futurescope event log nor a tokio-console recording' : 'the file is empty');
  }
  const model = new RunModel({
    run: header ? header.run : null,
    scenario: header ? header.scenario : null,
    params: header ? header.params || {} : {},
    status: 'file',
    file: fileName,
    source: 'futurescope-events',
  });
  model.ingest(events);
  return {
    model,
    format: 'futurescope-events',
    events,
    header,
    note: `Opened ${fileName}: ${formatCount(events.length)} events${errorCount ? `, ${errorCount} unreadable lines skipped` : ''}`,
    tone: errorCount ? 'bad' : 'good',
  };
}

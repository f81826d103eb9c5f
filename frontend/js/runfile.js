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
 * The events of a run file's text, either format, as `openRunText` reads them (what an
 * opened file's Perfetto export is built from: the page keeps how to read the file again,
 * not its events, which would cost a JS object per event for as long as the file is shown).
 */
export function runTextEvents(text) {
  return looksLikeConsoleRecording(text) ? parseConsoleRecording(text).events : parseEventLines(text).events;
}

/**
 * Builds the model of a run file's text. Returns {model, format, note, tone}:
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
      note: `Imported tokio-console recording ${fileName}: ${formatCount(report.tasks)} tasks, ${formatCount(report.polls)} polls${skipped}`,
      tone: report.errorCount ? 'bad' : 'good',
    };
  }
  // Read and applied in batches: the model is all the page keeps of the file.
  let model = null;
  const modelFor = (header) => {
    model ||= new RunModel({
      run: header ? header.run : null,
      scenario: header ? header.scenario : null,
      params: header ? header.params || {} : {},
      status: 'file',
      file: fileName,
      source: 'futurescope-events',
    });
    return model;
  };
  const { header, count, errorCount } = parseEventLines(text, (events, header) => modelFor(header).ingest(events));
  if (!header && !count) {
    throw new Error(errorCount ? 'no event could be read: it is neither a futurescope event log nor a tokio-console recording' : 'the file is empty');
  }
  return {
    model: modelFor(header),
    format: 'futurescope-events',
    header,
    note: `Opened ${fileName}: ${formatCount(count)} events${errorCount ? `, ${errorCount} unreadable lines skipped` : ''}`,
    tone: errorCount ? 'bad' : 'good',
  };
}

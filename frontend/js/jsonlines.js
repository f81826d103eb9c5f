// jsonlines.js — the one JSON-lines reader loop: walks a text line by line (split on
// "\n", each line trimmed, blank lines skipped) and hands each line with its 1-based
// number to a visitor. Parsing a line is the caller's (eventlog.js for futurescope's own
// event logs, console-recording.js for tokio-console recordings): each reads its lines
// its own way, but the walk, the line numbers in error messages and the blank-line rule
// are the same for both.

/**
 * Calls `visit(line, lineNo)` for every non-blank line of `text`, in order; `line` is
 * trimmed. Stops early when `visit` returns `false`.
 */
export function forEachLine(text, visit) {
  let lineNo = 0;
  let pos = 0;
  const n = text.length;
  while (pos < n) {
    let nl = text.indexOf('\n', pos);
    if (nl < 0) nl = n;
    lineNo++;
    const line = text.slice(pos, nl).trim();
    pos = nl + 1;
    if (line && visit(line, lineNo) === false) return;
  }
}

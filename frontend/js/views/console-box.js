// views/console-box.js — the tokio-console pairing box: where console-subscriber listens,
// the exact command to attach tokio-console to this process (with a copy button), and
// whether a console client is attached right now, from `GET /api/console`
// ({enabled, addr, command, clients}). Polling the endpoint is the app's.

import { el } from './dom.js';

/**
 * What the box says for an /api/console answer (or null when it could not be asked and
 * `fallbackAddr` is what the page was rendered with). Returns {state, pill, command, note}:
 * state 'connected' | 'waiting' | 'off' | 'unknown'.
 */
export function consoleStatus(info, fallbackAddr = null) {
  if (!info) {
    if (!fallbackAddr) return { state: 'unknown', pill: 'unknown', command: null, note: 'Could not ask the server whether console-subscriber is on.' };
    return { state: 'unknown', pill: 'status unknown', command: `tokio-console http://${fallbackAddr}`, addr: fallbackAddr, note: 'Run this in a terminal to watch the same runtime in tokio-console.' };
  }
  if (!info.enabled) {
    return { state: 'off', pill: 'off', command: null, note: 'console-subscriber is off: futurescope was started with --no-console. Restart it without that flag to attach tokio-console.' };
  }
  const command = info.command || `tokio-console http://${info.addr}`;
  const n = info.clients;
  if (n == null) return { state: 'unknown', pill: 'listening', command, addr: info.addr, note: 'Run this in a terminal to watch the same runtime in tokio-console.' };
  if (n > 0) {
    return { state: 'connected', pill: `${n} client${n === 1 ? '' : 's'} connected`, command, addr: info.addr, note: 'tokio-console is attached: runs started here show in it too.' };
  }
  return { state: 'waiting', pill: 'no client', command, addr: info.addr, note: 'Run this in a terminal to watch the same runtime in tokio-console.' };
}

/** Renders `status` (from consoleStatus) into the box's elements. */
export function renderConsoleBox({ box, pill, command, copy, note, topPill }, status) {
  box.dataset.state = status.state;
  pill.className = `pill console-${status.state}`;
  pill.textContent = status.pill;
  command.parentElement.hidden = !status.command;
  command.textContent = status.command || '';
  copy.disabled = !status.command;
  note.textContent = status.note;
  // The top bar's `.console-addr` exists only when the page was served with the console on;
  // it keeps its address and gets the state (a dot) and the client count.
  if (topPill) {
    topPill.dataset.state = status.state;
    topPill.title = status.command ? `${status.command} — ${status.pill}` : status.note;
    const code = topPill.querySelector('code');
    if (code && status.addr && code.textContent !== status.addr) code.textContent = status.addr;
    const clients = topPill.querySelector('.console-clients');
    if (clients) clients.textContent = status.state === 'connected' ? ` · ${status.pill.split(' ')[0]}` : '';
  }
}

/** Copies `text` to the clipboard; resolves to true when it worked. */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // Not a secure context or no permission: the old way, through a selection.
    const area = el('textarea', { style: { position: 'fixed', left: '-1000px', top: '0' } });
    area.value = text;
    document.body.append(area);
    area.select();
    let ok = false;
    try {
      ok = document.execCommand('copy');
    } catch {
      ok = false;
    }
    area.remove();
    return ok;
  }
}

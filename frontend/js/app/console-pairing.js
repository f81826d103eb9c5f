// app/console-pairing.js — the tokio-console pairing box: polls /api/console (whether
// console-subscriber is on, how many clients attached) and renders the box and the top
// bar's address; Copy puts the `tokio-console http://ADDR` command on the clipboard.

import { consoleStatus, renderConsoleBox, copyText } from '../views/console-box.js';
import { fetchConsole } from './api.js';

const $ = (id) => document.getElementById(id);
const POLL_MS = 3000;

export class ConsolePairing {
  constructor(app) {
    this.store = app.store;
    this.info = null; // the last /api/console answer (null: unknown)
    this.copyTimer = null;
  }

  start() {
    $('console-copy').addEventListener('click', () => this.copyCommand());
    // The top bar's address (only there when the console is on) points at the pairing box.
    $('console-pill')?.addEventListener('click', () => {
      const box = $('console-box');
      box.scrollIntoView({ block: 'nearest' });
      box.classList.remove('flash');
      void box.offsetWidth; // restart the highlight animation
      box.classList.add('flash');
    });
    this.store.subscribe((state, changed) => {
      if (changed.has('console')) this.render();
    });
    this.render();
    this.poll();
    setInterval(() => {
      if (!document.hidden) this.poll();
    }, POLL_MS);
  }

  async poll() {
    this.info = await fetchConsole().catch(() => null); // offline: keep what the page was rendered with
    this.render();
  }

  render() {
    renderConsoleBox(
      { box: $('console-box'), pill: $('console-status'), command: $('console-command'), copy: $('console-copy'), note: $('console-note'), topPill: $('console-pill') },
      consoleStatus(this.info, this.store.state.console),
    );
  }

  async copyCommand() {
    const button = $('console-copy');
    const ok = await copyText($('console-command').textContent);
    button.textContent = ok ? 'Copied' : 'Copy failed';
    button.classList.toggle('done', ok);
    clearTimeout(this.copyTimer);
    this.copyTimer = setTimeout(() => {
      button.textContent = 'Copy';
      button.classList.remove('done');
    }, 1600);
  }
}

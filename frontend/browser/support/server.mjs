// Browser-test support: runs the REAL futurescope binary for a test file.
//
// The binary comes from FUTURESCOPE_BIN (default: target/release/futurescope of this
// repo). It is started with `--bind 127.0.0.1:PORT --no-console` (PORT 0 = any free
// port), and the URL is read from the line it prints on stdout:
//   futurescope 0.1.0: dashboard on http://127.0.0.1:PORT/
// `stop()` ends it (SIGTERM, then SIGKILL); `restart()` starts it again on the same port
// (for the reconnect tests). Children left behind when the test process exits are killed.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
/** ../../target/release/futurescope relative to the test files (frontend/browser/). */
export const DEFAULT_BIN = path.resolve(here, '../../../target/release/futurescope');
export const BIN = process.env.FUTURESCOPE_BIN ? path.resolve(process.env.FUTURESCOPE_BIN) : DEFAULT_BIN;

/** The example program (examples/echo-server), built next to the futurescope binary. */
export const EXAMPLE_BIN = process.env.FUTURESCOPE_EXAMPLE_BIN ? path.resolve(process.env.FUTURESCOPE_EXAMPLE_BIN) : path.join(path.dirname(BIN), 'echo-server');

const children = new Set();
process.on('exit', () => {
  for (const c of children) {
    try {
      c.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});

const URL_LINE = /dashboard on (http:\/\/[^\s/]+)\/?/;
// futurescope::init(): "futurescope: watching echo-server (pid 7) live on http://127.0.0.1:PORT/?run=1"
const PROGRAM_URL_LINE = /live on (http:\/\/[^\s/]+)\/\S*/;
const CONSOLE_LINE = /tokio-console http:\/\/(\S+)/;

/**
 * Starts the binary once; resolves {proc, url, port, output()} when it printed its URL.
 * `program` (startProgram) runs a program that calls futurescope::init() instead: its own
 * args, FUTURESCOPE_BIND in its environment, and the URL from the line init() prints on stderr.
 */
function launch(bin, port, extraArgs, timeoutMs, consoleOn, program = null) {
  if (!fs.existsSync(bin)) {
    throw new Error(`futurescope binary not found at ${bin}: build it (cargo build --release -p futurescope) or set FUTURESCOPE_BIN`);
  }
  const consoleArgs = consoleOn ? ['--console-bind', '127.0.0.1:0'] : ['--no-console'];
  const args = program ? extraArgs : ['--bind', `127.0.0.1:${port}`, ...consoleArgs, ...extraArgs];
  const env = program ? { ...process.env, FUTURESCOPE_BIND: `127.0.0.1:${port}` } : process.env;
  const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  children.add(proc);
  let out = '';
  let err = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`futurescope did not print its URL within ${timeoutMs} ms`)), timeoutMs);
    const fail = (e) => {
      clearTimeout(timer);
      try {
        proc.kill('SIGKILL');
      } catch {
        // gone
      }
      reject(new Error(`${e.message}\nargs: ${args.join(' ')}\nstdout: ${out}\nstderr: ${err}`));
    };
    const seen = () => (program ? PROGRAM_URL_LINE.exec(err) : URL_LINE.exec(out));
    const check = () => {
      const m = seen();
      if (m) {
        clearTimeout(timer);
        const url = m[1];
        const pageUrl = program ? m[0].replace(/^.*live on /, '') : null;
        resolve({ proc, url, pageUrl, port: Number(new URL(url).port), output: () => ({ stdout: out, stderr: err }), consoleAddr: () => (CONSOLE_LINE.exec(out + err) || [])[1] || null });
      }
    };
    proc.stdout.on('data', (d) => {
      out += d;
      check();
    });
    proc.stderr.on('data', (d) => {
      err += d;
      check();
    });
    proc.on('exit', (code, signal) => {
      children.delete(proc);
      if (!seen()) fail(new Error(`futurescope exited (code ${code}, signal ${signal}) before serving`));
    });
    proc.on('error', fail);
  });
}

function exited(proc) {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => proc.once('exit', () => resolve()));
}

/**
 * Starts the server. Returns {url, port, stop(), restart(), kill(), bin}. `url` has no
 * trailing slash. Options: bin, port (default 0), args (extra CLI args), timeoutMs,
 * console (serve console-subscriber on a free port instead of --no-console).
 */
export async function startServer({ bin = BIN, port = 0, args = [], timeoutMs = 20000, console: consoleOn = false, program = null } = {}) {
  let current = await launch(bin, port, args, timeoutMs, consoleOn, program);
  const server = {
    bin,
    url: current.url,
    /** For a program: the page URL init() printed (with its run, and token if any). */
    pageUrl: current.pageUrl,
    get pid() {
      return current ? current.proc.pid : null;
    },
    port: current.port,
    get proc() {
      return current ? current.proc : null;
    },
    get running() {
      return Boolean(current && current.proc.exitCode === null && current.proc.signalCode === null);
    },
    output() {
      return current ? current.output() : { stdout: '', stderr: '' };
    },
    /** The tokio-console address the binary printed (with `console: true`), or null. */
    consoleAddr() {
      return current ? current.consoleAddr() : null;
    },
    /** Ends the process: SIGTERM, SIGKILL after `graceMs`. */
    async stop(graceMs = 3000) {
      if (!current) return;
      const { proc } = current;
      current = null;
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await exited(proc);
      clearTimeout(t);
    },
    /** Ends the process abruptly (SIGKILL), as a crash would. */
    async kill() {
      if (!current) return;
      const { proc } = current;
      current = null;
      proc.kill('SIGKILL');
      await exited(proc);
    },
    /** Starts the binary again on the same port (retrying while the port is still taken). */
    async restart({ attempts = 20 } = {}) {
      if (current) await server.stop();
      let lastErr;
      for (let i = 0; i < attempts; i++) {
        try {
          current = await launch(bin, server.port, args, timeoutMs, consoleOn, program);
          return server;
        } catch (e) {
          lastErr = e;
          await new Promise((r) => setTimeout(r, 250));
        }
      }
      throw lastErr;
    },
  };
  return server;
}

/**
 * Starts a program that calls futurescope::init() (default: the example echo-server next to
 * the futurescope binary, or FUTURESCOPE_EXAMPLE_BIN) with its dashboard on `port` (0: any
 * free port). Same object as startServer, plus `pid` and `pageUrl`.
 */
export function startProgram({ bin = EXAMPLE_BIN, port = 0, args = [], timeoutMs = 20000 } = {}) {
  return startServer({ bin, port, args, timeoutMs, program: true });
}

/** GET `url` as JSON (throws on a non-2xx status). */
export async function getJson(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  return res.json();
}

/** GET /api/runs/{id}/events, parsed: {header, events}. */
export async function fetchEvents(base, runId) {
  const res = await fetch(`${base}/api/runs/${encodeURIComponent(runId)}/events`);
  if (!res.ok) throw new Error(`GET events of run ${runId}: ${res.status} ${await res.text()}`);
  return parseJsonLines(await res.text());
}

/** JSON-lines text -> {header, events, text} (the header line is the one with `format`). */
export function parseJsonLines(text) {
  let header = null;
  const events = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const obj = JSON.parse(line);
    if (header === null && events.length === 0 && obj.format !== undefined) header = obj;
    else events.push(obj);
  }
  return { header, events, text };
}

/** Polls GET /api/runs/{id} until its status is not `running`. */
export async function waitForRunEnd(base, runId, timeoutMs = 60000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const s = await getJson(`${base}/api/runs/${encodeURIComponent(runId)}`);
    if (s.status !== 'running') return s;
    if (Date.now() > until) throw new Error(`run ${runId} still running after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

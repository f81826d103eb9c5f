// TEST SUPPORT ONLY — not the futurescope server. fixture-server.mjs serves the frontend
// (frontend/templates/index.html with its two variables filled in, /assets from
// frontend/js, /static from static/) plus a canned imitation of the backend API of
// docs/protocol.md, so the browser side can be looked at and tested before (or without)
// the Rust backend: /api/scenarios, /api/console, POST /api/runs, /api/runs, /api/runs/{id},
// /api/runs/{id}/cancel, /api/runs/{id}/events and the /ws WebSocket (a minimal
// hand-written RFC 6455 server: text frames, ping, close). Runs stream events from
// synthetic-run.mjs in ~30 ms batches over a few seconds of wall time.
//
// Usage: node frontend/tests/support/fixture-server.mjs [port] [backend-url]
//   (port default 6691; 0 = any). With a backend URL (e.g. http://127.0.0.1:6690, a
//   running futurescope binary) /api and /ws are proxied to it instead of imitated, so the
//   frontend files on disk can be tried against the real backend without rebuilding it
//   (the binary embeds the frontend at build time).
// As a module: `const srv = await startFixtureServer({port: 0})` -> {url, close()}.

import http from 'node:http';
import net from 'node:net';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { syntheticRun } from './synthetic-run.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const FRONTEND = path.resolve(here, '../..');
const REPO = path.resolve(FRONTEND, '..');
const TYPES = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.html': 'text/html', '.json': 'application/json' };

const SOURCE = `//! Blocking inside async: a std::thread::sleep in a poll stalls its worker.
//!
//! (Fixture source for the frontend's test server: line numbers match the
//! synthetic event stream's await points.)

use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::sleep;

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() {
    let (tx, rx) = mpsc::channel::<u64>(16);
    let rx = std::sync::Arc::new(tokio::sync::Mutex::new(rx));
    let mut handles = Vec::new();
    for i in 0..40 {
        let tx = tx.clone();
        let rx = rx.clone();
        let tick = Duration::from_micros(200 + i * 10);
        handles.push(match i % 3 {
            0 => tokio::spawn(sleeper(tick)),
            1 => tokio::spawn(receiver(rx)),
            _ => tokio::spawn(yielder(tx)),
        });
    }
    futures::future::join_all(handles).await;
}

async fn sleeper(tick: Duration) {
    for round in 0..30 {
        if round == 2 { std::thread::sleep(Duration::from_millis(25)); } // the stall
        sleep(tick).await;
    }
}

async fn receiver(rx: std::sync::Arc<tokio::sync::Mutex<mpsc::Receiver<u64>>>) {
    while let Some(_v) = rx.lock().await.recv().await {
        rx.recv().await;
    }
}

async fn yielder(tx: mpsc::Sender<u64>) {
    loop { tokio::task::yield_now().await; let _ = tx.try_send(1); }
}
`;

export const SCENARIOS = [
  {
    name: 'blocking-in-async',
    title: 'Blocking inside async',
    topic: 'Blocking and long polls',
    summary: 'A std::thread::sleep inside a poll stalls a worker; others wait.',
    description:
      'One task calls `std::thread::sleep` inside its poll. The poll lasts the whole stall on one worker lane: look for the red **long poll**.\n\nMeanwhile other tasks are woken but have to wait: their hatched *scheduled* time grows until a worker is free. The fixed variant moves the stall to a blocking-pool thread with `spawn_blocking`.\n\n- worker lanes: what ran where\n- task lanes: poll, scheduled, idle',
    source: SOURCE,
    file: 'scenarios/src/blocking_in_async.rs',
    params: [
      { name: 'tasks', type: 'int', default: 24, min: 1, max: 2000, help: 'how many tasks to spawn' },
      { name: 'workers', type: 'int', default: 4, min: 1, max: 8, help: 'runtime worker threads' },
      { name: 'stall_ms', type: 'int', default: 25, min: 0, max: 500, help: 'length of the blocking call' },
      { name: 'fixed', type: 'bool', default: false, help: 'use spawn_blocking' },
      { name: 'flavor', type: 'choice', default: 'multi_thread', choices: ['multi_thread', 'current_thread'] },
    ],
  },
  {
    name: 'lost-wakeup',
    title: 'The lost wakeup',
    topic: 'Wakers',
    summary: 'A future returns Pending without arranging a wake and is never polled again.',
    description: 'A hand-written future forgets to store its waker. The task goes idle forever; the dashboard flags `lost_wake`.',
    source: '// lost_wakeup.rs (fixture)\nfn main() {}\n',
    params: [{ name: 'delay_ms', type: 'int', default: 100, min: 1, max: 1000 }],
  },
  {
    name: 'spawn-many',
    title: 'Spawn ten thousand tasks',
    topic: 'Massive concurrency',
    summary: 'Many tasks sleeping and waking; the timeline stays usable.',
    description: 'Ten thousand tasks, each a few hundred bytes, against the same count of OS threads.',
    source: '// spawn_many.rs (fixture)\n',
    params: [{ name: 'tasks', type: 'int', default: 2000, min: 1, max: 10000 }],
  },
];

function render(template, version, consoleAddr) {
  return template
    .replace(/\{%\s*if let Some\(addr\) = console\s*%\}([\s\S]*?)\{%\s*endif\s*%\}/g, (_, inner) => (consoleAddr ? inner.replace(/\{\{\s*addr\s*\}\}/g, consoleAddr) : ''))
    .replace(/\{\{\s*version\s*\}\}/g, version);
}

// ---- minimal WebSocket (RFC 6455) ----------------------------------------------------

function wsFrame(text) {
  const payload = Buffer.from(text);
  const n = payload.length;
  let head;
  if (n < 126) head = Buffer.from([0x81, n]);
  else if (n < 65536) {
    head = Buffer.alloc(4);
    head[0] = 0x81;
    head[1] = 126;
    head.writeUInt16BE(n, 2);
  } else {
    head = Buffer.alloc(10);
    head[0] = 0x81;
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(n), 2);
  }
  return Buffer.concat([head, payload]);
}

class WsPeer {
  constructor(socket, onText, onClose) {
    this.socket = socket;
    this.buf = Buffer.alloc(0);
    this.open = true;
    socket.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.parse(onText);
    });
    const closed = () => {
      if (!this.open) return;
      this.open = false;
      onClose();
    };
    socket.on('close', closed);
    socket.on('error', closed);
  }

  parse(onText) {
    while (this.buf.length >= 2) {
      const op = this.buf[0] & 0x0f;
      let len = this.buf[1] & 0x7f;
      let off = 2;
      if (len === 126) {
        if (this.buf.length < 4) return;
        len = this.buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) return;
        len = Number(this.buf.readBigUInt64BE(2));
        off = 10;
      }
      const masked = this.buf[1] & 0x80;
      const maskOff = off;
      if (masked) off += 4;
      if (this.buf.length < off + len) return;
      const data = Buffer.from(this.buf.subarray(off, off + len));
      if (masked) for (let i = 0; i < len; i++) data[i] ^= this.buf[maskOff + (i % 4)];
      this.buf = this.buf.subarray(off + len);
      if (op === 1) onText(data.toString());
      else if (op === 8) {
        this.socket.end(Buffer.from([0x88, 0]));
      } else if (op === 9) this.socket.write(Buffer.concat([Buffer.from([0x8a, data.length]), data]));
    }
  }

  send(obj) {
    if (this.open) this.socket.write(wsFrame(JSON.stringify(obj)));
  }
}

// ---- runs ----------------------------------------------------------------------------

export async function startFixtureServer({ port = 6691, host = '127.0.0.1', wallMs = 4000, version = '0.1.0-fixture', consoleAddr = '127.0.0.1:6669', backend = null } = {}) {
  const upstream = backend ? new URL(backend) : null;
  // The backend accepts only its own Host and Origin (DNS-rebinding / cross-site guard):
  // the proxy speaks as if the page were served by it.
  const upstreamHeaders = (headers) => {
    const out = { ...headers, host: upstream.host };
    if (out.origin) out.origin = upstream.origin;
    if (out.referer) delete out.referer;
    return out;
  };
  const runs = new Map();
  let nextId = 1;
  const peers = new Set();

  function summary(run) {
    return {
      id: run.id,
      scenario: run.scenario,
      params: run.params,
      status: run.status,
      error: null,
      started_ms: run.startedMs,
      duration_ns: run.released ? run.events[run.released - 1].t : 0,
      counts: { events: run.released, dropped: 0, tasks: run.tasks, polls: run.polls, wakes: run.wakes },
    };
  }

  function createRun(scenario, params) {
    const tasks = Math.min(Number(params.tasks ?? 24), 3000);
    const events = syntheticRun({
      seed: nextId,
      tasks,
      workers: Number(params.workers ?? 4),
      pollsPerTask: scenario === 'spawn-many' ? 10 : 30,
      stallNs: params.fixed ? 0 : Number(params.stall_ms ?? 25) * 1e6,
    });
    const run = {
      id: nextId++,
      scenario,
      params,
      events,
      released: 0,
      status: 'running',
      startedMs: Date.now(),
      subscribers: new Set(),
      tasks: events.filter((e) => e.k === 'spawn').length,
      polls: events.filter((e) => e.k === 'poll_start').length,
      wakes: events.filter((e) => e.k === 'wake').length,
    };
    runs.set(run.id, run);
    const total = events[events.length - 1].t;
    const started = Date.now();
    run.timer = setInterval(() => {
      const upTo = ((Date.now() - started) / wallMs) * total;
      const from = run.released;
      while (run.released < events.length && events[run.released].t <= upTo) run.released++;
      if (run.released > from) for (const p of run.subscribers) p.send({ type: 'batch', run: run.id, events: events.slice(from, run.released) });
      if (run.released >= events.length) finish(run, 'finished');
    }, 30);
    for (const p of peers) p.send({ type: 'run', run: run.id, scenario, params, status: 'running' });
    return run;
  }

  function finish(run, status) {
    clearInterval(run.timer);
    if (run.status !== 'running') return;
    run.status = status;
    for (const p of run.subscribers) p.send({ type: 'end', run: run.id, status, error: null, counts: summary(run).counts });
  }

  function subscribe(peer, id) {
    const run = runs.get(id) || runs.get(Number(id));
    if (!run) return peer.send({ type: 'error', error: `no run ${id}` });
    peer.send({ type: 'run', run: run.id, scenario: run.scenario, params: run.params, status: run.status });
    for (let i = 0; i < run.released; i += 5000) peer.send({ type: 'batch', run: run.id, events: run.events.slice(i, Math.min(run.released, i + 5000)) });
    if (run.status !== 'running') peer.send({ type: 'end', run: run.id, status: run.status, error: null, counts: summary(run).counts });
    else run.subscribers.add(peer);
  }

  const json = (res, code, obj) => {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(obj));
  };

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    const p = url.pathname;
    try {
      if (p === '/') {
        const tpl = await fs.readFile(path.join(FRONTEND, 'templates/index.html'), 'utf8');
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        return res.end(render(tpl, version, consoleAddr));
      }
      if (p.startsWith('/assets/') || p.startsWith('/static/')) {
        const root = p.startsWith('/assets/') ? path.join(FRONTEND, 'js') : path.join(REPO, 'static');
        const file = path.resolve(root, decodeURIComponent(p.replace(/^\/(assets|static)\//, '')));
        if (!file.startsWith(root)) return json(res, 403, { error: 'outside' });
        const body = await fs.readFile(file);
        res.writeHead(200, { 'content-type': TYPES[path.extname(file)] || 'application/octet-stream', 'cache-control': 'no-store' });
        return res.end(body);
      }
      if (upstream && p.startsWith('/api/')) {
        const fwd = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: upstreamHeaders(req.headers) }, (up) => {
          res.writeHead(up.statusCode, up.headers);
          up.pipe(res);
        });
        fwd.on('error', (err) => json(res, 502, { error: `backend: ${err.message}` }));
        return req.pipe(fwd);
      }
      if (p === '/api/scenarios') return json(res, 200, SCENARIOS);
      if (p === '/api/console') {
        return json(res, 200, consoleAddr ? { enabled: true, addr: consoleAddr, command: `tokio-console http://${consoleAddr}`, clients: 0 } : { enabled: false, addr: null, command: null, clients: null });
      }
      if (p === '/api/runs' && req.method === 'POST') {
        let body = '';
        for await (const chunk of req) body += chunk;
        const { scenario, params = {} } = JSON.parse(body || '{}');
        const spec = SCENARIOS.find((s) => s.name === scenario);
        if (!spec) return json(res, 404, { error: `unknown scenario "${scenario}"` });
        for (const ps of spec.params) {
          const v = params[ps.name];
          if (ps.type === 'int' && v != null && (!Number.isInteger(v) || v < ps.min || v > ps.max)) {
            return json(res, 422, { error: `param ${ps.name} must be an integer in ${ps.min}..=${ps.max}, got ${v}` });
          }
        }
        return json(res, 201, { run: createRun(scenario, params).id });
      }
      if (p === '/api/runs') return json(res, 200, [...runs.values()].reverse().map(summary));
      const m = /^\/api\/runs\/(\d+)(\/(events|cancel))?$/.exec(p);
      if (m) {
        const run = runs.get(Number(m[1]));
        if (!run) return json(res, 404, { error: `no run ${m[1]}` });
        if (m[3] === 'cancel') {
          finish(run, 'cancelled');
          return json(res, 200, summary(run));
        }
        if (m[3] === 'events') {
          res.writeHead(200, { 'content-type': 'application/x-ndjson' });
          res.write(`${JSON.stringify({ format: 'futurescope-events', v: 1, run: run.id, scenario: run.scenario, params: run.params })}\n`);
          for (let i = 0; i < run.released; i++) res.write(`${JSON.stringify(run.events[i])}\n`);
          return res.end();
        }
        return json(res, 200, { ...summary(run), lints: run.events.slice(0, run.released).filter((e) => e.k === 'lint') });
      }
      json(res, 404, { error: `no route ${p}` });
    } catch (err) {
      json(res, 500, { error: String(err.message || err) });
    }
  });

  server.on('upgrade', (req, socket, head) => {
    if (new URL(req.url, 'http://x').pathname !== '/ws') return socket.destroy();
    if (upstream) {
      // Forward the upgrade request as it came and splice the two sockets.
      const up = net.connect(Number(upstream.port), upstream.hostname, () => {
        const lines = [`${req.method} ${req.url} HTTP/1.1`];
        for (let i = 0; i < req.rawHeaders.length; i += 2) {
          const name = req.rawHeaders[i];
          const lower = name.toLowerCase();
          const value = lower === 'host' ? upstream.host : lower === 'origin' ? upstream.origin : req.rawHeaders[i + 1];
          lines.push(`${name}: ${value}`);
        }
        up.write(`${lines.join('\r\n')}\r\n\r\n`);
        if (head && head.length) up.write(head);
        up.pipe(socket);
        socket.pipe(up);
      });
      const end = () => {
        up.destroy();
        socket.destroy();
      };
      up.on('error', end);
      socket.on('error', end);
      up.on('close', end);
      socket.on('close', end);
      peers.add({ socket, send() {} });
      return;
    }
    const key = req.headers['sec-websocket-key'];
    const accept = crypto.createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    const peer = new WsPeer(
      socket,
      (text) => {
        let msg;
        try {
          msg = JSON.parse(text);
        } catch {
          return peer.send({ type: 'error', error: 'not JSON' });
        }
        if (msg.type === 'subscribe') subscribe(peer, msg.run);
        else if (msg.type === 'unsubscribe') for (const r of runs.values()) r.subscribers.delete(peer);
        else peer.send({ type: 'error', error: `unknown message type ${msg.type}` });
      },
      () => {
        peers.delete(peer);
        for (const r of runs.values()) r.subscribers.delete(peer);
      },
    );
    peers.add(peer);
    peer.send({ type: 'hello', v: 1, server: `futurescope ${version}`, console: consoleAddr, runs: [...runs.values()].reverse().map(summary) });
  });

  await new Promise((resolve) => server.listen(port, host, resolve));
  const addr = server.address();
  return {
    url: `http://${host}:${addr.port}`,
    /** Drops every WebSocket connection (to test reconnecting). */
    dropSockets() {
      for (const p of peers) p.socket.destroy();
    },
    close() {
      for (const r of runs.values()) clearInterval(r.timer);
      for (const p of peers) p.socket.destroy();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const port = Number(process.argv[2] ?? 6691);
  startFixtureServer({ port, backend: process.argv[3] || null }).then((s) => console.log(`fixture server on ${s.url}`));
}

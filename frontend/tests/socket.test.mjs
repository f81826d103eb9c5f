// Tests of socket.js: parsing and routing of server messages, subscribe and resubscribe,
// reconnect with backoff, the banner text. The WebSocket and the timers are fakes.

import test from 'node:test';
import assert from 'node:assert/strict';
import { LiveConnection, parseServerMessage, reconnectDelayMs, connectionBanner, socketUrl } from '../js/socket.js';

class FakeSocket {
  static all = [];
  constructor(url) {
    this.url = url;
    this.sent = [];
    this.readyState = 0;
    FakeSocket.all.push(this);
  }
  send(text) {
    this.sent.push(JSON.parse(text));
  }
  close() {
    this.readyState = 3;
    this.onclose?.({});
  }
  // test helpers
  open() {
    this.readyState = 1;
    this.onopen?.({});
  }
  message(obj) {
    this.onmessage?.({ data: typeof obj === 'string' ? obj : JSON.stringify(obj) });
  }
  drop() {
    this.readyState = 3;
    this.onclose?.({});
  }
}

function fakeTimers() {
  const pending = [];
  return {
    pending,
    setTimeout(fn, ms) {
      const h = { fn, ms };
      pending.push(h);
      return h;
    },
    clearTimeout(h) {
      const i = pending.indexOf(h);
      if (i >= 0) pending.splice(i, 1);
    },
    fire() {
      const h = pending.shift();
      h.fn();
      return h.ms;
    },
  };
}

function setup() {
  FakeSocket.all = [];
  const timers = fakeTimers();
  const log = [];
  const handlers = {};
  for (const name of ['onHello', 'onRun', 'onBatch', 'onEnd', 'onServerError', 'onEvicted', 'onResubscribe', 'onStatus', 'onProtocolError']) {
    handlers[name] = (arg) => log.push([name, arg]);
  }
  const conn = new LiveConnection({ url: 'ws://x/ws', WebSocketImpl: FakeSocket, timers, now: () => 1000, handlers });
  return { conn, timers, log };
}

test('parseServerMessage accepts the documented messages and rejects broken ones', () => {
  assert.equal(parseServerMessage('{"type":"hello","v":1,"server":"futurescope 0.1.0","console":null,"runs":[]}').ok, true);
  assert.equal(parseServerMessage('{"type":"batch","run":3,"events":[]}').ok, true);
  assert.match(parseServerMessage('{"type":"hello","v":2}').error, /v2/);
  assert.match(parseServerMessage('nope').error, /not JSON/);
  assert.match(parseServerMessage('{"run":1}').error, /type/);
  assert.match(parseServerMessage('{"type":"batch","run":1}').error, /events/);
  assert.match(parseServerMessage('{"type":"end"}').error, /run/);
  assert.equal(parseServerMessage('{"type":"something_new"}').unknown, true);
});

test('subscribe is sent on open, batches route only for subscribed runs', () => {
  const { conn, log } = setup();
  conn.subscribe(7); // before open: remembered
  conn.connect();
  const ws = FakeSocket.all[0];
  assert.equal(ws.url, 'ws://x/ws');
  ws.open();
  assert.deepEqual(ws.sent, [{ type: 'subscribe', run: 7 }]);
  ws.message({ type: 'hello', v: 1, server: 'futurescope 0.1.0', console: null, runs: [] });
  ws.message({ type: 'batch', run: 7, events: [{ k: 'mark', t: 1, label: 'x' }] });
  ws.message({ type: 'batch', run: 8, events: [] }); // not ours
  ws.message({ type: 'end', run: 7, status: 'finished', error: null, counts: {} });
  ws.message({ type: 'error', error: 'unknown run 9' });
  ws.message({ type: 'evicted', run: 2, reason: 'memory budget' });
  ws.message('garbage');
  const names = log.map(([n]) => n).filter((n) => n !== 'onStatus');
  assert.deepEqual(names, ['onHello', 'onBatch', 'onEnd', 'onServerError', 'onEvicted', 'onProtocolError']);
  assert.equal(log.find(([n]) => n === 'onBatch')[1].events.length, 1);
  conn.unsubscribe(7);
  assert.deepEqual(ws.sent[1], { type: 'unsubscribe', run: 7 });
});

test('run ids compare by value whether the server sends numbers or strings', () => {
  const { conn, log } = setup();
  conn.connect();
  FakeSocket.all[0].open();
  conn.subscribe('12');
  FakeSocket.all[0].message({ type: 'batch', run: 12, events: [] });
  assert.equal(log.filter(([n]) => n === 'onBatch').length, 1);
});

test('a dropped connection reconnects with backoff and resubscribes for a replay', () => {
  const { conn, timers, log } = setup();
  conn.connect();
  FakeSocket.all[0].open();
  conn.subscribe(3);
  FakeSocket.all[0].drop();
  assert.equal(conn.status.state, 'closed');
  assert.equal(conn.status.retryAt, 1000 + 500);
  assert.equal(timers.fire(), 500);
  // The second try fails too: the delay doubles.
  FakeSocket.all[1].drop();
  assert.equal(timers.fire(), 1000);
  const ws = FakeSocket.all[2];
  ws.open();
  assert.deepEqual(ws.sent, [{ type: 'subscribe', run: 3 }]);
  assert.ok(log.some(([n, a]) => n === 'onResubscribe' && a === 3), 'the app is told to drop the run before the replay');
  assert.equal(conn.status.state, 'open');
  assert.equal(conn.attempt, 0, 'backoff resets after a successful open');
});

test('close() does not reconnect', () => {
  const { conn, timers } = setup();
  conn.connect();
  FakeSocket.all[0].open();
  conn.close();
  assert.equal(timers.pending.length, 0);
  assert.equal(conn.status.state, 'closed');
});

test('backoff and banner', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 50].map(reconnectDelayMs), [500, 1000, 2000, 4000, 8000, 10000, 10000, 10000]);
  assert.equal(connectionBanner({ state: 'open' }, 0), null);
  assert.equal(connectionBanner({ state: 'closed', retryAt: 4200 }, 1000), 'Disconnected — reconnecting in 4s');
  assert.equal(connectionBanner({ state: 'connecting', attempt: 2 }, 0), 'Disconnected — reconnecting…');
  assert.equal(socketUrl({ protocol: 'http:', host: '127.0.0.1:6680' }), 'ws://127.0.0.1:6680/ws');
  assert.equal(socketUrl({ protocol: 'https:', host: 'h' }), 'wss://h/ws');
});

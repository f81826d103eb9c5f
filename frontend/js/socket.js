// socket.js — the WebSocket client of `/ws` (docs/protocol.md, "WebSocket"): connects,
// reads hello / run / batch / end / error messages, (re)subscribes, and reconnects with
// backoff when the connection drops, reporting its status so the page can show a banner.
//
// The WebSocket constructor and the timer functions are injected, so the message
// handling is testable in Node without a server. What to do with a batch (feed a model,
// buffer it while paused) is the app's; this module only routes messages.

/** Delay before reconnect attempt `attempt` (0-based): 0.5 s doubling up to 10 s. */
export function reconnectDelayMs(attempt) {
  return Math.min(10_000, 500 * 2 ** Math.min(attempt, 10));
}

const KNOWN_TYPES = new Set(['hello', 'run', 'batch', 'end', 'error', 'evicted', 'step', 'driving']);

/**
 * Parses and checks one server frame. Returns {ok: true, msg} or {ok: false, error}.
 * A frame of an unknown type is not an error (types may be added) but is flagged.
 */
export function parseServerMessage(text) {
  let msg;
  try {
    msg = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: `not JSON: ${String(err.message || err)}` };
  }
  if (!msg || typeof msg !== 'object' || typeof msg.type !== 'string') {
    return { ok: false, error: 'message without a "type"' };
  }
  if (!KNOWN_TYPES.has(msg.type)) return { ok: true, msg, unknown: true };
  if (msg.type === 'hello' && msg.v !== 1) {
    return { ok: false, error: `server speaks protocol v${msg.v}, this page speaks v1` };
  }
  if (msg.type === 'batch' && !Array.isArray(msg.events)) {
    return { ok: false, error: 'batch without an "events" array' };
  }
  if ((msg.type === 'batch' || msg.type === 'end' || msg.type === 'run' || msg.type === 'evicted' || msg.type === 'step' || msg.type === 'driving') && msg.run == null) {
    return { ok: false, error: `${msg.type} without a "run"` };
  }
  return { ok: true, msg };
}

/** The ws:// or wss:// URL of `/ws` for a page location. */
export function socketUrl(location) {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/ws`;
}

/**
 * A live connection to the server. `handlers`: onHello(msg), onRun(msg), onBatch(msg),
 * onEnd(msg), onServerError(msg), onEvicted(msg) (the server dropped a kept run to stay
 * in its memory budget), onStep(msg) (a stepped run's step state changed), onDriving(msg)
 * (the server took this connection as a stepped run's driver), onResubscribe(runId) (the connection came back and the
 * run will be replayed from its start: drop what you have of it), onStatus(status),
 * onProtocolError(text).
 * status = {state: 'connecting'|'open'|'closed', attempt, retryAt (ms epoch or null)}.
 */
export class LiveConnection {
  constructor({ url, WebSocketImpl = globalThis.WebSocket, timers = globalThis, now = () => Date.now(), handlers = {} }) {
    this.url = url;
    this.WebSocketImpl = WebSocketImpl;
    this.timers = timers;
    this.now = now;
    this.handlers = handlers;
    this.ws = null;
    this.subscribed = new Map(); // String(run id) -> run id as given (ids may be numbers or strings)
    this.driving = new Map(); // String(run id) -> {run, token}: stepped runs this connection drives
    this.attempt = 0;
    this.retryTimer = null;
    this.closedByUs = false;
    this.everOpened = false;
    this.status = { state: 'closed', attempt: 0, retryAt: null };
  }

  connect() {
    this.closedByUs = false;
    this.setStatus({ state: 'connecting', attempt: this.attempt, retryAt: null });
    let ws;
    try {
      ws = new this.WebSocketImpl(this.url);
    } catch (err) {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      const reconnected = this.everOpened;
      this.everOpened = true;
      this.attempt = 0;
      this.setStatus({ state: 'open', attempt: 0, retryAt: null });
      for (const run of this.subscribed.values()) {
        if (reconnected) this.call('onResubscribe', run);
        this.send({ type: 'subscribe', run });
      }
      for (const d of this.driving.values()) this.send({ type: 'drive', run: d.run, token: d.token });
    };
    ws.onmessage = (ev) => this.receive(typeof ev.data === 'string' ? ev.data : String(ev.data));
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (!this.closedByUs) this.scheduleReconnect();
      else this.setStatus({ state: 'closed', attempt: this.attempt, retryAt: null });
    };
    ws.onerror = () => {
      // onclose follows and does the reconnecting.
    };
  }

  scheduleReconnect() {
    const delay = reconnectDelayMs(this.attempt);
    this.attempt++;
    this.setStatus({ state: 'closed', attempt: this.attempt, retryAt: this.now() + delay });
    this.timers.clearTimeout(this.retryTimer);
    this.retryTimer = this.timers.setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, delay);
  }

  /** Reconnects now instead of waiting for the backoff. */
  retryNow() {
    if (this.ws) return;
    this.timers.clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.connect();
  }

  close() {
    this.closedByUs = true;
    this.timers.clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.ws) this.ws.close();
  }

  subscribe(run) {
    this.subscribed.set(String(run), run);
    this.send({ type: 'subscribe', run });
  }

  unsubscribe(run) {
    if (!this.subscribed.delete(String(run))) return;
    this.send({ type: 'unsubscribe', run });
  }

  /** Drives stepped run `run` with its step token (said again after every reconnect). */
  drive(run, token) {
    this.driving.set(String(run), { run, token });
    this.send({ type: 'drive', run, token });
  }

  /** Stops saying this connection drives `run` (the server notices when the connection closes). */
  undrive(run) {
    this.driving.delete(String(run));
  }

  /** Sends when open; otherwise the subscription set is replayed on the next open. */
  send(obj) {
    if (this.ws && this.ws.readyState === 1) this.ws.send(JSON.stringify(obj));
  }

  receive(text) {
    const parsed = parseServerMessage(text);
    if (!parsed.ok) {
      this.call('onProtocolError', parsed.error);
      return;
    }
    const msg = parsed.msg;
    switch (msg.type) {
      case 'hello':
        return this.call('onHello', msg);
      case 'run':
        return this.call('onRun', msg);
      case 'batch':
        if (this.subscribed.has(String(msg.run))) this.call('onBatch', msg);
        return;
      case 'end':
        return this.call('onEnd', msg);
      case 'error':
        return this.call('onServerError', msg);
      case 'evicted':
        return this.call('onEvicted', msg);
      case 'step':
        return this.call('onStep', msg);
      case 'driving':
        return this.call('onDriving', msg);
      default:
        return this.call('onUnknown', msg);
    }
  }

  setStatus(status) {
    this.status = status;
    this.call('onStatus', status);
  }

  call(name, arg) {
    const fn = this.handlers[name];
    if (fn) fn(arg);
  }
}

/** The banner text for a connection status (null when nothing needs saying). */
export function connectionBanner(status, nowMs) {
  if (status.state === 'open') return null;
  if (status.state === 'connecting') return status.attempt > 0 ? 'Disconnected — reconnecting…' : null;
  if (status.retryAt == null) return 'Disconnected';
  const secs = Math.max(0, Math.ceil((status.retryAt - nowMs) / 1000));
  return `Disconnected — reconnecting in ${secs}s`;
}

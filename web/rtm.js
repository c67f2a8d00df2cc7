// rtm.js - the RTM WebSocket: connect with ?token=…&resume=1, say `resume`
// with the last seq per channel right after `hello`, answer `goodbye` and
// every close by reconnecting with full-jitter exponential backoff, keep the
// socket honest with pings, and match replies to sends by id.
//
// The owner supplies:
//   resumeState() -> {last_seq:{C:n}, epoch:{C:e}}   asked at every hello
//   onEvent(ev)                                       every server event
//   onState(state, info)                              connection state changes
//     state: 'connecting' | 'resuming' | 'live' | 'waiting' | 'offline' | 'stopped'
//   onAuthFailed(code)                                the token is refused

const BASE_MS = 500;       // first backoff ceiling
const CAP_MS = 30000;      // largest backoff ceiling
const SEND_TIMEOUT_MS = 10000;

export class SendError extends Error {
  constructor(code, info = {}) {
    super(code);
    this.code = code;
    Object.assign(this, info);
  }
}

export class Rtm {
  constructor(token, opts) {
    this.token = token;
    this.opts = opts;
    this.ws = null;
    this.nextId = 1;
    this.pending = new Map(); // id -> {resolve, reject, timer}
    this.attempt = 0;         // failed attempts since the last hello
    this.retryTimer = null;
    this.pingTimer = null;
    this.lastFrameAt = 0;
    this.heartbeatMs = 30000;
    this.resumeId = 0;
    this.stopped = false;
    this.state = 'stopped';
    this.onOnline = () => { if (this.state === 'waiting' || this.state === 'offline') this.reconnectNow(); };
    // the network went away: a socket may look open for minutes; ask for a
    // pong and drop it if nothing comes back soon
    this.onOffline = () => this.probe(3000);
    window.addEventListener('online', this.onOnline);
    window.addEventListener('offline', this.onOffline);
  }

  probe(ms) {
    if (!this.ws) return;
    const ws = this.ws;
    const since = Date.now();
    this.sendRaw({ id: this.nextId++, type: 'ping' });
    setTimeout(() => {
      if (this.ws === ws && this.lastFrameAt < since) this.dropSocket('no answer');
    }, ms);
  }

  url() {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${proto}//${location.host}/ws?token=${encodeURIComponent(this.token)}&resume=1`;
  }

  setState(state, info = {}) {
    this.state = state;
    this.opts.onState(state, info);
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    window.removeEventListener('online', this.onOnline);
    window.removeEventListener('offline', this.onOffline);
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.onclose = ws.onmessage = ws.onerror = null;
      try { ws.close(1000); } catch { /* closed */ }
    }
    this.failPending('disconnected');
    this.setState('stopped');
  }

  connect() {
    clearTimeout(this.retryTimer);
    if (this.stopped) return;
    this.setState('connecting', { attempt: this.attempt });
    let ws;
    try {
      ws = new WebSocket(this.url());
    } catch (e) {
      this.scheduleReconnect(String(e));
      return;
    }
    this.ws = ws;
    this.lastFrameAt = Date.now();
    ws.onmessage = (m) => this.onFrame(ws, m);
    ws.onclose = (e) => this.onClose(ws, e);
    ws.onerror = () => { /* onclose follows */ };
  }

  reconnectNow() {
    this.attempt = 0;
    if (this.ws) this.dropSocket('reconnect');
    else this.connect();
  }

  // close this socket without waiting for the server; onClose reconnects
  dropSocket(why) {
    const ws = this.ws;
    if (!ws) return;
    try { ws.close(4000, why); } catch { /* closing */ }
    // a dead TCP connection may never report close: do not wait for it
    this.onClose(ws, { code: 1006, reason: why });
  }

  onClose(ws, e) {
    if (ws !== this.ws) return; // an old socket
    this.ws = null;
    ws.onclose = ws.onmessage = ws.onerror = null;
    clearInterval(this.pingTimer);
    this.failPending('disconnected');
    if (this.stopped) return;
    if (e.code === 4004 || e.code === 4001) {
      // 4004: the token expired, or its user was deactivated (reason account_inactive)
      const why = e.code === 4004 ? (e.reason === 'account_inactive' ? 'account_inactive'
        : 'token_expired') : 'invalid_auth';
      this.opts.onAuthFailed(why, e.code);
      if (e.code === 4004) return;
    }
    this.scheduleReconnect(`closed ${e.code}${e.reason ? ' ' + e.reason : ''}`);
  }

  // full jitter: a uniform delay in [0, min(cap, base * 2^attempt))
  scheduleReconnect(why) {
    if (this.stopped) return;
    const ceiling = Math.min(CAP_MS, BASE_MS * 2 ** this.attempt);
    const delay = Math.floor(Math.random() * ceiling);
    this.attempt = Math.min(this.attempt + 1, 16);
    const offline = typeof navigator !== 'undefined' && navigator.onLine === false;
    this.setState(offline ? 'offline' : 'waiting', { why, until: Date.now() + delay, attempt: this.attempt });
    this.retryTimer = setTimeout(() => this.connect(), delay);
    if (this.opts.onRetry) this.opts.onRetry(this.attempt);
  }

  sendRaw(frame) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  // a frame that is answered with reply_to; resolves with the reply
  request(frame, timeoutMs = SEND_TIMEOUT_MS) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (!this.sendRaw({ id, ...frame })) {
        reject(new SendError('disconnected'));
        return;
      }
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new SendError('timeout'));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
    });
  }

  failPending(code) {
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new SendError(code));
    }
    this.pending.clear();
  }

  isLive() {
    return this.state === 'live';
  }

  resume(lastSeq, epoch) {
    const id = this.nextId++;
    this.resumeId = id;
    const frame = { id, type: 'resume', last_seq: lastSeq };
    if (epoch && Object.keys(epoch).length) frame.epoch = epoch;
    this.sendRaw(frame);
  }

  onFrame(ws, m) {
    if (ws !== this.ws) return;
    this.lastFrameAt = Date.now();
    let ev;
    try {
      ev = JSON.parse(m.data);
    } catch {
      return;
    }
    if (!ev || typeof ev !== 'object') return;

    if (ev.reply_to !== undefined && ev.type !== 'resumed' && this.pending.has(ev.reply_to)) {
      const p = this.pending.get(ev.reply_to);
      this.pending.delete(ev.reply_to);
      clearTimeout(p.timer);
      if (ev.ok === true || ev.type === 'pong') p.resolve(ev);
      else {
        const err = ev.error || {};
        p.reject(new SendError(err.code || (typeof err === 'string' ? err : 'error'),
          { msg: err.msg, retryAfter: ev.retry_after }));
      }
      return;
    }
    switch (ev.type) {
      case 'hello': {
        this.attempt = 0;
        this.heartbeatMs = Math.max(5000, Math.min(Number(ev.heartbeat_ms) || 30000, 60000));
        this.startPings();
        this.setState('resuming');
        this.opts.onEvent(ev);
        // resume=1: the gateway holds live events until this frame
        const { last_seq: ls, epoch } = this.opts.resumeState();
        this.resume(ls, epoch);
        return;
      }
      case 'resumed':
        if (ev.reply_to === this.resumeId) this.setState('live');
        this.opts.onEvent(ev);
        return;
      case 'goodbye':
        // the server is going away: reconnect elsewhere soon (jittered)
        this.attempt = 0;
        this.dropSocket('goodbye');
        return;
      case 'pong':
        return;
      default:
        this.opts.onEvent(ev);
    }
  }

  // a ping per heartbeat; a socket silent for two heartbeats is dead
  startPings() {
    clearInterval(this.pingTimer);
    const every = Math.floor(this.heartbeatMs / 2);
    this.pingTimer = setInterval(() => {
      if (Date.now() - this.lastFrameAt > 2 * this.heartbeatMs) {
        this.dropSocket('heartbeat');
        return;
      }
      this.sendRaw({ id: this.nextId++, type: 'ping' });
    }, every);
  }
}

// Junban live client: a small, dependency-free ES module (docs/js-client.md).
//
//   import { JunbanClient } from "/static/junban.js";
//   const client = new JunbanClient({ base: location.origin, token: null });
//   const stop = client.subscribe("queue:1234-01", (data, meta) => render(data));
//
// Transports, best first: the WebSocket /v1/ws, Server-Sent Events (queue channels) and
// polling the HTTP views with ETag. States are ordered by (epoch, v): a different epoch always
// wins, then a higher v; an older state is never delivered.

// WebSocket close codes: the table in docs/api.md (hub/errors.py's Close; a test checks these).
const CLOSE_NORMAL = 1000; // ours: the client closes its own socket
const CLOSE_GOING_AWAY = 1001;
const CLOSE_ABNORMAL = 1006; // the browser's report of a lost connection, never sent
const CLOSE_SERVICE_RESTART = 1012;
const CLOSE_DEAD_LINK = 4000; // ours: no frame within the ping deadline
const CLOSE_MALFORMED = 4400;
const CLOSE_BAD_TOKEN = 4401;
const CLOSE_FORBIDDEN = 4403;
const CLOSE_TOO_SLOW = 4408;
const CLOSE_RATE_LIMITED = 4429;
const SSE_CLOSED = 2; // EventSource.CLOSED

const DEFAULTS = {
  transports: ["ws", "sse", "poll"],
  // ms: full jitter, random() * min(cap, base * 2^attempt). A 10 s cap: after a hub restart
  // 10,000 clients are all back and current in ~12 s (30 s cap: 23–30 s; loadtest/swarm.py)
  backoff: { base: 1000, cap: 10000 },
  restartAttempt: 2, // after close 1012 the first delay is drawn from [0, base * 2^2) = [0, 4 s)
  rateLimitFloor: 5000, // after 4429: 5 s + a backoff delay
  rateLimitAttempt: 3,
  authBackoff: { base: 30000, cap: 300000 }, // after 4403/4400: 30 s + [0, 30 s·2^n ≤ 5 min)
  pingInterval: 25000, // an app-level {"op": "ping"} this often
  pongTimeout: 10000, // no frame at all this long after a ping: the link is dead
  openTimeout: 10000, // a WebSocket still connecting after this is given up
  fallbackAfter: 2, // WebSocket failures before it ever opened → SSE / polling
  fallbackAfterOpened: 6, // the same once a WebSocket had worked in this page
  probe: { base: 5000, cap: 120000 }, // on a fallback, try the WebSocket again after 5 s + this
  pollInterval: 5000, // ms between polls of one channel (±20 %)
  pollErrorDelay: 60000, // after 401/403/404 on a poll
  sseBackoff: { base: 1000, cap: 10000 },
  hiddenGrace: 60000, // tab hidden this long: close everything until it is visible again
  // (Infinity: never; the patient's ticket page keeps its channel to alert in a pocket)
};

/** Full jitter: a delay drawn uniformly from [0, min(cap, base · 2^attempt)). */
export function backoffDelay(attempt, { base = 1000, cap = 10000, random = Math.random } = {}) {
  const n = Math.max(0, Math.min(attempt | 0, 52));
  return random() * Math.min(cap, base * 2 ** n);
}

/** docs/api.md ordering: is `candidate` ({epoch, v}) newer than `known` (or is nothing known)? */
export function newer(candidate, known) {
  if (!known) return true;
  return candidate.epoch !== known.epoch || candidate.v > known.v;
}

/** What a channel name means: {kind, info, facility, ticket} (null when not a channel). */
export function parseChannel(ch) {
  if (typeof ch !== "string") return null;
  const parts = ch.split(":");
  const kind = parts[0];
  if ((kind === "queue" || kind === "staff") && parts.length === 2) return { kind, info: parts[1] };
  if (kind === "facility" && parts.length === 2) return { kind, facility: parts[1] };
  if (kind === "ticket" && parts.length === 3) return { kind, info: parts[1], ticket: parts[2] };
  return null;
}

function merge(defaults, given) {
  const out = { ...defaults };
  for (const [k, val] of Object.entries(given || {})) {
    if (val === undefined) continue;
    const d = defaults[k];
    out[k] = d && typeof d === "object" && !Array.isArray(d) ? { ...d, ...val } : val;
  }
  return out;
}

export class JunbanClient {
  /**
   * @param {object} options
   *   base: the hub's origin (default location.origin); token: a JWT or null;
   *   transports: a subset of ["ws", "sse", "poll"]; the tuning numbers of DEFAULTS;
   *   and, for tests, the browser globals: WebSocket, EventSource, fetch, document, window
   *   (its online/offline events), random, setTimeout, clearTimeout, now.
   */
  constructor(options = {}) {
    const g = globalThis;
    const {
      base, token, WebSocket, EventSource, fetch, document, window: win, random,
      setTimeout: st, clearTimeout: ct, now, ...tuning
    } = options;
    this.options = merge(DEFAULTS, tuning);
    this._base = String(base ?? g.location?.origin ?? "").replace(/\/+$/, "");
    this._token = token ?? null;
    this._WS = WebSocket !== undefined ? WebSocket : g.WebSocket;
    this._ES = EventSource !== undefined ? EventSource : g.EventSource;
    this._fetch = fetch !== undefined ? fetch : g.fetch?.bind(g);
    this._doc = document !== undefined ? document : g.document;
    this._random = random || Math.random;
    this._setTimeout = st || g.setTimeout.bind(g);
    this._clearTimeout = ct || g.clearTimeout.bind(g);
    this._now = now || (() => Date.now());
    this._win = win !== undefined ? win : g.window;
    this._lastSeen = null; // now() of the last frame, event or poll answer from the hub

    this._subs = new Map(); // ch → {ch, parsed, listeners, known: Map, last: Map, error}
    this._statusFns = new Set();
    this._errorFns = new Set();
    this._status = { online: false, transport: null };
    this._closed = false;
    this._paused = false;
    this._mode = null; // "ws" | "fallback" | null (idle, connecting or backing off)
    this._ws = null;
    this._wsOpen = false;
    this._everOpened = false;
    this._wsFails = 0; // consecutive failures before an open
    this._wsBlocked = false;
    this._attempt = 0;
    this._authAttempt = 0;
    this._probeAttempt = 0;
    this._authWait = false;
    this._timers = {}; // reconnect, probe, ping, deadline, open, hidden
    this._sse = new Map(); // ch → {es, attempt, fails, opened, ok, timer}
    this._polls = new Map(); // ch → {timer, etag, fails, ok, stopped}

    this._onVisibility = () => this._visibilityChanged();
    this._doc?.addEventListener?.("visibilitychange", this._onVisibility);
    // the browser knows first when the network goes: say so at once, and come back at once
    this._onOffline = () => this._networkLost();
    this._onOnline = () => this.reconnectNow();
    this._win?.addEventListener?.("offline", this._onOffline);
    this._win?.addEventListener?.("online", this._onOnline);
  }

  // ---- public API -------------------------------------------------------------------------

  /** Watch `ch`; `onState(data, {ch, v, epoch, transport})`. Returns the function to stop. */
  subscribe(ch, onState) {
    if (this._closed) throw new Error("JunbanClient is closed");
    const parsed = parseChannel(ch);
    if (!parsed) throw new Error(`not a channel: ${ch}`);
    if (typeof onState !== "function") throw new TypeError("onState must be a function");
    let sub = this._subs.get(ch);
    const listener = { fn: onState };
    if (sub) {
      sub.listeners.add(listener);
      for (const { data, meta } of sub.last.values()) {
        Promise.resolve().then(() => sub.listeners.has(listener) && this._call(listener, data, meta));
      }
    } else {
      sub = { ch, parsed, listeners: new Set([listener]), known: new Map(), last: new Map(), error: null };
      this._subs.set(ch, sub);
      if (this._mode === "ws" && this._wsOpen) this._sendSub(sub);
      else if (this._mode === "fallback") this._startChannelFallback(sub);
      else this._ensureRunning();
    }
    let stopped = false;
    return () => {
      if (stopped) return;
      stopped = true;
      sub.listeners.delete(listener);
      if (sub.listeners.size === 0 && this._subs.get(ch) === sub) this._drop(sub);
    };
  }

  /** `fn({online, transport})` on every change of the connection's status. */
  onStatus(fn) {
    this._statusFns.add(fn);
    return () => this._statusFns.delete(fn);
  }

  /** `fn({code, ch, message})` for channel errors, auth failures and failed polls. */
  onError(fn) {
    this._errorFns.add(fn);
    return () => this._errorFns.delete(fn);
  }

  get status() {
    return { ...this._status };
  }

  /** When the hub was last heard from (`now()` ms: any frame, event or poll answer), or null. */
  get lastSeen() {
    return this._lastSeen;
  }

  /**
   * Skip the wait: reconnect now if a reconnect is pending (no backoff), poll and reopen
   * streams now on a fallback, and on an open WebSocket send a ping now, so that a dead
   * link shows within `pongTimeout`. The browser's `online` event calls it; so may a page
   * that becomes visible again.
   */
  reconnectNow() {
    if (this._closed || this._paused) return;
    this._attempt = 0;
    if (this._mode === "ws" && this._wsOpen) {
      this._pingNow();
    } else if (this._mode === "fallback") {
      for (const [ch, entry] of this._polls) {
        const sub = this._subs.get(ch);
        if (sub) this._pollSoon(sub, entry, 0);
      }
      for (const [ch, entry] of this._sse) {
        const sub = this._subs.get(ch);
        if (sub && entry.timer != null) {
          this._clearTimeout(entry.timer);
          this._openSse(sub, entry);
        }
      }
      if (this._allows("ws") && !this._ws) {
        this._clear("probe"); // and the WebSocket again at once
        this._connectWs();
      }
    } else if (this._timers.reconnect != null && !this._authWait) {
      this._clear("reconnect");
      this._ensureRunning();
    }
  }

  /** Use a new token (or null): re-authenticates the live connection. */
  setToken(token) {
    this._token = token ?? null;
    if (this._closed) return;
    this._authAttempt = 0;
    if (this._mode === "ws" && this._wsOpen) {
      if (this._token === null) {
        this._dropWs(this._ws, CLOSE_NORMAL, "token removed");
        return;
      }
      this._send({ op: "auth", token: this._token });
      for (const sub of this._subs.values()) if (sub.error) this._sendSub(sub);
      return;
    }
    if (this._mode === "fallback") {
      for (const [ch, entry] of this._polls) {
        const sub = this._subs.get(ch);
        if (sub && (sub.parsed.kind === "ticket" || sub.parsed.kind === "staff")) this._pollSoon(sub, entry, 0);
      }
      return;
    }
    if (this._authWait) {
      this._authWait = false;
      this._clear("reconnect");
      this._ensureRunning();
    }
  }

  /** Stop everything: sockets, streams, polls, timers and the visibility listener. */
  close() {
    if (this._closed) return;
    this._closed = true;
    this._doc?.removeEventListener?.("visibilitychange", this._onVisibility);
    this._win?.removeEventListener?.("offline", this._onOffline);
    this._win?.removeEventListener?.("online", this._onOnline);
    this._stopAll();
    this._subs.clear();
    this._setStatus(false, null);
  }

  // ---- delivery ---------------------------------------------------------------------------

  _deliver(sub, epoch, v, data, transport) {
    if (this._subs.get(sub.ch) !== sub || typeof v !== "number" || typeof epoch !== "string") return;
    // a facility channel carries one state per counter: each is ordered on its own
    const key = sub.parsed.kind === "facility" ? String(data?.info ?? "") : "";
    if (!newer({ epoch, v }, sub.known.get(key))) return;
    sub.known.set(key, { epoch, v });
    sub.error = null;
    const meta = { ch: sub.ch, v, epoch, transport };
    sub.last.set(key, { data, meta });
    for (const listener of [...sub.listeners]) this._call(listener, data, meta);
  }

  _call(listener, data, meta) {
    try {
      listener.fn(data, meta);
    } catch (err) {
      this._setTimeout(() => { throw err; }, 0); // report it, but keep delivering
    }
  }

  _error(code, ch, message) {
    const e = { code, ch: ch ?? null, message: message ?? code };
    for (const fn of [...this._errorFns]) {
      try {
        fn(e);
      } catch (err) {
        this._setTimeout(() => { throw err; }, 0);
      }
    }
  }

  _setStatus(online, transport) {
    if (this._status.online === online && this._status.transport === transport) return;
    this._status = { online, transport };
    for (const fn of [...this._statusFns]) {
      try {
        fn({ online, transport });
      } catch (err) {
        this._setTimeout(() => { throw err; }, 0);
      }
    }
  }

  _drop(sub) {
    this._subs.delete(sub.ch);
    if (this._mode === "ws" && this._wsOpen) this._send({ op: "unsub", ch: sub.ch });
    this._stopChannelFallback(sub.ch);
    if (this._mode === "fallback") this._fallbackStatus();
    // With no subscription left the socket stays; the hub closes it after its idle time
    // (1001) and the client reconnects only on the next subscribe.
  }

  // ---- timers -----------------------------------------------------------------------------

  _arm(name, delay, fn) {
    this._clear(name);
    this._timers[name] = this._setTimeout(() => {
      this._timers[name] = null;
      fn();
    }, Math.max(0, delay));
  }

  _clear(name) {
    const t = this._timers[name];
    if (t != null) this._clearTimeout(t);
    this._timers[name] = null;
  }

  _hidden() {
    return this._doc?.visibilityState === "hidden";
  }

  _allows(transport) {
    const t = this.options.transports;
    if (!t.includes(transport)) return false;
    if (transport === "ws") return typeof this._WS === "function";
    if (transport === "sse") return typeof this._ES === "function";
    return typeof this._fetch === "function";
  }

  _canFallBack() {
    return this._allows("sse") || this._allows("poll");
  }

  _ensureRunning() {
    if (this._closed || this._paused || this._mode !== null || this._ws) return;
    if (this._subs.size === 0 || this._timers.reconnect) return;
    this._start();
  }

  _start() {
    if (this._closed || this._paused || this._subs.size === 0) return;
    this._authWait = false;
    if (this._allows("ws") && !this._wsBlocked) this._connectWs();
    else if (this._canFallBack()) this._startFallback();
  }

  _stopAll() {
    for (const name of Object.keys(this._timers)) this._clear(name);
    if (this._ws) this._dropWs(this._ws, CLOSE_NORMAL, "closed", true);
    this._stopFallback();
    this._mode = null;
  }

  // ---- WebSocket --------------------------------------------------------------------------

  _wsUrl() {
    // The token never goes into the URL (proxy and access logs keep URLs): it is the first
    // frame on the open socket, `{"op": "auth"}`, which the hub handles before the `sub`s.
    const root = this._base || (globalThis.location ? globalThis.location.origin : "");
    return root.replace(/^http/, "ws") + "/v1/ws";
  }

  _connectWs() {
    let ws;
    try {
      ws = new this._WS(this._wsUrl(), "junban.json");
    } catch (err) {
      this._wsClosed(CLOSE_ABNORMAL, String(err), false);
      return;
    }
    this._ws = ws;
    this._wsOpen = false;
    this._arm("open", this.options.openTimeout, () => {
      if (this._ws === ws && !this._wsOpen) this._dropWs(ws, CLOSE_DEAD_LINK, "open timeout");
    });
    ws.onopen = () => {
      if (this._ws !== ws) return;
      this._clear("open");
      this._wsOpen = true;
      this._everOpened = true;
      this._wsFails = 0;
      this._wsBlocked = false;
      this._probeAttempt = 0;
      if (this._mode === "fallback") this._stopFallback();
      this._mode = "ws";
      if (this._token) this._send({ op: "auth", token: this._token });
      for (const sub of this._subs.values()) this._sendSub(sub);
      this._schedulePing();
      this._setStatus(true, "ws");
    };
    ws.onmessage = (event) => {
      if (this._ws === ws) this._onFrame(event.data);
    };
    ws.onclose = (event) => {
      if (this._ws !== ws) return;
      const wasOpen = this._wsOpen;
      this._forgetWs();
      this._wsClosed(event.code, event.reason, wasOpen);
    };
    ws.onerror = () => {}; // a close event follows
  }

  /** Close `ws` ourselves; unless `quiet`, handle it as a lost link. */
  _dropWs(ws, code, reason, quiet = false) {
    const wasOpen = this._wsOpen;
    this._forgetWs();
    try {
      ws.close(code, reason);
    } catch {
      // already closing
    }
    if (!quiet) this._wsClosed(CLOSE_ABNORMAL, reason, wasOpen);
  }

  _forgetWs() {
    this._ws = null;
    this._wsOpen = false;
    this._clear("open");
    this._clear("ping");
    this._clear("deadline");
  }

  _send(frame) {
    try {
      this._ws.send(JSON.stringify(frame));
    } catch {
      // the close event will follow
    }
  }

  _sendSub(sub) {
    const frame = { op: "sub", ch: sub.ch };
    // facility channels hold one state per counter: the hub resends all of them
    const known = sub.parsed.kind === "facility" ? null : sub.known.get("");
    if (known) {
      frame.v = known.v;
      frame.epoch = known.epoch;
    }
    sub.error = null;
    this._send(frame);
  }

  _schedulePing() {
    this._arm("ping", this.options.pingInterval, () => {
      if (!this._wsOpen) return;
      this._schedulePing();
      this._pingNow();
    });
  }

  _pingNow() {
    if (this._timers.deadline == null) {
      const ws = this._ws;
      this._arm("deadline", this.options.pongTimeout, () => {
        if (this._ws === ws) this._dropWs(ws, CLOSE_DEAD_LINK, "no pong");
      });
    }
    this._send({ op: "ping" });
  }

  /** The browser says the network is gone: the live link is not proven any more. */
  _networkLost() {
    if (this._closed || this._paused) return;
    if (this._ws && this._wsOpen) {
      this._dropWs(this._ws, CLOSE_DEAD_LINK, "offline");
    } else if (this._mode === "fallback") {
      for (const entry of [...this._sse.values(), ...this._polls.values()]) entry.ok = false;
      this._fallbackStatus();
    }
  }

  _onFrame(raw) {
    this._clear("deadline"); // any frame proves the link is alive
    this._lastSeen = this._now();
    let frame;
    try {
      frame = JSON.parse(typeof raw === "string" ? raw : new TextDecoder().decode(raw));
    } catch {
      return;
    }
    if (!frame || typeof frame !== "object") return;
    this._attempt = 0; // the hub answered: the next drop starts the backoff afresh
    this._authAttempt = 0;
    const sub = typeof frame.ch === "string" ? this._subs.get(frame.ch) : undefined;
    if (frame.op === "state") {
      if (sub) this._deliver(sub, frame.epoch, frame.v, frame.data, "ws");
    } else if (frame.op === "error") {
      if (sub) sub.error = frame.code;
      this._error(frame.code, frame.ch, frame.message);
    }
  }

  _wsClosed(code, reason, wasOpen) {
    if (this._closed || this._paused) return;
    if (this._mode === "fallback") {
      // a background probe failed: stay on the fallback, try again later
      this._scheduleProbe();
      return;
    }
    this._mode = null;
    this._setStatus(false, null);
    if (this._hidden() && Number.isFinite(this.options.hiddenGrace)) {
      this._pause(); // a link lost while hidden is retried when the tab is visible again
      return;
    }
    if (!wasOpen && code !== CLOSE_BAD_TOKEN && code !== CLOSE_RATE_LIMITED) {
      this._wsFails += 1;
      const limit = this._everOpened ? this.options.fallbackAfterOpened : this.options.fallbackAfter;
      if (this._wsFails >= limit && this._canFallBack()) {
        this._wsBlocked = true;
        this._startFallback();
        return;
      }
    }
    if (this._subs.size === 0) return; // nothing to watch: reconnect on the next subscribe
    const o = this.options;
    const random = this._random;
    let delay;
    if (code === CLOSE_BAD_TOKEN && this._token !== null) {
      // The token is bad, expired or revoked (the reason is the error code, e.g.
      // token_expired). It is dropped before anyone is told, so a listener may setToken() a
      // new one; without one the client reconnects anonymously after the usual backoff:
      // public channels keep working, private ones get `unauthorized` error frames.
      this._token = null;
      this._error(reason || "unauthorized", null, `connection closed (${code}${reason ? ": " + reason : ""})`);
      if (this._closed || this._mode !== null || this._timers.reconnect) return; // a listener acted
      delay = backoffDelay(this._attempt++, { ...o.backoff, random });
    } else if (code === CLOSE_BAD_TOKEN || code === CLOSE_FORBIDDEN || code === CLOSE_MALFORMED) {
      const what = code === CLOSE_BAD_TOKEN ? reason || "unauthorized" : code === CLOSE_FORBIDDEN ? "forbidden" : "malformed";
      this._error(what, null, `connection closed (${code}${reason ? ": " + reason : ""})`);
      if (this._closed || this._mode !== null || this._timers.reconnect) return;
      this._authWait = code !== CLOSE_MALFORMED;
      delay = o.authBackoff.base + backoffDelay(this._authAttempt++, { ...o.authBackoff, random });
    } else if (code === CLOSE_GOING_AWAY && [...this._subs.values()].every((sub) => sub.error)) {
      // idle close, and the hub refused every channel (no token for them): reconnecting
      // would only be refused again. Wait for setToken() or a new subscribe().
      this._authWait = true;
      return;
    } else if (code === CLOSE_RATE_LIMITED) {
      this._attempt = Math.max(this._attempt, o.rateLimitAttempt);
      delay = o.rateLimitFloor + backoffDelay(this._attempt++, { ...o.backoff, random });
    } else {
      if (code === CLOSE_SERVICE_RESTART) this._attempt = Math.max(this._attempt, o.restartAttempt);
      // CLOSE_TOO_SLOW, CLOSE_GOING_AWAY, CLOSE_DEAD_LINK, CLOSE_ABNORMAL…: the usual backoff
      delay = backoffDelay(this._attempt++, { ...o.backoff, random });
    }
    this._arm("reconnect", delay, () => {
      this._authWait = false;
      this._ensureRunning();
    });
  }

  // ---- fallbacks: SSE and polling ---------------------------------------------------------

  _startFallback() {
    this._mode = "fallback";
    for (const sub of this._subs.values()) this._startChannelFallback(sub);
    if (this._allows("ws")) this._scheduleProbe();
    this._fallbackStatus();
  }

  _stopFallback() {
    this._clear("probe");
    for (const ch of [...this._sse.keys(), ...this._polls.keys()]) this._stopChannelFallback(ch);
  }

  _scheduleProbe() {
    if (this._ws || this._timers.probe) return;
    const o = this.options;
    const delay = o.probe.base + backoffDelay(this._probeAttempt++, { ...o.probe, random: this._random });
    this._arm("probe", delay, () => {
      if (this._mode === "fallback" && !this._ws && !this._closed) this._connectWs();
    });
  }

  _startChannelFallback(sub) {
    if (sub.parsed.kind === "queue" && this._allows("sse")) this._startSse(sub);
    else if (this._allows("poll")) this._startPoll(sub);
    else this._error("no_transport", sub.ch, "no transport can carry this channel here");
  }

  _stopChannelFallback(ch) {
    const sse = this._sse.get(ch);
    if (sse) {
      this._sse.delete(ch);
      if (sse.timer != null) this._clearTimeout(sse.timer);
      sse.es?.close();
    }
    const poll = this._polls.get(ch);
    if (poll) {
      this._polls.delete(ch);
      poll.stopped = true;
      if (poll.timer != null) this._clearTimeout(poll.timer);
    }
  }

  _fallbackStatus() {
    if (this._mode !== "fallback") return;
    const entries = [...this._sse.values(), ...this._polls.values()];
    const online = entries.some((e) => e.ok);
    this._setStatus(online, this._sse.size > 0 ? "sse" : "poll");
  }

  _url(path) {
    return this._base + path;
  }

  _startSse(sub) {
    const entry = { es: null, attempt: 0, fails: 0, opened: false, ok: false, timer: null };
    this._sse.set(sub.ch, entry);
    this._openSse(sub, entry);
  }

  _openSse(sub, entry) {
    entry.timer = null;
    let es;
    try {
      es = new this._ES(this._url(`/v1/queues/${encodeURIComponent(sub.parsed.info)}/events`));
    } catch {
      this._sseFailed(sub, entry);
      return;
    }
    entry.es = es;
    es.addEventListener("state", (event) => {
      if (entry.es !== es) return;
      let data;
      try {
        data = JSON.parse(event.data);
      } catch {
        return;
      }
      this._lastSeen = this._now();
      this._deliver(sub, data?.epoch, data?.v, data, "sse");
    });
    es.onopen = () => {
      if (entry.es !== es) return;
      this._lastSeen = this._now();
      entry.opened = true;
      entry.ok = true;
      entry.attempt = 0;
      entry.fails = 0;
      this._fallbackStatus();
    };
    es.onerror = () => {
      if (entry.es !== es) return;
      // EventSource would retry by itself every 2 s (the hub's `retry:`), all clients in step:
      // close it and reopen with jittered backoff instead.
      es.close();
      entry.es = null;
      this._sseFailed(sub, entry);
    };
  }

  _sseFailed(sub, entry) {
    entry.ok = false;
    entry.fails += 1;
    if (this._sse.get(sub.ch) !== entry) return;
    if (!entry.opened && entry.fails >= 2 && this._allows("poll")) {
      // SSE never worked for this channel (a proxy, or an error status): poll it instead
      this._sse.delete(sub.ch);
      this._startPoll(sub);
      this._fallbackStatus();
      return;
    }
    this._fallbackStatus();
    const delay = backoffDelay(entry.attempt++, { ...this.options.sseBackoff, random: this._random });
    entry.timer = this._setTimeout(() => this._openSse(sub, entry), delay);
  }

  _startPoll(sub) {
    const entry = { timer: null, etag: null, fails: 0, ok: false, stopped: false, busy: false };
    this._polls.set(sub.ch, entry);
    this._pollSoon(sub, entry, 0);
  }

  _pollSoon(sub, entry, delay) {
    if (entry.timer != null) this._clearTimeout(entry.timer);
    entry.timer = this._setTimeout(() => {
      entry.timer = null;
      this._pollOnce(sub, entry);
    }, Math.max(0, delay));
  }

  _pollRequest(sub, entry) {
    const p = sub.parsed;
    const headers = {};
    let path;
    if (p.kind === "queue") {
      path = `/v1/queues/${encodeURIComponent(p.info)}`;
      // `"epoch.v"` of the state held: revalidates only within the same epoch (see hub/web/queues.py)
      const held = sub.known.get("");
      if (held) headers["If-None-Match"] = `"${held.epoch}.${held.v}"`;
      else if (entry.etag) headers["If-None-Match"] = entry.etag;
    } else if (p.kind === "facility") {
      path = `/v1/facilities/${encodeURIComponent(p.facility)}`;
    } else if (p.kind === "ticket") {
      path = `/v1/queues/${encodeURIComponent(p.info)}/tickets/${encodeURIComponent(p.ticket)}`;
    } else {
      path = `/v1/queues/${encodeURIComponent(p.info)}/staff`;
    }
    if (this._token && (p.kind === "ticket" || p.kind === "staff")) {
      headers.Authorization = `Bearer ${this._token}`;
    }
    return [this._url(path), { headers, cache: "no-store" }];
  }

  async _pollOnce(sub, entry) {
    if (entry.stopped || entry.busy) return;
    entry.busy = true;
    const o = this.options;
    let next = o.pollInterval * (0.8 + 0.4 * this._random());
    try {
      const [url, init] = this._pollRequest(sub, entry);
      const response = await this._fetch(url, init);
      if (entry.stopped) return;
      if (response.status < 500) this._lastSeen = this._now(); // the hub answered
      if (response.status === 200) {
        const data = await response.json();
        if (entry.stopped) return;
        entry.etag = response.headers?.get?.("ETag") ?? null;
        if (sub.parsed.kind === "facility") {
          for (const q of data?.queues ?? []) this._deliver(sub, q?.epoch, q?.v, q, "poll");
        } else {
          this._deliver(sub, data?.epoch, data?.v, data, "poll");
        }
        entry.ok = true;
        entry.fails = 0;
      } else if (response.status === 304) {
        entry.ok = true;
        entry.fails = 0;
      } else {
        let body = null;
        try {
          body = await response.json();
        } catch {
          // not JSON
        }
        if (entry.stopped) return;
        const err = body?.error ?? {};
        entry.ok = response.status < 500; // the hub answered
        if (response.status >= 500 || response.status === 429) {
          next = o.pollInterval + backoffDelay(entry.fails++, { ...o.backoff, random: this._random });
        } else {
          next = o.pollErrorDelay;
        }
        if (response.status !== 429 && response.status < 500) {
          this._error(err.code || `http_${response.status}`, sub.ch, err.message || `HTTP ${response.status}`);
        }
      }
    } catch {
      if (entry.stopped) return;
      entry.ok = false;
      next = o.pollInterval + backoffDelay(entry.fails++, { ...o.backoff, random: this._random });
    } finally {
      entry.busy = false;
    }
    if (entry.stopped) return;
    this._fallbackStatus();
    this._pollSoon(sub, entry, next);
  }

  // ---- visibility -------------------------------------------------------------------------

  _visibilityChanged() {
    if (this._closed) return;
    if (this._hidden()) {
      const grace = this.options.hiddenGrace;
      if (!this._paused && this._timers.hidden == null && Number.isFinite(grace)) {
        this._arm("hidden", grace, () => {
          if (this._hidden()) this._pause();
        });
      }
      return;
    }
    this._clear("hidden");
    if (this._paused) {
      // catch up now: no backoff, resume each channel from its last (epoch, v)
      this._paused = false;
      this._attempt = 0;
      this._ensureRunning();
    }
  }

  _pause() {
    this._paused = true;
    this._stopAll();
    this._setStatus(false, null);
  }
}

// Small in-test stand-ins for the browser globals the client uses (pure-logic unit tests;
// tests/pages/test_js_client.py runs the same client in real Chromium against a real hub).

/** A virtual clock: setTimeout/clearTimeout/now, advanced by hand. */
export class FakeClock {
  constructor() {
    this.t = 0;
    this.seq = 0;
    this.timers = new Map(); // id → {at, fn, seq}
    this.setTimeout = (fn, ms) => {
      const id = ++this.seq;
      this.timers.set(id, { at: this.t + Math.max(0, ms || 0), fn, seq: id });
      return id;
    };
    this.clearTimeout = (id) => this.timers.delete(id);
    this.now = () => this.t;
  }

  /** Run every timer due within `ms`, in time order, letting promises settle in between. */
  async advance(ms) {
    const end = this.t + ms;
    for (;;) {
      await settle();
      let next = null;
      for (const [id, timer] of this.timers) {
        if (timer.at <= end && (!next || timer.at < next[1].at || (timer.at === next[1].at && timer.seq < next[1].seq))) {
          next = [id, timer];
        }
      }
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = end;
    await settle();
  }

  pending() {
    return [...this.timers.values()].map((t) => t.at - this.t).sort((a, b) => a - b);
  }
}

export async function settle() {
  for (let i = 0; i < 20; i++) await null;
}

/** A WebSocket class whose instances the test opens, feeds and closes. */
export function fakeWebSocketClass() {
  class FakeWebSocket {
    static instances = [];
    static autoPong = true;
    constructor(url, protocol) {
      this.url = url;
      this.protocol = protocol;
      this.sent = [];
      this.closedWith = null;
      this.readyState = 0;
      FakeWebSocket.instances.push(this);
    }
    send(text) {
      if (this.readyState !== 1) throw new Error("not open");
      const frame = JSON.parse(text);
      this.sent.push(frame);
      if (frame.op === "ping" && FakeWebSocket.autoPong) {
        queueMicrotask(() => this.readyState === 1 && this.message({ op: "pong" }));
      }
    }
    close(code, reason) {
      this.closedWith = { code, reason };
      this.readyState = 3;
    }
    // the test's side
    open() {
      this.readyState = 1;
      this.onopen?.({});
    }
    message(frame) {
      this.onmessage?.({ data: JSON.stringify(frame) });
    }
    serverClose(code, reason = "") {
      this.readyState = 3;
      this.onclose?.({ code, reason });
    }
    fail() {
      this.readyState = 3;
      this.onerror?.({});
      this.onclose?.({ code: 1006, reason: "" });
    }
    ops(op) {
      return this.sent.filter((f) => f.op === op);
    }
  }
  return FakeWebSocket;
}

export function fakeEventSourceClass() {
  class FakeEventSource {
    static instances = [];
    constructor(url) {
      this.url = url;
      this.listeners = {};
      this.closed = false;
      this.readyState = 0;
      FakeEventSource.instances.push(this);
    }
    addEventListener(type, fn) {
      (this.listeners[type] ||= []).push(fn);
    }
    close() {
      this.closed = true;
      this.readyState = 2;
    }
    open() {
      this.readyState = 1;
      this.onopen?.({});
    }
    state(data) {
      for (const fn of this.listeners.state || []) fn({ data: JSON.stringify(data), lastEventId: String(data.v) });
    }
    error() {
      this.onerror?.({});
    }
  }
  return FakeEventSource;
}

/** fetch answering from `respond(url, init)` → {status, body, etag}; records each call. */
export function fakeFetch(respond) {
  const calls = [];
  const fetch = async (url, init = {}) => {
    calls.push({ url, headers: { ...(init.headers || {}) } });
    const r = await respond(url, init);
    if (r instanceof Error) throw r;
    return {
      status: r.status,
      headers: { get: (name) => (name.toLowerCase() === "etag" ? r.etag ?? null : null) },
      json: async () => r.body,
    };
  };
  fetch.calls = calls;
  return fetch;
}

export class FakeDocument {
  constructor() {
    this.visibilityState = "visible";
    this.listeners = new Set();
  }
  addEventListener(type, fn) {
    if (type === "visibilitychange") this.listeners.add(fn);
  }
  removeEventListener(type, fn) {
    this.listeners.delete(fn);
  }
  set(state) {
    this.visibilityState = state;
    for (const fn of [...this.listeners]) fn({});
  }
}

/** A seeded PRNG (mulberry32), so the spread tests are repeatable. */
export function seeded(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const view = (v, epoch = "e1", extra = {}) => ({ info: "1234-01", v, epoch, waiting_count: v, ...extra });

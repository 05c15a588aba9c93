// JunbanClient's logic with stand-ins for the browser globals (fakes.mjs).
import assert from "node:assert/strict";
import { test } from "node:test";

import { JunbanClient, newer, parseChannel } from "../junban.js";
import {
  FakeClock,
  FakeDocument,
  fakeEventSourceClass,
  fakeFetch,
  fakeWebSocketClass,
  seeded,
  settle,
  view,
} from "./fakes.mjs";

function setup(options = {}) {
  const clock = new FakeClock();
  const WS = fakeWebSocketClass();
  const ES = fakeEventSourceClass();
  const doc = new FakeDocument();
  const fetch = options.fetch ?? fakeFetch(() => new Error("offline"));
  const client = new JunbanClient({
    base: "http://hub.test",
    WebSocket: WS,
    EventSource: ES,
    fetch,
    document: doc,
    random: seeded(7),
    setTimeout: clock.setTimeout,
    clearTimeout: clock.clearTimeout,
    now: clock.now,
    ...options,
  });
  const statuses = [];
  const errors = [];
  client.onStatus((s) => statuses.push(s));
  client.onError((e) => errors.push(e));
  const got = [];
  const watch = (ch) => client.subscribe(ch, (data, meta) => got.push({ data, meta }));
  return { clock, WS, ES, doc, fetch, client, statuses, errors, got, watch };
}

const state = (v, epoch = "e1", ch = "queue:1234-01", extra = {}) => ({
  op: "state", ch, v, epoch, data: view(v, epoch, extra),
});

test("newer(): a different epoch always wins, then a higher v", () => {
  assert.equal(newer({ epoch: "a", v: 1 }, null), true);
  assert.equal(newer({ epoch: "a", v: 2 }, { epoch: "a", v: 1 }), true);
  assert.equal(newer({ epoch: "a", v: 1 }, { epoch: "a", v: 1 }), false);
  assert.equal(newer({ epoch: "a", v: 0 }, { epoch: "a", v: 1 }), false);
  assert.equal(newer({ epoch: "b", v: 1 }, { epoch: "a", v: 99 }), true);
});

test("parseChannel() knows the four channel kinds", () => {
  assert.deepEqual(parseChannel("queue:1234-01"), { kind: "queue", info: "1234-01" });
  assert.deepEqual(parseChannel("staff:1234-01"), { kind: "staff", info: "1234-01" });
  assert.deepEqual(parseChannel("facility:1234"), { kind: "facility", facility: "1234" });
  assert.deepEqual(parseChannel("ticket:1234-01:abc"), { kind: "ticket", info: "1234-01", ticket: "abc" });
  assert.equal(parseChannel("nope:1"), null);
  assert.equal(parseChannel(42), null);
});

test("connects to /v1/ws (no token in the URL), sends auth first, subscribes, reports ws", async () => {
  const t = setup({ token: "jwt.a b" });
  t.watch("queue:1234-01");
  const ws = t.WS.instances[0];
  assert.equal(ws.url, "ws://hub.test/v1/ws");
  assert.equal(ws.protocol, "junban.json");
  ws.open();
  assert.deepEqual(ws.sent, [{ op: "auth", token: "jwt.a b" }, { op: "sub", ch: "queue:1234-01" }]);
  assert.deepEqual(t.statuses, [{ online: true, transport: "ws" }]);
  ws.message(state(3));
  assert.deepEqual(t.got[0].meta, { ch: "queue:1234-01", v: 3, epoch: "e1", transport: "ws" });
  assert.equal(t.got[0].data.waiting_count, 3);
  t.client.close();
  assert.deepEqual(ws.closedWith.code, 1000);
  assert.deepEqual(t.statuses.at(-1), { online: false, transport: null });
});

test("https base gives wss", () => {
  const t = setup({ base: "https://clinic.example/" });
  t.watch("queue:1234-01");
  assert.equal(t.WS.instances[0].url, "wss://clinic.example/v1/ws");
  t.client.close();
});

test("never delivers an older state; a different epoch wins", () => {
  const t = setup();
  t.watch("queue:1234-01");
  const ws = t.WS.instances[0];
  ws.open();
  for (const [v, epoch] of [[5, "e1"], [4, "e1"], [5, "e1"], [7, "e1"], [6, "e1"], [1, "e2"], [1, "e2"], [2, "e2"]]) {
    ws.message(state(v, epoch));
  }
  assert.deepEqual(t.got.map((g) => [g.meta.epoch, g.meta.v]), [["e1", 5], ["e1", 7], ["e2", 1], ["e2", 2]]);
  t.client.close();
});

test("after a drop it resumes each channel with the last (epoch, v) it holds", async () => {
  const t = setup();
  t.watch("queue:1234-01");
  t.watch("facility:1234");
  t.watch("ticket:1234-01:abc");
  let ws = t.WS.instances[0];
  ws.open();
  ws.message(state(9, "e3"));
  ws.message(state(4, "e3", "ticket:1234-01:abc"));
  ws.message(state(9, "e3", "facility:1234", { info: "1234-01" }));
  ws.serverClose(1006);
  assert.deepEqual(t.statuses.at(-1), { online: false, transport: null });
  await t.clock.advance(1000); // first delay: [0, 1 s)
  ws = t.WS.instances[1];
  ws.open();
  assert.deepEqual(ws.ops("sub"), [
    { op: "sub", ch: "queue:1234-01", v: 9, epoch: "e3" },
    { op: "sub", ch: "facility:1234" }, // one state per counter: the hub resends them all
    { op: "sub", ch: "ticket:1234-01:abc", v: 4, epoch: "e3" },
  ]);
  ws.message(state(9, "e3")); // a hub that resends the same state: not delivered twice
  assert.equal(t.got.filter((g) => g.meta.ch === "queue:1234-01").length, 1);
  t.client.close();
});

test("facility channel: one callback per counter, each ordered on its own", () => {
  const t = setup();
  t.watch("facility:1234");
  const ws = t.WS.instances[0];
  ws.open();
  ws.message(state(5, "e", "facility:1234", { info: "1234-01" }));
  ws.message(state(2, "e", "facility:1234", { info: "1234-02" }));
  ws.message(state(4, "e", "facility:1234", { info: "1234-01" })); // older for 01
  ws.message(state(3, "e", "facility:1234", { info: "1234-02" }));
  assert.deepEqual(t.got.map((g) => [g.data.info, g.meta.v]), [["1234-01", 5], ["1234-02", 2], ["1234-02", 3]]);
  t.client.close();
});

test("a second subscriber of a channel gets the last state at once and shares the sub", async () => {
  const t = setup();
  const stop1 = t.watch("queue:1234-01");
  const ws = t.WS.instances[0];
  ws.open();
  ws.message(state(2));
  const late = [];
  const stop2 = t.client.subscribe("queue:1234-01", (d, m) => late.push(m.v));
  await settle();
  assert.deepEqual(late, [2]);
  assert.equal(ws.ops("sub").length, 1);
  stop1();
  assert.equal(ws.ops("unsub").length, 0);
  stop2();
  stop2();
  assert.deepEqual(ws.ops("unsub"), [{ op: "unsub", ch: "queue:1234-01" }]);
  ws.message(state(3)); // late frame after unsub: ignored
  assert.equal(t.got.length, 1);
  t.client.close();
});

test("error frames go to onError; setToken sends auth and retries the refused channels", () => {
  const t = setup();
  t.watch("staff:1234-01");
  t.watch("queue:1234-01");
  const ws = t.WS.instances[0];
  ws.open();
  ws.message({ op: "error", code: "unauthorized", ch: "staff:1234-01", message: "token required" });
  assert.deepEqual(t.errors, [{ code: "unauthorized", ch: "staff:1234-01", message: "token required" }]);
  t.client.setToken("staff-jwt");
  assert.deepEqual(ws.sent.slice(-2), [
    { op: "auth", token: "staff-jwt" },
    { op: "sub", ch: "staff:1234-01" },
  ]);
  t.client.close();
});

test("4401: reported, the token dropped; public channels come back without it", async () => {
  const t = setup({ token: "old" });
  t.watch("ticket:1234-01:abc");
  t.watch("queue:1234-01");
  let ws = t.WS.instances[0];
  ws.open();
  ws.message(state(3));
  ws.serverClose(4401, "token_revoked");
  assert.deepEqual(t.errors.map((e) => [e.code, e.ch]), [["token_revoked", null]]);
  await t.clock.advance(1000); // the usual backoff, not the long auth wait
  assert.equal(t.WS.instances.length, 2);
  ws = t.WS.instances[1];
  ws.open();
  assert.deepEqual(ws.sent.filter((f) => f.op === "auth"), [], "the bad token is not sent again");
  ws.message({ op: "error", code: "unauthorized", ch: "ticket:1234-01:abc", message: "token required" });
  ws.message(state(4));
  assert.deepEqual(t.got.map((g) => g.meta.v), [3, 4]); // the public channel goes on
  t.client.setToken("new"); // a new token: auth on the same socket, the refused channel again
  assert.deepEqual(ws.sent.slice(-2), [{ op: "auth", token: "new" }, { op: "sub", ch: "ticket:1234-01:abc" }]);
  t.client.close();
});

test("4401 with only private channels: one anonymous reconnect, then quiet until setToken", async () => {
  const t = setup({ token: "old" });
  t.watch("staff:1234-01");
  let ws = t.WS.instances[0];
  ws.open();
  ws.serverClose(4401, "invalid_token");
  await t.clock.advance(1000);
  ws = t.WS.instances[1];
  ws.open();
  ws.message({ op: "error", code: "unauthorized", ch: "staff:1234-01", message: "token required" });
  ws.serverClose(1001, "idle"); // nothing the hub would send: it closes the idle socket
  await t.clock.advance(600000);
  assert.equal(t.WS.instances.length, 2, "no reconnect loop for channels that are refused anyway");
  t.client.setToken("new");
  assert.equal(t.WS.instances.length, 3);
  t.WS.instances[2].open();
  assert.deepEqual(t.WS.instances[2].sent.slice(0, 2), [{ op: "auth", token: "new" }, { op: "sub", ch: "staff:1234-01" }]);
  t.client.close();
});

test("a listener may replace the token from onError after a 4401", async () => {
  const t = setup({ token: "old" });
  t.client.onError((e) => e.ch === null && t.client.setToken("fresh"));
  t.watch("staff:1234-01");
  t.WS.instances[0].open();
  t.WS.instances[0].serverClose(4401, "token_expired");
  await t.clock.advance(1000);
  t.WS.instances[1].open();
  assert.deepEqual(t.WS.instances[1].sent[0], { op: "auth", token: "fresh" });
  t.client.close();
});

test("4403 and 4400 still wait long (≥ 30 s) before trying again", async () => {
  const t = setup({ token: "x" });
  t.watch("queue:1234-01");
  t.WS.instances[0].open();
  t.WS.instances[0].serverClose(4400, "malformed frame");
  assert.equal(t.errors[0].code, "malformed");
  assert.ok(t.clock.pending()[0] >= 30000, `waits ≥ 30 s, not ${t.clock.pending()[0]}`);
  t.client.close();
});

test("4429 backs off longer (≥ 5 s); 1012 reconnects within the restart window; 4408 soon", async () => {
  const t = setup({ random: () => 0.999 });
  t.watch("queue:1234-01");
  t.WS.instances[0].open();
  t.WS.instances[0].serverClose(4429, "too many frames");
  const [limited] = t.clock.pending();
  assert.ok(limited >= 5000 + 7000, String(limited)); // 5 s + [0, 1 s·2^3)
  await t.clock.advance(limited);
  t.WS.instances[1].open();
  t.WS.instances[1].message(state(1)); // the hub answered: the backoff starts afresh
  t.WS.instances[1].serverClose(1012, "restart");
  const [restart] = t.clock.pending();
  assert.ok(restart < 4000 && restart > 3000, String(restart)); // [0, 4 s)
  await t.clock.advance(restart);
  t.WS.instances[2].open();
  t.WS.instances[2].message({ op: "subscribed", ch: "queue:1234-01" });
  t.WS.instances[2].serverClose(4408, "too slow");
  assert.ok(t.clock.pending()[0] < 1000);
  t.client.close();
});

test("1001 (idle) with nothing subscribed: no reconnect until the next subscribe", async () => {
  const t = setup();
  const stop = t.watch("queue:1234-01");
  t.WS.instances[0].open();
  stop();
  t.WS.instances[0].serverClose(1001, "idle: no subscriptions");
  await t.clock.advance(120000);
  assert.equal(t.WS.instances.length, 1);
  t.watch("queue:1234-02");
  assert.equal(t.WS.instances.length, 2);
  t.client.close();
});

test("app-level ping every 25 s; no frame within 10 s means a dead link: reconnect", async () => {
  const t = setup();
  t.WS.autoPong = false;
  t.watch("queue:1234-01");
  const ws = t.WS.instances[0];
  ws.open();
  await t.clock.advance(25000);
  assert.deepEqual(ws.ops("ping"), [{ op: "ping" }]);
  ws.message({ op: "pong" });
  await t.clock.advance(25000);
  assert.equal(ws.ops("ping").length, 2);
  assert.equal(ws.closedWith, null);
  await t.clock.advance(10000); // no pong this time (half-open TCP)
  assert.equal(ws.closedWith.code, 4000);
  assert.deepEqual(t.statuses.at(-1), { online: false, transport: null });
  await t.clock.advance(1000);
  assert.equal(t.WS.instances.length, 2);
  t.client.close();
});

test("a socket stuck connecting is given up after 10 s", async () => {
  const t = setup({ transports: ["ws"] });
  t.watch("queue:1234-01");
  await t.clock.advance(10000);
  assert.equal(t.WS.instances[0].closedWith.code, 4000);
  await t.clock.advance(1000);
  assert.equal(t.WS.instances.length, 2);
  t.client.close();
});

test("hidden tab: closes after the 60 s grace; visible: reconnects at once and resumes", async () => {
  const t = setup();
  t.watch("queue:1234-01");
  const ws = t.WS.instances[0];
  ws.open();
  ws.message(state(12, "e9"));
  t.doc.set("hidden");
  await t.clock.advance(59000);
  assert.equal(ws.closedWith, null);
  await t.clock.advance(1000);
  assert.equal(ws.closedWith.code, 1000);
  assert.deepEqual(t.statuses.at(-1), { online: false, transport: null });
  await t.clock.advance(600000);
  assert.equal(t.WS.instances.length, 1, "nothing while hidden");
  assert.deepEqual(t.clock.pending(), []);
  t.doc.set("visible");
  assert.equal(t.WS.instances.length, 2, "no backoff on visible");
  t.WS.instances[1].open();
  assert.deepEqual(t.WS.instances[1].ops("sub"), [{ op: "sub", ch: "queue:1234-01", v: 12, epoch: "e9" }]);
  t.client.close();
});

test("a short hide does not disconnect", async () => {
  const t = setup();
  t.watch("queue:1234-01");
  const ws = t.WS.instances[0];
  ws.open();
  t.doc.set("hidden");
  await t.clock.advance(30000);
  t.doc.set("visible");
  await t.clock.advance(60000);
  assert.equal(ws.closedWith, null);
  assert.equal(t.WS.instances.length, 1);
  t.client.close();
});

test("hiddenGrace: Infinity keeps the channel while hidden and reconnects a lost link", async () => {
  const t = setup({ hiddenGrace: Infinity });
  t.watch("ticket:1234-01:abc");
  const ws = t.WS.instances[0];
  ws.open();
  t.doc.set("hidden");
  await t.clock.advance(10 * 60000);
  assert.equal(ws.closedWith, null, "not closed after 10 min hidden");
  assert.equal(t.clock.pending().length, 1, "only the ping timer, no 0 ms 'Infinity' timer");
  ws.serverClose(1006);
  await t.clock.advance(1000);
  assert.equal(t.WS.instances.length, 2, "a link lost while hidden is retried at once");
  t.client.close();
});

test("WebSocket failing twice before it ever opened: SSE for queues, polling for the rest", async () => {
  const fetch = fakeFetch((url) => ({ status: 200, body: { info: "1234-01", v: 3, epoch: "e1", ticket: { id: "abc" } } }));
  const t = setup({ fetch, token: "patient-jwt" });
  t.watch("queue:1234-01");
  t.watch("ticket:1234-01:abc");
  t.WS.instances[0].fail();
  await t.clock.advance(1000);
  assert.equal(t.WS.instances.length, 2);
  t.WS.instances[1].fail();
  assert.equal(t.ES.instances.length, 1);
  const es = t.ES.instances[0];
  assert.equal(es.url, "http://hub.test/v1/queues/1234-01/events");
  await t.clock.advance(0);
  assert.equal(fetch.calls[0].url, "http://hub.test/v1/queues/1234-01/tickets/abc");
  assert.equal(fetch.calls[0].headers.Authorization, "Bearer patient-jwt");
  es.open();
  assert.deepEqual(t.statuses.at(-1), { online: true, transport: "sse" });
  es.state(view(4));
  es.state(view(3)); // older: dropped
  const queue = t.got.filter((g) => g.meta.ch === "queue:1234-01");
  assert.deepEqual(queue.map((g) => [g.meta.v, g.meta.transport]), [[4, "sse"]]);
  const ticket = t.got.filter((g) => g.meta.ch === "ticket:1234-01:abc");
  assert.deepEqual(ticket.map((g) => [g.meta.v, g.meta.transport]), [[3, "poll"]]);
  // in the background the WebSocket is tried again; when it opens, it takes over
  while (t.WS.instances.length === 2 && t.clock.t < 60000) await t.clock.advance(500);
  assert.ok(t.clock.t >= 5000, "the first probe waits at least 5 s");
  assert.equal(t.WS.instances.length, 3);
  const probe = t.WS.instances[2];
  probe.open();
  assert.equal(es.closed, true);
  assert.deepEqual(t.statuses.at(-1), { online: true, transport: "ws" });
  assert.deepEqual(probe.ops("sub"), [
    { op: "sub", ch: "queue:1234-01", v: 4, epoch: "e1" },
    { op: "sub", ch: "ticket:1234-01:abc", v: 3, epoch: "e1" },
  ]);
  const polls = fetch.calls.length;
  await t.clock.advance(60000);
  assert.equal(fetch.calls.length, polls, "polling stopped");
  t.client.close();
});

test("a failed probe keeps the fallback and tries later, further apart", async () => {
  const t = setup({ transports: ["ws", "sse"] });
  t.watch("queue:1234-01");
  t.WS.instances[0].fail();
  await t.clock.advance(1000);
  t.WS.instances[1].fail();
  t.ES.instances[0].open();
  const probeTimes = [];
  for (let i = 0; i < 4; i++) {
    const before = t.clock.t;
    while (t.WS.instances.length === 2 + i) await t.clock.advance(500);
    probeTimes.push(t.clock.t - before);
    t.WS.instances.at(-1).fail();
  }
  assert.ok(probeTimes.every((d) => d >= 5000), String(probeTimes));
  assert.equal(t.ES.instances.length, 1);
  assert.equal(t.ES.instances[0].closed, false);
  assert.deepEqual(t.client.status, { online: true, transport: "sse" });
  t.client.close();
  assert.equal(t.ES.instances[0].closed, true);
});

test("transports: ['poll'] polls the queue view with If-None-Match; 304 delivers nothing", async () => {
  let current = 2;
  const fetch = fakeFetch((url, init) => {
    const etag = `"${current}"`;
    // the client revalidates with "epoch.v" of what it holds (matches only in that epoch)
    if (init.headers["If-None-Match"] === `"e1.${current}"`) return { status: 304, etag };
    return { status: 200, etag, body: view(current) };
  });
  const t = setup({ fetch, transports: ["poll"] });
  t.watch("queue:1234-01");
  assert.equal(t.WS.instances.length, 0);
  await t.clock.advance(0);
  assert.equal(fetch.calls[0].url, "http://hub.test/v1/queues/1234-01");
  assert.equal(fetch.calls[0].headers["If-None-Match"], undefined);
  assert.deepEqual(t.statuses.at(-1), { online: true, transport: "poll" });
  await t.clock.advance(6000);
  assert.equal(fetch.calls[1].headers["If-None-Match"], '"e1.2"');
  current = 3;
  await t.clock.advance(6000);
  assert.deepEqual(t.got.map((g) => [g.meta.v, g.meta.transport]), [[2, "poll"], [3, "poll"]]);
  t.client.close();
  const calls = fetch.calls.length;
  await t.clock.advance(60000);
  assert.equal(fetch.calls.length, calls);
});

test("polling a facility delivers one callback per counter; HTTP errors go to onError", async () => {
  const fetch = fakeFetch((url) => {
    if (url.endsWith("/v1/facilities/1234")) {
      return { status: 200, body: { name: "x", queues: [view(4, "e", { info: "1234-01" }), view(9, "e", { info: "1234-02" })] } };
    }
    return { status: 403, body: { error: { code: "forbidden", message: "staff only" } } };
  });
  const t = setup({ fetch, transports: ["poll"] });
  t.watch("facility:1234");
  t.watch("staff:1234-01");
  await t.clock.advance(0);
  assert.deepEqual(t.got.map((g) => [g.data.info, g.meta.v]), [["1234-01", 4], ["1234-02", 9]]);
  assert.deepEqual(t.errors, [{ code: "forbidden", ch: "staff:1234-01", message: "staff only" }]);
  t.client.close();
});

test("SSE errors reopen with backoff; an SSE that never opens gives way to polling", async () => {
  const fetch = fakeFetch(() => ({ status: 200, body: view(8) }));
  const t = setup({ fetch, transports: ["sse", "poll"] });
  t.watch("queue:1234-01");
  t.ES.instances[0].error();
  assert.equal(t.ES.instances[0].closed, true);
  await t.clock.advance(1000);
  assert.equal(t.ES.instances.length, 2);
  t.ES.instances[1].error();
  await t.clock.advance(0);
  assert.equal(fetch.calls.length, 1);
  assert.deepEqual(t.got.map((g) => g.meta.transport), ["poll"]);
  t.client.close();
});

test("transports without a way to carry a channel say so on onError", () => {
  const t = setup({ transports: ["sse"] });
  t.watch("ticket:1234-01:abc");
  assert.equal(t.errors[0].code, "no_transport");
  t.client.close();
});

test("hidden while on polling: polls stop after the grace and restart at once when visible", async () => {
  const fetch = fakeFetch(() => ({ status: 200, body: view(1), etag: '"1"' }));
  const t = setup({ fetch, transports: ["poll"] });
  t.watch("queue:1234-01");
  await t.clock.advance(0);
  t.doc.set("hidden");
  await t.clock.advance(61000);
  const calls = fetch.calls.length;
  await t.clock.advance(300000);
  assert.equal(fetch.calls.length, calls);
  t.doc.set("visible");
  await t.clock.advance(0);
  assert.equal(fetch.calls.length, calls + 1);
  t.client.close();
});

test("a throwing listener does not stop the others", async () => {
  const t = setup();
  t.client.subscribe("queue:1234-01", () => {
    throw new Error("page bug");
  });
  t.watch("queue:1234-01");
  t.WS.instances[0].open();
  t.WS.instances[0].message(state(1));
  assert.equal(t.got.length, 1);
  await assert.rejects(async () => t.clock.advance(0), /page bug/);
  t.client.close();
});

test("bad arguments throw", () => {
  const t = setup();
  assert.throws(() => t.client.subscribe("nope", () => {}), /not a channel/);
  assert.throws(() => t.client.subscribe("queue:1234-01"), /function/);
  t.client.close();
  assert.throws(() => t.client.subscribe("queue:1234-01", () => {}), /closed/);
});

test("importing the module sets no global", async () => {
  const before = new Set(Object.keys(globalThis));
  await import(`../junban.js?fresh=${Date.now()}`);
  assert.deepEqual(Object.keys(globalThis).filter((k) => !before.has(k)), []);
  assert.equal(globalThis.Junban, undefined);
});

test("the browser's offline event drops the link at once; online reconnects without backoff", async () => {
  const win = new EventTarget();
  const t = setup({ window: win });
  t.watch("queue:1234-01");
  const ws = t.WS.instances[0];
  ws.open();
  ws.message(state(3));
  assert.equal(t.client.lastSeen, 0);
  await t.clock.advance(2000);
  win.dispatchEvent(new Event("offline"));
  assert.equal(ws.closedWith.code, 4000);
  assert.deepEqual(t.statuses.at(-1), { online: false, transport: null });
  assert.equal(t.client.lastSeen, 0); // the last time the hub was heard from
  assert.equal(t.WS.instances.length, 1);
  win.dispatchEvent(new Event("online"));
  assert.equal(t.WS.instances.length, 2); // no backoff delay
  const again = t.WS.instances[1];
  again.open();
  assert.deepEqual(again.ops("sub"), [{ op: "sub", ch: "queue:1234-01", v: 3, epoch: "e1" }]);
  assert.deepEqual(t.statuses.at(-1), { online: true, transport: "ws" });
  t.client.close();
  win.dispatchEvent(new Event("online")); // close() removed the listeners
  assert.equal(t.WS.instances.length, 2);
});

test("reconnectNow() on an open socket pings now: a dead link shows within pongTimeout", async () => {
  const t = setup({ pingInterval: 4000, pongTimeout: 3000 });
  t.WS.autoPong = false;
  t.watch("queue:1234-01");
  const ws = t.WS.instances[0];
  ws.open();
  await t.clock.advance(1000);
  t.client.reconnectNow();
  assert.deepEqual(ws.ops("ping"), [{ op: "ping" }]);
  ws.message({ op: "pong" });
  assert.equal(t.client.lastSeen, 1000);
  await t.clock.advance(4000); // the short interval's own ping, unanswered
  assert.equal(ws.closedWith, null);
  await t.clock.advance(3000);
  assert.equal(ws.closedWith.code, 4000);
  assert.deepEqual(t.statuses.at(-1), { online: false, transport: null });
  t.client.close();
});

test("reconnectNow() while backing off reconnects at once", async () => {
  const t = setup();
  t.watch("queue:1234-01");
  t.WS.instances[0].open();
  t.WS.instances[0].serverClose(1012);
  assert.equal(t.WS.instances.length, 1);
  assert.ok(t.clock.pending().length > 0);
  t.client.reconnectNow();
  assert.equal(t.WS.instances.length, 2);
  t.client.close();
});

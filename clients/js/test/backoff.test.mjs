// Reconnect backoff: full jitter, and 200 clients after a hub restart spread over time.
import assert from "node:assert/strict";
import { test } from "node:test";

import { JunbanClient, backoffDelay } from "../junban.js";
import { FakeClock, FakeDocument, fakeWebSocketClass, seeded, view } from "./fakes.mjs";

test("backoffDelay is full jitter: random() * min(cap, base * 2^attempt)", () => {
  assert.equal(backoffDelay(0, { base: 1000, cap: 30000, random: () => 0 }), 0);
  assert.equal(backoffDelay(0, { base: 1000, cap: 30000, random: () => 0.5 }), 500);
  assert.equal(backoffDelay(3, { base: 1000, cap: 30000, random: () => 0.5 }), 4000);
  assert.equal(backoffDelay(10, { base: 1000, cap: 30000, random: () => 0.5 }), 15000);
  assert.equal(backoffDelay(5000, { base: 1000, cap: 30000, random: () => 0.999 }), 29970);
  assert.equal(backoffDelay(-3, { base: 1000, cap: 30000, random: () => 0.5 }), 500);
  // defaults: base 1 s, cap 10 s, Math.random
  for (let i = 0; i < 100; i++) {
    const d = backoffDelay(i);
    assert.ok(d >= 0 && d < 10000, String(d));
  }
});

test("200 draws per attempt: the spread grows with the attempt and never passes the cap", () => {
  const random = seeded(42);
  let previousSpread = 0;
  for (let attempt = 0; attempt <= 8; attempt++) {
    const draws = Array.from({ length: 200 }, () => backoffDelay(attempt, { base: 1000, cap: 30000, random }));
    const ceiling = Math.min(30000, 1000 * 2 ** attempt);
    assert.ok(Math.max(...draws) < ceiling, `attempt ${attempt} above its ceiling`);
    assert.ok(Math.min(...draws) >= 0);
    const spread = Math.max(...draws) - Math.min(...draws);
    assert.ok(spread > 0.9 * ceiling, `attempt ${attempt}: spread ${spread} of ${ceiling}`);
    if (ceiling < 30000) assert.ok(spread > previousSpread, `spread shrank at attempt ${attempt}`);
    previousSpread = spread;
    // uniform: each quarter of [0, ceiling) holds roughly a quarter (never over 40 %)
    for (let q = 0; q < 4; q++) {
      const n = draws.filter((d) => d >= (q * ceiling) / 4 && d < ((q + 1) * ceiling) / 4).length;
      assert.ok(n < 80, `attempt ${attempt}, quarter ${q}: ${n} of 200`);
    }
  }
});

/** The largest number of events in any window of `width` ms. */
function densest(times, width) {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (sorted[i] - sorted[j] >= width) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

test("a hub restart (1012) spreads the reconnects of 200 clients over time", async () => {
  const clock = new FakeClock();
  const WS = fakeWebSocketClass();
  const hubDownUntil = 6000; // the hub comes back 6 s after the restart began
  let hubUp = true;
  const attempts = []; // time of every connection attempt after the restart
  const reconnected = []; // time each client's socket opened again
  const clients = [];
  for (let i = 0; i < 200; i++) {
    const client = new JunbanClient({
      base: "http://hub.test",
      WebSocket: WS,
      document: new FakeDocument(),
      random: seeded(1000 + i),
      setTimeout: clock.setTimeout,
      clearTimeout: clock.clearTimeout,
      transports: ["ws"],
    });
    client.subscribe("queue:1234-01", () => {});
    clients.push(client);
  }
  // every client connects; the hub answers each with a state
  for (const ws of WS.instances) {
    ws.open();
    ws.message({ op: "state", ch: "queue:1234-01", v: 1, epoch: "e", data: view(1, "e") });
  }
  const firstGeneration = new Set(WS.instances);
  // the hub restarts: it closes every socket with 1012 and refuses connections for 6 s
  hubUp = false;
  const restartAt = clock.t;
  for (const ws of firstGeneration) ws.serverClose(1012, "restart");
  const seen = new Set(firstGeneration);
  for (let step = 0; step < 1200; step++) {
    await clock.advance(100);
    if (!hubUp && clock.t - restartAt >= hubDownUntil) hubUp = true;
    for (const ws of WS.instances) {
      if (seen.has(ws)) continue;
      seen.add(ws);
      attempts.push(clock.t - restartAt);
      if (hubUp) {
        ws.open();
        reconnected.push(clock.t - restartAt);
      } else {
        ws.fail();
      }
    }
  }
  assert.equal(reconnected.length, 200, "every client came back");
  // no herd: a fixed retry delay would put all 200 attempts (and reconnects) in the same
  // 100 ms. Here no one-second window holds more than half of the clients' attempts while
  // the hub is down (retries of several waves overlap: ~80 seen), and once it is back no
  // second holds more than a quarter of the reconnects (~36 seen).
  const peak = densest(attempts, 1000);
  assert.ok(peak <= 100, `densest second of attempts: ${peak} of ${attempts.length}`);
  const peakBack = densest(reconnected, 1000);
  assert.ok(peakBack <= 50, `densest second of reconnects: ${peakBack}`);
  // the first wave alone spans most of [0, 4 s); the reconnects span many seconds
  const firstWave = attempts.slice(0, 200);
  assert.ok(Math.max(...firstWave) - Math.min(...firstWave) > 3000);
  assert.ok(Math.max(...reconnected) - Math.min(...reconnected) > 5000);
  // and no client waits more than the cap (10 s) between attempts once the hub is back
  assert.ok(Math.max(...reconnected) < hubDownUntil + 10000 + 500, String(Math.max(...reconnected)));
  // each reconnect resumed from the state held
  for (const ws of WS.instances.filter((w) => w.readyState === 1)) {
    assert.deepEqual(ws.ops("sub"), [{ op: "sub", ch: "queue:1234-01", v: 1, epoch: "e" }]);
  }
  for (const client of clients) client.close();
});

test("each client's successive delays grow with the attempt, capped", async () => {
  const clock = new FakeClock();
  const WS = fakeWebSocketClass();
  const client = new JunbanClient({
    base: "http://hub.test",
    WebSocket: WS,
    document: new FakeDocument(),
    random: () => 0.999,
    setTimeout: clock.setTimeout,
    clearTimeout: clock.clearTimeout,
    transports: ["ws"],
  });
  client.subscribe("queue:1234-01", () => {});
  WS.instances[0].open();
  WS.instances[0].serverClose(1006);
  const delays = [];
  for (let i = 0; i < 8; i++) {
    const [delay] = clock.pending();
    delays.push(Math.round(delay));
    await clock.advance(delay);
    WS.instances.at(-1).fail();
  }
  assert.deepEqual(delays, [999, 1998, 3996, 7992, 9990, 9990, 9990, 9990]);
  client.close();
  assert.deepEqual(clock.pending(), []);
});

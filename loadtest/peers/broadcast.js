// Minimal Node fan-out peer for loadtest/bench_fanout.py: a `ws` WebSocketServer whose
// process subscribes to one Redis pub/sub channel (npm `redis`, over the hub's Valkey unix
// socket) and sends every message it gets, as is, to every connected client:
// `client.send(buffer, {binary: false})` (one text frame per client per message; no
// conflation, no versions, no subscribe protocol: every connection is a subscriber).
// Env: PORT, REDIS_SOCK, CHANNEL. Prints "ready" once listening and subscribed.
"use strict";
const { WebSocketServer } = require("ws");
const { createClient } = require("redis");

async function main() {
  const wss = new WebSocketServer({
    host: "127.0.0.1",
    port: Number(process.env.PORT),
    perMessageDeflate: false,
    backlog: 4096,
    clientTracking: true,
  });
  await new Promise((resolve) => wss.on("listening", resolve));
  const sub = createClient({ socket: { path: process.env.REDIS_SOCK } });
  sub.on("error", (err) => console.error("redis", err));
  await sub.connect();
  await sub.subscribe(
    process.env.CHANNEL,
    (message) => {
      for (const client of wss.clients) client.send(message, { binary: false });
    },
    true // buffer mode: the message arrives as a Buffer and is sent without re-encoding
  );
  console.log("ready");
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

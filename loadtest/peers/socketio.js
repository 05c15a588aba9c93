// Node socket.io fan-out peer for loadtest/bench_fanout.py (not part of the product).
// A socket.io 4 Server (WebSocket transport only, no per-message deflate) on an http server;
// every client joins one room on connect. The process subscribes to one Redis pub/sub
// channel (npm `redis`, the hub's Valkey unix socket) and per message decodes the view once
// (JSON.parse) and `io.to(ROOM).emit("state", view)`: socket.io encodes the packet once
// (`42["state",{...}]`) and writes it to every client's Engine.IO socket. Every message is
// sent (no conflation, no versions); Engine.IO pings every 25 s.
// Env: PORT, REDIS_SOCK, CHANNEL, NODE_PATH. Prints "ready" once listening and subscribed.
"use strict";
const http = require("http");
const { Server } = require("socket.io");
const { createClient } = require("redis");

const ROOM = "queue:1234-01";

async function main() {
  const server = http.createServer();
  const io = new Server(server, {
    transports: ["websocket"],
    perMessageDeflate: false,
    serveClient: false,
  });
  io.on("connection", (socket) => socket.join(ROOM));
  await new Promise((resolve) => server.listen(Number(process.env.PORT), "127.0.0.1", 4096, resolve));
  const sub = createClient({ socket: { path: process.env.REDIS_SOCK } });
  sub.on("error", (err) => console.error("redis", err));
  await sub.connect();
  await sub.subscribe(process.env.CHANNEL, (message) => {
    io.to(ROOM).emit("state", JSON.parse(message));
  });
  console.log("ready");
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

// Compile-only check of junban.d.ts (`tsc -p clients/js`, strict; nothing runs this file).
// It imports the package by its name, as a user would, so package.json's "exports" and
// "types" are checked too. Each `@ts-expect-error` line must stay an error.
import {
  backoffDelay,
  type Channel,
  type ClientError,
  JunbanClient,
  type JunbanClientOptions,
  newer,
  parseChannel,
  type StateMeta,
  type Status,
  type Transport,
} from "@junban/client";

/** A page's own type for the part of the public view it reads. */
interface QueueView {
  info: string;
  waiting_count: number;
}

export function typical(info: string, token: string | null): () => void {
  const client = new JunbanClient({ base: "https://hub.example", token });
  const stop = client.subscribe<QueueView>(`queue:${info}`, (view, meta) => {
    const count: number = view.waiting_count;
    const where: Transport = meta.transport;
    const order: [string, number, string] = [meta.epoch, meta.v, meta.ch];
    void [count, where, order];
  });
  client.subscribe(`ticket:${info}:abc123`, (data: unknown, meta: StateMeta) => {
    void [data, meta];
  });
  const offStatus = client.onStatus((s: Status) => {
    const online: boolean = s.online;
    const transport: Transport | null = s.transport;
    void [online, transport];
  });
  const offError = client.onError((e: ClientError) => {
    const where: string | null = e.ch;
    if (e.code === "token_expired") client.setToken(null);
    void [where, e.message];
  });
  const now: Status = client.status;
  client.setToken("a.jwt.token");
  const heard: number | null = client.lastSeen;
  client.reconnectNow();
  void [now, heard];
  return () => {
    stop();
    offStatus();
    offError();
    client.close();
  };
}

export function options(): JunbanClientOptions {
  const channel: Channel = "facility:1234";
  void channel;
  // the browser's own globals fit the injectable ones
  new JunbanClient({
    WebSocket,
    EventSource,
    fetch,
    document,
    window,
    setTimeout,
    clearTimeout,
    random: Math.random,
    now: Date.now,
  });
  new JunbanClient();
  new JunbanClient({ WebSocket: null, EventSource: null, transports: ["poll"] });
  return {
    transports: ["ws", "sse"],
    backoff: { cap: 30_000 }, // a partial backoff overrides only what it names
    hiddenGrace: Infinity,
    pollInterval: 2_000,
  };
}

export function helpers(): void {
  const delay: number = backoffDelay(3, { base: 500, cap: 8_000, random: () => 0.5 });
  const first: boolean = newer({ epoch: "e1", v: 2 }, null);
  const parsed = parseChannel("ticket:1234-01:abc");
  if (parsed?.kind === "ticket") {
    const ticket: string = parsed.ticket;
    void ticket;
  } else if (parsed?.kind === "facility") {
    const facility: string = parsed.facility;
    void facility;
  }
  void [delay, first, backoffDelay(0)];
}

export function mistakes(client: JunbanClient): void {
  // @ts-expect-error: not a channel name
  client.subscribe("queue-1234-01", () => {});
  // @ts-expect-error: a callback is required
  client.subscribe("queue:1234-01");
  // @ts-expect-error: no such transport
  new JunbanClient({ transports: ["carrier-pigeon"] });
  // @ts-expect-error: no such option
  new JunbanClient({ retries: 3 });
  // @ts-expect-error: status is read-only
  client.status = { online: true, transport: "ws" };
  // @ts-expect-error: the attempt is a number
  backoffDelay("1");
  // @ts-expect-error: a version has an epoch
  newer({ v: 1 }, undefined);
}

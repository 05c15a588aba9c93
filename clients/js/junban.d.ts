// Type declarations for junban.js, the Junban live client (docs/js-client.md).
// Hand-written: keep them in step with junban.js (test/exports.test.mjs checks the export
// names, `tsc -p clients/js` checks test/types-check.ts against these declarations).

/** How a state arrived. */
export type Transport = "ws" | "sse" | "poll";

/**
 * A channel name: `queue:{info}` (public view), `facility:{facility}` (one public view per
 * counter), `staff:{info}` (staff view, staff token) or `ticket:{info}:{id}` (that ticket's
 * token, or staff).
 */
export type Channel =
  | `queue:${string}`
  | `facility:${string}`
  | `staff:${string}`
  | `ticket:${string}:${string}`;

/** A channel name taken apart by {@link parseChannel}. */
export type ParsedChannel =
  | { kind: "queue" | "staff"; info: string }
  | { kind: "facility"; facility: string }
  | { kind: "ticket"; info: string; ticket: string };

/** A state's place in the order: a different `epoch` always wins, then a higher `v`. */
export interface Version {
  epoch: string;
  v: number;
}

/** The second argument of a subscriber: which channel, which version, by which transport. */
export interface StateMeta extends Version {
  ch: string;
  transport: Transport;
}

/** Called with each newer state of a channel, never with an older or equal one. */
export type StateListener<T = unknown> = (data: T, meta: StateMeta) => void;

/** The connection's status: `transport` is null while offline. */
export interface Status {
  online: boolean;
  transport: Transport | null;
}

/**
 * A channel error frame (`forbidden`, `unauthorized`, `unknown_channel`,
 * `too_many_subscriptions`), a connection close with `ch: null` (4401: `code` is the close
 * reason, e.g. `token_expired`; 4403: `forbidden`; 4400: `malformed`), a failed poll (`code`
 * from the hub's JSON error, e.g. `unknown_queue`) or `no_transport`.
 */
export interface ClientError {
  code: string;
  ch: string | null;
  message: string;
}

/** Full jitter: a delay drawn from [0, min(cap, base · 2^attempt)) milliseconds. */
export interface Backoff {
  base: number;
  cap: number;
}

/** What a {@link Backoff} option overrides: only the fields it names. */
export type BackoffOption = Partial<Backoff>;

/** What the client needs of the fetch Response (the browser's `Response` has it). */
export interface FetchResponseLike {
  status: number;
  json(): Promise<unknown>;
  headers?: { get(name: string): string | null };
}

/** What the client needs of `document` (the browser's `Document` has it). */
export interface DocumentLike {
  visibilityState?: string;
  addEventListener?(type: "visibilitychange", listener: () => void): void;
  removeEventListener?(type: "visibilitychange", listener: () => void): void;
}

/** What the client needs of `window`: its `online` and `offline` events. */
export interface NetworkEventsLike {
  addEventListener?(type: "online" | "offline", listener: () => void): void;
  removeEventListener?(type: "online" | "offline", listener: () => void): void;
}

/**
 * The browser globals, injectable for tests and other runtimes. Left out (undefined): the
 * global one; `null` for `WebSocket`, `EventSource` or `fetch`: that transport is not used.
 */
export interface JunbanClientEnvironment {
  WebSocket?: (new (url: string, protocol: string) => object) | null | undefined;
  EventSource?: (new (url: string) => object) | null | undefined;
  fetch?:
    | ((
        url: string,
        init: { headers: Record<string, string>; cache: "no-store" },
      ) => Promise<FetchResponseLike>)
    | null
    | undefined;
  document?: DocumentLike | null | undefined;
  /** Its `offline` event drops the live link at once, `online` calls `reconnectNow()`. */
  window?: NetworkEventsLike | null | undefined;
  random?: (() => number) | undefined;
  setTimeout?: ((callback: () => void, ms: number) => unknown) | undefined;
  // a method, so that the handle types of Node's and the browser's clearTimeout both fit
  clearTimeout?(handle: unknown): void;
  now?: (() => number) | undefined;
}

/**
 * `new JunbanClient(options)`: where the hub is, the token, and the tuning numbers
 * (milliseconds unless said otherwise; each has the default shown).
 */
export interface JunbanClientOptions extends JunbanClientEnvironment {
  /** The hub's origin, e.g. `https://hub.example` (default `location.origin`). */
  base?: string | undefined;
  /** A JWT, or null (the default) for public channels only. */
  token?: string | null | undefined;
  /** Transports to use (default `["ws", "sse", "poll"]`); a subset forces them. */
  transports?: readonly Transport[] | undefined;
  /** Reconnect delays (default `{base: 1000, cap: 10000}`). */
  backoff?: BackoffOption | undefined;
  /** The attempt a reconnect after close 1012 (hub restart) starts at (default 2). */
  restartAttempt?: number | undefined;
  /** After close 4429: this floor plus a backoff delay (default 5000). */
  rateLimitFloor?: number | undefined;
  /** After close 4429: the least backoff attempt (default 3). */
  rateLimitAttempt?: number | undefined;
  /** After 4403 or 4400: `base` plus a delay of this backoff (default 30000, cap 300000). */
  authBackoff?: BackoffOption | undefined;
  /** An app-level ping this often (default 25000). */
  pingInterval?: number | undefined;
  /** No frame this long after a ping: the link is dead (default 10000). */
  pongTimeout?: number | undefined;
  /** A WebSocket still connecting after this is given up (default 10000). */
  openTimeout?: number | undefined;
  /** WebSocket failures before it ever opened, then SSE / polling (default 2). */
  fallbackAfter?: number | undefined;
  /** The same once a WebSocket had worked in this page (default 6). */
  fallbackAfterOpened?: number | undefined;
  /** On a fallback, probe the WebSocket after `base` plus this backoff (default 5000, 120000). */
  probe?: BackoffOption | undefined;
  /** Between polls of one channel, ±20 % (default 5000). */
  pollInterval?: number | undefined;
  /** After a 401, 403 or 404 on a poll (default 60000). */
  pollErrorDelay?: number | undefined;
  /** Reopening a failed EventSource (default `{base: 1000, cap: 10000}`). */
  sseBackoff?: BackoffOption | undefined;
  /** Hidden this long: close everything until it is visible (default 60000; Infinity: never). */
  hiddenGrace?: number | undefined;
}

/**
 * Keeps a page up to date with the hub's live channels: the WebSocket `/v1/ws`, then Server-
 * Sent Events (queue channels), then polling with ETag; resumes every channel from its last
 * `(epoch, v)` after a reconnect and never delivers an older state. Connects lazily, on the
 * first `subscribe`.
 */
export declare class JunbanClient {
  constructor(options?: JunbanClientOptions);

  /**
   * Watch `ch`; `onState(data, meta)` gets each newer state (a late subscriber of a watched
   * channel gets the last one at once, in a microtask). Returns the function that stops this
   * subscription (idempotent). Throws on a malformed channel name, a missing callback or a
   * closed client.
   */
  subscribe<T = unknown>(ch: Channel, onState: StateListener<T>): () => void;

  /** `fn` on every change of {@link status} (not on registration). Returns `off()`. */
  onStatus(fn: (status: Status) => void): () => void;

  /** `fn` for channel errors, connection closes, failed polls. Returns `off()`. */
  onError(fn: (error: ClientError) => void): () => void;

  /** The current status (a copy). */
  readonly status: Status;

  /**
   * When the hub was last heard from (`now()` milliseconds: any WebSocket frame, pong
   * included, an SSE event or a poll answer), or null before the first.
   */
  readonly lastSeen: number | null;

  /**
   * Skip the wait: reconnect now when a reconnect is pending, poll and reopen streams now on
   * a fallback, or ping an open WebSocket now (no frame within `pongTimeout`: reconnect).
   */
  reconnectNow(): void;

  /** Use a new token (or null): re-authenticates the live connection. */
  setToken(token: string | null | undefined): void;

  /** Stop everything: sockets, streams, polls, timers; the client cannot be reused. */
  close(): void;
}

/** Full jitter: `random() * min(cap, base * 2^attempt)` (defaults: 1000, 10000, Math.random). */
export declare function backoffDelay(
  attempt: number,
  options?: {
    base?: number | undefined;
    cap?: number | undefined;
    random?: (() => number) | undefined;
  },
): number;

/** Is `candidate` newer than `known` (or is nothing known)? */
export declare function newer(candidate: Version, known: Version | null | undefined): boolean;

/** What a channel name means, or null when it is not one. */
export declare function parseChannel(ch: unknown): ParsedChannel | null;

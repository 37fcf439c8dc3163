/**
 * Upstash's server-sent-events subscribe: `POST /subscribe/<channel>…` and
 * `POST /psubscribe/<pattern>…` (what @upstash/redis's `subscribe()` / `psubscribe()` send, with
 * `Accept: text/event-stream`) answer with a `text/event-stream` that carries one `data:` line per
 * Redis push message, its parts joined by commas, the way the client's parser reads them:
 *
 *   data: subscribe,<channel>,<count>
 *   data: message,<channel>,<payload>
 *   data: pmessage,<pattern>,<channel>,<payload>
 *
 * Each stream has a Redis connection of its own (a subscribed connection can do nothing else),
 * closed when the client goes away (the client aborts its fetch to unsubscribe) or the bridge
 * stops. Payloads are sent as UTF-8 text, never base64 (the client does not decode them); a
 * payload holding a line break is written as several `data:` lines, which SSE joins back but
 * @upstash/redis reads as separate messages.
 */
import { Redis, type RedisOptions } from "ioredis";
import type { Logger } from "pino";
import { ApiError } from "#core/errors.ts";

/** Streams open at once; each holds a Redis connection. */
export const MAX_SUBSCRIPTIONS = 64;
/** An SSE comment this often keeps idle proxies from cutting the stream and finds dead clients. */
const HEARTBEAT_MS = 15_000;

export interface SubscriberOptions {
  url: string;
  auth?: { username: string; password: string };
  connectTimeoutMs: number;
}

/** One SSE event for a message; a line break in the text would end the `data:` line early. */
export function sseEvent(parts: readonly string[]): string {
  return `${parts
    .join(",")
    .split(/\r\n|\r|\n/)
    .map((line) => `data: ${line}`)
    .join("\n")}\n\n`;
}

export class Subscriptions {
  private readonly open = new Set<() => void>();

  constructor(
    private readonly options: SubscriberOptions,
    private readonly log: Logger,
  ) {}

  get size(): number {
    return this.open.size;
  }

  /**
   * Subscribes a fresh connection and returns the event stream. Rejects (before any byte is sent,
   * so the client gets a JSON error) when Redis refuses or the limit is reached.
   */
  async stream(kind: "subscribe" | "psubscribe", targets: string[], signal: AbortSignal): Promise<ReadableStream> {
    if (targets.length === 0) throw new ApiError("bad_request", `ERR wrong number of arguments for '${kind}' command`);
    if (this.open.size >= MAX_SUBSCRIPTIONS) {
      throw new ApiError("unavailable", `ERR too many open subscriptions on this bridge (${MAX_SUBSCRIPTIONS})`);
    }
    const opts: RedisOptions = {
      lazyConnect: true,
      connectionName: "redis-bridge:subscriber",
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      enableReadyCheck: false,
      // A dropped subscriber connection ends the stream; the client resubscribes.
      retryStrategy: () => null,
      connectTimeout: this.options.connectTimeoutMs,
      ...(this.options.auth ?? {}),
    };
    const conn = new Redis(this.options.url, opts);
    conn.on("error", (err: Error) => this.log.debug({ err: err.message }, "redis subscriber error"));
    const encoder = new TextEncoder();
    let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
    let heartbeat: NodeJS.Timeout | undefined;
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      this.open.delete(close);
      clearInterval(heartbeat);
      signal.removeEventListener("abort", close);
      conn.disconnect();
      try {
        controller?.close();
      } catch {
        // already closed by the reader
      }
    };
    const send = (parts: string[]) => {
      if (!closed) controller?.enqueue(encoder.encode(sseEvent(parts)));
    };
    try {
      await conn.connect();
      if (signal.aborted) throw new ApiError("bad_request", "ERR the client went away");
      conn.on("messageBuffer", (channel: Buffer, message: Buffer) =>
        send(["message", channel.toString(), message.toString()]),
      );
      conn.on("pmessageBuffer", (pattern: Buffer, channel: Buffer, message: Buffer) =>
        send(["pmessage", pattern.toString(), channel.toString(), message.toString()]),
      );
      conn.on("end", close);
      const stream = new ReadableStream<Uint8Array>({
        start: (c) => {
          controller = c;
        },
        cancel: close,
      });
      await (kind === "subscribe" ? conn.subscribe(...targets) : conn.psubscribe(...targets));
      // Redis confirms each target with the connection's subscription count so far; ioredis
      // consumes those replies itself, so the bridge writes them out in the same order.
      for (const [i, target] of targets.entries()) send([kind, target, String(i + 1)]);
      this.open.add(close);
      signal.addEventListener("abort", close, { once: true });
      heartbeat = setInterval(() => {
        if (!closed) controller?.enqueue(encoder.encode(": keep-alive\n\n"));
      }, HEARTBEAT_MS);
      heartbeat.unref();
      return stream;
    } catch (err) {
      close();
      if (err instanceof ApiError) throw err;
      const message = (err as Error).message;
      if (/^(NOPERM|ERR|WRONGPASS|NOAUTH)/.test(message)) throw new ApiError("bad_request", message);
      throw new ApiError("unavailable", `ERR Redis is unavailable: ${message}`, undefined, { cause: err });
    }
  }

  /** Ends every open stream (bridge shutdown). */
  closeAll(): void {
    for (const close of [...this.open]) close();
  }
}

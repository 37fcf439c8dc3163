/**
 * The edge's outbound clients, built once per isolate per configuration and reused across
 * requests. All speak HTTP only: Redis through the Upstash REST protocol, ClickHouse over its
 * HTTP interface. Every call has a timeout.
 */
import { type ClickHouseClient, createClient } from "@clickhouse/client-web";
import { Redis } from "@upstash/redis/cloudflare";
import type { ClickHouseConfig, EdgeConfig, RedisConfig } from "./config.ts";

export interface EdgeClients {
  redis: Redis;
  /**
   * The same Redis without the client's automatic JSON parsing, for the serving index and
   * snapshots: their replies are thousands of plain strings, and trying JSON.parse on each (and
   * throwing) cost more than the round trip. Values come back as Redis returned them.
   */
  rawRedis: Redis;
  clickhouse: ClickHouseClient;
}

export function createRedis(cfg: RedisConfig, opts: { parseJson?: boolean } = {}): Redis {
  return new Redis({
    automaticDeserialization: opts.parseJson ?? true,
    url: cfg.url,
    token: cfg.token,
    // A function, not a shared signal: with a static signal the client turns an abort into a
    // fake successful "Aborted" result; with a function it throws, which is what we want.
    signal: () => AbortSignal.timeout(cfg.timeoutMs),
    // One quick retry on network errors only; the caller has its own fallback path.
    retry: { retries: 1, backoff: () => 20 },
    enableTelemetry: false,
    // Every value we store is UTF-8 text (JSON, ids), so answers need no base64 round trip:
    // decoding a cached ranking (~100 KB) byte by byte cost more CPU than the rest of a hit.
    responseEncoding: false,
  });
}

export function createClickHouse(cfg: ClickHouseConfig): ClickHouseClient {
  const { url, username, password, database, timeoutMs } = cfg;
  return createClient({ url, username, password, database, request_timeout: timeoutMs });
}

/** Keyed by the config object, which readEdgeConfig keeps per isolate: one set of clients each. */
const built = new WeakMap<EdgeConfig, EdgeClients>();

/** The clients of this configuration (built on first use, then reused). */
export function clientsFor(config: EdgeConfig): EdgeClients {
  let clients = built.get(config);
  if (!clients) {
    const redis = createRedis(config.redis);
    clients = {
      redis,
      rawRedis: createRedis(config.redis, { parseJson: false }),
      clickhouse: createClickHouse(config.clickhouse),
    };
    built.set(config, clients);
  }
  return clients;
}

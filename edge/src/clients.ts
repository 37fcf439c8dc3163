/**
 * The edge's two outbound clients, built once per isolate per configuration and reused across
 * requests. Both speak HTTP only: Redis through the Upstash REST protocol, ClickHouse over its
 * HTTP interface. Every call has a timeout.
 */
import { type ClickHouseClient, createClient } from "@clickhouse/client-web";
import { Redis } from "@upstash/redis/cloudflare";
import type { Env } from "./env.ts";

const DEFAULT_REDIS_TIMEOUT_MS = 300;
const DEFAULT_CLICKHOUSE_TIMEOUT_MS = 1500;

let redisCache: { key: string; client: Redis } | null = null;
let clickhouseCache: { key: string; client: ClickHouseClient } | null = null;

function positiveInt(raw: string | undefined, fallback: number, name: string): number {
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got ${raw}`);
  return n;
}

function required(env: Env, name: "UPSTASH_REDIS_REST_URL" | "UPSTASH_REDIS_REST_TOKEN" | "CLICKHOUSE_URL"): string {
  const v = env[name];
  if (!v) throw new Error(`missing worker variable ${name} (see .dev.vars.example)`);
  return v;
}

export function redisFor(env: Env): Redis {
  const url = required(env, "UPSTASH_REDIS_REST_URL");
  const token = required(env, "UPSTASH_REDIS_REST_TOKEN");
  const timeoutMs = positiveInt(env.REDIS_TIMEOUT_MS, DEFAULT_REDIS_TIMEOUT_MS, "REDIS_TIMEOUT_MS");
  const key = `${url}|${token}|${timeoutMs}`;
  if (redisCache?.key !== key) {
    const client = new Redis({
      url,
      token,
      // A function, not a shared signal: with a static signal the client turns an abort into a
      // fake successful "Aborted" result; with a function it throws, which is what we want.
      signal: () => AbortSignal.timeout(timeoutMs),
      // One quick retry on network errors only; the caller has its own fallback path.
      retry: { retries: 1, backoff: () => 20 },
      enableTelemetry: false,
      // Every value we store is UTF-8 text (JSON, ids), so answers need no base64 round trip:
      // decoding a cached ranking (~100 KB) byte by byte cost more CPU than the rest of a hit.
      responseEncoding: false,
    });
    redisCache = { key, client };
  }
  return redisCache.client;
}

export function clickhouseFor(env: Env): ClickHouseClient {
  const url = required(env, "CLICKHOUSE_URL");
  const timeoutMs = positiveInt(env.CLICKHOUSE_TIMEOUT_MS, DEFAULT_CLICKHOUSE_TIMEOUT_MS, "CLICKHOUSE_TIMEOUT_MS");
  const username = env.CLICKHOUSE_USER || "default";
  const password = env.CLICKHOUSE_PASSWORD ?? "";
  const database = env.CLICKHOUSE_DATABASE || "feed";
  const key = `${url}|${username}|${password}|${database}|${timeoutMs}`;
  if (clickhouseCache?.key !== key) {
    const client = createClient({ url, username, password, database, request_timeout: timeoutMs });
    clickhouseCache = { key, client };
  }
  return clickhouseCache.client;
}

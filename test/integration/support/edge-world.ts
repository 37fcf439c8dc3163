/**
 * The public API as a user meets it, for a test file: the real worker (`wrangler dev`) in front
 * of an in-process origin write API on the file's CDC harness, optionally the event relay
 * (edge stream → Kafka) and the serving index, each with names of the file's own. `api()`
 * speaks to it with a development token per user; `stop()` removes everything it made.
 */
import { randomBytes } from "node:crypto";
import { type ServerType, serve } from "@hono/node-server";
import { Hono } from "hono";
import { Redis } from "ioredis";
import { pino } from "pino";
import { expect } from "vitest";
import { feedVersionKey, type IndexKeys, indexKeys, seenKey, snapshotPointerKey } from "../../../edge/core/index.ts";
import { ServingIndex } from "../../../origin/src/index/serving-index.ts";
import { EventRelay } from "../../../origin/src/relay/relay.ts";
import { writeApp } from "../../../origin/src/writes/routes.ts";
import { BENCH_RATE_LIMITS, type RateLimitOverrides } from "../../../scripts/lib/ratelimits.ts";
import { devToken } from "../../../scripts/token.ts";
import { type CdcHarness, CH_URL } from "./cdc.ts";
import { freePort, startWranglerDev, type WranglerDev } from "./wrangler.ts";

export const BRIDGE_URL = `http://127.0.0.1:${process.env.REDIS_BRIDGE_PORT ?? 8079}`;
export const BRIDGE_TOKEN = process.env.REDIS_BRIDGE_TOKEN ?? "local-dev-token";
export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

export interface EdgeWorld {
  edge: WranglerDev;
  redis: Redis;
  /** The events stream the worker appends to. */
  stream: string;
  /** The serving index's keys (its namespace is the file's own). */
  keys: IndexKeys;
  index: ServingIndex | null;
  jwtSecret: string;
  /** The worker's variables, to start another worker on the same world (e.g. with a broken URL). */
  vars: Record<string, string>;
  api(user: string | null, method: string, path: string, body?: unknown, base?: string): Promise<Response>;
  /** `api` and an expected status (the body in the failure message). */
  ok(res: Promise<Response>, status: number): Promise<Response>;
  /** Users whose per-user keys stop() removes. */
  track(...users: string[]): void;
  stop(): Promise<void>;
}

export interface EdgeWorldOptions {
  /** Run the event relay (the stream → Kafka `events`): needed for events to count. */
  relay?: boolean;
  /** Run the serving index part (bootstrap + updater); otherwise the feed takes the ClickHouse path. */
  index?: boolean;
  /** Extra worker variables. */
  vars?: Record<string, string>;
  /**
   * The worker's per-key limits: the benchmark's (BENCH_RATE_LIMITS) unless given; these tests
   * drive a few users hard. The production defaults are pinned in hostile-input.test.ts.
   */
  rateLimits?: RateLimitOverrides;
}

/** Deletes every key matching `pattern` (SCAN, not KEYS). */
export async function dropKeys(redis: Redis, pattern: string): Promise<void> {
  let cursor = "0";
  do {
    const [next, found] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 1000);
    cursor = next;
    if (found.length) await redis.del(...found);
  } while (cursor !== "0");
}

export async function startEdgeWorld(h: CdcHarness, opts: EdgeWorldOptions = {}): Promise<EdgeWorld> {
  const id = randomBytes(4).toString("hex");
  const jwtSecret = `edge-world-${randomBytes(16).toString("hex")}`;
  const originSecret = `origin-${randomBytes(16).toString("hex")}`;
  const stream = `t:events:${id}`;
  const ns = `t${id}:`;
  const keys = indexKeys(ns);
  const redis = new Redis(REDIS_URL);
  const users = new Set<string>();
  const stops: (() => Promise<unknown>)[] = [];

  let index: ServingIndex | null = null;
  if (opts.index) {
    index = new ServingIndex(h.kafka, h.ch, redis, keys, pino({ level: "warn" }), {
      groupId: `index-${h.id}-${id}`,
      topicNamespace: h.config.kafka.topicNamespace,
      sinkGroupId: `test-sink-${h.id}`,
      watchMs: 500,
    });
    await index.start();
    stops.push(() => (index as ServingIndex).stop());
  }
  if (opts.relay) {
    const relayRedis = new Redis(REDIS_URL);
    const producer = h.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const relay = new EventRelay(relayRedis, producer, pino({ level: "warn" }), {
      stream,
      topic: h.topic("events"),
      group: `relay-${id}`,
      blockMs: 100,
    });
    await relay.start();
    stops.push(async () => {
      await relay.stop().catch(() => {});
      await producer.disconnect().catch(() => {});
      relayRedis.disconnect();
    });
  }
  const port = await freePort();
  const app = new Hono().route(
    "/v1",
    writeApp({ pg: h.pg, redis, sharedSecret: originSecret, log: pino({ level: "silent" }) }),
  );
  const origin: ServerType = serve({ fetch: app.fetch, hostname: "127.0.0.1", port });
  const vars = {
    JWT_SECRET: jwtSecret,
    ORIGIN_SHARED_SECRET: originSecret,
    ORIGIN_URL: `http://127.0.0.1:${port}`,
    UPSTASH_REDIS_REST_URL: BRIDGE_URL,
    UPSTASH_REDIS_REST_TOKEN: BRIDGE_TOKEN,
    CLICKHOUSE_URL: CH_URL,
    CLICKHOUSE_DATABASE: h.config.clickhouse.database,
    EVENTS_STREAM: stream,
    INDEX_NAMESPACE: ns,
    ...opts.vars,
  };
  const edge = await startWranglerDev({
    config: "wrangler.toml",
    vars,
    rateLimits: opts.rateLimits ?? BENCH_RATE_LIMITS,
  });

  const tokens = new Map<string, string>();
  const api = async (user: string | null, method: string, path: string, body?: unknown, base = edge.url) => {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (user) {
      users.add(user);
      if (!tokens.has(user)) tokens.set(user, await devToken(user, 3600, jwtSecret));
      headers.authorization = `Bearer ${tokens.get(user)}`;
    }
    return fetch(`${base}${path}`, { method, headers, body: body === undefined ? null : JSON.stringify(body) });
  };
  return {
    edge,
    redis,
    stream,
    keys,
    index,
    jwtSecret,
    vars,
    api,
    async ok(res, status) {
      const r = await res;
      expect(r.status, await r.clone().text()).toBe(status);
      return r;
    },
    track(...more) {
      for (const u of more) users.add(u);
    },
    async stop() {
      await edge.stop();
      origin.close();
      for (const stop of stops.reverse()) await stop().catch(() => {});
      await redis.del(stream, ...[...users].flatMap((u) => [seenKey(u), feedVersionKey(u), snapshotPointerKey(u)]));
      await dropKeys(redis, `${ns}*`);
      redis.disconnect();
    },
  };
}

/**
 * The public API as a user meets it, for a test file: the real worker (`wrangler dev`) in front
 * of an in-process origin write API on the file's CDC harness, optionally the event relay
 * (edge stream → Kafka), the serving index and the notifications part, each with names of the
 * file's own. `api()`
 * speaks to it with a development token per user; `stop()` removes everything it made.
 */
import { randomBytes } from "node:crypto";
import { type ServerType, serve } from "@hono/node-server";
import { Hono } from "hono";
import { pino } from "pino";
import { expect } from "vitest";
import {
  feedVersionKey,
  type IndexKeys,
  indexKeys,
  type NotificationKeys,
  notificationKeys,
  seenKey,
  snapshotPointerKey,
} from "#core/keys.ts";
import { liveKeys } from "#core/live/presence.ts";
import { unlinkByPrefix } from "../../../origin/src/index/exec.ts";
import { ServingIndex } from "../../../origin/src/index/serving-index.ts";
import { IndexWriter } from "../../../origin/src/index/writer.ts";
import { LivePublisher } from "../../../origin/src/live/publisher.ts";
import { NotificationsPart } from "../../../origin/src/notifications/part.ts";
import { NotificationWriter } from "../../../origin/src/notifications/writer.ts";
import { type AnyRedis, unlinkKeys } from "../../../origin/src/redis-cluster.ts";
import { EventRelay } from "../../../origin/src/relay/relay.ts";
import { writeApp } from "../../../origin/src/writes/routes.ts";
import { BENCH_RATE_LIMITS, type RateLimitOverrides } from "../../../scripts/lib/ratelimits.ts";
import { testRedis, workerVars } from "../../../scripts/lib/world.ts";
import { freePort, startWranglerDev, type WranglerDev } from "../../../scripts/lib/wrangler.ts";
import { devToken } from "../../../scripts/token.ts";
import type { CdcHarness } from "./cdc.ts";

export interface EdgeWorld {
  edge: WranglerDev;
  /**
   * The origin parts' Redis and the test's (testRedis(): the Redis Cluster with
   * INDEX_REDIS_CLUSTER, where the worker's bridge goes too).
   */
  redis: AnyRedis;
  /** The events stream the worker appends to. */
  stream: string;
  /** The serving index's keys (its namespace is the file's own). */
  keys: IndexKeys;
  index: ServingIndex | null;
  /** The notifications' keys (the index's namespace) and part (with `notifications: true`). */
  notificationKeys: NotificationKeys;
  notifications: NotificationsPart | null;
  /** The live channel's publisher (with `live: true`), fed by the index and notifications parts. */
  live: LivePublisher | null;
  jwtSecret: string;
  /** A development token of `user` the worker accepts. */
  token(user: string): Promise<string>;
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
  /** Run the notifications part (cdc.likes, cdc.comments, cdc.follows → each user's groups). */
  notifications?: boolean;
  /** Run the live channel's publisher (new posts and unread counts to online users, through the worker). */
  live?: boolean;
  /** Extra worker variables. */
  vars?: Record<string, string>;
  /**
   * The worker's per-key limits: the benchmark's (BENCH_RATE_LIMITS) unless given; these tests
   * drive a few users hard. The production defaults are pinned in hostile-input.test.ts.
   */
  rateLimits?: RateLimitOverrides;
}

export async function startEdgeWorld(h: CdcHarness, opts: EdgeWorldOptions = {}): Promise<EdgeWorld> {
  const id = randomBytes(4).toString("hex");
  const jwtSecret = `edge-world-${randomBytes(16).toString("hex")}`;
  const originSecret = `origin-${randomBytes(16).toString("hex")}`;
  const stream = `t:events:${id}`;
  const ns = `t${id}:`;
  const keys = indexKeys(ns);
  const redis = testRedis();
  const users = new Set<string>();
  const stops: (() => Promise<unknown>)[] = [];

  // The worker starts last (it needs the origin's port), so the publisher learns its URL then.
  let edgeUrl = "http://127.0.0.1:9";
  let live: LivePublisher | null = null;
  if (opts.live) {
    live = new LivePublisher(
      redis,
      { index: keys, notifications: notificationKeys(ns), live: liveKeys(ns) },
      pino({ level: "warn" }),
      { edgeUrl: () => edgeUrl, sharedSecret: originSecret, queueMax: 10_000, timeoutMs: 2000 },
    );
    await live.start();
    const publisher = live;
    stops.push(() => publisher.stop());
  }
  let index: ServingIndex | null = null;
  if (opts.index) {
    index = new ServingIndex(h.kafka, h.ch, redis, keys, pino({ level: "warn" }), {
      groupId: `${h.world.names.indexGroup}-${id}`,
      topicNamespace: h.config.kafka.topicNamespace,
      sinkGroupId: h.world.names.sinkGroup,
      watchMs: 500,
      ...(live ? { live } : {}),
    });
    await index.start();
    stops.push(() => (index as ServingIndex).stop());
  }
  let notifications: NotificationsPart | null = null;
  if (opts.notifications) {
    const part = new NotificationsPart(
      h.kafka,
      new NotificationWriter(redis, notificationKeys(ns)),
      pino({ level: "warn" }),
      {
        groupId: `${h.world.names.indexGroup}-notifications-${id}`,
        topicNamespace: h.config.kafka.topicNamespace,
        ...(live ? { live } : {}),
      },
    );
    await part.start();
    notifications = part;
    stops.push(() => part.stop());
  }
  if (opts.relay) {
    const relayRedis = testRedis({ blocking: true }); // its own: the relay blocks on it
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
    writeApp({
      pg: h.pg,
      redis,
      sharedSecret: originSecret,
      log: pino({ level: "silent" }),
      ...(opts.index ? { index: new IndexWriter(redis, keys) } : {}),
      ...(live ? { live } : {}),
    }),
  );
  const origin: ServerType = serve({ fetch: app.fetch, hostname: "127.0.0.1", port });
  const vars = {
    ...workerVars(
      { names: { ...h.world.names, indexNamespace: ns }, services: h.world.services },
      { jwtSecret, originSecret, originUrl: `http://127.0.0.1:${port}` },
    ),
    EVENTS_STREAM: stream,
    ...opts.vars,
  };
  const edge = await startWranglerDev({
    config: "wrangler.toml",
    vars,
    rateLimits: opts.rateLimits ?? BENCH_RATE_LIMITS,
  });
  edgeUrl = edge.url;

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
    notificationKeys: notificationKeys(ns),
    notifications,
    live,
    jwtSecret,
    async token(user) {
      users.add(user);
      if (!tokens.has(user)) tokens.set(user, await devToken(user, 3600, jwtSecret));
      return tokens.get(user) as string;
    },
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
      await unlinkKeys(redis, [
        stream,
        ...[...users].flatMap((u) => [seenKey(u), feedVersionKey(u), snapshotPointerKey(u)]),
      ]);
      await unlinkByPrefix(redis, ns);
      redis.disconnect();
    },
  };
}

/** Origin entry point: read config, build the context, start the parts, drain on SIGTERM/SIGINT. */
import { Redis } from "ioredis";
import { Partitioners } from "kafkajs";
import { pino } from "pino";
import { EVENTS_TOPIC } from "../edge/core/index.ts";
import { invalidateKeys } from "./src/cache.ts";
import { readConfig } from "./src/config.ts";
import { grantCdcAccess } from "./src/connect/grant.ts";
import { ConnectClient, ConnectorManager } from "./src/connect/manager.ts";
import { createContext } from "./src/context.ts";
import { createOriginApp, httpServerPart } from "./src/http.ts";
import { generateHotPosts, generateSuggestions, warmFeeds } from "./src/jobs/generators.ts";
import { JobGroup, PeriodicJob } from "./src/jobs/periodic.ts";
import { Lifecycle, type Part } from "./src/lifecycle.ts";
import { createMetrics } from "./src/metrics.ts";
import { type Check, probe, runChecks, withTimeout } from "./src/readiness.ts";
import { EventRelay } from "./src/relay/relay.ts";
import { ClickHouseSink } from "./src/sink/sink.ts";
import { writeApp } from "./src/writes/routes.ts";

const config = readConfig();
const log = pino({ level: config.logLevel, base: { service: "origin" } });
const ctx = createContext(config, log);
const metrics = createMetrics();
const admin = ctx.kafka.admin();
const redis = new Redis(config.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });

const parts: Part[] = [
  {
    name: "clients",
    start: async () => {
      await admin.connect();
      await redis.connect();
    },
    stop: async () => {
      await admin.disconnect();
      redis.disconnect();
    },
    health: () => ({ ok: redis.status === "ready" }),
  },
];
const checks: Record<string, Check> = {
  postgres: probe("PostgreSQL", () => ctx.pg.query("SELECT 1")),
  clickhouse: probe("ClickHouse", async () => {
    const r = await ctx.clickhouse.ping();
    if (!r.success) throw r.error;
  }),
  redis: probe("Redis", () => redis.ping()),
  kafka: probe("Kafka", () => admin.describeCluster()),
};

if (config.parts.includes("connector")) {
  const connector = new ConnectorManager(config, {
    connect: new ConnectClient(config.cdc.connectUrl),
    admin,
    grantCdcAccess: () => grantCdcAccess(config.databaseUrl, config.cdc.dbUser),
    log: log.child({ part: "connector" }),
  });
  parts.push(connector);
  metrics.watch({ connector });
  checks.connector = async () => connector.health();
}
if (config.parts.includes("sink")) {
  const sink = new ClickHouseSink(ctx.kafka, ctx.clickhouse, log.child({ part: "sink" }), {
    groupId: config.sinkGroupId,
    topicNamespace: config.kafka.topicNamespace,
    invalidate: (keys) => invalidateKeys(redis, keys),
  });
  parts.push(sink);
  metrics.watch({ sink });
  checks.sink = async () => sink.health();
}
if (config.parts.includes("relay")) {
  const producer = ctx.kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  // The relay blocks on its Redis connection, so it gets one of its own.
  const relayRedis = new Redis(config.redisUrl, { lazyConnect: true, maxRetriesPerRequest: null });
  parts.push({
    name: "relay-clients",
    start: async () => {
      await producer.connect();
      await relayRedis.connect();
    },
    stop: async () => {
      await producer.disconnect();
      relayRedis.disconnect();
    },
    health: () => ({ ok: relayRedis.status === "ready" }),
  });
  const relay = new EventRelay(relayRedis, producer, log.child({ part: "relay" }), {
    stream: config.relayStream,
    claimIdleMs: config.relayClaimIdleMs,
    topic: config.kafka.topicNamespace + EVENTS_TOPIC,
    batchSize: config.relayBatchSize,
  });
  parts.push(relay);
  metrics.watch({ relay });
  checks.relay = async () => relay.health();
}
if (config.parts.includes("jobs")) {
  const deps = { ch: ctx.clickhouse, redis };
  const jobLog = log.child({ part: "jobs" });
  const jobs = [
    new PeriodicJob(
      { name: "hot-posts", intervalMs: config.jobs.hotPostsMs, run: () => generateHotPosts(deps) },
      redis,
      jobLog,
    ),
    new PeriodicJob(
      {
        name: "suggested-users",
        intervalMs: config.jobs.suggestMs,
        run: (signal) => generateSuggestions(deps, { maxUsers: config.jobs.suggestMaxUsers, signal }),
      },
      redis,
      jobLog,
    ),
    new PeriodicJob(
      {
        name: "feed-warmer",
        intervalMs: config.jobs.warmMs,
        run: (signal) =>
          warmFeeds(deps, { topUsers: config.jobs.warmTopUsers, intervalMs: config.jobs.warmMs, signal }),
      },
      redis,
      jobLog,
    ),
  ];
  parts.push(new JobGroup(jobs));
  metrics.watch({ jobs });
}
// HTTP last: it starts taking requests once everything behind it runs.
if (config.parts.includes("http")) {
  const writes = writeApp({ pg: ctx.pg, redis, sharedSecret: config.sharedSecret, log: log.child({ part: "writes" }) });
  const app = createOriginApp({
    readiness: () => runChecks(checks),
    metrics,
    log: log.child({ part: "http" }),
    writes,
  });
  parts.push(httpServerPart(config, log, app));
}

const lifecycle = new Lifecycle(parts, log);

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () => {
    log.info({ signal }, "shutting down");
    void lifecycle
      .stop(config.shutdownTimeoutMs)
      // Parts are drained; closing idle client pools must not hold the exit hostage.
      .then(() =>
        withTimeout(ctx.close(), 2000, "closing clients").catch((err) => log.warn({ err: err.message }, "close")),
      )
      .then(() => {
        log.info("stopped");
        process.exit(0);
      });
  });
}

lifecycle.start().catch(async (err: unknown) => {
  log.fatal({ err }, "origin failed to start");
  await lifecycle.stop(config.shutdownTimeoutMs);
  await ctx.close();
  process.exit(1);
});

/**
 * Origin entry point: wires the parts this instance runs (ORIGIN_PARTS) from one app context.
 * Building clients is context.ts's, running parts lifecycle.ts's; this file only connects them.
 */
import { EVENTS_TOPIC, indexKeys } from "../edge/core/index.ts";
import { invalidateKeys } from "./src/cache.ts";
import { readConfig } from "./src/config.ts";
import { grantCdcAccess } from "./src/connect/grant.ts";
import { ConnectorManager } from "./src/connect/manager.ts";
import { createContext } from "./src/context.ts";
import { ExperimentsProjection } from "./src/experiments/projection.ts";
import { createOriginApp, httpServerPart } from "./src/http.ts";
import { IndexRepairs, reconcilePostCounters } from "./src/index/reconcile.ts";
import { refreshAffinity, refreshPopularAuthors } from "./src/index/refresh.ts";
import { ServingIndex } from "./src/index/serving-index.ts";
import { IndexWriter } from "./src/index/writer.ts";
import { generateHotPosts, generateSuggestions, warmFeeds } from "./src/jobs/generators.ts";
import { JobGroup, PeriodicJob } from "./src/jobs/periodic.ts";
import { runProcess } from "./src/lifecycle.ts";
import { createMetrics } from "./src/metrics.ts";
import { dependencyChecks } from "./src/readiness.ts";
import { EventRelay } from "./src/relay/relay.ts";
import { ClickHouseSink } from "./src/sink/sink.ts";
import { experimentsApp } from "./src/writes/experiments.ts";
import { writeApp } from "./src/writes/routes.ts";

await runProcess(
  "origin",
  () => readConfig(),
  (config, log, lifecycle) => {
    const ctx = createContext(config, log);
    const metrics = createMetrics();
    // Parts start in this order and stop in reverse: the clients first, HTTP last (it takes
    // requests once everything behind it runs).
    lifecycle.add(ctx.clients);

    if (config.parts.includes("connector")) {
      const connector = lifecycle.add(
        new ConnectorManager(config, {
          connect: ctx.connect,
          admin: ctx.admin,
          grantCdcAccess: () => grantCdcAccess(config.databaseUrl, config.cdc.dbUser),
          log: log.child({ part: "connector" }),
        }),
      );
      metrics.watch({ connector });
    }

    if (config.parts.includes("sink")) {
      const sink = lifecycle.add(
        new ClickHouseSink(ctx.kafka, ctx.clickhouse, log.child({ part: "sink" }), {
          groupId: config.sinkGroupId,
          topicNamespace: config.kafka.topicNamespace,
          invalidate: (keys) => invalidateKeys(ctx.redis, keys),
        }),
      );
      metrics.watch({ sink });
    }

    const keys = indexKeys(config.index.namespace);
    if (config.parts.includes("index")) {
      lifecycle.add(
        new ServingIndex(ctx.kafka, ctx.clickhouse, ctx.redis, keys, log.child({ part: "index" }), {
          groupId: config.index.groupId,
          topicNamespace: config.kafka.topicNamespace,
          sinkGroupId: config.sinkGroupId,
        }),
      );
      // The running ranking experiments in Redis (the edge's read), from cdc.experiments.
      lifecycle.add(
        new ExperimentsProjection(ctx.kafka, ctx.pg, ctx.redis, log.child({ part: "experiments" }), {
          groupId: `${config.index.groupId}-experiments`,
          topicNamespace: config.kafka.topicNamespace,
          namespace: config.index.namespace,
          partitions: config.kafka.partitions,
          replicationFactor: config.kafka.replicationFactor,
        }),
      );
    }

    // The context builds the relay's own clients only when ORIGIN_PARTS has the relay.
    if (ctx.relay) {
      const relay = lifecycle.add(
        new EventRelay(ctx.relay.redis, ctx.relay.producer, log.child({ part: "relay" }), {
          stream: config.relayStream,
          claimIdleMs: config.relayClaimIdleMs,
          topic: config.kafka.topicNamespace + EVENTS_TOPIC,
          batchSize: config.relayBatchSize,
        }),
      );
      metrics.watch({ relay });
    }

    if (config.parts.includes("jobs")) {
      const deps = { ch: ctx.clickhouse, redis: ctx.redis, keys };
      const writer = new IndexWriter(ctx.redis, keys);
      const jobLog = log.child({ part: "jobs" });
      const repairs = new IndexRepairs();
      const { jobs } = config;
      const group = lifecycle.add(
        new JobGroup([
          new PeriodicJob(
            {
              name: "hot-posts",
              intervalMs: jobs.hotPostsMs,
              run: async () => ({
                ...(await generateHotPosts(deps)),
                popular: await refreshPopularAuthors(ctx.clickhouse, ctx.redis, keys),
              }),
            },
            ctx.redis,
            jobLog,
          ),
          new PeriodicJob(
            {
              name: "suggested-users",
              intervalMs: jobs.suggestMs,
              run: (signal) => generateSuggestions(deps, { maxUsers: jobs.suggestMaxUsers, signal }),
            },
            ctx.redis,
            jobLog,
          ),
          new PeriodicJob(
            {
              name: "feed-warmer",
              intervalMs: jobs.warmMs,
              run: (signal) => warmFeeds(deps, { topUsers: jobs.warmTopUsers, signal }),
            },
            ctx.redis,
            jobLog,
          ),
          new PeriodicJob(
            {
              name: "index-reconcile",
              intervalMs: jobs.reconcileMs,
              run: (signal) =>
                reconcilePostCounters(ctx.clickhouse, ctx.redis, keys, repairs, (msg, d) => jobLog.warn(d, msg), {
                  signal,
                }),
            },
            ctx.redis,
            jobLog,
          ),
          new PeriodicJob(
            {
              name: "index-affinity",
              intervalMs: jobs.affinityMs,
              run: (signal) => refreshAffinity(ctx.clickhouse, writer, { signal }),
            },
            ctx.redis,
            jobLog,
          ),
        ]),
      );
      metrics.watch({ jobs: group.jobs, repairs });
    }

    if (config.parts.includes("http")) {
      const writes = writeApp({
        pg: ctx.pg,
        redis: ctx.redis,
        sharedSecret: config.sharedSecret,
        log: log.child({ part: "writes" }),
      });
      const experiments = experimentsApp({
        pg: ctx.pg,
        redis: ctx.redis,
        clickhouse: ctx.clickhouse,
        operatorToken: config.operatorToken,
        sharedSecret: config.sharedSecret,
        log: log.child({ part: "experiments-api" }),
      });
      const app = createOriginApp({
        parts: () => lifecycle.health(),
        checks: dependencyChecks(ctx),
        metrics,
        log: log.child({ part: "http" }),
        writes,
        experiments,
      });
      lifecycle.add(httpServerPart(config, log, app));
    }
  },
);

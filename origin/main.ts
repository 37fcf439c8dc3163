/**
 * Origin entry point: wires the parts this instance runs (ORIGIN_PARTS) from one app context.
 * Building clients is context.ts's, running parts lifecycle.ts's; this file only connects them.
 */

import { indexKeys, notificationKeys, sinkSettleLeaseKey } from "#core/keys.ts";
import { liveKeys } from "#core/live/presence.ts";
import { EVENTS_TOPIC } from "#core/topics.ts";
import { readConfig } from "./src/config.ts";
import { grantCdcAccess } from "./src/connect/grant.ts";
import { ConnectorManager } from "./src/connect/manager.ts";
import { createContext } from "./src/context.ts";
import { experimentsApp } from "./src/experiments/api.ts";
import { ExperimentsProjection } from "./src/experiments/projection.ts";
import { createOriginApp, httpServerPart } from "./src/http.ts";
import { ioredisExec } from "./src/index/exec.ts";
import { IndexRepairs, reconcileIndex } from "./src/index/reconcile.ts";
import { refreshAffinity, refreshPopularAuthors } from "./src/index/refresh.ts";
import { ServingIndex } from "./src/index/serving-index.ts";
import { IndexWriter } from "./src/index/writer.ts";
import { generateHotPosts, generateSuggestions, refreshFallbackSnapshots } from "./src/jobs/generators.ts";
import { JobGroup, PeriodicJob } from "./src/jobs/periodic.ts";
import { RedisLease } from "./src/lease.ts";
import { runProcess } from "./src/lifecycle.ts";
import { LivePublisher } from "./src/live/publisher.ts";
import { createMetrics } from "./src/metrics.ts";
import { NotificationsPart } from "./src/notifications/part.ts";
import { NotificationWriter } from "./src/notifications/writer.ts";
import { dependencyChecks } from "./src/readiness.ts";
import { EventRelay } from "./src/relay/relay.ts";
import { ClickHouseSink } from "./src/sink/sink.ts";
import { writeApp } from "./src/writes/routes.ts";

await runProcess(
  "origin",
  () => readConfig(),
  (config, log, lifecycle) => {
    const ctx = createContext(config, log);
    const metrics = createMetrics(lifecycle);
    // Parts start in this order and stop in reverse: the clients first, HTTP last (it takes
    // requests once everything behind it runs).
    lifecycle.add(ctx.clients);

    if (config.parts.includes("connector")) {
      lifecycle.add(
        new ConnectorManager(config, {
          connect: ctx.connect,
          admin: ctx.admin,
          grantCdcAccess: () => grantCdcAccess(config.databaseUrl, config.cdc.dbUser),
          log: log.child({ part: "connector" }),
        }),
      );
    }

    if (config.parts.includes("sink")) {
      lifecycle.add(
        new ClickHouseSink(ctx.kafka, ctx.clickhouse, log.child({ part: "sink" }), {
          groupId: config.sinkGroupId,
          topicNamespace: config.kafka.topicNamespace,
          invalidate: ioredisExec(ctx.redis), // a plain pipeline: one key a command
          // Of several sink processes, one settles early events at a time.
          settleLease: new RedisLease(ctx.redis, sinkSettleLeaseKey(config.sinkGroupId, config.kafka.topicNamespace)),
        }),
      );
    }

    const keys = indexKeys(config.index.namespace);
    // The live channel's publisher: the index and notifications parts tell it what happened,
    // it tells the edge for the users who are online (best effort; never holds a batch up).
    const live =
      config.parts.includes("index") || config.parts.includes("notifications") || config.parts.includes("http")
        ? new LivePublisher(
            ctx.redis,
            {
              index: keys,
              notifications: notificationKeys(config.index.namespace),
              live: liveKeys(config.index.namespace),
            },
            log.child({ part: "live" }),
            { sharedSecret: config.sharedSecret, ...config.live },
          )
        : null;
    if (live) lifecycle.add(live);
    if (config.parts.includes("index")) {
      lifecycle.add(
        new ServingIndex(ctx.kafka, ctx.clickhouse, ctx.redis, keys, log.child({ part: "index" }), {
          groupId: config.index.groupId,
          topicNamespace: config.kafka.topicNamespace,
          sinkGroupId: config.sinkGroupId,
          ...(live ? { live } : {}),
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

    if (config.parts.includes("notifications")) {
      // Each user's notification groups, from cdc.likes, cdc.comments and cdc.follows (in the
      // index's namespace: the edge reads them beside the index's profiles and blocks).
      lifecycle.add(
        new NotificationsPart(
          ctx.kafka,
          new NotificationWriter(ctx.redis, notificationKeys(config.index.namespace)),
          log.child({ part: "notifications" }),
          {
            groupId: `${config.index.groupId}-notifications`,
            topicNamespace: config.kafka.topicNamespace,
            ...(live ? { live } : {}),
          },
        ),
      );
    }

    // The context builds the relay's own clients only when ORIGIN_PARTS has the relay.
    if (ctx.relay) {
      lifecycle.add(
        new EventRelay(ctx.relay.redis, ctx.relay.producer, log.child({ part: "relay" }), {
          stream: config.relayStream,
          claimIdleMs: config.relayClaimIdleMs,
          topic: config.kafka.topicNamespace + EVENTS_TOPIC,
          batchSize: config.relayBatchSize,
        }),
      );
    }

    if (config.parts.includes("jobs")) {
      const deps = { ch: ctx.clickhouse, redis: ctx.redis, keys };
      const writer = new IndexWriter(ctx.redis, keys);
      const jobLog = log.child({ part: "jobs" });
      const repairs = new IndexRepairs();
      const { jobs } = config;
      lifecycle.add(
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
              name: "fallback-snapshots",
              intervalMs: jobs.fallbackSnapshotMs,
              run: (signal) => refreshFallbackSnapshots(deps, { topUsers: jobs.fallbackSnapshotUsers, signal }),
            },
            ctx.redis,
            jobLog,
          ),
          new PeriodicJob(
            {
              name: "index-reconcile",
              intervalMs: jobs.reconcileMs,
              run: async (signal) => {
                const r = await reconcileIndex(
                  ctx.clickhouse,
                  ctx.redis,
                  keys,
                  repairs,
                  (msg, d) => jobLog.warn(d, msg),
                  {
                    signal,
                  },
                );
                return {
                  posts: r.postCounters.posts,
                  differences: r.postCounters.differences + (r.structures?.differences ?? 0),
                  repaired: r.postCounters.repaired + (r.structures?.repaired ?? 0),
                  structureKeys: r.structures?.keys ?? 0,
                };
              },
              repairs: repairs.byKind,
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
    }

    if (config.parts.includes("http")) {
      const writes = writeApp({
        pg: ctx.pg,
        redis: ctx.redis,
        sharedSecret: config.sharedSecret,
        log: log.child({ part: "writes" }),
        // Read your writes: each committed change goes to the serving index at once too.
        index: new IndexWriter(ctx.redis, keys),
        ...(live ? { live } : {}),
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

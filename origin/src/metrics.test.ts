import type { Redis } from "ioredis";
import { pino } from "pino";
import { describe, expect, expectTypeOf, it } from "vitest";
import type { ConnectorManager } from "./connect/manager.ts";
import { IndexRepairs } from "./index/reconcile.ts";
import type { ServingIndex } from "./index/serving-index.ts";
import { JobGroup, PeriodicJob } from "./jobs/periodic.ts";
import { Lifecycle, type Part } from "./lifecycle.ts";
import type { LivePublisher } from "./live/publisher.ts";
import { createMetrics, type StatsRead } from "./metrics.ts";
import type { NotificationsPart } from "./notifications/part.ts";
import type { EventRelay } from "./relay/relay.ts";
import type { ClickHouseSink } from "./sink/sink.ts";

const log = pino({ level: "silent" });

const part = (name: string, stats: object | undefined, ok = true): Part => ({
  name,
  start: async () => {},
  stop: async () => {},
  health: () => ({ ok }),
  stats,
});

describe("metrics read the lifecycle's parts", () => {
  it("each part the metrics read by name has that name and the stats they read (compile time)", () => {
    expectTypeOf<EventRelay["name"]>().toEqualTypeOf<"relay">();
    expectTypeOf<EventRelay["stats"]>().toExtend<StatsRead["relay"]>();
    expectTypeOf<ClickHouseSink["name"]>().toEqualTypeOf<"clickhouse-sink">();
    expectTypeOf<ClickHouseSink["stats"]>().toExtend<StatsRead["clickhouse-sink"]>();
    expectTypeOf<ConnectorManager["name"]>().toEqualTypeOf<"connector">();
    expectTypeOf<ConnectorManager["stats"]>().toExtend<StatsRead["connector"]>();
    expectTypeOf<ServingIndex["name"]>().toEqualTypeOf<"serving-index">();
    expectTypeOf<NonNullable<ServingIndex["stats"]>>().toExtend<StatsRead["serving-index"]>();
    expectTypeOf<NotificationsPart["name"]>().toEqualTypeOf<"notifications">();
    expectTypeOf<NotificationsPart["stats"]>().toExtend<StatsRead["notifications"]>();
    expectTypeOf<LivePublisher["name"]>().toEqualTypeOf<"live">();
    expectTypeOf<LivePublisher["stats"]>().toExtend<StatsRead["live"]>();
    expectTypeOf<JobGroup["name"]>().toEqualTypeOf<"jobs">();
    expectTypeOf<JobGroup["stats"]>().toExtend<StatsRead["jobs"]>();
  });

  it("exports what the parts added to the lifecycle count, and nothing for parts it does not run", async () => {
    const lifecycle = new Lifecycle(log);
    const repairs = new IndexRepairs();
    const redis = {} as Redis;
    lifecycle.add(
      part("relay", {
        relayed: 12,
        produceErrors: 1,
        lastLagMs: 250,
        retries: { produce: 2, stream: 0 },
      } satisfies StatsRead["relay"]),
    );
    lifecycle.add(part("connector", { restarts: 3 } satisfies StatsRead["connector"], false));
    lifecycle.add(
      new JobGroup([
        new PeriodicJob({ name: "hot-posts", intervalMs: 60_000, run: async () => ({}) }, redis, log),
        new PeriodicJob(
          { name: "index-reconcile", intervalMs: 60_000, run: async () => ({}), repairs: repairs.byKind },
          redis,
          log,
        ),
      ]),
    );
    const metrics = createMetrics(lifecycle);
    repairs.byKind.post_counters = 2; // read at scrape time, not when added
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/^origin_relay_events_total 12$/m);
    expect(text).toMatch(/^origin_relay_lag_seconds 0.25$/m);
    expect(text).toContain('origin_retries_total{part="relay",op="produce"} 2');
    expect(text).toMatch(/^origin_connector_running 0$/m);
    expect(text).toMatch(/^origin_connector_restarts_total 3$/m);
    expect(text).toContain('origin_job_runs{job="job:hot-posts"} 0');
    expect(text).toContain('origin_job_runs{job="job:index-reconcile"} 0');
    expect(text).toContain('origin_index_repairs_total{kind="post_counters"} 2');
    // No sink, no serving index here: no lag of theirs.
    expect(text).not.toMatch(/^origin_sink_lag_seconds\{/m);
    expect(text).not.toMatch(/^origin_index_update_lag_seconds\{/m);
  });
});

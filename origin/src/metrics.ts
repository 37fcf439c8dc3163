/**
 * Prometheus metrics of the origin (GET /metrics), read from the parts the lifecycle runs: each
 * part keeps its running numbers in its `stats` (lifecycle.ts), read at scrape time, so the parts
 * stay free of metrics plumbing and this file imports none of them. A metric reads the parts of
 * one name; several of a name (tests) add up, their lags give the worst; a part that is not
 * there (or has no stats yet) reports nothing rather than a fake zero.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { Part } from "./lifecycle.ts";

/**
 * What the metrics read of a part's stats, by part name. The shapes are the parts' own
 * (metrics.test.ts checks each part against its entry); they are written here so that metrics
 * depends on no part.
 */
export interface StatsRead {
  relay: { relayed: number; produceErrors: number; lastLagMs: number; retries: Record<string, number> };
  "clickhouse-sink": {
    rowsInserted: number;
    duplicatesSkipped: number;
    deadLetters: number;
    crashes: number;
    stalls: number;
    retries: Record<string, number>;
    lastLagMs: Record<string, number>;
  };
  connector: { restarts: number };
  /** The serving index's updater: none while the index bootstraps. */
  "serving-index": { batches: number; ops: number; crashes: number; stalls: number; lastLagMs: Record<string, number> };
  /** The notifications part (grouped likes, comments and follows per recipient). */
  notifications: {
    changes: number;
    trimmed: number;
    crashes: number;
    stalls: number;
    lastLagMs: Record<string, number>;
  };
  /** The live channel's publisher (origin/src/live/publisher.ts). */
  live: { queued: number; dropped: number; published: number; failed: number; queueLength: number };
  /** Each job's by job name; `repairs` of the job that repairs the serving index (reconcile.ts), by kind. */
  jobs: Record<
    string,
    { runs: number; failures: number; lastDurationMs: number | null; repairs?: Readonly<Record<string, number>> }
  >;
}

export interface Metrics {
  registry: Registry;
  httpDuration: Histogram<"method" | "route" | "status">;
}

/** The metrics of the parts `lifecycle` runs (default none: the HTTP and process metrics alone). */
export function createMetrics(lifecycle: { readonly parts: readonly Part[] } = { parts: [] }): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const httpDuration = new Histogram({
    name: "origin_http_request_duration_seconds",
    help: "Origin HTTP request latency",
    labelNames: ["method", "route", "status"] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });

  const partsNamed = (name: string) => lifecycle.parts.filter((p) => p.name === name);
  /** The stats of every part named `name` that has some. */
  const statsOf = <N extends keyof StatsRead>(name: N): StatsRead[N][] =>
    partsNamed(name)
      .map((p) => p.stats as StatsRead[N] | undefined)
      .filter((s) => s !== undefined);
  const sumOf =
    <N extends keyof StatsRead>(name: N, read: (s: StatsRead[N]) => number) =>
    () => {
      const list = statsOf(name);
      return list.length ? list.reduce((n, s) => n + read(s), 0) : undefined;
    };
  /** The worst lag per label (topic) across the parts named `name`. */
  const worstLag = <N extends keyof StatsRead>(name: N, read: (s: StatsRead[N]) => Record<string, number>) => {
    const worst = new Map<string, number>();
    for (const s of statsOf(name)) {
      for (const [label, ms] of Object.entries(read(s))) worst.set(label, Math.max(worst.get(label) ?? 0, ms));
    }
    return worst;
  };

  const fromStats = (
    name: string,
    help: string,
    read: () => number | undefined,
    type: "gauge" | "counter" = "gauge",
  ) => {
    if (type === "counter") {
      // A counter whose value is owned elsewhere: reset to the part's running total at scrape.
      return new Counter({
        name,
        help,
        registers: [registry],
        collect() {
          const v = read();
          if (v !== undefined) {
            this.reset();
            this.inc(v);
          }
        },
      });
    }
    return new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        const v = read();
        if (v !== undefined) this.set(v);
      },
    });
  };
  fromStats(
    "origin_relay_events_total",
    "Events relayed from the Redis stream to Kafka",
    sumOf("relay", (s) => s.relayed),
    "counter",
  );
  fromStats(
    "origin_relay_produce_errors_total",
    "Failed Kafka produce attempts by the relay",
    sumOf("relay", (s) => s.produceErrors),
    "counter",
  );
  fromStats("origin_relay_lag_seconds", "Age of the oldest event of the last relayed batch", () => {
    const lags = statsOf("relay").map((s) => s.lastLagMs);
    return lags.length ? Math.max(...lags) / 1000 : undefined;
  });
  fromStats(
    "origin_sink_rows_total",
    "Rows inserted into ClickHouse by the sink",
    sumOf("clickhouse-sink", (s) => s.rowsInserted),
    "counter",
  );
  fromStats(
    "origin_sink_duplicates_total",
    "Redelivered rows the sink skipped",
    sumOf("clickhouse-sink", (s) => s.duplicatesSkipped),
    "counter",
  );
  fromStats(
    "origin_sink_dead_letters_total",
    "Messages sent to dead_letters",
    sumOf("clickhouse-sink", (s) => s.deadLetters),
    "counter",
  );
  fromStats(
    "origin_sink_consumer_restarts_total",
    "Sink consumer crashes and stalls (each followed by a restart)",
    sumOf("clickhouse-sink", (s) => s.crashes + s.stalls),
    "counter",
  );
  new Counter({
    name: "origin_retries_total",
    help: "Waits before another attempt, by part and operation (every retry is also logged)",
    labelNames: ["part", "op"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [part, list] of [
        ["relay", statsOf("relay")],
        ["sink", statsOf("clickhouse-sink")],
      ] as const) {
        for (const s of list) for (const [op, n] of Object.entries(s.retries)) this.inc({ part, op }, n);
      }
    },
  });
  new Gauge({
    name: "origin_sink_lag_seconds",
    help: "Kafka append → ClickHouse insert lag of the last batch, per topic",
    labelNames: ["topic"] as const,
    registers: [registry],
    collect() {
      for (const [topic, ms] of worstLag("clickhouse-sink", (s) => s.lastLagMs)) this.set({ topic }, ms / 1000);
    },
  });
  new Gauge({
    name: "origin_connector_running",
    help: "1 when the Debezium connector and all its tasks are RUNNING",
    registers: [registry],
    async collect() {
      const connectors = partsNamed("connector");
      if (connectors.length === 0) return;
      const health = await Promise.all(connectors.map((p) => p.health()));
      this.set(health.every((h) => h.ok) ? 1 : 0);
    },
  });
  fromStats(
    "origin_connector_restarts_total",
    "Failed-task restarts issued by the watcher",
    sumOf("connector", (s) => s.restarts),
    "counter",
  );

  new Gauge({
    name: "origin_index_update_lag_seconds",
    help: "Kafka append → serving index (Redis) applied lag of the last batch, per topic",
    labelNames: ["topic"] as const,
    registers: [registry],
    collect() {
      for (const [topic, ms] of worstLag("serving-index", (s) => s.lastLagMs)) this.set({ topic }, ms / 1000);
    },
  });
  fromStats(
    "origin_index_batches_total",
    "Batches the serving-index updater applied to Redis",
    sumOf("serving-index", (s) => s.batches),
    "counter",
  );
  fromStats(
    "origin_index_ops_total",
    "Index operations the serving-index updater applied",
    sumOf("serving-index", (s) => s.ops),
    "counter",
  );
  new Gauge({
    name: "origin_notifications_lag_seconds",
    help: "Kafka append → notifications (Redis) applied lag of the last batch, per topic",
    labelNames: ["topic"] as const,
    registers: [registry],
    collect() {
      for (const [topic, ms] of worstLag("notifications", (s) => s.lastLagMs)) this.set({ topic }, ms / 1000);
    },
  });
  fromStats(
    "origin_notifications_changes_total",
    "Likes, comments and follows (and their take-backs) applied to recipients' notifications",
    sumOf("notifications", (s) => s.changes),
    "counter",
  );
  fromStats(
    "origin_notifications_consumer_restarts_total",
    "Notifications consumer crashes and stalls (each followed by a restart)",
    sumOf("notifications", (s) => s.crashes + s.stalls),
    "counter",
  );
  fromStats(
    "origin_live_dropped_total",
    "Live-channel items dropped because the publisher's queue was full (the oldest go)",
    sumOf("live", (s) => s.dropped),
    "counter",
  );
  fromStats(
    "origin_live_published_total",
    "Live-channel messages the edge accepted for online users",
    sumOf("live", (s) => s.published),
    "counter",
  );
  fromStats(
    "origin_live_failed_total",
    "Live-channel messages lost to a failed presence lookup or publish (not retried)",
    sumOf("live", (s) => s.failed),
    "counter",
  );
  fromStats(
    "origin_live_queue_length",
    "Items waiting in the live publisher's queue",
    sumOf("live", (s) => s.queueLength),
    "gauge",
  );
  fromStats(
    "origin_index_consumer_restarts_total",
    "Serving-index consumer crashes and stalls (each followed by a restart)",
    sumOf("serving-index", (s) => s.crashes + s.stalls),
    "counter",
  );

  type JobStats = StatsRead["jobs"][string];
  const jobs = () => statsOf("jobs").flatMap((byName) => Object.entries(byName));
  for (const [metric, help, read] of [
    ["origin_job_runs", "Generator runs since start", (j: JobStats) => j.runs],
    ["origin_job_failures", "Failed generator runs since start", (j: JobStats) => j.failures],
    ["origin_job_last_duration_seconds", "Duration of the last run", (j: JobStats) => (j.lastDurationMs ?? 0) / 1000],
  ] as const) {
    new Gauge({
      name: metric,
      help,
      labelNames: ["job"] as const,
      registers: [registry],
      collect() {
        for (const [job, s] of jobs()) this.set({ job }, read(s));
      },
    });
  }

  new Counter({
    name: "origin_index_repairs_total",
    help: "Serving-index values the periodic reconciliation had to repair from ClickHouse, by kind (a repair is a bug report)",
    labelNames: ["kind"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [, s] of jobs()) for (const [kind, n] of Object.entries(s.repairs ?? {})) this.inc({ kind }, n);
    },
  });

  return { registry, httpDuration };
}

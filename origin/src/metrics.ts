/**
 * Prometheus metrics of the origin (GET /metrics). Counters that parts keep in their `stats`
 * objects are read at scrape time, so the parts stay free of metrics plumbing.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { ConnectorManager } from "./connect/manager.ts";
import type { IndexRepairs } from "./index/reconcile.ts";
import { type IndexUpdaterStats, runningIndexUpdaters } from "./index/updater.ts";
import type { PeriodicJob } from "./jobs/periodic.ts";
import type { EventRelay } from "./relay/relay.ts";
import type { ClickHouseSink } from "./sink/sink.ts";

export interface Metrics {
  registry: Registry;
  httpDuration: Histogram<"method" | "route" | "status">;
  watch(parts: {
    sink?: ClickHouseSink;
    relay?: EventRelay;
    connector?: ConnectorManager;
    jobs?: PeriodicJob[];
    /** The serving-index updaters to report; default: every one running in this process. */
    index?: () => { stats: IndexUpdaterStats }[];
    /** Repairs the index's safety net made (reconcile.ts): 0 in normal operation. */
    repairs?: IndexRepairs;
  }): void;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const httpDuration = new Histogram({
    name: "origin_http_request_duration_seconds",
    help: "Origin HTTP request latency",
    labelNames: ["method", "route", "status"] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const watched: Parameters<Metrics["watch"]>[0] = {};

  const fromStats = (
    name: string,
    help: string,
    read: () => number | undefined,
    type: "gauge" | "counter" = "gauge",
  ) => {
    if (type === "counter") {
      // A counter whose value is owned elsewhere: reset to the part's running total at scrape.
      const c = new Counter({
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
      return c;
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
    () => watched.relay?.stats.relayed,
    "counter",
  );
  fromStats(
    "origin_relay_produce_errors_total",
    "Failed Kafka produce attempts by the relay",
    () => watched.relay?.stats.produceErrors,
    "counter",
  );
  fromStats("origin_relay_lag_seconds", "Age of the oldest event of the last relayed batch", () =>
    watched.relay ? watched.relay.stats.lastLagMs / 1000 : undefined,
  );
  fromStats(
    "origin_sink_rows_total",
    "Rows inserted into ClickHouse by the sink",
    () => watched.sink?.stats.rowsInserted,
    "counter",
  );
  fromStats(
    "origin_sink_duplicates_total",
    "Redelivered rows the sink skipped",
    () => watched.sink?.stats.duplicatesSkipped,
    "counter",
  );
  fromStats(
    "origin_sink_dead_letters_total",
    "Messages sent to dead_letters",
    () => watched.sink?.stats.deadLetters,
    "counter",
  );
  fromStats(
    "origin_sink_consumer_restarts_total",
    "Sink consumer crashes and stalls (each followed by a restart)",
    () => (watched.sink ? watched.sink.stats.crashes + watched.sink.stats.stalls : undefined),
    "counter",
  );
  new Counter({
    name: "origin_retries_total",
    help: "Waits before another attempt, by part and operation (every retry is also logged)",
    labelNames: ["part", "op"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [part, retries] of [
        ["relay", watched.relay?.stats.retries],
        ["sink", watched.sink?.stats.retries],
      ] as const) {
        for (const [op, n] of Object.entries(retries ?? {})) this.inc({ part, op }, n);
      }
    },
  });
  new Gauge({
    name: "origin_sink_lag_seconds",
    help: "Kafka append → ClickHouse insert lag of the last batch, per topic",
    labelNames: ["topic"] as const,
    registers: [registry],
    collect() {
      for (const [topic, ms] of Object.entries(watched.sink?.stats.lastLagMs ?? {})) this.set({ topic }, ms / 1000);
    },
  });
  new Gauge({
    name: "origin_connector_running",
    help: "1 when the Debezium connector and all its tasks are RUNNING",
    registers: [registry],
    collect() {
      if (watched.connector) this.set(watched.connector.health().ok ? 1 : 0);
    },
  });
  fromStats(
    "origin_connector_restarts_total",
    "Failed-task restarts issued by the watcher",
    () => watched.connector?.stats.restarts,
    "counter",
  );

  // The serving index's updater (made inside the serving index, so found through
  // runningIndexUpdaters unless the caller says otherwise). Several in one process (tests): the
  // worst lag and the sums.
  const updaters = () => (watched.index ?? runningIndexUpdaters)();
  new Gauge({
    name: "origin_index_update_lag_seconds",
    help: "Kafka append → serving index (Redis) applied lag of the last batch, per topic",
    labelNames: ["topic"] as const,
    registers: [registry],
    collect() {
      const worst = new Map<string, number>();
      for (const u of updaters()) {
        for (const [topic, ms] of Object.entries(u.stats.lastLagMs))
          worst.set(topic, Math.max(worst.get(topic) ?? 0, ms));
      }
      for (const [topic, ms] of worst) this.set({ topic }, ms / 1000);
    },
  });
  const sumOf = (read: (s: IndexUpdaterStats) => number) => () => {
    const list = updaters();
    return list.length ? list.reduce((n, u) => n + read(u.stats), 0) : undefined;
  };
  fromStats(
    "origin_index_batches_total",
    "Batches the serving-index updater applied to Redis",
    sumOf((s) => s.batches),
    "counter",
  );
  fromStats(
    "origin_index_ops_total",
    "Index operations the serving-index updater applied",
    sumOf((s) => s.ops),
    "counter",
  );
  fromStats(
    "origin_index_consumer_restarts_total",
    "Serving-index consumer crashes and stalls (each followed by a restart)",
    sumOf((s) => s.crashes + s.stalls),
    "counter",
  );

  for (const [metric, help, read] of [
    ["origin_job_runs", "Generator runs since start", (j: PeriodicJob) => j.stats.runs],
    ["origin_job_failures", "Failed generator runs since start", (j: PeriodicJob) => j.stats.failures],
    [
      "origin_job_last_duration_seconds",
      "Duration of the last run",
      (j: PeriodicJob) => (j.stats.lastDurationMs ?? 0) / 1000,
    ],
  ] as const) {
    new Gauge({
      name: metric,
      help,
      labelNames: ["job"] as const,
      registers: [registry],
      collect() {
        for (const j of watched.jobs ?? []) this.set({ job: j.name }, read(j));
      },
    });
  }

  new Counter({
    name: "origin_index_repairs_total",
    help: "Serving-index values the periodic reconciliation had to repair from ClickHouse, by kind (a repair is a bug report)",
    labelNames: ["kind"] as const,
    registers: [registry],
    collect() {
      const r = watched.repairs;
      if (!r) return;
      this.reset();
      for (const [kind, n] of Object.entries(r.byKind)) this.inc({ kind }, n);
    },
  });

  return {
    registry,
    httpDuration,
    watch(parts) {
      Object.assign(watched, parts);
    },
  };
}

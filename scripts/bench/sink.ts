/**
 * `npm run bench:sink [events]`: throughput of the Kafka → ClickHouse sink on the local stack.
 * Produces N events to a private topic, then times a fresh sink (own consumer group, own
 * ClickHouse database) from start until every event is in events_raw. Baseline in the same run:
 * the same rows inserted straight into ClickHouse in batches of the same size, so the ratio is
 * the cost of consuming, checking for redeliveries and committing. Writes docs/bench-results/sink.json.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { createClient } from "@clickhouse/client";
import { Kafka, logLevel, Partitioners } from "kafkajs";
import { pino } from "pino";
import { ALL_TOPICS } from "#core/topics.ts";
import { migrateClickHouse } from "../../origin/ch/migrate.ts";
import { ClickHouseSink } from "../../origin/src/sink/sink.ts";
import { eventRow } from "../../origin/src/sink/transform.ts";
import { argsOrExit, intArg, parseCli } from "../lib/cli.ts";

const USAGE = "npm run bench:sink -- [events]";
const N = argsOrExit("[bench:sink]", () =>
  intArg(USAGE, "events", parseCli(USAGE, {}, { positionals: 1 }).positionals[0], 100_000, 1),
);
const CH_URL = process.env.CLICKHOUSE_URL ?? "http://127.0.0.1:8123";
const BROKERS = (process.env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(",");
const id = randomBytes(4).toString("hex");
const ns = `bench${id}.`;
const db = `bench_${id}`;

const admin = createClient({ url: CH_URL });
const ch = createClient({ url: CH_URL, database: db });
await migrateClickHouse(admin, ch, db);
const kafka = new Kafka({ clientId: `bench-${id}`, brokers: BROKERS, logLevel: logLevel.NOTHING });
const kadmin = kafka.admin();
await kadmin.connect();
// The sink subscribes to every topic of its namespace.
await kadmin.createTopics({
  topics: ALL_TOPICS.map((t) => ({ topic: ns + t, numPartitions: 3 })),
  waitForLeaders: true,
});

const users = Array.from({ length: 1000 }, () => randomUUID());
const now = Date.now();
const events = Array.from({ length: N }, (_, i) => ({
  event_id: randomUUID(),
  user_id: users[i % users.length] as string,
  post_id: randomUUID(),
  type: i % 10 === 0 ? "share" : "impression",
  client_ts: now,
  received_at: now,
  dwell_ms: 0,
}));
const producer = kafka.producer({
  idempotent: true,
  maxInFlightRequests: 1,
  createPartitioner: Partitioners.DefaultPartitioner,
});
await producer.connect();
const tp = performance.now();
for (let i = 0; i < events.length; i += 5000) {
  await producer.send({
    topic: `${ns}events`,
    acks: -1,
    messages: events.slice(i, i + 5000).map((e) => ({ key: e.user_id, value: JSON.stringify(e) })),
  });
}
const produceMs = performance.now() - tp;
await producer.disconnect();

const count = async () =>
  Number(
    (
      await (
        await ch.query({ query: "SELECT count() AS n FROM events_raw", format: "JSONEachRow" })
      ).json<{ n: string }>()
    )[0]?.n ?? 0,
  );
const sink = new ClickHouseSink(kafka, ch, pino({ level: "warn" }), { groupId: `bench-${id}`, topicNamespace: ns });
const ts = performance.now();
await sink.start();
while ((await count()) < N) await new Promise((r) => setTimeout(r, 100));
const sinkMs = performance.now() - ts;
await sink.stop();

// Baseline: the same rows, straight into ClickHouse, in batches like the sink's.
await ch.command({ query: "CREATE TABLE baseline AS events_raw" });
const batch = Math.max(1, Math.round(N / Math.max(1, sink.stats.batches)));
const tb = performance.now();
for (let i = 0; i < events.length; i += batch) {
  await ch.insert({
    table: "baseline",
    values: events.slice(i, i + batch).map((e) => eventRow(e)),
    format: "JSONEachRow",
  });
}
const baseMs = performance.now() - tb;

const result = {
  date: new Date().toISOString(),
  events: N,
  produce_events_per_s: Math.round(N / (produceMs / 1000)),
  sink_events_per_s: Math.round(N / (sinkMs / 1000)),
  sink_batches: sink.stats.batches,
  direct_insert_events_per_s: Math.round(N / (baseMs / 1000)),
  ratio_sink_vs_direct: Number((baseMs / sinkMs).toFixed(2)),
};
console.table(result);
await mkdir("docs/bench-results", { recursive: true });
await writeFile("docs/bench-results/sink.json", `${JSON.stringify(result, null, 2)}\n`);
await kadmin.deleteTopics({ topics: ALL_TOPICS.map((t) => ns + t) }).catch(() => {});
await kadmin.disconnect();
await admin.command({ query: `DROP DATABASE IF EXISTS ${db}` });
await Promise.all([admin.close(), ch.close()]);

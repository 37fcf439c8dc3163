/**
 * One consumer process of `npm run bench:consumers` (scripts/bench/consumers.ts): the ClickHouse
 * sink or the serving-index updater, alone, on the bench's topics and group. Reads commands on
 * stdin: `go` starts the part (so every process of a run has loaded before any consumes),
 * `stop` stops it, prints `STATS <json>` (the part's numbers and its CPU time since `go`) and
 * exits. Environment: BENCH_PART (sink | index),
 * BENCH_GROUP, BENCH_TOPIC_NAMESPACE, BENCH_CONCURRENCY, KAFKA_BROKERS, CLICKHOUSE_URL and
 * BENCH_CH_DATABASE (sink), REDIS_URL and BENCH_INDEX_NAMESPACE (index).
 */
import { createInterface } from "node:readline";
import { createClient } from "@clickhouse/client";
import { Redis } from "ioredis";
import { Kafka, logLevel } from "kafkajs";
import { pino } from "pino";
import { indexKeys, sinkSettleLeaseKey } from "#core/keys.ts";
import { IndexUpdater } from "../../origin/src/index/updater.ts";
import { IndexWriter } from "../../origin/src/index/writer.ts";
import { RedisLease } from "../../origin/src/lease.ts";
import type { Part } from "../../origin/src/lifecycle.ts";
import { ClickHouseSink } from "../../origin/src/sink/sink.ts";

const env = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};

const log = pino({ level: "warn" });
const kafka = new Kafka({
  clientId: `bench-consumer-${process.pid}`,
  brokers: (process.env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(","),
  logLevel: logLevel.NOTHING,
});
const common = {
  groupId: env("BENCH_GROUP"),
  topicNamespace: env("BENCH_TOPIC_NAMESPACE"),
  concurrency: Number(env("BENCH_CONCURRENCY")),
};
const close: (() => Promise<unknown>)[] = [];
let part: Part & { stats: object };
if (env("BENCH_PART") === "sink") {
  const ch = createClient({
    url: process.env.CLICKHOUSE_URL ?? "http://127.0.0.1:8123",
    database: env("BENCH_CH_DATABASE"),
    request_timeout: 60_000,
  });
  close.push(() => ch.close());
  // Two of these share the group: one settles early events at a time, as in the origin.
  const redis = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379", { maxRetriesPerRequest: 1 });
  close.push(async () => redis.disconnect());
  part = new ClickHouseSink(kafka, ch, log, {
    ...common,
    settleLease: new RedisLease(redis, sinkSettleLeaseKey(common.groupId, common.topicNamespace)),
  });
} else {
  const redis = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379", { maxRetriesPerRequest: 1 });
  close.push(async () => redis.disconnect());
  part = new IndexUpdater(kafka, new IndexWriter(redis, indexKeys(env("BENCH_INDEX_NAMESPACE"))), log, common);
}

console.log("LOADED");
let cpuAtGo = process.cpuUsage();
for await (const line of createInterface({ input: process.stdin })) {
  if (line === "go") {
    cpuAtGo = process.cpuUsage();
    await part.start();
    console.log("STARTED");
  } else if (line === "stop") {
    await part.stop(Date.now() + 10_000);
    for (const c of close) await c().catch(() => {});
    const cpu = process.cpuUsage(cpuAtGo);
    console.log(`STATS ${JSON.stringify({ ...part.stats, cpuMs: Math.round((cpu.user + cpu.system) / 1000) })}`);
    process.exit(0);
  }
}

/**
 * The local stack (`npm run stack:up`) is what every other integration test stands on: check
 * each service for real. A service that does not answer FAILS the test with a hint to start the
 * stack; skipping would let a missing stack look green.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { resolve } from "node:path";
import { Redis } from "ioredis";
import { Kafka, logLevel } from "kafkajs";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { rewriteAof } from "./redis.ts";

const host = "127.0.0.1";
const kafkaBroker = `${host}:${process.env.KAFKA_PORT || 9092}`;
const connectUrl = `http://${host}:${process.env.CONNECT_PORT || 8083}`;
const pgAdminUrl = process.env.PG_ADMIN_URL || "postgres://postgres@127.0.0.1:5432/postgres";
const redisUrl = process.env.REDIS_URL || "redis://127.0.0.1:6379";

const unique = (prefix: string) => `${prefix}-${randomBytes(5).toString("hex")}`;

/** Runs `fn`; a failure to reach `service` becomes an error that says how to start the stack. */
async function reach<T>(service: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new Error(`${service} is not reachable (${(err as Error).message}); run \`npm run stack:up\` first`, {
      cause: err,
    });
  }
}

describe("local stack", () => {
  it("Kafka: a message produced to a fresh topic is consumed back", async () => {
    const topic = unique("stack-test");
    const groupId = unique("stack-test-group");
    const kafka = new Kafka({
      clientId: unique("stack-test"),
      brokers: [kafkaBroker],
      connectionTimeout: 3000,
      retry: { retries: 2 },
      logLevel: logLevel.NOTHING,
    });
    const admin = kafka.admin();
    const producer = kafka.producer({ idempotent: true });
    const consumer = kafka.consumer({ groupId });
    await reach(`Kafka at ${kafkaBroker}`, () => admin.connect());
    try {
      await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
      const value = unique("hello");
      await producer.connect();
      await producer.send({ topic, acks: -1, messages: [{ key: "k", value }] });

      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      const received = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("no message consumed within 30 s")), 30_000);
        consumer
          .run({
            eachMessage: async ({ message }) => {
              clearTimeout(timer);
              resolve(message.value?.toString() ?? "");
            },
          })
          .catch(reject);
      });
      expect(received).toBe(value);
    } finally {
      await consumer.disconnect().catch(() => {});
      await producer.disconnect().catch(() => {});
      await admin.deleteTopics({ topics: [topic] }).catch(() => {});
      await admin.deleteGroups([groupId]).catch(() => {});
      await admin.disconnect();
    }
  });

  it("Kafka Connect lists the Debezium PostgreSQL connector", async () => {
    const res = await reach(`Kafka Connect at ${connectUrl}`, () => fetch(`${connectUrl}/connector-plugins`));
    expect(res.status).toBe(200);
    const plugins = (await res.json()) as { class: string }[];
    expect(plugins.map((p) => p.class)).toContain("io.debezium.connector.postgresql.PostgresConnector");
  });

  it("PostgreSQL runs with wal_level=logical and has the feed roles", async () => {
    const client = new pg.Client({ connectionString: pgAdminUrl, connectionTimeoutMillis: 3000 });
    await reach(`PostgreSQL at ${pgAdminUrl}`, () => client.connect());
    try {
      const wal = await client.query<{ wal_level: string }>("SHOW wal_level");
      expect(wal.rows[0]?.wal_level).toBe("logical");
      const roles = await client.query<{ rolname: string; rolcanlogin: boolean; rolreplication: boolean }>(
        "SELECT rolname, rolcanlogin, rolreplication FROM pg_roles WHERE rolname IN ('feed_app', 'feed_cdc') ORDER BY 1",
      );
      expect(roles.rows).toEqual([
        { rolname: "feed_app", rolcanlogin: true, rolreplication: false },
        { rolname: "feed_cdc", rolcanlogin: true, rolreplication: true },
      ]);
      const db = await client.query<{ owner: string }>(
        "SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = 'feed'",
      );
      expect(db.rows[0]?.owner).toBe("feed_app");
    } finally {
      await client.end();
    }
  });

  it("Redis answers PING", async () => {
    const client = new Redis(redisUrl, {
      lazyConnect: true,
      connectTimeout: 3000,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    client.on("error", () => {});
    try {
      await reach(`Redis at ${redisUrl}`, () => client.connect());
      expect(await client.ping()).toBe("PONG");
    } finally {
      client.disconnect();
    }
  });

  it("Redis: rewriteAof triggers an AOF rewrite and waits for it; stack:status shows the AOF's size", async () => {
    const client = new Redis(redisUrl, { lazyConnect: true, connectTimeout: 3000, maxRetriesPerRequest: 0 });
    client.on("error", () => {});
    try {
      await reach(`Redis at ${redisUrl}`, () => client.connect());
      const field = async (name: string) =>
        new RegExp(`^${name}:(.*)$`, "m").exec(await client.info("persistence"))?.[1]?.trim();
      // The stack turns AOF on (npm run stack:up); the bulk loads' rewrite needs it.
      expect(await field("aof_enabled")).toBe("1");
      // Some writes and their deletion: what a bulk load and its cleanup leave in the AOF.
      const key = unique("t:aof");
      const p = client.pipeline();
      for (let i = 0; i < 2000; i++) p.set(`${key}:${i}`, "x".repeat(100));
      await p.exec();
      await client.unlink(...Array.from({ length: 2000 }, (_, i) => `${key}:${i}`));
      const before = Number(await field("aof_rewrites"));
      const r = await rewriteAof(client, { timeoutMs: 120_000 });
      expect(r.rewritten).toBe(true);
      // It ran (counted) and is over when rewriteAof returns.
      expect(Number(await field("aof_rewrites"))).toBeGreaterThan(before);
      expect(await field("aof_rewrite_in_progress")).toBe("0");
      expect(await field("aof_rewrite_scheduled")).toBe("0");
      expect(await field("aof_last_bgrewrite_status")).toBe("ok");
    } finally {
      client.disconnect();
    }
    const root = resolve(import.meta.dirname, "../../..");
    let out: string;
    try {
      out = execFileSync("bash", ["scripts/with-node.sh", "tsx", "scripts/local/stack/cli.ts", "status"], {
        cwd: root,
        encoding: "utf8",
        timeout: 60_000,
      });
    } catch (err) {
      // Exit 1 when some other component is unhealthy; the Redis line is what this test reads.
      out = String((err as { stdout?: string }).stdout ?? "");
    }
    const line = out.split("\n").find((l) => l.startsWith("redis "));
    expect(line, out).toMatch(
      /AOF (?:[\d.]+ (?:B|KiB|MiB|GiB|TiB) on disk, )?aof_current_size [\d.]+ (?:B|KiB|MiB|GiB|TiB)/,
    );
  });
});

/**
 * The local stack (`npm run stack:up`) is what every other integration test stands on: check
 * each service for real. A service that does not answer FAILS the test with a hint to start the
 * stack; skipping would let a missing stack look green.
 */
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { Kafka, logLevel } from "kafkajs";
import pg from "pg";
import { describe, expect, it } from "vitest";

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
});

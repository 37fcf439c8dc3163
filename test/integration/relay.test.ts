import { randomBytes, randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { Kafka, logLevel } from "kafkajs";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EVENT_BATCH_STREAM_FIELD, EVENT_STREAM_FIELD } from "#core/events/schema.ts";
import { EventRelay } from "../../origin/src/relay/relay.ts";

const BROKERS = (process.env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(",");
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const log = pino({ level: "warn" });

function event(userId: string) {
  return {
    event_id: randomUUID(),
    user_id: userId,
    post_id: randomUUID(),
    type: "impression",
    client_ts: Date.now(),
    received_at: Date.now(),
    dwell_ms: 0,
  };
}

/** Reads every message of `topic` until `n` arrived (or times out); returns the event ids. */
async function consumeIds(kafka: Kafka, topic: string, n: number, timeoutMs = 20_000): Promise<string[]> {
  const consumer = kafka.consumer({ groupId: `relay-test-${randomBytes(4).toString("hex")}` });
  const ids: string[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${ids.length} of ${n} messages arrived`)), timeoutMs);
    void consumer.run({
      eachMessage: async ({ message }) => {
        ids.push((JSON.parse(String(message.value)) as { event_id: string }).event_id);
        if (ids.length >= n) {
          clearTimeout(timer);
          resolve();
        }
      },
    });
  });
  // Anything beyond n would be a duplicate: give it a moment to show up.
  await new Promise((r) => setTimeout(r, 500));
  await consumer.disconnect();
  return ids;
}

describe("event relay: Redis stream → Kafka", () => {
  const id = randomBytes(4).toString("hex");
  const stream = `t:relay:${id}`;
  const topic = `t-relay-${id}`;
  let redis: Redis;
  let kafka: Kafka;

  beforeAll(async () => {
    redis = new Redis(REDIS_URL, { lazyConnect: true });
    await redis.connect().catch((err) => {
      throw new Error(`Redis not reachable at ${REDIS_URL}; run \`npm run stack:up\``, { cause: err });
    });
    kafka = new Kafka({ clientId: `relay-test-${id}`, brokers: BROKERS, logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      topics: [
        { topic, numPartitions: 3 },
        { topic: `${topic}-b`, numPartitions: 3 },
      ],
      waitForLeaders: true,
    });
    await admin.disconnect();
  });

  afterAll(async () => {
    await redis?.del(stream);
    redis?.disconnect();
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [topic, `${topic}-b`] }).catch(() => {});
    await admin.disconnect();
  });

  it("relays every event exactly once, keyed by user, from single and batch entries, and leaves the stream empty", async () => {
    const users = [randomUUID(), randomUUID(), randomUUID()];
    const sent = Array.from({ length: 3400 }, (_, i) => event(users[i % 3] as string));
    const pipe = redis.pipeline();
    // 600 single-event entries, three batches of 100 (as the edge writes them) and one batch of
    // 2500 (more than one Kafka produce request).
    for (const e of sent.slice(0, 600)) pipe.xadd(stream, "*", EVENT_STREAM_FIELD, JSON.stringify(e));
    for (const [from, to] of [
      [600, 700],
      [700, 800],
      [800, 900],
      [900, 3400],
    ] as const)
      pipe.xadd(stream, "*", EVENT_BATCH_STREAM_FIELD, JSON.stringify(sent.slice(from, to)));
    await pipe.exec();

    const relayRedis = redis.duplicate();
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const relay = new EventRelay(relayRedis, producer, log, { stream, topic, group: `g-${id}`, blockMs: 100 });
    await relay.start();
    const ids = await consumeIds(kafka, topic, sent.length);
    await relay.stop();
    await producer.disconnect();
    relayRedis.disconnect();

    expect(ids).toHaveLength(sent.length);
    expect(new Set(ids)).toEqual(new Set(sent.map((e) => e.event_id)));
    expect(await redis.xlen(stream)).toBe(0);
    expect(relay.stats.relayed).toBe(sent.length);
    expect(relay.stats.entries).toBe(604);
  }, 60_000);

  it("reclaims entries a dead relay left pending and relays them", async () => {
    const group = `g2-${id}`;
    const topic2 = `${topic}-b`;
    const sent = Array.from({ length: 50 }, () => event(randomUUID()));
    for (const e of sent) await redis.xadd(stream, "*", EVENT_STREAM_FIELD, JSON.stringify(e));
    await redis.xgroup("CREATE", stream, group, "0");
    // A relay that read the entries and died before producing them: they stay pending.
    await redis.xreadgroup("GROUP", group, "dead-relay", "COUNT", 1000, "STREAMS", stream, ">");
    expect(Number(((await redis.xpending(stream, group)) as unknown[])[0])).toBe(50);

    const relayRedis = redis.duplicate();
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const relay = new EventRelay(relayRedis, producer, log, {
      stream,
      topic: topic2,
      group,
      claimIdleMs: 10,
      blockMs: 100,
    });
    await relay.start();
    const ids = await consumeIds(kafka, topic2, sent.length);
    await relay.stop();
    await producer.disconnect();
    relayRedis.disconnect();

    expect(new Set(ids)).toEqual(new Set(sent.map((e) => e.event_id)));
    expect(relay.stats.reclaimed).toBe(50);
    expect(Number(((await redis.xpending(stream, group)) as unknown[])[0])).toBe(0);
  }, 60_000);
});

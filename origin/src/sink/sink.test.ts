import { randomUUID } from "node:crypto";
import { type ClickHouseClient, ClickHouseError } from "@clickhouse/client";
import type { EachBatchPayload, Kafka } from "kafkajs";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { ClickHouseSink } from "./sink.ts";

const log = pino({ level: "silent" });

/** A Kafka whose one consumer hands its eachBatch to the test, and records commits. */
function fakeKafka() {
  const commits: unknown[] = [];
  let eachBatch: ((p: EachBatchPayload) => Promise<void>) | undefined;
  const consumer = {
    events: { FETCH: "fetch", START_BATCH_PROCESS: "start", HEARTBEAT: "heartbeat", CRASH: "crash" },
    on: () => {},
    connect: async () => {},
    subscribe: async () => {},
    run: async (opts: { eachBatch: (p: EachBatchPayload) => Promise<void> }) => {
      eachBatch = opts.eachBatch;
    },
    commitOffsets: async (offsets: unknown) => {
      commits.push(offsets);
    },
    disconnect: async () => {},
  };
  const kafka = { consumer: () => consumer } as unknown as Kafka;
  return { kafka, commits, eachBatch: (p: EachBatchPayload) => (eachBatch as NonNullable<typeof eachBatch>)(p) };
}

/** A ClickHouse that knows nothing yet and fails the first `failures` inserts with `error`. */
function fakeClickHouse(failures: number, error: () => Error) {
  let inserts = 0;
  const ch = {
    query: async () => ({ json: async () => [] }),
    insert: async () => {
      if (++inserts <= failures) throw error();
    },
  };
  return { ch: ch as unknown as ClickHouseClient, inserts: () => inserts };
}

function eventsBatch() {
  let heartbeats = 0;
  const event = {
    event_id: randomUUID(),
    user_id: randomUUID(),
    post_id: randomUUID(),
    type: "view",
    client_ts: Date.now(),
    received_at: Date.now(),
    dwell_ms: 0,
  };
  const payload = {
    batch: {
      topic: "events",
      partition: 0,
      messages: [{ offset: "41", key: null, value: Buffer.from(JSON.stringify(event)), timestamp: String(Date.now()) }],
    },
    heartbeat: async () => {
      heartbeats++;
    },
    isRunning: () => true,
    isStale: () => false,
    resolveOffset: () => {},
  } as unknown as EachBatchPayload;
  return { payload, heartbeats: () => heartbeats };
}

const refused = () => Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:8123"), { code: "ECONNREFUSED" });

describe("sink retries", () => {
  it("holds a batch while ClickHouse is down, heartbeating, and commits only once it landed", async () => {
    const k = fakeKafka();
    const c = fakeClickHouse(4, refused);
    const sink = new ClickHouseSink(k.kafka, c.ch, log);
    await sink.start();
    const b = eventsBatch();
    await k.eachBatch(b.payload);
    // Four refused, then the event, then its note in events_pending (this ClickHouse knows no post).
    expect(c.inserts()).toBe(6);
    expect(sink.stats.retries.insert).toBe(4);
    expect(b.heartbeats()).toBeGreaterThan(0); // four waits take at least 1.5 s
    expect(k.commits).toEqual([[{ topic: "events", partition: 0, offset: "42" }]]);
    await sink.stop();
  }, 10_000);

  it("throws a failure no retry fixes to kafkajs, uncommitted, without retrying", async () => {
    const k = fakeKafka();
    const unknownTable = () => new ClickHouseError({ message: "no events_raw", code: "60", type: "UNKNOWN_TABLE" });
    const c = fakeClickHouse(1, unknownTable);
    const sink = new ClickHouseSink(k.kafka, c.ch, log);
    await sink.start();
    await expect(k.eachBatch(eventsBatch().payload)).rejects.toThrow("no events_raw");
    expect([c.inserts(), sink.stats.retries.insert, k.commits.length]).toEqual([1, 0, 0]);
    await sink.stop();
  });

  it("stop() ends a held batch's wait at once, leaving it uncommitted", async () => {
    const k = fakeKafka();
    const c = fakeClickHouse(Number.POSITIVE_INFINITY, refused);
    const sink = new ClickHouseSink(k.kafka, c.ch, log);
    await sink.start();
    const held = k.eachBatch(eventsBatch().payload);
    while (sink.stats.retries.insert < 3) await new Promise((r) => setTimeout(r, 5));
    const t0 = Date.now();
    await sink.stop();
    await expect(held).rejects.toThrow();
    expect(Date.now() - t0).toBeLessThan(250);
    expect(k.commits).toEqual([]);
  });
});

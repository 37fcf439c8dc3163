import type { EachBatchPayload, Kafka } from "kafkajs";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { ResilientConsumer } from "./resilient-consumer.ts";

const log = pino({ level: "silent" });

function fakeKafka() {
  const commits: unknown[] = [];
  const consumer = {
    events: { FETCH: "fetch", START_BATCH_PROCESS: "start", HEARTBEAT: "heartbeat", CRASH: "crash" },
    on: () => {},
    connect: async () => {},
    subscribe: async () => {},
    run: async () => {},
    commitOffsets: async (offsets: unknown) => {
      commits.push(offsets);
    },
    disconnect: async () => {},
  };
  return { kafka: { consumer: () => consumer } as unknown as Kafka, commits };
}

const payload = (heartbeat: () => Promise<void>) =>
  ({
    batch: { topic: "events", partition: 3, messages: [{ offset: "9", timestamp: String(Date.now()) }] },
    heartbeat,
    isRunning: () => true,
    isStale: () => false,
    resolveOffset: () => {},
  }) as unknown as EachBatchPayload;

const refused = () => Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:8123"), { code: "ECONNREFUSED" });

describe("land", () => {
  it("gives a batch held by its store up when the group rebalances, uncommitted, with the heartbeat's error", async () => {
    const k = fakeKafka();
    const c = new ResilientConsumer(k.kafka, log, { groupId: "g", topics: ["events"], eachBatch: async () => {} });
    await c.start();
    const rebalance = Object.assign(new Error("The group is rebalancing"), { type: "REBALANCE_IN_PROGRESS" });
    let writes = 0;
    const t0 = Date.now();
    const landed = c.land(
      payload(() => Promise.reject(rebalance)),
      async () => {
        writes++;
        throw refused();
      },
      () => {},
    );
    await expect(landed).rejects.toBe(rebalance);
    // The first heartbeat goes after a second; the retry after it sees the rebalance.
    expect(Date.now() - t0).toBeLessThan(8000);
    expect(writes).toBeGreaterThan(1);
    expect(k.commits).toEqual([]);
    await c.stop();
  }, 15_000);

  it("keeps retrying through heartbeats that fail otherwise, then commits", async () => {
    const k = fakeKafka();
    const c = new ResilientConsumer(k.kafka, log, { groupId: "g", topics: ["events"], eachBatch: async () => {} });
    await c.start();
    let writes = 0;
    const landed = await c.land(
      payload(() => Promise.reject(new Error("socket hang up"))),
      async () => {
        if (++writes < 6) throw refused();
      },
      () => {},
    );
    expect(landed?.offset).toBe("9");
    expect(k.commits).toEqual([[{ topic: "events", partition: 3, offset: "10" }]]);
    await c.stop();
  }, 15_000);
});

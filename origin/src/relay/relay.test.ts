import type { Redis } from "ioredis";
import type { Producer } from "kafkajs";
import { KafkaJSConnectionError, KafkaJSNonRetriableError } from "kafkajs";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { EVENT_BATCH_STREAM_FIELD, EVENT_STREAM_FIELD } from "#core/events/schema.ts";
import { EventRelay, messagesOf } from "./relay.ts";

const ev = (user: string, n: number) => ({ event_id: `e${n}`, user_id: user, post_id: "p", type: "view" });

describe("relay: stream entry → Kafka messages", () => {
  it("a batch entry becomes one message per event, keyed by its user, in order", () => {
    const batch = [ev("u1", 1), ev("u2", 2), ev("u1", 3)];
    const out = messagesOf("1-0", [EVENT_BATCH_STREAM_FIELD, JSON.stringify(batch)]);
    expect(out.map((m) => m.key)).toEqual(["u1", "u2", "u1"]);
    expect(out.map((m) => JSON.parse(m.value))).toEqual(batch);
    expect(out.map((m) => m.headers)).toEqual([
      { "stream-id": "1-0", "stream-index": "0" },
      { "stream-id": "1-0", "stream-index": "1" },
      { "stream-id": "1-0", "stream-index": "2" },
    ]);
  });

  it("a single-event entry (older writers) is still one message", () => {
    const out = messagesOf("2-0", [EVENT_STREAM_FIELD, JSON.stringify(ev("u9", 9))]);
    expect(out).toEqual([{ key: "u9", value: JSON.stringify(ev("u9", 9)), headers: { "stream-id": "2-0" } }]);
  });

  it("a batch that is not a JSON array travels as one message, for the sink to dead-letter", () => {
    expect(messagesOf("3-0", [EVENT_BATCH_STREAM_FIELD, "{not json"])).toEqual([
      { key: null, value: "{not json", headers: { "stream-id": "3-0" } },
    ]);
    expect(messagesOf("4-0", [EVENT_BATCH_STREAM_FIELD, '{"a":1}'])).toHaveLength(1);
  });

  it("an empty batch produces nothing (and its entry is still acknowledged)", () => {
    expect(messagesOf("5-0", [EVENT_BATCH_STREAM_FIELD, "[]"])).toEqual([]);
  });
});

const log = pino({ level: "silent" });

/** A stream holding `n` single-event entries, delivered once; records what gets acknowledged. */
function fakeStream(n: number) {
  const acked: string[] = [];
  let delivered = false;
  const entries = Array.from({ length: n }, (_, i) => [
    `${i + 1}-0`,
    [EVENT_STREAM_FIELD, JSON.stringify({ event_id: `e${i}`, user_id: `u${i}` })],
  ]);
  const redis = {
    xgroup: async () => "OK",
    xautoclaim: async () => ["0-0", []],
    xreadgroup: async () => {
      if (delivered) {
        await new Promise((r) => setTimeout(r, 10)); // BLOCK with nothing new
        return null;
      }
      delivered = true;
      return [["s", entries]];
    },
    multi: () => {
      const m = {
        xack: (_s: string, _g: string, ...ids: string[]) => {
          acked.push(...ids);
          return m;
        },
        xdel: () => m,
        exec: async () => [],
      };
      return m;
    },
  };
  return { redis: redis as unknown as Redis, acked };
}

const failingProducer = (err: () => Error) => {
  let sends = 0;
  const producer = {
    send: async () => {
      sends++;
      throw err();
    },
  };
  return { producer: producer as unknown as Producer, sends: () => sends };
};

const until = async (cond: () => boolean, what: string) => {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > 5000) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe("relay retries", () => {
  it("holds a batch while Kafka is down and acknowledges nothing; stop() ends the wait at once", async () => {
    const s = fakeStream(3);
    const p = failingProducer(() => new KafkaJSConnectionError("Connection error: connect ECONNREFUSED"));
    const relay = new EventRelay(s.redis, p.producer, log, { stream: "s", topic: "events" });
    await relay.start();
    await until(() => relay.stats.retries.produce >= 2, "two produce retries");
    expect(relay.health().ok).toBe(true);
    const t0 = Date.now();
    await relay.stop(); // the wait before the next attempt is up to 1 s by now
    expect(Date.now() - t0).toBeLessThan(250);
    expect(s.acked).toEqual([]);
    expect(relay.stats.produceErrors).toBe(p.sends());
  });

  it("acknowledges the held batch once Kafka takes it", async () => {
    const s = fakeStream(3);
    let sends = 0;
    const producer = {
      send: async () => {
        if (++sends < 3) throw new KafkaJSConnectionError("Connection error: connect ECONNREFUSED");
      },
    } as unknown as Producer;
    const relay = new EventRelay(s.redis, producer, log, { stream: "s", topic: "events" });
    await relay.start();
    await until(() => s.acked.length === 3, "the batch acknowledged");
    await relay.stop();
    expect(s.acked).toEqual(["1-0", "2-0", "3-0"]);
    expect(relay.stats).toMatchObject({ relayed: 3, produceErrors: 2, retries: { produce: 2, stream: 0 } });
  });

  it("stops on a failure no retry fixes, says why, and leaves the batch pending", async () => {
    const s = fakeStream(2);
    const p = failingProducer(() => new KafkaJSNonRetriableError("topic authorization failed"));
    const relay = new EventRelay(s.redis, p.producer, log, { stream: "s", topic: "events" });
    await relay.start();
    await until(() => !relay.health().ok, "the relay to give up");
    expect(p.sends()).toBe(1);
    expect(relay.stats.retries.produce).toBe(0);
    expect(relay.health().detail).toMatchObject({ error: "topic authorization failed" });
    expect(s.acked).toEqual([]);
    await relay.stop();
  });
});

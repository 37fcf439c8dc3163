import { describe, expect, it } from "vitest";
import { EVENT_BATCH_STREAM_FIELD, EVENT_STREAM_FIELD } from "../../../edge/core/index.ts";
import { messagesOf } from "./relay.ts";

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

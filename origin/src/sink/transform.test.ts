import { describe, expect, it } from "vitest";
import { chDateTime64 } from "#core/sql/clickhouse-time.ts";
import { cdcRow, countable, DeadLetter, eventRow, parseJson, sequenceChanges } from "./transform.ts";

const A = "11111111-1111-4111-8111-111111111111";
const B = "22222222-2222-4222-8222-222222222222";
const P = "33333333-3333-4333-8333-333333333333";
const like = (deleted_at: string | null = null) => ({
  user_id: A,
  post_id: P,
  post_author_id: B,
  created_at: "2026-11-25T12:00:00.123456Z",
  updated_at: "2026-11-25T12:00:01Z",
  deleted_at,
});
const source = { lsn: 12345, ts_ms: 1_795_608_000_000 };

describe("cdcRow", () => {
  it("maps an insert to a live row with the LSN as version and UTC times", () => {
    const r = cdcRow("likes", { op: "c", before: null, after: like(), source });
    expect(r?.row).toEqual({
      user_id: A,
      post_id: P,
      post_author_id: B,
      created_at: "2026-11-25 12:00:00.123",
      updated_at: "2026-11-25 12:00:01.000",
      deleted_at: null,
      _version: 12345,
      _is_deleted: 0,
      _sign: 0,
      _source_ts: chDateTime64(source.ts_ms),
    });
    expect(r?.key).toBe(`${P}|${A}`);
    expect(r?.version).toBe(12345);
    expect(r?.live).toBe(1);
  });

  it("a soft delete (update setting deleted_at) is not live and stays a row", () => {
    const r = cdcRow("likes", { op: "u", before: like(), after: like("2026-11-25T13:00:00Z"), source });
    expect(r?.live).toBe(0);
    expect(r?.row._is_deleted).toBe(0);
    expect(r?.row.deleted_at).toBe("2026-11-25 13:00:00.000");
  });

  it("a hard delete uses the before image, is flagged deleted and not live", () => {
    const r = cdcRow("likes", { op: "d", before: like(), after: null, source });
    expect(r?.row._is_deleted).toBe(1);
    expect(r?.live).toBe(0);
    expect(r?.row.user_id).toBe(A);
  });

  it("a tombstone is skipped", () => {
    expect(cdcRow("likes", null)).toBeNull();
  });

  it.each([
    ["not an object", [1, 2], /JSON object/],
    ["unknown op", { op: "x", source, after: like() }, /unknown op/],
    ["truncate", { op: "t", source }, /TRUNCATE/],
    ["no lsn", { op: "c", source: { ts_ms: 1 }, after: like() }, /lsn/],
    ["bad uuid", { op: "c", source, after: { ...like(), user_id: "nope" } }, /likes.user_id: expected a UUID/],
    ["bad time", { op: "c", source, after: { ...like(), created_at: "yesterday" } }, /created_at/],
    ["delete without before", { op: "d", source, before: null }, /before image/],
  ])("dead-letters a message with a reason: %s", (_n, value, reason) => {
    expect(() => cdcRow("likes", value)).toThrow(DeadLetter);
    expect(() => cdcRow("likes", value)).toThrow(reason);
  });

  it("takes a UUID column in either case and keeps its lowercase form", () => {
    const upper = like().user_id.toUpperCase();
    const out = cdcRow("likes", { op: "c", source, after: { ...like(), user_id: upper } });
    expect(out?.row.user_id).toBe(upper.toLowerCase());
  });
});

describe("eventRow", () => {
  const ev = {
    event_id: A,
    user_id: B,
    post_id: P,
    type: "share",
    client_ts: 1_795_608_000_000,
    received_at: 1_795_608_000_500,
  };
  it("maps a relayed event with zero author, default dwell and counted until the sink decides", () => {
    expect(eventRow(ev)).toEqual({
      event_id: A,
      user_id: B,
      post_id: P,
      author_id: "00000000-0000-0000-0000-000000000000",
      type: "share",
      dwell_ms: 0,
      counted: 1,
      client_ts: "2026-11-25 12:00:00.000",
      received_at: "2026-11-25 12:00:00.500",
    });
  });
  it("gives the counting rule the receive time back in epoch ms", () => {
    expect(countable(eventRow(ev))).toEqual({ user_id: B, post_id: P, type: "share", received_at_ms: ev.received_at });
  });
  it("dead-letters an invalid event naming the field", () => {
    expect(() => eventRow({ ...ev, type: "purchase" })).toThrow(/type/);
    expect(() => eventRow({ ...ev, extra: 1 })).toThrow(DeadLetter);
  });
});

describe("parseJson", () => {
  it("treats an empty value as a tombstone and bad JSON as a dead letter", () => {
    expect(parseJson(null)).toBeNull();
    expect(() => parseJson(Buffer.from("{nope"))).toThrow(/invalid JSON/);
  });
});

describe("sequenceChanges", () => {
  const change = (key: string, version: number, live: number) =>
    ({ table: "likes", row: { k: key }, key, version, live }) as Parameters<typeof sequenceChanges>[0][number];

  it("signs each change against the previous state of its key", () => {
    const { rows, skipped } = sequenceChanges(
      [change("a", 10, 1), change("a", 11, 0), change("a", 12, 1), change("b", 5, 0)],
      new Map(),
    );
    expect(rows.map((r) => r._sign)).toEqual([1, -1, 1, 0]);
    expect(skipped).toBe(0);
  });

  it("continues from what ClickHouse holds, and skips redelivered or older changes", () => {
    const known = new Map([["a", { version: 11, live: 1 }]]);
    const { rows, skipped } = sequenceChanges([change("a", 10, 1), change("a", 11, 1), change("a", 12, 0)], known);
    expect(skipped).toBe(2);
    expect(rows.map((r) => r._sign)).toEqual([-1]);
  });

  it("a re-snapshot of an unchanged live row counts nothing", () => {
    const { rows } = sequenceChanges([change("a", 99, 1)], new Map([["a", { version: 11, live: 1 }]]));
    expect(rows.map((r) => r._sign)).toEqual([0]);
  });
});

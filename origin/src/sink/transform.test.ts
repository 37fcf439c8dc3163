import { describe, expect, it } from "vitest";
import { cdcRow, chTime, DeadLetter, eventRow, parseJson } from "./transform.ts";

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
  it("maps an insert to a live row with sign +1, the LSN as version and UTC times", () => {
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
      _sign: 1,
      _source_ts: chTime(source.ts_ms),
    });
    expect(r?.changeKey).toBe(`${P}|${A}|12345`);
  });

  it("a soft delete (update setting deleted_at) has sign -1 and stays a row", () => {
    const r = cdcRow("likes", { op: "u", before: like(), after: like("2026-11-25T13:00:00Z"), source });
    expect(r?.row._sign).toBe(-1);
    expect(r?.row._is_deleted).toBe(0);
    expect(r?.row.deleted_at).toBe("2026-11-25 13:00:00.000");
  });

  it("an update that keeps the row live has sign 0; a revive has +1", () => {
    expect(cdcRow("likes", { op: "u", before: like(), after: like(), source })?.row._sign).toBe(0);
    expect(cdcRow("likes", { op: "u", before: like("2026-11-25T13:00:00Z"), after: like(), source })?.row._sign).toBe(
      1,
    );
  });

  it("a hard delete uses the before image, is flagged deleted and has sign -1 (0 if already soft-deleted)", () => {
    const r = cdcRow("likes", { op: "d", before: like(), after: null, source });
    expect(r?.row._is_deleted).toBe(1);
    expect(r?.row._sign).toBe(-1);
    expect(cdcRow("likes", { op: "d", before: like("2026-11-25T13:00:00Z"), after: null, source })?.row._sign).toBe(0);
  });

  it("a snapshot read counts like an insert", () => {
    expect(cdcRow("likes", { op: "r", before: null, after: like(), source })?.row._sign).toBe(1);
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
  it("maps a relayed event with zero author and default dwell", () => {
    expect(eventRow(ev)).toEqual({
      event_id: A,
      user_id: B,
      post_id: P,
      author_id: "00000000-0000-0000-0000-000000000000",
      type: "share",
      dwell_ms: 0,
      client_ts: "2026-11-25 12:00:00.000",
      received_at: "2026-11-25 12:00:00.500",
    });
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

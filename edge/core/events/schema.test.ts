import { describe, expect, it } from "vitest";
import { acceptEvents } from "./schema.ts";

const USER = "11111111-1111-4111-8111-111111111111";
const POST = "22222222-2222-4222-8222-222222222222";
const NOW = Date.parse("2026-11-25T12:00:00Z");

describe("acceptEvents", () => {
  it("stamps receive time, takes the user from the caller, generates missing ids, keeps given ones", () => {
    const given = "33333333-3333-4333-8333-333333333333";
    const { records, rejected } = acceptEvents(
      [
        { type: "impression", post_id: POST },
        { type: "view", post_id: POST.toUpperCase(), event_id: given.toUpperCase(), ts: "2026-11-25T11:59:00Z" },
        { type: "dwell", post_id: POST, dwell_ms: 1500, ts: NOW - 1000 },
      ],
      USER,
      NOW,
      () => "44444444-4444-4444-8444-444444444444",
    );
    expect(rejected).toEqual([]);
    expect(records).toEqual([
      {
        event_id: "44444444-4444-4444-8444-444444444444",
        user_id: USER,
        post_id: POST,
        type: "impression",
        client_ts: NOW,
        received_at: NOW,
        dwell_ms: 0,
      },
      {
        event_id: given,
        user_id: USER,
        post_id: POST,
        type: "view",
        client_ts: NOW - 60_000,
        received_at: NOW,
        dwell_ms: 0,
      },
      {
        event_id: "44444444-4444-4444-8444-444444444444",
        user_id: USER,
        post_id: POST,
        type: "dwell",
        client_ts: NOW - 1000,
        received_at: NOW,
        dwell_ms: 1500,
      },
    ]);
  });

  it("rejects bad events individually and keeps the good ones", () => {
    const { records, rejected } = acceptEvents(
      [{ type: "view", post_id: POST }, { type: "share" }, "nope"],
      USER,
      NOW,
      () => "44444444-4444-4444-8444-444444444444",
    );
    expect(records).toHaveLength(1);
    expect(rejected.map((r) => r.index)).toEqual([1, 2]);
    expect(rejected[0]?.error).toMatch(/^post_id:/);
  });
});

import { describe, expect, it } from "vitest";
import { feedVersionBumps } from "../feed/invalidation.ts";
import { FEED_VERSION_TTL_S, feedVersionKey, SEEN_TTL_S, seenKey, snapshotPointerKey } from "../keys.ts";
import { MAX_SEEN_PER_USER, planIntake } from "./intake.ts";
import { EVENT_BATCH_STREAM_FIELD, type EventRecord } from "./schema.ts";

const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;
const U = id(1);
const rec = (type: EventRecord["type"], n: number, extra: Partial<EventRecord> = {}): EventRecord =>
  ({
    event_id: id(100 + n),
    user_id: U,
    post_id: id(200 + n),
    type,
    ts: 1000 + n,
    received_at: 2000 + n,
    ...extra,
  }) as EventRecord;

describe("the event intake plan", () => {
  it("reads the pointer first for an untagged batch, then appends it tagged, marks impressions seen and bumps the version", () => {
    const plan = planIntake("events", U, [rec("impression", 1), rec("view", 2), rec("impression", 3)]);
    expect(plan.reads).toEqual([["GET", snapshotPointerKey(U)]]);
    const pointer = JSON.stringify({ rankingId: "r", experiment: { experiment: "exp-a", variant: "b" } });
    const [append, ...rest] = plan.writes([pointer]);
    expect(append?.slice(0, 4)).toEqual(["XADD", "events", "*", EVENT_BATCH_STREAM_FIELD]);
    expect(JSON.parse(append?.[4] as string).map((r: EventRecord) => [r.experiment, r.variant])).toEqual([
      ["exp-a", "b"],
      ["exp-a", "b"],
      ["exp-a", "b"],
    ]);
    expect(rest).toEqual([
      ["ZADD", seenKey(U), "2001", id(201), "2003", id(203)],
      ["ZREMRANGEBYRANK", seenKey(U), "0", String(-(MAX_SEEN_PER_USER + 1))],
      ["EXPIRE", seenKey(U), String(SEEN_TTL_S)],
      ["INCR", feedVersionKey(U)],
      ["EXPIRE", feedVersionKey(U), String(FEED_VERSION_TTL_S)],
    ]);
  });

  it("without a pointer (or outside any experiment) the entry is the batch byte for byte", () => {
    const records = [rec("impression", 1), rec("view", 2)];
    const plan = planIntake("events", U, records);
    expect(plan.writes([null])[0]?.[4]).toBe(JSON.stringify(records));
    expect(plan.writes([JSON.stringify({ rankingId: "r", experiment: null })])[0]?.[4]).toBe(JSON.stringify(records));
  });

  it("a batch that names its experiments reads nothing first and is a plain XADD; views alone neither mark seen nor bump", () => {
    const records = [rec("view", 1, { experiment: "e", variant: "v" })];
    const plan = planIntake("s", U, records);
    expect(plan.reads).toEqual([]);
    const cmds = plan.writes([]);
    expect(cmds).toEqual([["XADD", "s", "*", EVENT_BATCH_STREAM_FIELD, JSON.stringify(records)]]);
  });

  it("a version bump names each user once", () => {
    expect(feedVersionBumps([U, U, id(2)]).map((c) => c.slice(0, 2))).toEqual([
      ["INCR", feedVersionKey(U)],
      ["EXPIRE", feedVersionKey(U)],
      ["INCR", feedVersionKey(id(2))],
      ["EXPIRE", feedVersionKey(id(2))],
    ]);
  });
});

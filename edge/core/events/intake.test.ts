import { describe, expect, it } from "vitest";
import { feedVersionBumps } from "../feed/invalidation.ts";
import { FEED_VERSION_TTL_S, feedVersionKey, SEEN_TTL_S, seenKey, snapshotPointerKey } from "../keys.ts";
import { intakeCommands, MAX_SEEN_PER_USER } from "./intake.ts";
import { EVENT_BATCH_STREAM_FIELD, type EventRecord, XADD_WITH_EXPERIMENT_TAGS_LUA } from "./schema.ts";

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
  it("appends an untagged batch through the tagging script, marks impressions seen and bumps the version", () => {
    const cmds = intakeCommands("events", U, [rec("impression", 1), rec("view", 2), rec("impression", 3)]);
    const [append, ...rest] = cmds;
    expect(append?.slice(0, 6)).toEqual([
      "EVAL",
      XADD_WITH_EXPERIMENT_TAGS_LUA,
      "2",
      "events",
      snapshotPointerKey(U),
      EVENT_BATCH_STREAM_FIELD,
    ]);
    expect(rest).toEqual([
      ["ZADD", seenKey(U), "2001", id(201), "2003", id(203)],
      ["ZREMRANGEBYRANK", seenKey(U), "0", String(-(MAX_SEEN_PER_USER + 1))],
      ["EXPIRE", seenKey(U), String(SEEN_TTL_S)],
      ["INCR", feedVersionKey(U)],
      ["EXPIRE", feedVersionKey(U), String(FEED_VERSION_TTL_S)],
    ]);
  });

  it("a batch that names its experiments is a plain XADD; views alone neither mark seen nor bump", () => {
    const cmds = intakeCommands("s", U, [rec("view", 1, { experiment: "e", variant: "v" })]);
    expect(cmds).toHaveLength(1);
    expect(cmds[0]?.slice(0, 4)).toEqual(["XADD", "s", "*", EVENT_BATCH_STREAM_FIELD]);
    expect(JSON.parse(cmds[0]?.[4] as string)).toBeTruthy();
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

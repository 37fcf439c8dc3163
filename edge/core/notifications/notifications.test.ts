import { describe, expect, it } from "vitest";
import { indexKeys, NOTIFICATION_TTL_S, notificationKeys } from "../keys.ts";
import { decodeNotificationCursor, encodeNotificationCursor, NotificationCursorError } from "./cursor.ts";
import {
  decodeSummary,
  encodeSummary,
  expectedGroups,
  groupId,
  groupOf,
  notifies,
  parseGroupId,
  summaryOf,
  utcDay,
} from "./groups.ts";
import { actorReads, actorsOf, pageRead, parseActorReads, parsePageReply, presentPage } from "./read.ts";
import { seenBodySchema, seenWrite, untilMs } from "./seen.ts";
import { notifyCall, postGoneCall } from "./write.ts";

const POST = "0198c0de-0000-7000-8000-00000000000a";
const [A, B, C, D, E] = ["a", "b", "c", "d", "e"].map((x) => `0198c0de-0000-7000-8000-00000000000${x}`) as [
  string,
  string,
  string,
  string,
  string,
];
const DAY = Date.UTC(2026, 0, 15);
const H = 3600_000;

describe("groups", () => {
  it("groups likes and comments per post and UTC day, follows per day", () => {
    expect(utcDay(DAY + 23 * H)).toBe("2026-01-15");
    expect(utcDay(DAY + 24 * H)).toBe("2026-01-16");
    expect(groupId("like", POST, "2026-01-15")).toBe(`l:${POST}:2026-01-15`);
    expect(groupId("comment", POST, "2026-01-15")).toBe(`c:${POST}:2026-01-15`);
    expect(groupId("follow", null, "2026-01-15")).toBe("f:2026-01-15");
    // A take-back names its action's group: the day is the action's created_at, not now.
    expect(groupOf({ kind: "like", postId: POST, createdMs: DAY + 5 })).toBe(`l:${POST}:2026-01-15`);
  });

  it("reads a group id back, and nothing else", () => {
    expect(parseGroupId(`c:${POST}:2026-01-15`)).toEqual({ kind: "comment", postId: POST, day: "2026-01-15" });
    expect(parseGroupId("f:2026-01-15")).toEqual({ kind: "follow", postId: null, day: "2026-01-15" });
    for (const bad of ["", "x:2026-01-15", `l:${POST}`, "f:2026-1-15", `f:${POST}:2026-01-15`, `l:nope:2026-01-15`]) {
      expect(parseGroupId(bad), bad).toBeNull();
    }
  });

  it("never notifies one of their own action", () => {
    expect(notifies({ recipient: A, actorId: A })).toBe(false);
    expect(notifies({ recipient: A, actorId: B })).toBe(true);
  });

  it("encodes a summary as the write script does, and refuses a malformed one", () => {
    const s = {
      count: 4,
      actors: [
        { id: B, ms: 20 },
        { id: C, ms: 10 },
      ],
    };
    expect(encodeSummary(s)).toBe(`4|${B},20,${C},10`);
    expect(decodeSummary(encodeSummary(s))).toEqual(s);
    expect(decodeSummary("0|")).toEqual({ count: 0, actors: [] });
    for (const bad of [null, 3, "", "|x,1", "x|", `2|${B},soon`]) expect(decodeSummary(bad)).toBeNull();
  });

  it("the model: one entry per distinct actor at their newest time, newest group first, bounded", () => {
    const now = DAY + 12 * H;
    const groups = expectedGroups(
      [
        { kind: "like", actorId: B, postId: POST, itemId: null, createdMs: DAY + 1 * H },
        { kind: "like", actorId: C, postId: POST, itemId: null, createdMs: DAY + 3 * H },
        { kind: "comment", actorId: B, postId: POST, itemId: "c1", createdMs: DAY + 2 * H },
        { kind: "comment", actorId: B, postId: POST, itemId: "c2", createdMs: DAY + 4 * H },
        { kind: "follow", actorId: D, postId: null, itemId: null, createdMs: DAY - 2 * H },
        // older than the window: its group is gone
        { kind: "follow", actorId: E, postId: null, itemId: null, createdMs: now - NOTIFICATION_TTL_S * 1000 - 1 },
      ],
      now,
    );
    expect(groups.map((g) => [g.gid, g.latestMs, Object.fromEntries(g.actors)])).toEqual([
      [`c:${POST}:2026-01-15`, DAY + 4 * H, { [B]: DAY + 4 * H }],
      [`l:${POST}:2026-01-15`, DAY + 3 * H, { [B]: DAY + 1 * H, [C]: DAY + 3 * H }],
      ["f:2026-01-14", DAY - 2 * H, { [D]: DAY - 2 * H }],
    ]);
    expect(expectedGroups([], now)).toEqual([]);
    const many = Array.from({ length: 5 }, (_, i) => ({
      kind: "follow" as const,
      actorId: B,
      postId: null,
      itemId: null,
      createdMs: DAY - i * 24 * H,
    }));
    expect(expectedGroups(many, now, 2).map((g) => g.gid)).toEqual(["f:2026-01-15", "f:2026-01-14"]);
  });

  it("a summary names the newest actors, ties by id descending (as ZRANGE … REV orders them)", () => {
    const actors = new Map([
      [B, 5],
      [C, 9],
      [D, 5],
    ]);
    expect(summaryOf(actors)).toEqual({
      count: 3,
      actors: [
        { id: C, ms: 9 },
        { id: D, ms: 5 },
        { id: B, ms: 5 },
      ],
    });
    expect(summaryOf(actors, 1).actors).toEqual([{ id: C, ms: 9 }]);
  });
});

describe("write plan", () => {
  it("names the recipient's keys (one hash tag) and the change", () => {
    const keys = notificationKeys("t1:");
    const call = notifyCall(
      keys,
      { kind: "comment", recipient: A, actorId: B, postId: POST, itemId: "c9", createdMs: DAY + 7, live: false },
      DAY + 100,
    );
    const gid = `c:${POST}:2026-01-15`;
    expect(call.keys).toEqual([
      `t1:nt:{${A}}:g`,
      `t1:nt:{${A}}:s`,
      `t1:nt:{${A}}:a:${gid}`,
      `t1:nt:{${A}}:c:${gid}`,
      `t1:nt:{${A}}:dp`,
    ]);
    expect(new Set(call.keys.map((k) => /\{([^}]+)\}/.exec(k)?.[1]))).toEqual(new Set([A]));
    expect(call.args.slice(0, 6)).toEqual([gid, B, "c9", String(DAY + 7), "0", String(DAY + 100)]);
    // The post, so that a change of a deleted post's like or comment changes nothing.
    expect(call.args[9]).toBe(POST);
  });

  it("a deleted post's call names the author's keys and the post", () => {
    const call = postGoneCall(notificationKeys("t1:"), { kind: "post-gone", recipient: A, postId: POST }, DAY);
    expect(call.keys).toEqual([`t1:nt:{${A}}:g`, `t1:nt:{${A}}:s`, `t1:nt:{${A}}:dp`]);
    expect(call.args.slice(0, 2)).toEqual([POST, String(DAY)]);
  });
});

describe("read plan", () => {
  const keys = notificationKeys("");
  const gid1 = `l:${POST}:2026-01-15`;
  const gid2 = "f:2026-01-15";
  const gid3 = `c:${POST}:2026-01-14`;
  const sums = [
    `4|${B},${DAY + 3 * H},${C},${DAY + 2 * H},${D},${DAY + H},${E},${DAY}`,
    `1|${E},${DAY + H}`,
    `1|${B},${DAY - H}`,
  ];
  const reply = [
    String(DAY + 2 * H), // seen
    1, // unread
    [gid1, String(DAY + 3 * H), gid2, String(DAY + 1 * H), gid3, String(DAY - H)],
    sums,
  ];

  it("reads one page past the limit, with the seen mark and the window", () => {
    const cmd = pageRead(keys, A, { score: 5, id: gid2 }, 2, DAY);
    expect(cmd.slice(2)).toEqual([
      "3",
      keys.groups(A),
      keys.summaries(A),
      keys.seen(A),
      "1",
      "1",
      "5",
      gid2,
      "3",
      String(DAY),
    ]);
  });

  it("parses the page: at most limit groups, a cursor when more follow", () => {
    const page = parsePageReply(reply, 2);
    expect(page.seenMs).toBe(DAY + 2 * H);
    expect(page.unread).toBe(1);
    expect(page.groups.map((g) => [g.gid, g.kind, g.postId, g.day, g.latestMs, g.summary.count])).toEqual([
      [gid1, "like", POST, "2026-01-15", DAY + 3 * H, 4],
      [gid2, "follow", null, "2026-01-15", DAY + H, 1],
    ]);
    expect(page.next).toEqual({ score: DAY + H, id: gid2 });
    expect(parsePageReply(reply, 3).next).toBeNull();
    expect(parsePageReply(null, 3)).toEqual({ seenMs: 0, unread: 0, groups: [], next: null });
    // A group whose summary is gone (or malformed) is left out; the cursor still moves past it.
    const broken = parsePageReply([reply[0], reply[1], reply[2], [null, "x", sums[2]]], 2);
    expect(broken.groups).toEqual([]);
    expect(broken.next).toEqual({ score: DAY + H, id: gid2 });
  });

  it("reads each actor's card and the viewer's blocks of them", () => {
    const page = parsePageReply(reply, 3);
    const ids = actorsOf(page.groups);
    expect(ids).toEqual([B, C, D, E]);
    const ik = indexKeys("");
    expect(actorReads(ik, A, ids)).toEqual([
      ["HMGET", ik.profile(B), "h", "n"],
      ["HMGET", ik.profile(C), "h", "n"],
      ["HMGET", ik.profile(D), "h", "n"],
      ["HMGET", ik.profile(E), "h", "n"],
      ["SMISMEMBER", ik.blocksOut(A), B, C, D, E],
      ["SMISMEMBER", ik.blocksIn(A), B, C, D, E],
    ]);
    expect(actorReads(ik, A, [])).toEqual([]);
  });

  it("leaves out blocked (either way) and deleted actors, from the actors and the count; a group with none left goes", () => {
    const page = parsePageReply(reply, 3);
    const ids = actorsOf(page.groups); // B, C, D, E
    const visible = parseActorReads(ids, [
      ["bee", "Bee"],
      ["cee", ""],
      [null, null], // D deleted
      ["ee", "Ee"],
      [0, 0, 0, 1], // A blocks E
      [1, 0, 0, 0], // B blocks A
    ]);
    expect([...visible.keys()]).toEqual([C]);
    const out = presentPage(page, visible, encodeNotificationCursor);
    expect(out).toEqual({
      items: [
        {
          id: gid1,
          kind: "like",
          post_id: POST,
          day: "2026-01-15",
          actors: [{ id: C, handle: "cee", display_name: "" }],
          count: 1,
          latest_at: new Date(DAY + 3 * H).toISOString(),
          unread: true,
        },
      ],
      unread: 1,
      next_cursor: null,
    });
  });

  it("shows at most 3 actors, newest first; unread while latest_at is after the seen mark", () => {
    const page = parsePageReply(reply, 3);
    const ids = actorsOf(page.groups);
    const cards = ids.map((_, i) => [`h${i}`, `n${i}`]);
    const visible = parseActorReads(ids, [...cards, [0, 0, 0, 0], [0, 0, 0, 0]]);
    const out = presentPage(page, visible, encodeNotificationCursor);
    expect(out.items.map((i) => [i.id, i.actors.map((a) => a.id), i.count, i.unread])).toEqual([
      [gid1, [B, C, D], 4, true],
      [gid2, [E], 1, false],
      [gid3, [B], 1, false],
    ]);
    // The seen mark itself is read: latest_at equal to it is not unread.
    const atMark = parsePageReply([String(DAY + H), 0, reply[2], reply[3]], 3);
    expect(presentPage(atMark, visible, encodeNotificationCursor).items[1]?.unread).toBe(false);
  });
});

describe("cursor", () => {
  it("round-trips a position and refuses anything else", () => {
    const c = { score: DAY, id: `l:${POST}:2026-01-15` };
    expect(decodeNotificationCursor(encodeNotificationCursor(c))).toEqual(c);
    for (const bad of ["", "x", "12", `12_nope`, `-1_f:2026-01-15`, `01_f:2026-01-15`, `1e3_f:2026-01-15`]) {
      expect(() => decodeNotificationCursor(bad), bad).toThrow(NotificationCursorError);
    }
  });
});

describe("seen", () => {
  it("takes epoch ms or ISO, and never a mark after now", () => {
    const now = DAY + 10 * H;
    expect(untilMs(seenBodySchema.parse({ until: DAY }), now)).toBe(DAY);
    expect(untilMs(seenBodySchema.parse({ until: new Date(DAY + H).toISOString() }), now)).toBe(DAY + H);
    expect(untilMs(seenBodySchema.parse({ until: "2026-01-15T03:00:00+02:00" }), now)).toBe(DAY + H);
    expect(untilMs(seenBodySchema.parse({ until: now + 1e9 }), now)).toBe(now);
    for (const bad of [{}, { until: -1 }, { until: 1.5 }, { until: "yesterday" }, { until: DAY, extra: 1 }, null]) {
      expect(seenBodySchema.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
  });

  it("writes the mark through a script that only raises it", () => {
    const keys = notificationKeys("n:");
    const cmd = seenWrite(keys, A, DAY);
    expect(cmd[0]).toBe("EVAL");
    expect(cmd.slice(2)).toEqual(["1", keys.seen(A), String(DAY), String(NOTIFICATION_TTL_S)]);
    expect(cmd[1]).toContain("if want > cur then");
  });
});

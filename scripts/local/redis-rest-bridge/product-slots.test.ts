/**
 * The product's transactions and scripts on a Redis Cluster (docs/scale.md "Redis Cluster: keys
 * and slots", rows 1–4): every key one transaction or script touches hashes to one slot, and the
 * plans that are no longer transactions send one-key commands only. The slots are the bridge's
 * (keySlot: CRC16 as Redis Cluster computes it), the commands the product's own plans.
 */
import { describe, expect, it } from "vitest";
import { planIntake } from "#core/events/intake.ts";
import type { EventRecord } from "#core/events/schema.ts";
import { hotPostsWrites } from "#core/feed/hot-posts.ts";
import { invalidationCommands } from "#core/feed/invalidation.ts";
import { snapshotWrites } from "#core/feed/miss.ts";
import {
  EVENTS_STREAM_KEY,
  feedVersionKey,
  HOT_POSTS_KEY,
  hotPostIdsKey,
  indexKeys,
  seenKey,
  snapshotKey,
  snapshotPointerKey,
} from "#core/keys.ts";
import type { RankedItem } from "#core/ranking/rank.ts";
import type { Command } from "#core/serving/read.ts";
import { pageReads, type Snapshot } from "#core/serving/snapshot.ts";
import { commandKeys, keySlot, slotsOf } from "./cluster.ts";

const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;
const A = id(1);
const B = id(2);

const item = (n: number): RankedItem => ({
  postId: id(100 + n),
  authorId: id(200 + n),
  createdAtMs: 1000 + n,
  text: `post ${n}`,
  source: "trending",
  score: 1 / (n + 1),
  explain: { freshness: 1, engagement: 0, affinity: 0, score: 1, diversityMultiplier: 1 },
});

const snapshot = (viewerId: string): Snapshot => ({
  meta: {
    v: 3,
    rankingId: "abcdefabcdefabcdefabcdef",
    viewerId,
    builtAtMs: 5000,
    count: 2,
    path: "index",
    ver: 0,
    experiment: { experiment: "exp-a", variant: "control" },
  },
  items: [item(0), item(1)],
});

const record = (type: EventRecord["type"], n: number, extra: Partial<EventRecord> = {}): EventRecord =>
  ({
    event_id: id(300 + n),
    user_id: A,
    post_id: id(100 + n),
    type,
    client_ts: 1000 + n,
    received_at: 2000 + n,
    dwell_ms: 0,
    ...extra,
  }) as EventRecord;

/** Every key the commands name (as Redis's command table declares them). */
const keysOf = (commands: readonly Command[]) => commands.flatMap((c) => commandKeys(c).map(String));

/** Each command on its own names at most one key: a pipeline of them is fine on any cluster. */
function oneKeyEach(commands: readonly Command[]): void {
  for (const c of commands) expect(commandKeys(c), c.slice(0, 2).join(" ")).toHaveLength(c[0] === "PING" ? 0 : 1);
}

describe("row 2: a snapshot save is one slot, the viewer's", () => {
  it("the MULTI's list and pointer hash to one slot, and the page read names the same list", () => {
    const writes = snapshotWrites(snapshot(A));
    expect(keysOf(writes)).toEqual([
      snapshotKey(A, "abcdefabcdefabcdefabcdef"),
      snapshotKey(A, "abcdefabcdefabcdefabcdef"),
      snapshotPointerKey(A),
    ]);
    expect(slotsOf(writes).size).toBe(1);
    expect(keySlot(snapshotPointerKey(A))).toBe(keySlot(A));
    // The reader names the snapshot from the authenticated viewer and the cursor's ranking id.
    const read = pageReads(A, { rankingId: "abcdefabcdefabcdefabcdef", offset: 0 }, 2);
    expect(new Set(keysOf(read))).toEqual(new Set([snapshotKey(A, "abcdefabcdefabcdefabcdef")]));
  });

  it("another viewer's cursor names a key of their own, never A's snapshot", () => {
    const theirs = pageReads(B, { rankingId: "abcdefabcdefabcdefabcdef", offset: 0 }, 2);
    expect(keysOf(theirs)).not.toContain(snapshotKey(A, "abcdefabcdefabcdefabcdef"));
    expect(slotsOf(theirs)).toEqual(new Set([keySlot(B)]));
  });

  it("the names: the viewer as hash tag", () => {
    expect(snapshotPointerKey(A)).toBe(`feed:v2:{${A}}`);
    expect(snapshotKey(A, "r1")).toBe(`feed:v2:{${A}}:snap:r1`);
  });
});

describe("row 3: the hot posts and their ids are one slot", () => {
  it("keeps the architecture's name for the list; the ids key hashes that name", () => {
    expect(HOT_POSTS_KEY).toBe("hot:posts:1h");
    expect(indexKeys().hotPosts).toBe("hot:posts:1h");
    expect(indexKeys().hotPostIds).toBe("{hot:posts:1h}:ids");
    expect(keySlot("{hot:posts:1h}:ids")).toBe(keySlot("hot:posts:1h"));
  });

  it("under a namespace both keys begin with it (they go with it) and share a slot", () => {
    const keys = indexKeys("t-1234:");
    expect([keys.hotPosts, keys.hotPostIds]).toEqual(["t-1234:{hot:posts:1h}", "t-1234:{hot:posts:1h}:ids"]);
    expect(keySlot(keys.hotPostIds)).toBe(keySlot(keys.hotPosts));
  });

  it.each([
    ["production", indexKeys().hotPosts],
    ["a test namespace", indexKeys("t-1234:").hotPosts],
    ["a test's own key", "t:hot:abc"],
    ["a key that has a tag already", "t:{x}:hot"],
  ])("the MULTI of %s touches one slot", (_, hotKey) => {
    const writes = hotPostsWrites(hotKey, [item(0), item(1)]);
    expect(keysOf(writes)).toEqual([hotKey, hotPostIdsKey(hotKey)]);
    expect(slotsOf(writes).size).toBe(1);
  });
});

describe("row 4: an invalidation is no transaction, and each command names one key", () => {
  it("one DEL per suggestions key and one INCR/EXPIRE pair per user", () => {
    const commands = invalidationCommands({ feeds: [A, B, id(3)], suggestions: [A, B] });
    oneKeyEach(commands);
    expect(commands.filter((c) => c[0] === "DEL")).toHaveLength(2);
    expect(slotsOf(commands).size).toBeGreaterThan(1); // many users: why it cannot be one MULTI
  });
});

describe("row 1: the event intake names one key per command", () => {
  const batches: [string, EventRecord[]][] = [
    ["untagged (reads the pointer first)", [record("impression", 1), record("view", 2), record("click", 3)]],
    ["all tagged by the client", [record("view", 1, { experiment: "e", variant: "v" })]],
  ];
  it.each(batches)("%s", (_, records) => {
    const plan = planIntake(EVENTS_STREAM_KEY, A, records);
    oneKeyEach(plan.reads);
    const writes = plan.writes(plan.reads.map(() => null));
    oneKeyEach(writes);
    expect(keysOf(writes)).toContain(EVENTS_STREAM_KEY);
    expect(writes.some((c) => c[0] === "EVAL")).toBe(false);
  });

  it("the pointer it reads is the viewer's, the one a snapshot save writes", () => {
    const plan = planIntake(EVENTS_STREAM_KEY, A, [record("impression", 1)]);
    expect(keysOf(plan.reads)).toEqual([snapshotPointerKey(A)]);
    const writes = keysOf(plan.writes([null]));
    expect(writes).toContain(seenKey(A));
    expect(writes).toContain(feedVersionKey(A));
  });
});

describe("the check itself", () => {
  it("fails for the names before this layout", () => {
    // What the save, the hot posts and the intake script named until rows 1–4 were done.
    expect(
      slotsOf([
        ["RPUSH", "feed:v2:snap:r1", "x"],
        ["SET", `feed:v2:${A}`, "{}"],
      ]).size,
    ).toBe(2);
    expect(
      slotsOf([
        ["SET", "hot:posts:1h", "[]"],
        ["SET", "hot:posts:1h:ids", "[]"],
      ]).size,
    ).toBe(2);
    expect(slotsOf([["EVAL", "return 1", "2", EVENTS_STREAM_KEY, `feed:v2:${A}`]]).size).toBe(2);
    expect(commandKeys(["DEL", "suggest:users:a", "suggest:users:b"])).toHaveLength(2);
  });
});

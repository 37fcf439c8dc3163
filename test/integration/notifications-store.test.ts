/**
 * The notifications store on a real Redis (origin/src/notifications/writer.ts running the core's
 * scripts): whatever mix of likes, unlikes, comments, comment deletions, follows and unfollows a
 * user receives, including their own actions and redeliveries of any suffix of the stream, the
 * groups equal the model of the live actions (edge/core/notifications/groups.ts), compared by the
 * checker's own comparison; a deleted post's groups go and stay gone; a second delivery of
 * everything changes no key; a store with a broken ordering rule is caught; the per-user bound
 * trims the oldest groups and their keys.
 */
import { randomUUID } from "node:crypto";
import fc from "fast-check";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NOTIFICATION_GROUPS_MAX, notificationKeys } from "#core/keys.ts";
import type { NotificationChange } from "#core/notifications/groups.ts";
import { NOTIFY_LUA } from "#core/notifications/write.ts";
import { unlinkByPrefix } from "../../origin/src/index/exec.ts";
import type { IndexOp } from "../../origin/src/index/ops.ts";
import { compareNotifications } from "../../origin/src/notifications/check.ts";
import { changeOf, type NotificationOp } from "../../origin/src/notifications/ops.ts";
import { NotificationWriter } from "../../origin/src/notifications/writer.ts";
import { REDIS_URL } from "../../scripts/lib/world.ts";

const ns = `t:nstore:${randomUUID().slice(0, 8)}:`;
const keys = notificationKeys(ns);
let redis: Redis;
let writer: NotificationWriter;

beforeAll(() => {
  redis = new Redis(REDIS_URL);
  writer = new NotificationWriter(redis, keys);
});
afterAll(async () => {
  await unlinkByPrefix(redis, ns);
  redis.disconnect();
});

const HOUR = 3600_000;
const DAY = 24 * HOUR;

/**
 * The property's clock: the latest UTC noon that has passed. Groups are per UTC day, so actions
 * 0–2 hours old share a day only away from midnight; with the real clock, a run just after 00:00
 * UTC put them in two groups and the broken-ordering example no longer broke anything.
 */
function lastNoonUtc(real = Date.now()): number {
  const noon = Math.floor(real / DAY) * DAY + 12 * HOUR;
  return noon > real ? noon - DAY : noon;
}

/** Every key of a user (name → TYPE and contents), to compare two states. */
async function dumpUser(user: string): Promise<Record<string, unknown>> {
  const found = await redis.keys(`${keys.prefix}{${user}}*`);
  const out: Record<string, unknown> = {};
  for (const k of found.sort()) {
    const type = await redis.type(k);
    out[k] =
      type === "zset"
        ? await redis.zrange(k, 0, -1, "WITHSCORES")
        : type === "hash"
          ? await redis.hgetall(k)
          : await redis.get(k);
  }
  return out;
}

/** A row of one of the notifying tables, the messages of which toggle it. */
interface Row {
  kind: "like" | "comment" | "follow";
  actor: number;
  post: number;
  ageH: number;
}

/**
 * The store's property: whatever mix of actions (and deletions of the recipient's posts) a user
 * receives, in any interleaving across rows (each row's own changes in order, as Kafka keeps
 * them), plus a redelivery of any suffix, the groups equal the model of the live actions on
 * posts that still exist, and everything once more changes no key.
 */
function storeMatchesModel(w: NotificationWriter) {
  const actors = ["(the recipient)", ...Array.from({ length: 3 }, () => randomUUID())];
  const posts = [randomUUID(), randomUUID()];
  const row = fc.record({
    kind: fc.constantFrom<Row["kind"]>("like", "comment", "comment", "follow"),
    actor: fc.integer({ min: 0, max: actors.length - 1 }),
    post: fc.integer({ min: 0, max: posts.length - 1 }),
    // Few times, so actions often share a group (and an actor often comments twice in one).
    ageH: fc.constantFrom(0, 1, 2, 26, 50),
  });
  return fc.asyncProperty(
    fc.array(row, { minLength: 1, maxLength: 12 }),
    fc.array(fc.record({ row: fc.nat(), live: fc.boolean() }), { minLength: 1, maxLength: 40 }),
    fc.nat(),
    // Post 1 is deleted at this point of the stream (or never).
    fc.option(fc.nat(), { nil: undefined }),
    async (rows, toggles, redeliverFrom, deleteAt) => {
      const user = randomUUID();
      const now = lastNoonUtc();
      // Like and follow rows are unique per (actor, post) / actor, as their tables' keys are.
      const unique = rows.filter(
        (r, i) =>
          r.kind === "comment" ||
          rows.findIndex(
            (o) => o.kind === r.kind && o.actor === r.actor && (r.kind === "follow" || o.post === r.post),
          ) === i,
      );
      const commentIds = unique.map(() => randomUUID());
      const opOf = (r: Row, live: boolean): IndexOp => {
        const createdMs = now - r.ageH * HOUR - r.actor;
        const actorId = actors[r.actor] as string;
        const postId = posts[r.post] as string;
        const self = r.actor === 0 ? user : actorId;
        if (r.kind === "follow") return { kind: "follow", followerId: self, followeeId: user, live, createdMs };
        return {
          kind: "interaction",
          field: r.kind === "like" ? `l:${self}` : `c:${commentIds[unique.indexOf(r as (typeof unique)[number])]}`,
          counter: r.kind === "like" ? "l" : "c",
          postId,
          actorId: self,
          authorId: user,
          live,
          createdMs,
          text: "",
        };
      };
      const stream = toggles.map((t) => ({ row: t.row % unique.length, live: t.live }));
      const changes: NotificationOp[] = stream
        .map((s) => changeOf(opOf(unique[s.row] as Row, s.live)))
        .filter((c): c is NotificationChange => c !== null);
      expect(changes.every((c) => c.kind === "post-gone" || c.actorId !== user)).toBe(true);
      const deleted = deleteAt === undefined ? null : (posts[1] as string);
      if (deleted)
        changes.splice((deleteAt as number) % (changes.length + 1), 0, {
          kind: "post-gone",
          recipient: user,
          postId: deleted,
        });
      await w.apply(changes, now);
      // A redelivery: the stream again from some point, in order.
      await w.apply(changes.slice(redeliverFrom % (changes.length + 1)), now);
      const lastOf = new Map<number, boolean>();
      for (const s of stream) lastOf.set(s.row, s.live);
      const live = [...lastOf]
        .filter(([, l]) => l)
        .map(([i]) => changeOf(opOf(unique[i] as Row, true)))
        .filter((c): c is NotificationChange => c !== null && (c.postId === null || c.postId !== deleted));
      expect(await compareNotifications(redis, keys, user, live, now)).toEqual([]);
      // Everything once more changes no key.
      const before = await dumpUser(user);
      await w.apply(changes, now);
      expect(await dumpUser(user)).toEqual(before);
    },
  );
}

/** An actor's two comments in one group, the newer first: the group keeps the newer one's time. */
const newerCommentFirst: [Row[], { row: number; live: boolean }[], number, number | undefined] = [
  [
    { kind: "comment", actor: 1, post: 0, ageH: 0 },
    { kind: "comment", actor: 1, post: 0, ageH: 1 },
  ],
  [
    { row: 0, live: true },
    { row: 1, live: true },
  ],
  0,
  undefined,
];

describe("notifications store", () => {
  it("equals the model of the live actions, whatever the mix, the redeliveries and the post deletions", async () => {
    await fc.assert(storeMatchesModel(writer), {
      numRuns: 100,
      examples: [
        newerCommentFirst,
        // An actor's two comments in one group, one deleted: the actor stays, at the other's time.
        [
          [
            { kind: "comment", actor: 1, post: 0, ageH: 0 },
            { kind: "comment", actor: 1, post: 0, ageH: 1 },
          ],
          [
            { row: 0, live: true },
            { row: 1, live: true },
            { row: 0, live: false },
          ],
          0,
          undefined,
        ],
        // A like on a post deleted before the like arrived (another topic): no group.
        [[{ kind: "like", actor: 1, post: 1, ageH: 0 }], [{ row: 0, live: true }], 0, 0],
      ],
    });
  }, 60_000);

  it("the property catches a store that breaks the ordering rule (the last arrival's time wins)", async () => {
    // The same script, except that an actor's time in a comment group is the last comment to
    // arrive, not the newest one: an older comment arriving after a newer one moves it back.
    const newestWins = "if (not cur) or tonumber(cur) < ms then redis.call('ZADD', acts, ARGV[4], actor) end";
    expect(NOTIFY_LUA).toContain(newestWins);
    const broken = NOTIFY_LUA.replace(newestWins, "redis.call('ZADD', acts, ARGV[4], actor)");
    const other = new Redis(REDIS_URL);
    try {
      const brokenWriter = new NotificationWriter(other, keys, broken);
      await expect(
        fc.assert(storeMatchesModel(brokenWriter), { numRuns: 100, examples: [newerCommentFirst] }),
      ).rejects.toThrow(/Property failed/);
    } finally {
      other.disconnect();
    }
  }, 60_000);

  it("keeps the newest groups per user and removes the keys of those it trims", async () => {
    const user = randomUUID();
    const actor = randomUUID();
    const now = Date.now();
    const posts = Array.from({ length: NOTIFICATION_GROUPS_MAX + 5 }, () => randomUUID());
    const changes: NotificationChange[] = posts.map((postId, i) => ({
      kind: "like",
      recipient: user,
      actorId: actor,
      postId,
      itemId: null,
      createdMs: now - (posts.length - i) * 1000,
      live: true,
    }));
    let trimmed = 0;
    for (let i = 0; i < changes.length; i += 50) trimmed += (await writer.apply(changes.slice(i, i + 50), now)).trimmed;
    expect(trimmed).toBe(5);
    expect(await redis.zcard(keys.groups(user))).toBe(NOTIFICATION_GROUPS_MAX);
    expect(await redis.hlen(keys.summaries(user))).toBe(NOTIFICATION_GROUPS_MAX);
    const day = new Date(now - posts.length * 1000).toISOString().slice(0, 10);
    const oldest = `l:${posts[0]}:${day}`;
    expect(await redis.zscore(keys.groups(user), oldest)).toBeNull();
    expect(await redis.exists(keys.actors(user, oldest))).toBe(0);
    // An action older than the window is not recorded.
    await writer.apply(
      [{ ...(changes[0] as NotificationChange), postId: randomUUID(), createdMs: now - 31 * 24 * HOUR }],
      now,
    );
    expect(await redis.zcard(keys.groups(user))).toBe(NOTIFICATION_GROUPS_MAX);
    expect(await redis.ttl(keys.groups(user))).toBeGreaterThan(29 * 24 * 3600);
  });
});

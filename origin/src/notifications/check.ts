/**
 * Compares the notifications in Redis with what PostgreSQL says they should hold, for a set of
 * users: the live likes and comments on their posts and the live follows of them, by others,
 * grouped by the core's model (edge/core/notifications/groups.ts expectedGroups). Every group
 * the model has and Redis does not, every one Redis has and the model does not, and in each
 * group both have a different latest_at, a different actor (missing, extra or at another time)
 * or a summary that is not the one its actors make is a difference, named with both values.
 */
import type pg from "pg";
import { NOTIFICATION_TTL_S, type NotificationKeys } from "#core/keys.ts";
import {
  decodeSummary,
  encodeSummary,
  expectedGroups,
  type NotificationChange,
  summaryOf,
} from "#core/notifications/groups.ts";
import { type AnyRedis, scanAll } from "../redis-cluster.ts";

export interface NotificationDifference {
  user: string;
  gid: string;
  what: "missing group" | "extra group" | "latest_at" | "actor" | "summary";
  /** The actor, for an actor difference. */
  actor?: string;
  expected: string | null;
  actual: string | null;
}

/**
 * Live actions that notify the users in $1, created since $2 (ms), never one's own; likes and
 * comments of a deleted post notify no one.
 */
export const NOTIFYING_ACTIONS_SQL = `
SELECT 'like' AS kind, l.post_author_id AS recipient, l.user_id AS actor, l.post_id, NULL::uuid AS item,
       floor(extract(epoch FROM l.created_at) * 1000)::bigint AS ms
  FROM likes l JOIN posts p ON p.id = l.post_id AND p.deleted_at IS NULL
 WHERE l.deleted_at IS NULL AND l.post_author_id = ANY($1::uuid[]) AND l.user_id <> l.post_author_id
   AND l.created_at >= to_timestamp($2 / 1000.0)
UNION ALL
SELECT 'comment', c.post_author_id, c.author_id, c.post_id, c.id, floor(extract(epoch FROM c.created_at) * 1000)::bigint
  FROM comments c JOIN posts p ON p.id = c.post_id AND p.deleted_at IS NULL
 WHERE c.deleted_at IS NULL AND c.post_author_id = ANY($1::uuid[]) AND c.author_id <> c.post_author_id
   AND c.created_at >= to_timestamp($2 / 1000.0)
UNION ALL
SELECT 'follow', followee_id, follower_id, NULL, NULL, floor(extract(epoch FROM created_at) * 1000)::bigint
  FROM follows
 WHERE deleted_at IS NULL AND followee_id = ANY($1::uuid[])
   AND created_at >= to_timestamp($2 / 1000.0)`;

interface ActionRow {
  kind: NotificationChange["kind"];
  recipient: string;
  actor: string;
  post_id: string | null;
  item: string | null;
  ms: string;
}

const pairs = (flat: string[]): [string, number][] => {
  const out: [string, number][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i] as string, Number(flat[i + 1])]);
  return out;
};

export async function checkNotifications(
  db: pg.Pool,
  redis: AnyRedis,
  keys: NotificationKeys,
  userIds: string[],
  nowMs = Date.now(),
): Promise<NotificationDifference[]> {
  if (!userIds.length) return [];
  // A day before the window too: a group is in it by its latest action, its others may be older.
  const since = nowMs - NOTIFICATION_TTL_S * 1000 - 24 * 3600 * 1000;
  const { rows } = await db.query<ActionRow>(NOTIFYING_ACTIONS_SQL, [userIds, since]);
  const byUser = new Map<string, Omit<NotificationChange, "live" | "recipient">[]>();
  for (const r of rows) {
    const list = byUser.get(r.recipient) ?? [];
    list.push({ kind: r.kind, actorId: r.actor, postId: r.post_id, itemId: r.item, createdMs: Number(r.ms) });
    byUser.set(r.recipient, list);
  }
  const out: NotificationDifference[] = [];
  for (const user of userIds)
    out.push(...(await compareNotifications(redis, keys, user, byUser.get(user) ?? [], nowMs)));
  return out;
}

/** One user's groups in Redis against the model of the live actions that notify them. */
export async function compareNotifications(
  redis: AnyRedis,
  keys: NotificationKeys,
  user: string,
  actions: Omit<NotificationChange, "live" | "recipient">[],
  nowMs = Date.now(),
): Promise<NotificationDifference[]> {
  const out: NotificationDifference[] = [];
  const expected = new Map(expectedGroups(actions, nowMs).map((g) => [g.gid, g]));
  const [groupsFlat, sums] = await Promise.all([
    redis.zrange(keys.groups(user), 0, -1, "WITHSCORES"),
    redis.hgetall(keys.summaries(user)),
  ]);
  const stored = new Map(pairs(groupsFlat));
  const diff = (
    gid: string,
    what: NotificationDifference["what"],
    e: string | null,
    a: string | null,
    actor?: string,
  ) => out.push({ user, gid, what, expected: e, actual: a, ...(actor ? { actor } : {}) });
  for (const gid of new Set([...expected.keys(), ...stored.keys(), ...Object.keys(sums)])) {
    const want = expected.get(gid);
    const have = stored.get(gid);
    if (!want) {
      diff(gid, "extra group", null, have === undefined ? (sums[gid] ?? null) : String(have));
      continue;
    }
    if (have === undefined) {
      diff(gid, "missing group", String(want.latestMs), null);
      continue;
    }
    if (have !== want.latestMs) diff(gid, "latest_at", String(want.latestMs), String(have));
    const actors = new Map(pairs(await redis.zrange(keys.actors(user, gid), 0, -1, "WITHSCORES")));
    for (const a of new Set([...want.actors.keys(), ...actors.keys()])) {
      const e = want.actors.get(a);
      const h = actors.get(a);
      if (e !== h) diff(gid, "actor", e === undefined ? null : String(e), h === undefined ? null : String(h), a);
    }
    const summary = sums[gid] ?? null;
    const wantSummary = encodeSummary(summaryOf(want.actors));
    const decoded = decodeSummary(summary);
    if (!decoded || encodeSummary(decoded) !== wantSummary) diff(gid, "summary", wantSummary, summary);
  }
  return out;
}

/** Recipients of live notifying actions since $1 (ms): whom the check covers, with those Redis holds groups of. */
const RECIPIENTS_SQL = `
SELECT DISTINCT recipient FROM (
  SELECT post_author_id AS recipient FROM likes
   WHERE deleted_at IS NULL AND user_id <> post_author_id AND created_at >= to_timestamp($1 / 1000.0)
  UNION ALL
  SELECT post_author_id FROM comments
   WHERE deleted_at IS NULL AND author_id <> post_author_id AND created_at >= to_timestamp($1 / 1000.0)
  UNION ALL
  SELECT followee_id FROM follows WHERE deleted_at IS NULL AND created_at >= to_timestamp($1 / 1000.0)
) r`;

export interface NotificationsReport {
  /** Users compared: every recipient PostgreSQL names and every user Redis holds groups of. */
  users: number;
  differences: NotificationDifference[];
}

/**
 * Every user's notifications against PostgreSQL (what `npm run check:notifications` runs): the
 * recipients of the window's live actions and the users with groups in Redis (SCAN, so a group
 * nobody should have is found too), compared 500 users at a time.
 */
export async function checkAllNotifications(
  db: pg.Pool,
  redis: AnyRedis,
  keys: NotificationKeys,
  nowMs = Date.now(),
): Promise<NotificationsReport> {
  const since = nowMs - NOTIFICATION_TTL_S * 1000 - 24 * 3600 * 1000;
  const users = new Set((await db.query<{ recipient: string }>(RECIPIENTS_SQL, [since])).rows.map((r) => r.recipient));
  const pattern = `${keys.prefix}{*}:g`;
  for await (const found of scanAll(redis, pattern, 1000)) {
    for (const k of found) {
      const user = /\{([^}]+)\}:g$/.exec(k)?.[1];
      if (user) users.add(user);
    }
  }
  const all = [...users].sort();
  const differences: NotificationDifference[] = [];
  for (let i = 0; i < all.length; i += 500)
    differences.push(...(await checkNotifications(db, redis, keys, all.slice(i, i + 500), nowMs)));
  return { users: all.length, differences };
}

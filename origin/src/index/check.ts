/**
 * `check:index`: compares the serving index in Redis with what ClickHouse says it should hold:
 * every author hash (posts of the window, their text, time, counters and plain totals, the
 * author's card), every followee and block set, the deleted users, every affinity hash, and what
 * the reads need (layout 4): every profile and handle, followers and following, each author's
 * post ids, each user's recent likes, each post's comments and their bodies; and the suggestions'
 * follower counts (`fi:{fc}:z`: every user with a live follower, deleted users too, at minus the
 * count). Keys the index has and ClickHouse does not (a post deleted or aged out, an unfollow, a
 * deleted user's profile), and follower counts of users ClickHouse has no live follower for,
 * count as differences too.
 *
 * It streams: each ClickHouse read comes ordered by the key it fills, and each key's rows are
 * compared with Redis as soon as the key's last row has passed (the layout 4 keys in pipelined
 * batches of READ_BATCH keys), so memory holds a batch of keys' rows, the counters of the
 * window's posts and the cards of their authors (as the bootstrap does) and the ids of the keys
 * compared (to find, by a SCAN afterwards, the keys Redis has and ClickHouse does not): not the
 * edges, records, affinities, likes or comments themselves. The follower counts come one row per
 * followed user (ClickHouse counts), compared by ZMSCORE in batches of READ_BATCH users, their
 * ids kept to find, by a ZSCAN afterwards, the members ClickHouse has no count for. It runs at
 * any scale the bootstrap runs at.
 *
 * The same comparison, part by part, is what the reconciliation repairs from (reconcile.ts):
 * each difference names its key's type, field or member, and both values.
 */
import type { ClickHouseClient } from "@clickhouse/client";
import type { ChainableCommander } from "ioredis";
import {
  decodePostCounters,
  encodeAuthorCard,
  encodePlainTotals,
  encodePostCounters,
  INDEX_POST_WINDOW_MS,
  INDEX_POSTS_PER_AUTHOR,
  type IndexKeys,
  RECENT_LIKES_MS,
} from "#core/keys.ts";
import { suggestionKeys } from "#core/reads/suggestions.ts";
import { type AnyRedis, pipelineOf, scanAll } from "../redis-cluster.ts";
import { BOOTSTRAP_SQL } from "./bootstrap.ts";
import { encodeCommentBody } from "./writer.ts";

/** The type of a key, as a repair writes it: a hash field, a sorted-set member (score), a string, a set member. */
export type IndexKeyType = "hash" | "zset" | "string" | "set";

export interface IndexDifference {
  key: string;
  /** The hash field, or the set's or sorted set's member; none for a string. */
  field?: string;
  /** The value (a sorted set's score; "1" for a set member), null when absent. */
  index: string | null;
  clickhouse: string | null;
  type?: IndexKeyType;
}

export interface IndexCheckReport {
  keysCompared: number;
  /** Every difference found; `differences` lists the first `limit` of them. */
  total: number;
  differences: IndexDifference[];
}

/** Where a comparison reports: every difference, and each key compared. */
export interface DifferenceSink {
  add(d: IndexDifference): void;
  compared: number;
}

/** The parts of the comparison, in the order `checkIndex` runs them. */
export const CHECK_PARTS = [
  "authorPosts",
  "sets",
  "deletedUsers",
  "affinity",
  "profiles",
  "handles",
  "followers",
  "following",
  "userPosts",
  "recentLikes",
  "comments",
  "followerCounts",
] as const;
export type CheckPart = (typeof CHECK_PARTS)[number];

/** Keys read from Redis per pipeline in the layout 4 comparisons. */
const READ_BATCH = 500;

/**
 * What the window's posts count, by the rules the updater applies: live likes and comments by
 * others, counted shares (never the author's own), counted impressions; and the plain totals,
 * every live like (pl) and comment (pc), the author's own included. One row per post.
 */
const WINDOW_COUNTERS = `
WITH win AS (${BOOTSTRAP_SQL.posts.replace(/ORDER BY[\s\S]*$/, "")})
SELECT pid, sum(l) AS l, sum(c) AS c, sum(s) AS s, sum(i) AS i, sum(pl) AS pl, sum(pc) AS pc FROM (
  SELECT toString(x.post_id) AS pid, toInt64(countIf(x.user_id != x.post_author_id)) AS l, toInt64(0) AS c,
         toInt64(0) AS s, toInt64(0) AS i, toInt64(count()) AS pl, toInt64(0) AS pc
    FROM likes_current AS x WHERE x.deleted_at IS NULL
      AND toString(x.post_id) IN (SELECT pid FROM win) GROUP BY x.post_id
  UNION ALL
  SELECT toString(y.post_id) AS pid, toInt64(0), toInt64(countIf(y.author_id != y.post_author_id)), toInt64(0),
         toInt64(0), toInt64(0), toInt64(count())
    FROM comments_current AS y WHERE y.deleted_at IS NULL
      AND toString(y.post_id) IN (SELECT pid FROM win) GROUP BY y.post_id
  UNION ALL
  SELECT toString(k.post_id) AS pid, toInt64(0), toInt64(0), toInt64(count()), toInt64(0), toInt64(0), toInt64(0)
    FROM event_counted_keys AS k FINAL WHERE k.type = 'share'
      AND toString(k.post_id) IN (SELECT pid FROM win) GROUP BY k.post_id
  UNION ALL
  SELECT toString(t.post_id) AS pid, toInt64(0), toInt64(0), toInt64(0), toInt64(sum(t.impressions)), toInt64(0), toInt64(0)
    FROM post_totals AS t WHERE toString(t.post_id) IN (SELECT pid FROM win) GROUP BY t.post_id
) GROUP BY pid`;

/** The card (`_u`) of every live author with a post in the window. */
const WINDOW_AUTHOR_CARDS = `SELECT toString(id) AS aid, handle AS h, display_name AS n FROM users_current
  WHERE deleted_at IS NULL AND id IN (SELECT author_id FROM posts_current
    WHERE deleted_at IS NULL AND created_at >= now64(3) - toIntervalMillisecond({window_ms:UInt64}))`;

const SETS = {
  followees: `SELECT toString(follower_id) AS a, toString(followee_id) AS b FROM follows_current
              WHERE deleted_at IS NULL ORDER BY a, b`,
  blocksOut: `SELECT toString(blocker_id) AS a, toString(blocked_id) AS b FROM blocks_current
              WHERE deleted_at IS NULL ORDER BY a, b`,
  blocksIn: `SELECT toString(blocked_id) AS a, toString(blocker_id) AS b FROM blocks_current
             WHERE deleted_at IS NULL ORDER BY a, b`,
} as const;

/** The layout 4 reads, each ordered by the key it fills (`a`), members `b` with score `ms`. */
export const CHECK_SQL = {
  deletedUsers: `SELECT toString(id) AS a FROM users_current WHERE deleted_at IS NOT NULL`,
  profiles: `SELECT toString(id) AS a, handle AS h, display_name AS n, bio AS b,
               toUnixTimestamp64Milli(created_at) AS ms, toString(_version) AS v
             FROM users_current WHERE deleted_at IS NULL`,
  // Of two live users with one handle (a release not inserted yet), the newer claim (USER_LUA).
  handles: `SELECT lower(handle) AS a, argMax(toString(id), _version) AS b FROM users_current
            WHERE deleted_at IS NULL GROUP BY a`,
  followers: `SELECT toString(followee_id) AS a, toString(follower_id) AS b, toUnixTimestamp64Milli(created_at) AS ms
              FROM follows_current WHERE deleted_at IS NULL ORDER BY a, b`,
  following: `SELECT toString(follower_id) AS a, toString(followee_id) AS b, toUnixTimestamp64Milli(created_at) AS ms
              FROM follows_current WHERE deleted_at IS NULL ORDER BY a, b`,
  userPosts: `SELECT toString(author_id) AS a, toString(id) AS b, toUnixTimestamp64Milli(created_at) AS ms
              FROM posts_current WHERE deleted_at IS NULL ORDER BY a, b`,
  recentLikes: `SELECT toString(user_id) AS a, toString(post_id) AS b, toUnixTimestamp64Milli(created_at) AS ms
                FROM likes_current WHERE deleted_at IS NULL AND toUnixTimestamp64Milli(created_at) >= {since_ms:Int64}
                ORDER BY a, b`,
  comments: `SELECT toString(post_id) AS a, toString(id) AS b, toString(author_id) AS u, text AS body,
               toUnixTimestamp64Milli(created_at) AS ms
             FROM comments_current WHERE deleted_at IS NULL ORDER BY a, b`,
  // What the bootstrap settles (buildFollowerCounts: every user with a live follower, whether or
  // not the user is deleted) and the writer keeps: the user's live follower count, one row each.
  followerCounts: `SELECT toString(followee_id) AS a, count() AS n FROM follows_current
                   WHERE deleted_at IS NULL GROUP BY a`,
} as const;

class Differences implements DifferenceSink {
  readonly listed: IndexDifference[] = [];
  total = 0;
  compared = 0;
  constructor(private readonly limit: number) {}
  add(d: IndexDifference): void {
    this.total++;
    if (this.listed.length < this.limit) this.listed.push(d);
  }
}

async function* scanKeys(redis: AnyRedis, pattern: string): AsyncGenerator<string> {
  for await (const page of scanAll(redis, pattern)) yield* page;
}

/**
 * An author hash as the comparison sees it: each `{post}:n` without the version the updater
 * copied it at (scripts.ts), and absent when its counters are all zero, as the bootstrap and
 * ClickHouse's side write it.
 */
export function withoutCounterVersions(h: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [f, v] of Object.entries(h)) {
    if (!f.endsWith(":n")) out[f] = v;
    else {
      const c = encodePostCounters(decodePostCounters(v));
      if (c) out[f] = c;
    }
  }
  return out;
}

function compareHash(
  key: string,
  have: Record<string, string>,
  want: Record<string, string>,
  out: DifferenceSink,
  ignore: (field: string) => boolean = () => false,
) {
  for (const f of new Set([...Object.keys(have), ...Object.keys(want)])) {
    if (ignore(f)) continue;
    const a = have[f] ?? null;
    const b = want[f] ?? null;
    // A zero counter may be absent on either side.
    if (a !== b && !(f.includes(":") && Number(a ?? 0) === Number(b ?? 0))) {
      out.add({ key, field: f, index: a, clickhouse: b, type: "hash" });
    }
  }
}

function compareSet(key: string, have: Set<string>, want: Set<string>, out: DifferenceSink) {
  for (const m of new Set([...have, ...want])) {
    if (have.has(m) !== want.has(m))
      out.add({
        key,
        field: m,
        index: have.has(m) ? "1" : null,
        clickhouse: want.has(m) ? "1" : null,
        type: "set",
      });
  }
}

/** Scores compared as numbers ("1.7e12" and "1700000000000" alike), shown as ClickHouse prints them. */
function compareZset(key: string, have: Map<string, string>, want: Map<string, string>, out: DifferenceSink) {
  for (const m of new Set([...have.keys(), ...want.keys()])) {
    const a = have.get(m) ?? null;
    const b = want.get(m) ?? null;
    if (a === null || b === null || Number(a) !== Number(b))
      out.add({ key, field: m, index: a === null ? null : String(Number(a)), clickhouse: b, type: "zset" });
  }
}

/** A ZRANGE … WITHSCORES reply as member → score. */
function scored(flat: string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) m.set(flat[i] as string, flat[i + 1] as string);
  return m;
}

/** Streams `query` ordered by `group(row)` and hands each group's rows to `each` once complete. */
async function eachGroup<T>(
  ch: ClickHouseClient,
  query: string,
  params: Record<string, unknown>,
  group: (row: T) => string,
  each: (id: string, rows: T[]) => Promise<void>,
): Promise<void> {
  const rs = await ch.query({ query, query_params: params, format: "JSONEachRow" });
  let id: string | null = null;
  let rows: T[] = [];
  for await (const batch of rs.stream<T>()) {
    for (const raw of batch) {
      const r = raw.json();
      const g = group(r);
      if (id !== null && g !== id) {
        await each(id, rows);
        rows = [];
      }
      id = g;
      rows.push(r);
    }
  }
  if (id !== null) await each(id, rows);
}

/**
 * The keys matching `pattern` that no ClickHouse group filled: every member or field is extra.
 * `read` gives a key's fields or members with their values (scores; "1" for a set member).
 */
async function extraKeys(
  redis: AnyRedis,
  pattern: string,
  seen: Set<string>,
  out: DifferenceSink,
  read: (key: string) => Promise<[string, string][]>,
  ignore: (field: string) => boolean = () => false,
  type: IndexKeyType = "hash",
) {
  for await (const k of scanKeys(redis, pattern)) {
    if (seen.has(k)) continue;
    for (const [f, v] of await read(k)) if (!ignore(f)) out.add({ key: k, field: f, index: v, clickhouse: null, type });
    out.compared++;
  }
}

const hashEntries = (redis: AnyRedis) => async (k: string) => Object.entries(await redis.hgetall(k));
const setEntries = (redis: AnyRedis) => async (k: string) =>
  (await redis.smembers(k)).map((m): [string, string] => [m, "1"]);

/**
 * One layout 4 key as ClickHouse says it should be, to be read from Redis in a batch: how to
 * read it (`read`) and how to compare the reply (`compare`).
 */
interface Pending {
  key: string;
  read: (p: ChainableCommander) => void;
  compare: (reply: unknown, out: DifferenceSink) => void;
}

/** Reads pending keys in pipelines of READ_BATCH and compares each as its reply arrives. */
class BatchedCompare {
  private pending: Pending[] = [];
  constructor(
    private readonly redis: AnyRedis,
    private readonly out: DifferenceSink,
  ) {}
  async push(p: Pending): Promise<void> {
    this.pending.push(p);
    if (this.pending.length >= READ_BATCH) await this.flush();
  }
  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    const pl = pipelineOf(this.redis);
    for (const p of batch) p.read(pl);
    const res = (await pl.exec()) ?? [];
    batch.forEach((p, i) => {
      const [err, reply] = res[i] ?? [new Error("no reply")];
      if (err) throw err;
      p.compare(reply, this.out);
      this.out.compared++;
    });
  }
}

const zrangeAll = (key: string) => (p: ChainableCommander) => p.zrange(key, 0, -1, "WITHSCORES");

/** Options of a comparison: which parts, the time the recent likes are cut at, and a stop between parts. */
export interface CompareOptions {
  parts?: readonly CheckPart[];
  nowMs?: number;
  signal?: AbortSignal;
}

/** Runs the comparison's parts (all by default), reporting to `out`. */
export async function compareIndex(
  ch: ClickHouseClient,
  redis: AnyRedis,
  keys: IndexKeys,
  out: DifferenceSink,
  opts: CompareOptions = {},
): Promise<void> {
  const chosen = new Set(opts.parts ?? CHECK_PARTS);
  const parts = { has: (p: CheckPart) => chosen.has(p) && !opts.signal?.aborted };
  const nowMs = opts.nowMs ?? Date.now();
  const params = { window_ms: INDEX_POST_WINDOW_MS };
  const patternOf = (key: (id: string) => string) => key("*");
  const zsetMembers = async (k: string) => [...scored(await redis.zrange(k, 0, -1, "WITHSCORES"))];

  if (parts.has("authorPosts")) {
    // Author hashes: each author's newest posts of the window with their counters and plain
    // totals, and the author's card.
    const counters = new Map<string, { n: string | null; d: string | null }>();
    {
      type Row = { pid: string; l: string; c: string; s: string; i: string; pl: string; pc: string };
      const rs = await ch.query({ query: WINDOW_COUNTERS, query_params: params, format: "JSONEachRow" });
      for await (const batch of rs.stream<Row>()) {
        for (const raw of batch) {
          const r = raw.json();
          const n = encodePostCounters({
            likes: Number(r.l),
            comments: Number(r.c),
            shares: Number(r.s),
            impressions: Number(r.i),
          });
          const d = encodePlainTotals({ likes: Number(r.pl), comments: Number(r.pc) });
          if (n || d) counters.set(r.pid, { n, d });
        }
      }
    }
    const cards = new Map<string, string>();
    {
      const rs = await ch.query({ query: WINDOW_AUTHOR_CARDS, query_params: params, format: "JSONEachRow" });
      for await (const batch of rs.stream<{ aid: string; h: string; n: string }>()) {
        for (const raw of batch) {
          const r = raw.json();
          cards.set(r.aid, encodeAuthorCard(r.h, r.n));
        }
      }
    }
    const authorsSeen = new Set<string>();
    type PostRow = { pid: string; aid: string; body: string; created_ms: string | number };
    await eachGroup<PostRow>(
      ch,
      BOOTSTRAP_SQL.posts,
      params,
      (r) => r.aid,
      async (aid, rows) => {
        const key = keys.authorPosts(aid);
        authorsSeen.add(key);
        const want: Record<string, string> = {};
        for (const r of rows.slice(0, INDEX_POSTS_PER_AUTHOR)) {
          want[r.pid] = `${Number(r.created_ms)}\t${r.body}`;
          const c = counters.get(r.pid);
          if (c?.n) want[`${r.pid}:n`] = c.n;
          if (c?.d) want[`${r.pid}:d`] = c.d;
        }
        const card = cards.get(aid);
        if (card !== undefined) want._u = card;
        compareHash(key, withoutCounterVersions(await redis.hgetall(key)), want, out);
        out.compared++;
      },
    );
    counters.clear();
    cards.clear();
    await extraKeys(redis, patternOf(keys.authorPosts), authorsSeen, out, async (k) =>
      Object.entries(withoutCounterVersions(await redis.hgetall(k))),
    );
  }

  if (parts.has("sets")) {
    // Followees and blocks (both directions).
    for (const [name, query] of Object.entries(SETS) as [keyof typeof SETS, string][]) {
      const keyOf = keys[name];
      const seen = new Set<string>();
      await eachGroup<{ a: string; b: string }>(
        ch,
        query,
        {},
        (r) => r.a,
        async (a, rows) => {
          const key = keyOf(a);
          seen.add(key);
          compareSet(key, new Set(await redis.smembers(key)), new Set(rows.map((r) => r.b)), out);
          out.compared++;
        },
      );
      await extraKeys(redis, patternOf(keyOf), seen, out, setEntries(redis), undefined, "set");
    }
  }

  if (parts.has("deletedUsers")) {
    // Deleted users: one set.
    const rs = await ch.query({ query: CHECK_SQL.deletedUsers, format: "JSONEachRow" });
    const want = new Set((await rs.json<{ a: string }>()).map((r) => r.a));
    compareSet(keys.deletedUsers, new Set(await redis.smembers(keys.deletedUsers)), want, out);
    out.compared++;
  }

  if (parts.has("affinity")) {
    // Affinity per user (the updater's bookkeeping field `_b` aside; zero and absent alike).
    const affinitySeen = new Set<string>();
    const bookkeeping = (f: string) => f.startsWith("_");
    const affinityOf = async (key: string) => {
      const have = await redis.hgetall(key);
      for (const [f, v] of Object.entries(have)) if (Number(v) === 0) delete have[f];
      return have;
    };
    await eachGroup<{ uid: string; aid: string; n: string | number }>(
      ch,
      `${BOOTSTRAP_SQL.affinity} ORDER BY user_id, author_id`,
      {},
      (r) => r.uid,
      async (uid, rows) => {
        const key = keys.affinity(uid);
        affinitySeen.add(key);
        const want = Object.fromEntries(rows.map((r) => [r.aid, String(Number(r.n))]));
        compareHash(key, await affinityOf(key), want, out, bookkeeping);
        out.compared++;
      },
    );
    await extraKeys(
      redis,
      patternOf(keys.affinity),
      affinitySeen,
      out,
      async (k) => Object.entries(await affinityOf(k)),
      bookkeeping,
    );
  }

  const batched = new BatchedCompare(redis, out);

  if (parts.has("profiles")) {
    // One row per live user: the profile's fields, and `_v` the version of the row it shows.
    const seen = new Set<string>();
    type Row = { a: string; h: string; n: string; b: string; ms: string | number; v: string };
    await eachGroup<Row>(
      ch,
      CHECK_SQL.profiles,
      {},
      (r) => r.a,
      async (uid, [r]) => {
        if (!r) return;
        const key = keys.profile(uid);
        seen.add(key);
        const want = { h: r.h, n: r.n, b: r.b, c: String(Number(r.ms)), _v: r.v };
        await batched.push({
          key,
          read: (p) => p.hgetall(key),
          compare: (have, o) => compareHash(key, have as Record<string, string>, want, o),
        });
      },
    );
    await batched.flush();
    await extraKeys(redis, patternOf(keys.profile), seen, out, hashEntries(redis));
  }

  if (parts.has("handles")) {
    const seen = new Set<string>();
    await eachGroup<{ a: string; b: string }>(
      ch,
      CHECK_SQL.handles,
      {},
      (r) => r.a,
      async (handle, [r]) => {
        if (!r) return;
        const key = keys.handle(handle);
        seen.add(key);
        await batched.push({
          key,
          read: (p) => p.hget(key, "u"),
          compare: (have, o) => {
            if (have !== r.b)
              o.add({ key, field: "u", index: (have as string | null) ?? null, clickhouse: r.b, type: "hash" });
          },
        });
      },
    );
    await batched.flush();
    for await (const k of scanKeys(redis, `${keys.handle("")}*`)) {
      if (seen.has(k)) continue;
      out.add({ key: k, field: "u", index: await redis.hget(k, "u"), clickhouse: null, type: "hash" });
      out.compared++;
    }
  }

  /** A sorted set per group: member `b` → score `ms` (from `since` on, when given). */
  const zsets = async (
    part: "followers" | "following" | "userPosts" | "recentLikes",
    keyOf: (id: string) => string,
    since?: number,
  ) => {
    const seen = new Set<string>();
    const read = (key: string) =>
      since === undefined
        ? zrangeAll(key)
        : (p: ChainableCommander) => p.zrangebyscore(key, since, "+inf", "WITHSCORES");
    await eachGroup<{ a: string; b: string; ms: string | number }>(
      ch,
      CHECK_SQL[part],
      since === undefined ? {} : { since_ms: since },
      (r) => r.a,
      async (id, rows) => {
        const key = keyOf(id);
        seen.add(key);
        const want = new Map(rows.map((r) => [r.b, String(Number(r.ms))]));
        await batched.push({
          key,
          read: read(key),
          compare: (have, o) => compareZset(key, scored(have as string[]), want, o),
        });
      },
    );
    await batched.flush();
    const membersOf =
      since === undefined
        ? zsetMembers
        : async (k: string) => [...scored(await redis.zrangebyscore(k, since, "+inf", "WITHSCORES"))];
    await extraKeys(redis, patternOf(keyOf), seen, out, membersOf, undefined, "zset");
  };
  if (parts.has("followers")) await zsets("followers", keys.followers);
  if (parts.has("following")) await zsets("following", keys.following);
  if (parts.has("userPosts")) await zsets("userPosts", keys.userPosts);
  // Members older than RECENT_LIKES_MS wait for the key's next write (or its TTL) to go: not a
  // difference.
  if (parts.has("recentLikes")) await zsets("recentLikes", keys.recentLikes, nowMs - RECENT_LIKES_MS);

  if (parts.has("comments")) {
    const seen = new Set<string>();
    type Row = { a: string; b: string; u: string; body: string; ms: string | number };
    await eachGroup<Row>(
      ch,
      CHECK_SQL.comments,
      {},
      (r) => r.a,
      async (pid, rows) => {
        const zk = keys.comments(pid);
        const hk = keys.commentBodies(pid);
        seen.add(zk).add(hk);
        const times = new Map(rows.map((r) => [r.b, String(Number(r.ms))]));
        const bodies = Object.fromEntries(rows.map((r) => [r.b, encodeCommentBody(r.u, Number(r.ms), r.body)]));
        await batched.push({
          key: zk,
          read: zrangeAll(zk),
          compare: (have, o) => compareZset(zk, scored(have as string[]), times, o),
        });
        await batched.push({
          key: hk,
          read: (p) => p.hgetall(hk),
          compare: (have, o) => compareHash(hk, have as Record<string, string>, bodies, o),
        });
      },
    );
    await batched.flush();
    await extraKeys(redis, patternOf(keys.comments), seen, out, zsetMembers, undefined, "zset");
    await extraKeys(redis, patternOf(keys.commentBodies), seen, out, hashEntries(redis));
  }

  if (parts.has("followerCounts")) {
    // One sorted set, user → minus the live follower count (FOLLOWER_COUNT_SET_LUA), only users
    // with at least one: each ClickHouse row is looked up in a batch of READ_BATCH (one ZMSCORE),
    // then a ZSCAN names the members ClickHouse has no live follower for.
    const key = suggestionKeys(keys).followerCounts;
    const seen = new Set<string>();
    let want = new Map<string, string>();
    const flush = async () => {
      if (want.size === 0) return;
      const users = [...want.keys()];
      const scores = await redis.zmscore(key, ...users);
      const have = new Map<string, string>();
      users.forEach((u, i) => {
        const s = scores[i];
        if (s !== null && s !== undefined) have.set(u, s);
      });
      compareZset(key, have, want, out);
      want = new Map();
    };
    const rs = await ch.query({ query: CHECK_SQL.followerCounts, format: "JSONEachRow" });
    for await (const rows of rs.stream<{ a: string; n: string | number }>()) {
      for (const raw of rows) {
        const r = raw.json();
        const n = Number(r.n);
        if (n <= 0) continue;
        seen.add(r.a);
        want.set(r.a, String(-n));
        if (want.size >= READ_BATCH) await flush();
      }
    }
    await flush();
    // A ZSCAN may return a member twice: each extra is named once.
    const extra = new Set<string>();
    let cursor = "0";
    do {
      const [next, flat] = await redis.zscan(key, cursor, "COUNT", 1000);
      for (const [m, score] of scored(flat)) {
        if (seen.has(m) || extra.has(m)) continue;
        extra.add(m);
        out.add({ key, field: m, index: String(Number(score)), clickhouse: null, type: "zset" });
      }
      cursor = next;
    } while (cursor !== "0");
    out.compared++;
  }
}

export async function checkIndex(
  ch: ClickHouseClient,
  redis: AnyRedis,
  keys: IndexKeys,
  limit = 1000,
): Promise<IndexCheckReport> {
  const out = new Differences(limit);
  await compareIndex(ch, redis, keys, out);
  return { keysCompared: out.compared, total: out.total, differences: out.listed };
}

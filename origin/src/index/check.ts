/**
 * `check:index`: compares the serving index in Redis with what ClickHouse says it should hold:
 * every author hash (posts of the window, their text, time and counters), every followee and
 * block set, the deleted users and every affinity hash. Keys the index has and ClickHouse does
 * not (a post deleted or aged out, an unfollow) count as differences too.
 *
 * It streams: each ClickHouse read comes ordered by the key it fills, and each key's rows are
 * compared with Redis as soon as the key's last row has passed, so memory holds one key's rows,
 * the counters of the window's posts (as the bootstrap does) and the ids of the keys compared
 * (to find, by a SCAN afterwards, the keys Redis has and ClickHouse does not): not the edges,
 * records or affinities themselves. It runs at any scale the bootstrap runs at.
 */
import type { ClickHouseClient } from "@clickhouse/client";
import type { Redis } from "ioredis";
import {
  encodePostCounters,
  INDEX_POST_WINDOW_MS,
  INDEX_POSTS_PER_AUTHOR,
  type IndexKeys,
} from "../../../edge/core/keys.ts";
import { BOOTSTRAP_SQL } from "./bootstrap.ts";

export interface IndexDifference {
  key: string;
  field?: string;
  index: string | null;
  clickhouse: string | null;
}

export interface IndexCheckReport {
  keysCompared: number;
  /** Every difference found; `differences` lists the first `limit` of them. */
  total: number;
  differences: IndexDifference[];
}

/**
 * What the window's posts count, by the rules the updater applies: live likes and comments by
 * others, counted shares (never the author's own), counted impressions. One row per post.
 */
const WINDOW_COUNTERS = `
WITH win AS (${BOOTSTRAP_SQL.posts.replace(/ORDER BY[\s\S]*$/, "")})
SELECT pid, sum(l) AS l, sum(c) AS c, sum(s) AS s, sum(i) AS i FROM (
  SELECT toString(l.post_id) AS pid, toInt64(count()) AS l, toInt64(0) AS c, toInt64(0) AS s, toInt64(0) AS i
    FROM likes_current AS l WHERE l.deleted_at IS NULL AND l.user_id != l.post_author_id
      AND toString(l.post_id) IN (SELECT pid FROM win) GROUP BY l.post_id
  UNION ALL
  SELECT toString(m.post_id) AS pid, toInt64(0), toInt64(count()), toInt64(0), toInt64(0)
    FROM comments_current AS m WHERE m.deleted_at IS NULL AND m.author_id != m.post_author_id
      AND toString(m.post_id) IN (SELECT pid FROM win) GROUP BY m.post_id
  UNION ALL
  SELECT toString(k.post_id) AS pid, toInt64(0), toInt64(0), toInt64(count()), toInt64(0)
    FROM event_counted_keys AS k FINAL WHERE k.type = 'share'
      AND toString(k.post_id) IN (SELECT pid FROM win) GROUP BY k.post_id
  UNION ALL
  SELECT toString(t.post_id) AS pid, toInt64(0), toInt64(0), toInt64(0), toInt64(sum(t.impressions))
    FROM post_totals AS t WHERE toString(t.post_id) IN (SELECT pid FROM win) GROUP BY t.post_id
) GROUP BY pid`;

const SETS = {
  followees: `SELECT toString(follower_id) AS a, toString(followee_id) AS b FROM follows_current
              WHERE deleted_at IS NULL ORDER BY a, b`,
  blocksOut: `SELECT toString(blocker_id) AS a, toString(blocked_id) AS b FROM blocks_current
              WHERE deleted_at IS NULL ORDER BY a, b`,
  blocksIn: `SELECT toString(blocked_id) AS a, toString(blocker_id) AS b FROM blocks_current
             WHERE deleted_at IS NULL ORDER BY a, b`,
} as const;

class Differences {
  readonly listed: IndexDifference[] = [];
  total = 0;
  compared = 0;
  constructor(private readonly limit: number) {}
  add(d: IndexDifference): void {
    this.total++;
    if (this.listed.length < this.limit) this.listed.push(d);
  }
}

async function* scanKeys(redis: Redis, pattern: string): AsyncGenerator<string> {
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 1000);
    yield* keys;
    cursor = next;
  } while (cursor !== "0");
}

function compareHash(
  key: string,
  have: Record<string, string>,
  want: Record<string, string>,
  out: Differences,
  ignore: (field: string) => boolean = () => false,
) {
  for (const f of new Set([...Object.keys(have), ...Object.keys(want)])) {
    if (ignore(f)) continue;
    const a = have[f] ?? null;
    const b = want[f] ?? null;
    // A zero counter may be absent on either side.
    if (a !== b && !(f.includes(":") && Number(a ?? 0) === Number(b ?? 0))) {
      out.add({ key, field: f, index: a, clickhouse: b });
    }
  }
}

function compareSet(key: string, have: Set<string>, want: Set<string>, out: Differences) {
  for (const m of new Set([...have, ...want])) {
    if (have.has(m) !== want.has(m))
      out.add({ key, field: m, index: have.has(m) ? "1" : null, clickhouse: want.has(m) ? "1" : null });
  }
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

/** The keys matching `pattern` that no ClickHouse group filled: every member or field is extra. */
async function extraKeys(
  redis: Redis,
  pattern: string,
  seen: Set<string>,
  out: Differences,
  read: (key: string) => Promise<string[]>,
  ignore: (field: string) => boolean = () => false,
) {
  for await (const k of scanKeys(redis, pattern)) {
    if (seen.has(k)) continue;
    for (const f of await read(k)) if (!ignore(f)) out.add({ key: k, field: f, index: "1", clickhouse: null });
    out.compared++;
  }
}

export async function checkIndex(
  ch: ClickHouseClient,
  redis: Redis,
  keys: IndexKeys,
  limit = 1000,
): Promise<IndexCheckReport> {
  const out = new Differences(limit);
  const params = { window_ms: INDEX_POST_WINDOW_MS };
  const patternOf = (key: (id: string) => string) => `${key("")}*`;

  // Author hashes: each author's newest posts of the window with their counters.
  const counters = new Map<string, string>();
  {
    const rs = await ch.query({ query: WINDOW_COUNTERS, query_params: params, format: "JSONEachRow" });
    for await (const batch of rs.stream<{ pid: string; l: string; c: string; s: string; i: string }>()) {
      for (const raw of batch) {
        const r = raw.json();
        const v = encodePostCounters({
          likes: Number(r.l),
          comments: Number(r.c),
          shares: Number(r.s),
          impressions: Number(r.i),
        });
        if (v) counters.set(r.pid, v);
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
        const n = counters.get(r.pid);
        if (n) want[`${r.pid}:n`] = n;
      }
      compareHash(key, await redis.hgetall(key), want, out);
      out.compared++;
    },
  );
  counters.clear();
  await extraKeys(redis, patternOf(keys.authorPosts), authorsSeen, out, async (k) =>
    Object.keys(await redis.hgetall(k)),
  );
  authorsSeen.clear();

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
    await extraKeys(redis, patternOf(keyOf), seen, out, (k) => redis.smembers(k));
  }

  // Deleted users: one set.
  {
    const rs = await ch.query({ query: BOOTSTRAP_SQL.deletedUsers, format: "JSONEachRow" });
    const want = new Set((await rs.json<{ a: string }>()).map((r) => r.a));
    compareSet(keys.deletedUsers, new Set(await redis.smembers(keys.deletedUsers)), want, out);
    out.compared++;
  }

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
    async (k) => Object.keys(await affinityOf(k)),
    bookkeeping,
  );

  return { keysCompared: out.compared, total: out.total, differences: out.listed };
}

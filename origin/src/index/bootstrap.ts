/**
 * Builds the serving index from ClickHouse: on a new deployment, after a flush or a failover
 * (the `ready` key is gone). Meanwhile the edge answers from ClickHouse (the cold path). Every
 * write is an overwrite with ClickHouse's state, so an interrupted run is finished by the next;
 * `ready` is set last. ClickHouse holds what the sink has inserted; the updater then continues
 * from the sink's committed offsets (index.ts), replaying at most the sink's in-flight batch,
 * which its records make a no-op (an impression there may count twice: `check:index` shows it).
 */
import type { ClickHouseClient } from "@clickhouse/client";
import type { Redis } from "ioredis";
import {
  INDEX_POST_TTL_S,
  INDEX_POST_WINDOW_MS,
  INDEX_POSTS_PER_AUTHOR,
  type IndexKeys,
  POPULAR_AUTHORS,
} from "../../../edge/core/index.ts";

/** Posts of the index window, as the post CDC table holds them (deleted ones excluded). */
const WINDOW_POSTS = `SELECT id FROM posts_current
  WHERE deleted_at IS NULL AND created_at >= now64(3) - toIntervalMillisecond({window_ms:UInt64})`;

/** Aliases never shadow a column the query filters on (ClickHouse resolves aliases in WHERE). */
export const BOOTSTRAP_SQL = {
  posts: `SELECT toString(id) AS pid, toString(author_id) AS aid, text AS body,
            toUnixTimestamp64Milli(created_at) AS created_ms
          FROM posts_current
          WHERE deleted_at IS NULL AND created_at >= now64(3) - toIntervalMillisecond({window_ms:UInt64})`,
  likes: `SELECT toString(post_id) AS pid, toString(user_id) AS rec FROM likes_current
          WHERE deleted_at IS NULL AND post_id IN (${WINDOW_POSTS})`,
  comments: `SELECT toString(post_id) AS pid, toString(id) AS rec FROM comments_current
             WHERE deleted_at IS NULL AND post_id IN (${WINDOW_POSTS})`,
  sharesClicks: `SELECT toString(post_id) AS pid, toString(user_id) AS rec, toString(type) AS kind
                 FROM event_counted_keys FINAL
                 WHERE type IN ('share', 'click') AND post_id IN (${WINDOW_POSTS})`,
  impressions: `SELECT toString(post_id) AS pid, sum(impressions) AS n FROM post_totals
                WHERE post_id IN (${WINDOW_POSTS}) GROUP BY post_id HAVING n > 0`,
  follows: `SELECT toString(follower_id) AS a, toString(followee_id) AS b FROM follows_current WHERE deleted_at IS NULL`,
  blocks: `SELECT toString(blocker_id) AS a, toString(blocked_id) AS b FROM blocks_current WHERE deleted_at IS NULL`,
  deletedUsers: `SELECT toString(id) AS a FROM users_current WHERE deleted_at IS NOT NULL`,
  affinity: `SELECT toString(user_id) AS uid, toString(author_id) AS aid, sum(interactions) AS n
             FROM user_author_90d WHERE day >= today() - 90
             GROUP BY user_id, author_id HAVING n > 0`,
  popular: `SELECT toString(author_id) AS aid FROM author_stats GROUP BY author_id
            HAVING sum(followers) > 0 ORDER BY sum(followers) DESC, author_id LIMIT {n:UInt32}`,
} as const;

export interface BootstrapReport {
  posts: number;
  likes: number;
  comments: number;
  shares: number;
  clicks: number;
  follows: number;
  blocks: number;
  deletedUsers: number;
  affinityUsers: number;
  ms: number;
}

interface PostState {
  aid: string;
  created: number;
  body: string;
  likes: string[];
  comments: string[];
  shares: string[];
  clicks: string[];
  impressions: number;
}

const FLUSH_EVERY = 2000;

export async function bootstrapIndex(
  ch: ClickHouseClient,
  redis: Redis,
  keys: IndexKeys,
  log: (msg: string, detail?: Record<string, unknown>) => void = () => {},
  nowMs = Date.now(),
): Promise<BootstrapReport> {
  const t0 = Date.now();
  const params = { window_ms: INDEX_POST_WINDOW_MS, n: POPULAR_AUTHORS };
  const each = async <T>(query: string, fn: (row: T) => void) => {
    const rs = await ch.query({ query, query_params: params, format: "JSONEachRow" });
    for await (const rows of rs.stream<T>()) for (const r of rows) fn(r.json());
  };
  const report: BootstrapReport = {
    posts: 0,
    likes: 0,
    comments: 0,
    shares: 0,
    clicks: 0,
    follows: 0,
    blocks: 0,
    deletedUsers: 0,
    affinityUsers: 0,
    ms: 0,
  };

  // Posts with what counted on them, newest INDEX_POSTS_PER_AUTHOR per author.
  const posts = new Map<string, PostState>();
  await each<{ pid: string; aid: string; body: string; created_ms: string }>(BOOTSTRAP_SQL.posts, (r) => {
    posts.set(r.pid, {
      aid: r.aid,
      created: Number(r.created_ms),
      body: r.body,
      likes: [],
      comments: [],
      shares: [],
      clicks: [],
      impressions: 0,
    });
  });
  await each<{ pid: string; rec: string }>(BOOTSTRAP_SQL.likes, (r) => posts.get(r.pid)?.likes.push(r.rec));
  await each<{ pid: string; rec: string }>(BOOTSTRAP_SQL.comments, (r) => posts.get(r.pid)?.comments.push(r.rec));
  await each<{ pid: string; rec: string; kind: string }>(BOOTSTRAP_SQL.sharesClicks, (r) => {
    const p = posts.get(r.pid);
    if (p) (r.kind === "share" ? p.shares : p.clicks).push(r.rec);
  });
  await each<{ pid: string; n: string }>(BOOTSTRAP_SQL.impressions, (r) => {
    const p = posts.get(r.pid);
    if (p) p.impressions = Number(r.n);
  });
  log("index bootstrap: posts read", { posts: posts.size });

  const byAuthor = new Map<string, [string, PostState][]>();
  for (const entry of posts) {
    const list = byAuthor.get(entry[1].aid);
    if (list) list.push(entry);
    else byAuthor.set(entry[1].aid, [entry]);
  }
  let p = redis.pipeline();
  let queued = 0;
  const flush = async (force = false) => {
    if (queued === 0 || (!force && queued < FLUSH_EVERY)) return;
    const res = (await p.exec()) ?? [];
    const failed = res.find(([err]) => err);
    if (failed) throw failed[0];
    p = redis.pipeline();
    queued = 0;
  };
  for (const [aid, list] of byAuthor) {
    list.sort((x, y) => y[1].created - x[1].created || (x[0] < y[0] ? 1 : -1));
    const ak = keys.authorPosts(aid);
    p.del(ak);
    let authorExpire = 0;
    for (const [pid, s] of list.slice(0, INDEX_POSTS_PER_AUTHOR)) {
      const pk = keys.post(pid);
      const expireAt = Math.floor(s.created / 1000) + INDEX_POST_TTL_S;
      authorExpire = Math.max(authorExpire, expireAt);
      const records: string[] = ["a", aid, "t", String(s.created)];
      for (const u of s.likes) records.push(`l:${u}`, "1");
      for (const c of s.comments) records.push(`c:${c}`, "1");
      for (const u of s.shares) records.push(`s:${u}`, "1");
      for (const u of s.clicks) records.push(`k:${u}`, "1");
      p.del(pk)
        .hset(pk, ...records)
        .expireat(pk, expireAt);
      const shares = s.shares.filter((u) => u !== aid).length;
      const fields: string[] = [pid, `${s.created}\t${s.body}`];
      if (s.likes.length) fields.push(`${pid}:l`, String(s.likes.length));
      if (s.comments.length) fields.push(`${pid}:c`, String(s.comments.length));
      if (shares) fields.push(`${pid}:s`, String(shares));
      if (s.impressions) fields.push(`${pid}:i`, String(s.impressions));
      p.hset(ak, ...fields);
      report.posts++;
      report.likes += s.likes.length;
      report.comments += s.comments.length;
      report.shares += s.shares.length;
      report.clicks += s.clicks.length;
      queued += 4;
    }
    p.expireat(ak, authorExpire);
    queued += 2;
    await flush();
  }
  await flush(true);
  log("index bootstrap: posts written", { posts: report.posts });

  // Sets: rebuilt whole (the old members of a user go with the DEL the first time it is seen).
  const rebuilt = new Set<string>();
  const add = (key: string, member: string) => {
    if (!rebuilt.has(key)) {
      rebuilt.add(key);
      p.del(key);
      queued++;
    }
    p.sadd(key, member);
    queued++;
  };
  await each<{ a: string; b: string }>(BOOTSTRAP_SQL.follows, (r) => {
    add(keys.followees(r.a), r.b);
    report.follows++;
  });
  await flush(true);
  await each<{ a: string; b: string }>(BOOTSTRAP_SQL.blocks, (r) => {
    add(keys.blocksOut(r.a), r.b);
    add(keys.blocksIn(r.b), r.a);
    report.blocks++;
  });
  await each<{ a: string }>(BOOTSTRAP_SQL.deletedUsers, (r) => {
    add(keys.deletedUsers, r.a);
    report.deletedUsers++;
  });
  await flush(true);

  const affinity = new Map<string, string[]>();
  await each<{ uid: string; aid: string; n: string }>(BOOTSTRAP_SQL.affinity, (r) => {
    const list = affinity.get(r.uid);
    if (list) list.push(r.aid, r.n);
    else affinity.set(r.uid, [r.aid, r.n]);
  });
  for (const [uid, pairs] of affinity) {
    p.del(keys.affinity(uid)).hset(keys.affinity(uid), ...pairs);
    queued += 2;
    report.affinityUsers++;
    await flush();
  }
  await flush(true);

  const popular: string[] = [];
  await each<{ aid: string }>(BOOTSTRAP_SQL.popular, (r) => popular.push(r.aid));
  await redis.set(keys.popularAuthors, JSON.stringify(popular));
  report.ms = Date.now() - t0;
  await redis.set(keys.ready, JSON.stringify({ at: nowMs, ...report }));
  log("index bootstrap: done", { ...report });
  return report;
}

/**
 * The serving index as ClickHouse knows it (`readIndexState`), written to Redis
 * (`writeIndexState`) on a new deployment, after a flush or a failover (`ready` gone), and
 * compared with Redis by `check:index` (check.ts). Meanwhile the edge answers from ClickHouse
 * (the cold path). Every write overwrites with ClickHouse's state, so an interrupted run is
 * finished by the next; `ready` is set last. ClickHouse holds what the sink has inserted; the
 * updater then continues from the sink's committed offsets (serving-index.ts), replaying at
 * most the sink's in-flight batch and whatever the sink inserted while the bootstrap read,
 * which their records make a no-op (an impression there may count twice, which `check:index`
 * shows). That holds because the records and the affinity they count in come from one query
 * (`BOOTSTRAP_SQL.counted`): a change is in both or in neither, so its replay either finds its
 * record or counts it for the first time. (A query sees an insert's own part and its views'
 * parts a few milliseconds apart at most; the periodic affinity refresh repairs that rare case.)
 */
import type { ClickHouseClient } from "@clickhouse/client";
import type { Redis } from "ioredis";
import {
  encodePostCounters,
  INDEX_POST_TTL_S,
  INDEX_POST_WINDOW_MS,
  INDEX_POSTS_PER_AUTHOR,
  type IndexKeys,
  POPULAR_AUTHORS,
} from "../../../edge/core/index.ts";

/** Posts of the index window, as the post CDC table holds them (deleted ones excluded). */
const WINDOW_POSTS = `SELECT id FROM posts_current
  WHERE deleted_at IS NULL AND created_at >= now64(3) - toIntervalMillisecond({window_ms:UInt64})`;

/**
 * Aliases never shadow a column the query filters on (ClickHouse resolves aliases in WHERE).
 *
 * `counted` reads every record (`l:`, `c:`, `s:`, `k:`) and every affinity in ONE query, so both
 * describe the same parts of ClickHouse. Read apart, a like the sink inserted between the two
 * reads was in the affinity but had no record, and the updater's replay of it (the sink had not
 * committed it yet) found no record and counted it a second time.
 */
export const BOOTSTRAP_SQL = {
  posts: `SELECT toString(id) AS pid, toString(author_id) AS aid, text AS body,
            toUnixTimestamp64Milli(created_at) AS created_ms
          FROM posts_current
          WHERE deleted_at IS NULL AND created_at >= now64(3) - toIntervalMillisecond({window_ms:UInt64})`,
  // Records of every interaction, not only on the window's posts: a change the updater replays
  // after the bootstrap (one ClickHouse already holds) must find its record and be a no-op.
  // k: l like, c comment, s share, k click (a = post, b = the record) or af (a = user,
  // b = author, n = interactions over 90 days).
  counted: `SELECT 'l' AS k, toString(post_id) AS a, toString(user_id) AS b, toInt64(0) AS n
              FROM likes_current WHERE deleted_at IS NULL
            UNION ALL
            SELECT 'c' AS k, toString(post_id) AS a, toString(id) AS b, toInt64(0) AS n
              FROM comments_current WHERE deleted_at IS NULL
            UNION ALL
            SELECT if(type = 'share', 's', 'k') AS k, toString(post_id) AS a, toString(user_id) AS b, toInt64(0) AS n
              FROM event_counted_keys FINAL
              WHERE type IN ('share', 'click') AND first_at >= now64(3) - toIntervalSecond({post_ttl_s:UInt64})
            UNION ALL
            SELECT 'af' AS k, toString(user_id) AS a, toString(author_id) AS b, toInt64(sum(interactions)) AS n
              FROM user_author_90d WHERE day >= today() - 90
              GROUP BY user_id, author_id HAVING n > 0`,
  impressions: `SELECT toString(post_id) AS pid, sum(impressions) AS n FROM post_totals
                WHERE post_id IN (${WINDOW_POSTS}) GROUP BY post_id HAVING n > 0`,
  follows: `SELECT toString(follower_id) AS a, toString(followee_id) AS b FROM follows_current WHERE deleted_at IS NULL`,
  blocks: `SELECT toString(blocker_id) AS a, toString(blocked_id) AS b FROM blocks_current WHERE deleted_at IS NULL`,
  deletedUsers: `SELECT toString(id) AS a FROM users_current WHERE deleted_at IS NOT NULL`,
  /** Affinity alone, for the periodic refresh (refresh.ts). */
  affinity: `SELECT toString(user_id) AS uid, toString(author_id) AS aid, sum(interactions) AS n
             FROM user_author_90d WHERE day >= today() - 90
             GROUP BY user_id, author_id HAVING n > 0`,
  popular: `SELECT toString(author_id) AS aid FROM author_stats GROUP BY author_id
            HAVING sum(followers) > 0 ORDER BY sum(followers) DESC, author_id LIMIT {n:UInt32}`,
} as const;

/** The name of each ClickHouse read of the bootstrap, in the order it runs. */
export type BootstrapRead = Exclude<keyof typeof BOOTSTRAP_SQL, "affinity">;

export interface ReadIndexStateOptions {
  /**
   * Awaited before each read. The integration test lands changes in ClickHouse at every point
   * of a bootstrap through it; nothing else needs it.
   */
  beforeRead?: (read: BootstrapRead) => Promise<void>;
}

/** Records of what counted on one post. */
export interface PostRecords {
  likes: string[];
  comments: string[];
  shares: string[];
  clicks: string[];
}

/** One post of the window as the index holds it, with the records of what counted on it. */
export interface PostState extends PostRecords {
  authorId: string;
  createdMs: number;
  text: string;
  impressions: number;
}

export interface IndexState {
  /** Post id → state, at most INDEX_POSTS_PER_AUTHOR newest per author. */
  posts: Map<string, PostState>;
  /** Records on posts outside the window (their post hashes hold only these). */
  otherRecords: Map<string, PostRecords>;
  followees: Map<string, Set<string>>;
  blocksOut: Map<string, Set<string>>;
  blocksIn: Map<string, Set<string>>;
  deletedUsers: Set<string>;
  affinity: Map<string, Map<string, number>>;
  popularAuthors: string[];
}

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

const addTo = (m: Map<string, Set<string>>, k: string, v: string) => {
  const s = m.get(k);
  if (s) s.add(v);
  else m.set(k, new Set([v]));
};

/** What the index should hold, read from ClickHouse (streamed). */
export async function readIndexState(ch: ClickHouseClient, opts: ReadIndexStateOptions = {}): Promise<IndexState> {
  const params = { window_ms: INDEX_POST_WINDOW_MS, n: POPULAR_AUTHORS, post_ttl_s: INDEX_POST_TTL_S };
  const each = async <T>(read: BootstrapRead, fn: (row: T) => void) => {
    await opts.beforeRead?.(read);
    const rs = await ch.query({ query: BOOTSTRAP_SQL[read], query_params: params, format: "JSONEachRow" });
    for await (const rows of rs.stream<T>()) for (const r of rows) fn(r.json());
  };
  const otherRecords = new Map<string, PostRecords>();
  const recordsOf = (pid: string): PostRecords => {
    const p = all.get(pid) ?? otherRecords.get(pid);
    if (p) return p;
    const r: PostRecords = { likes: [], comments: [], shares: [], clicks: [] };
    otherRecords.set(pid, r);
    return r;
  };
  const all = new Map<string, PostState>();
  await each<{ pid: string; aid: string; body: string; created_ms: string }>("posts", (r) => {
    all.set(r.pid, {
      authorId: r.aid,
      createdMs: Number(r.created_ms),
      text: r.body,
      likes: [],
      comments: [],
      shares: [],
      clicks: [],
      impressions: 0,
    });
  });
  const affinity = new Map<string, Map<string, number>>();
  await each<{ k: string; a: string; b: string; n: string }>("counted", (r) => {
    switch (r.k) {
      case "l":
        recordsOf(r.a).likes.push(r.b);
        return;
      case "c":
        recordsOf(r.a).comments.push(r.b);
        return;
      case "s":
        recordsOf(r.a).shares.push(r.b);
        return;
      case "k":
        recordsOf(r.a).clicks.push(r.b);
        return;
      case "af": {
        const m = affinity.get(r.a) ?? new Map<string, number>();
        m.set(r.b, Number(r.n));
        affinity.set(r.a, m);
        return;
      }
    }
  });
  await each<{ pid: string; n: string }>("impressions", (r) => {
    const p = all.get(r.pid);
    if (p) p.impressions = Number(r.n);
  });
  // The newest INDEX_POSTS_PER_AUTHOR of each author, as the updater trims.
  const byAuthor = new Map<string, [string, PostState][]>();
  for (const e of all) {
    const list = byAuthor.get(e[1].authorId);
    if (list) list.push(e);
    else byAuthor.set(e[1].authorId, [e]);
  }
  const posts = new Map<string, PostState>();
  for (const list of byAuthor.values()) {
    list.sort((x, y) => y[1].createdMs - x[1].createdMs || (x[0] < y[0] ? 1 : -1));
    for (const [pid, s] of list.slice(0, INDEX_POSTS_PER_AUTHOR)) posts.set(pid, s);
    for (const [pid, s] of list.slice(INDEX_POSTS_PER_AUTHOR)) otherRecords.set(pid, s);
  }

  const state: IndexState = {
    posts,
    otherRecords,
    followees: new Map(),
    blocksOut: new Map(),
    blocksIn: new Map(),
    deletedUsers: new Set(),
    affinity,
    popularAuthors: [],
  };
  await each<{ a: string; b: string }>("follows", (r) => addTo(state.followees, r.a, r.b));
  await each<{ a: string; b: string }>("blocks", (r) => {
    addTo(state.blocksOut, r.a, r.b);
    addTo(state.blocksIn, r.b, r.a);
  });
  await each<{ a: string }>("deletedUsers", (r) => state.deletedUsers.add(r.a));
  await each<{ aid: string }>("popular", (r) => state.popularAuthors.push(r.aid));
  return state;
}

/** The author hash fields of one post: base "createdMs\ttext" and its counters when any is non-zero. */
export function authorFields(postId: string, s: PostState): Record<string, string> {
  const out: Record<string, string> = { [postId]: `${s.createdMs}\t${s.text}` };
  const counters = encodePostCounters({
    likes: s.likes.length,
    comments: s.comments.length,
    shares: s.shares.filter((u) => u !== s.authorId).length,
    impressions: s.impressions,
  });
  if (counters) out[`${postId}:n`] = counters;
  return out;
}

/** The post hash's record fields (`l:{user}`, `c:{comment}`, `s:{user}`, `k:{user}`). */
function recordFields(r: PostRecords): string[] {
  const out: string[] = [];
  for (const u of r.likes) out.push(`l:${u}`, "1");
  for (const c of r.comments) out.push(`c:${c}`, "1");
  for (const u of r.shares) out.push(`s:${u}`, "1");
  for (const u of r.clicks) out.push(`k:${u}`, "1");
  return out;
}

const FLUSH_EVERY = 2000;

/** Writes the state over what Redis holds (each key replaced whole), then sets `ready`. */
export async function writeIndexState(
  redis: Redis,
  keys: IndexKeys,
  state: IndexState,
  /** When the bootstrap began (reading ClickHouse included): `ready` records how long it took. */
  startedAtMs = Date.now(),
): Promise<Omit<BootstrapReport, "ms">> {
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
  const report = {
    posts: 0,
    likes: 0,
    comments: 0,
    shares: 0,
    clicks: 0,
    follows: 0,
    blocks: 0,
    deletedUsers: 0,
    affinityUsers: 0,
  };

  const authorExpire = new Map<string, number>();
  for (const s of state.posts.values()) p.del(keys.authorPosts(s.authorId));
  for (const [pid, s] of state.posts) {
    const pk = keys.post(pid);
    const ak = keys.authorPosts(s.authorId);
    const expireAt = Math.floor(s.createdMs / 1000) + INDEX_POST_TTL_S;
    authorExpire.set(ak, Math.max(authorExpire.get(ak) ?? 0, expireAt));
    const records: string[] = ["a", s.authorId, "t", String(s.createdMs)];
    for (const u of s.likes) records.push(`l:${u}`, "1");
    for (const c of s.comments) records.push(`c:${c}`, "1");
    for (const u of s.shares) records.push(`s:${u}`, "1");
    for (const u of s.clicks) records.push(`k:${u}`, "1");
    p.del(pk)
      .hset(pk, ...records)
      .expireat(pk, expireAt);
    p.hset(ak, authorFields(pid, s));
    queued += 4;
    report.posts++;
    report.likes += s.likes.length;
    report.comments += s.comments.length;
    report.shares += s.shares.length;
    report.clicks += s.clicks.length;
    await flush();
  }
  for (const [ak, at] of authorExpire) p.expireat(ak, at);
  queued += authorExpire.size;
  for (const [pid, r] of state.otherRecords) {
    const fields = recordFields(r);
    if (fields.length === 0) continue;
    p.del(keys.post(pid))
      .hset(keys.post(pid), ...fields)
      .expire(keys.post(pid), INDEX_POST_TTL_S);
    queued += 3;
    await flush();
  }
  await flush(true);

  const sets = async (m: Map<string, Set<string>>, key: (u: string) => string) => {
    for (const [u, members] of m) {
      p.del(key(u)).sadd(key(u), ...members);
      queued += 2;
      await flush();
    }
  };
  await sets(state.followees, keys.followees);
  await sets(state.blocksOut, keys.blocksOut);
  await sets(state.blocksIn, keys.blocksIn);
  for (const s of state.followees.values()) report.follows += s.size;
  for (const s of state.blocksOut.values()) report.blocks += s.size;
  p.del(keys.deletedUsers);
  if (state.deletedUsers.size) p.sadd(keys.deletedUsers, ...state.deletedUsers);
  report.deletedUsers = state.deletedUsers.size;
  for (const [u, m] of state.affinity) {
    p.del(keys.affinity(u)).hset(keys.affinity(u), Object.fromEntries([...m].map(([a, n]) => [a, String(n)])));
    queued += 2;
    report.affinityUsers++;
    await flush();
  }
  p.set(keys.popularAuthors, JSON.stringify(state.popularAuthors));
  queued++;
  await flush(true);
  await redis.set(keys.ready, JSON.stringify({ at: Date.now(), ms: Date.now() - startedAtMs, ...report }));
  return report;
}

export async function bootstrapIndex(
  ch: ClickHouseClient,
  redis: Redis,
  keys: IndexKeys,
  log: (msg: string, detail?: Record<string, unknown>) => void = () => {},
  read: ReadIndexStateOptions = {},
): Promise<BootstrapReport> {
  const t0 = Date.now();
  const state = await readIndexState(ch, read);
  log("index bootstrap: read ClickHouse", { posts: state.posts.size, ms: Date.now() - t0 });
  const report = await writeIndexState(redis, keys, state, t0);
  const done = { ...report, ms: Date.now() - t0 };
  log("index bootstrap: done", done);
  return done;
}

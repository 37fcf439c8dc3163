/**
 * The serving index as ClickHouse knows it. `readIndexRows` streams it row by row; two
 * consumers read that stream:
 * - `bootstrapIndex` writes it to Redis as it arrives, on a new deployment, after a flush or a
 *   failover (`ready` gone). Meanwhile the edge answers from ClickHouse (the cold path).
 * - `readIndexState` collects it in memory (the benchmark's in-memory comparison and a test of
 *   ClickHouse's JSON forms; `check:index` streams its own reads, check.ts).
 *
 * The bootstrap keeps in memory only the window's posts (id, author, time, counts), never the
 * records, follows or affinity, so its memory grows with the posts of the last 7 days rather than
 * with every interaction. It first clears the namespace's index keys (the impression sets, which
 * only the updater writes, aside), so an interrupted run leaves nothing the next one keeps;
 * `ready` is set last.
 *
 * ClickHouse holds what the sink has inserted; the updater then continues from the sink's
 * committed offsets (serving-index.ts), replaying at most the sink's in-flight batch and
 * whatever the sink inserted while the bootstrap read, which their records make a no-op (an
 * impression there may count twice, which `check:index` shows). That holds because the records
 * and the affinity they count in come from one query (`BOOTSTRAP_SQL.counted`): a change is in
 * both or in neither, so its replay either finds its record or counts it for the first time.
 * (A query sees an insert's own part and its views' parts a few milliseconds apart at most; the
 * periodic affinity refresh repairs that rare case.)
 */
import type { ClickHouseClient } from "@clickhouse/client";
import type { ChainableCommander, Redis } from "ioredis";
import {
  encodePostCounters,
  INDEX_POST_TTL_S,
  INDEX_POST_WINDOW_MS,
  INDEX_POSTS_PER_AUTHOR,
  type IndexKeys,
  POPULAR_AUTHORS,
} from "../../../edge/core/index.ts";
import { unlinkByPrefix } from "./exec.ts";

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
  // Each author's posts together, newest first (ties: the larger id first, as the updater
  // trims), so the newest INDEX_POSTS_PER_AUTHOR are kept while streaming.
  posts: `SELECT toString(id) AS pid, toString(author_id) AS aid, text AS body,
            toUnixTimestamp64Milli(created_at) AS created_ms
          FROM posts_current
          WHERE deleted_at IS NULL AND created_at >= now64(3) - toIntervalMillisecond({window_ms:UInt64})
          ORDER BY aid, created_ms DESC, pid DESC`,
  // Records of every interaction, not only on the window's posts: a change the updater replays
  // after the bootstrap (one ClickHouse already holds) must find its record and be a no-op.
  // k: l like, c comment (u = the commenter), s share, k click (a = post, b = the record); ps, pk
  // a share or click and pi impressions (n = days) waiting for their post (events_pending: the
  // sink has not seen the post yet, so neither has the index); af (a = user, b = author,
  // n = interactions over 90 days).
  counted: `SELECT 'l' AS k, toString(post_id) AS a, toString(user_id) AS b, '' AS u, toInt64(0) AS n
              FROM likes_current WHERE deleted_at IS NULL
            UNION ALL
            SELECT 'c' AS k, toString(post_id) AS a, toString(id) AS b, toString(author_id) AS u, toInt64(0) AS n
              FROM comments_current WHERE deleted_at IS NULL
            UNION ALL
            SELECT if(type = 'share', 's', 'k') AS k, toString(post_id) AS a, toString(user_id) AS b, '' AS u, toInt64(0) AS n
              FROM event_counted_keys FINAL
              WHERE type IN ('share', 'click') AND first_at >= now64(3) - toIntervalSecond({post_ttl_s:UInt64})
            UNION ALL
            SELECT if(type = 'share', 'ps', 'pk') AS k, toString(post_id) AS a, toString(user_id) AS b, '' AS u, toInt64(0) AS n
              FROM events_pending FINAL WHERE type IN ('share', 'click')
              GROUP BY post_id, user_id, type
            UNION ALL
            SELECT 'pi' AS k, toString(post_id) AS a, toString(user_id) AS b, '' AS u,
                   toInt64(uniqExact(toDate(received_at))) AS n
              FROM events_pending FINAL WHERE type = 'impression'
              GROUP BY post_id, user_id
            UNION ALL
            SELECT 'af' AS k, toString(user_id) AS a, toString(author_id) AS b, '' AS u, toInt64(sum(interactions)) AS n
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

/** A record's kind, as its post-hash field begins: like, comment, share, click. */
export type RecordKind = "l" | "c" | "s" | "k";

/** One step of a consumer: a promise only when it has to wait (a pipeline flushing). */
type Step = void | Promise<void>;

/** What `readIndexRows` hands out, in this order: posts, then counted, impressions, follows, blocks, deleted users, popular. */
export interface IndexRowsVisitor {
  /** A post of the window, among its author's newest INDEX_POSTS_PER_AUTHOR. */
  post(postId: string, authorId: string, createdMs: number, text: string): Step;
  /** A counted interaction on a post (of the window or not); `by` is a comment's author. */
  record(postId: string, kind: RecordKind, record: string, by: string): Step;
  /** A share or click (kind s or k) by `userId` on a post not known yet. */
  pendingRecord(postId: string, kind: "s" | "k", userId: string): Step;
  /** Impressions by `userId` on a post not known yet, on `days` UTC days. */
  pendingImpressions(postId: string, userId: string, days: number): Step;
  affinity(userId: string, authorId: string, interactions: number): Step;
  impressions(postId: string, n: number): Step;
  follow(followerId: string, followeeId: string): Step;
  block(blockerId: string, blockedId: string): Step;
  deletedUser(userId: string): Step;
  popularAuthor(authorId: string): Step;
}

/** Streams the index's state from ClickHouse to `visit`, one query after another. */
export async function readIndexRows(
  ch: ClickHouseClient,
  visit: IndexRowsVisitor,
  opts: ReadIndexStateOptions = {},
): Promise<void> {
  const params = { window_ms: INDEX_POST_WINDOW_MS, n: POPULAR_AUTHORS, post_ttl_s: INDEX_POST_TTL_S };
  const each = async <T>(read: BootstrapRead, fn: (row: T) => Step) => {
    await opts.beforeRead?.(read);
    const rs = await ch.query({ query: BOOTSTRAP_SQL[read], query_params: params, format: "JSONEachRow" });
    for await (const rows of rs.stream<T>()) {
      for (const r of rows) {
        const step = fn(r.json());
        if (step) await step;
      }
    }
  };
  let author = "";
  let kept = 0;
  await each<{ pid: string; aid: string; body: string; created_ms: string }>("posts", (r) => {
    if (r.aid !== author) {
      author = r.aid;
      kept = 0;
    }
    // `author`, not `r.aid`: one string per author, however many posts hold it.
    if (kept++ < INDEX_POSTS_PER_AUTHOR) return visit.post(r.pid, author, Number(r.created_ms), r.body);
  });
  await each<{ k: string; a: string; b: string; u: string; n: string | number }>("counted", (r) => {
    if (r.k === "af") return visit.affinity(r.a, r.b, Number(r.n));
    if (r.k === "l" || r.k === "c" || r.k === "s" || r.k === "k") return visit.record(r.a, r.k, r.b, r.u);
    if (r.k === "ps" || r.k === "pk") return visit.pendingRecord(r.a, r.k === "ps" ? "s" : "k", r.b);
    if (r.k === "pi") return visit.pendingImpressions(r.a, r.b, Number(r.n));
  });
  await each<{ pid: string; n: string }>("impressions", (r) => visit.impressions(r.pid, Number(r.n)));
  await each<{ a: string; b: string }>("follows", (r) => visit.follow(r.a, r.b));
  await each<{ a: string; b: string }>("blocks", (r) => visit.block(r.a, r.b));
  await each<{ a: string }>("deletedUsers", (r) => visit.deletedUser(r.a));
  await each<{ aid: string }>("popular", (r) => visit.popularAuthor(r.aid));
}

/** Records of what counted on one post. */
export interface PostRecords {
  likes: string[];
  comments: string[];
  /** The author of each comment in `comments`, in the same order. */
  commenters: string[];
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

/** The whole state in memory. */
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
  /** (user, author) pairs with a positive affinity. */
  affinityPairs: number;
  /** Index keys of an earlier index (or an interrupted bootstrap) removed first. */
  cleared: number;
  ms: number;
}

const addTo = (m: Map<string, Set<string>>, k: string, v: string) => {
  const s = m.get(k);
  if (s) s.add(v);
  else m.set(k, new Set([v]));
};

const RECORD_LIST = { l: "likes", c: "comments", s: "shares", k: "clicks" } as const;

/** What the index should hold, read from ClickHouse into memory. */
export async function readIndexState(ch: ClickHouseClient, opts: ReadIndexStateOptions = {}): Promise<IndexState> {
  const state: IndexState = {
    posts: new Map(),
    otherRecords: new Map(),
    followees: new Map(),
    blocksOut: new Map(),
    blocksIn: new Map(),
    deletedUsers: new Set(),
    affinity: new Map(),
    popularAuthors: [],
  };
  const recordsOf = (pid: string): PostRecords => {
    const p = state.posts.get(pid) ?? state.otherRecords.get(pid);
    if (p) return p;
    const r: PostRecords = { likes: [], comments: [], commenters: [], shares: [], clicks: [] };
    state.otherRecords.set(pid, r);
    return r;
  };
  await readIndexRows(
    ch,
    {
      post: (pid, authorId, createdMs, text) => {
        state.posts.set(pid, {
          authorId,
          createdMs,
          text,
          likes: [],
          comments: [],
          commenters: [],
          shares: [],
          clicks: [],
          impressions: 0,
        });
      },
      record: (pid, kind, rec, by) => {
        const r = recordsOf(pid);
        r[RECORD_LIST[kind]].push(rec);
        if (kind === "c") r.commenters.push(by);
      },
      // What waits for its post lives in a post hash the check does not compare.
      pendingRecord: () => {},
      pendingImpressions: () => {},
      affinity: (u, a, n) => {
        const m = state.affinity.get(u) ?? new Map<string, number>();
        m.set(a, n);
        state.affinity.set(u, m);
      },
      impressions: (pid, n) => {
        const p = state.posts.get(pid);
        if (p) p.impressions = n;
      },
      follow: (a, b) => addTo(state.followees, a, b),
      block: (a, b) => {
        addTo(state.blocksOut, a, b);
        addTo(state.blocksIn, b, a);
      },
      deletedUser: (u) => {
        state.deletedUsers.add(u);
      },
      popularAuthor: (a) => {
        state.popularAuthors.push(a);
      },
    },
    opts,
  );
  return state;
}

const FLUSH_EVERY = 2000;

/** One Redis pipeline at a time, sent every FLUSH_EVERY commands; a failed command fails the bootstrap. */
class Batch {
  p: ChainableCommander;
  private queued = 0;
  constructor(private readonly redis: Redis) {
    this.p = redis.pipeline();
  }
  /** Counts `n` queued commands; sends the pipeline when it is full. */
  add(n: number): Step {
    this.queued += n;
    if (this.queued >= FLUSH_EVERY) return this.flush();
  }
  async flush(): Promise<void> {
    if (this.queued === 0) return;
    const p = this.p;
    this.p = this.redis.pipeline();
    this.queued = 0;
    const failed = ((await p.exec()) ?? []).find(([err]) => err);
    if (failed) throw failed[0];
  }
}

/**
 * Removes the namespace's index keys (`{ns}fi:*`) but the impression sets, which the
 * bootstrap does not write: an earlier index, another layout's, or an interrupted bootstrap's.
 */
export async function clearIndex(redis: Redis, keys: IndexKeys): Promise<number> {
  const impressions = keys.impressions("", "").replace(/:+$/, ":");
  return unlinkByPrefix(redis, keys.prefix, (k) => k.startsWith(impressions));
}

/**
 * Builds the index in Redis from ClickHouse, streaming: each row read is queued at once, and
 * only the window's posts are held (their counts are written once all records are read).
 */
export async function bootstrapIndex(
  ch: ClickHouseClient,
  redis: Redis,
  keys: IndexKeys,
  log: (msg: string, detail?: Record<string, unknown>) => void = () => {},
  read: ReadIndexStateOptions = {},
): Promise<BootstrapReport> {
  const t0 = Date.now();
  const cleared = await clearIndex(redis, keys);
  const report = {
    posts: 0,
    likes: 0,
    comments: 0,
    shares: 0,
    clicks: 0,
    follows: 0,
    blocks: 0,
    deletedUsers: 0,
    affinityPairs: 0,
    cleared,
  };
  /** The window's posts: author and the counters, filled in as the records stream by. */
  const window = new Map<string, { authorId: string; l: number; c: number; s: number; i: number }>();
  const authorExpire = new Map<string, number>();
  const popular: string[] = [];
  const out = new Batch(redis);
  await readIndexRows(
    ch,
    {
      post: (pid, authorId, createdMs, text) => {
        window.set(pid, { authorId, l: 0, c: 0, s: 0, i: 0 });
        const pk = keys.post(pid);
        const ak = keys.authorPosts(authorId);
        const expireAt = Math.floor(createdMs / 1000) + INDEX_POST_TTL_S;
        authorExpire.set(ak, Math.max(authorExpire.get(ak) ?? 0, expireAt));
        out.p
          .hset(pk, "a", authorId, "t", String(createdMs))
          .expireat(pk, expireAt)
          .hset(ak, pid, `${createdMs}\t${text}`);
        report.posts++;
        return out.add(3);
      },
      record: (pid, kind, rec, by) => {
        const pk = keys.post(pid);
        // A comment's record holds its author (as the updater writes it), the others "1"; a
        // pending record of the same share or click (queued in any order) gives way to it.
        out.p.hset(pk, `${kind}:${rec}`, kind === "c" ? by : "1");
        report[RECORD_LIST[kind]]++;
        const w = window.get(pid);
        if (!w) {
          out.p.expire(pk, INDEX_POST_TTL_S);
          return out.add(2);
        }
        if (kind === "l" && rec !== w.authorId) w.l++;
        else if (kind === "c" && by !== w.authorId) w.c++;
        else if (kind === "s" && rec !== w.authorId) w.s++;
        return out.add(1);
      },
      pendingRecord: (pid, kind, user) => {
        const pk = keys.post(pid);
        out.p.hsetnx(pk, `${kind}:${user}`, "p").expire(pk, INDEX_POST_TTL_S);
        return out.add(2);
      },
      pendingImpressions: (pid, user, days) => {
        const pk = keys.post(pid);
        out.p.hset(pk, `i:${user}`, String(days)).expire(pk, INDEX_POST_TTL_S);
        return out.add(2);
      },
      affinity: (u, a, n) => {
        out.p.hset(keys.affinity(u), a, String(n));
        report.affinityPairs++;
        return out.add(1);
      },
      impressions: (pid, n) => {
        const w = window.get(pid);
        if (w) w.i = n;
      },
      follow: (a, b) => {
        out.p.sadd(keys.followees(a), b);
        report.follows++;
        return out.add(1);
      },
      block: (a, b) => {
        out.p.sadd(keys.blocksOut(a), b).sadd(keys.blocksIn(b), a);
        report.blocks++;
        return out.add(2);
      },
      deletedUser: (u) => {
        out.p.sadd(keys.deletedUsers, u);
        report.deletedUsers++;
        return out.add(1);
      },
      popularAuthor: (a) => {
        popular.push(a);
      },
    },
    read,
  );
  log("index bootstrap: read ClickHouse", { posts: report.posts, ms: Date.now() - t0 });
  for (const [pid, w] of window) {
    const counters = encodePostCounters({ likes: w.l, comments: w.c, shares: w.s, impressions: w.i });
    if (!counters) continue;
    out.p.hset(keys.authorPosts(w.authorId), `${pid}:n`, counters);
    await out.add(1);
  }
  for (const [ak, at] of authorExpire) {
    out.p.expireat(ak, at);
    await out.add(1);
  }
  out.p.set(keys.popularAuthors, JSON.stringify(popular));
  await out.add(1);
  await out.flush();
  const done = { ...report, ms: Date.now() - t0 };
  await redis.set(keys.ready, JSON.stringify({ at: Date.now(), ...done }));
  log("index bootstrap: done", done);
  return done;
}

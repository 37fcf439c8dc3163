/**
 * The serving index as ClickHouse knows it. `readIndexRows` streams it row by row; two
 * consumers read that stream:
 * - `bootstrapIndex` writes it to Redis as it arrives, on a new deployment, after a flush or a
 *   failover (`ready` gone). Meanwhile the edge answers from ClickHouse (the cold path).
 * - `readIndexState` collects it in memory (the benchmark's in-memory comparison and a test of
 *   ClickHouse's JSON forms; `check:index` streams its own reads, check.ts).
 *
 * The bootstrap keeps in memory only the window's posts (id, author, time, counts) and their
 * authors, never the records, follows, affinity, profiles, post ids, likes or comments, so its
 * memory grows with the posts of the last 7 days rather than with every user or interaction. It first clears the namespace's index keys (the impression sets, which
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
 * periodic affinity refresh repairs that rare case.) The plain totals (`{post}:d`) are counted
 * from the same records. The other structures hold a state each change sets whole (a profile, a
 * follow's or a like's time, a comment), so a replayed change ends where ClickHouse's latest
 * row did, whichever read saw it; the profiles, their handles and the deleted users come from one
 * read (`users`) so a profile's version (`_v`, which makes an older change a no-op) and what it
 * shows are of the same row.
 */
import type { ClickHouseClient } from "@clickhouse/client";
import type { ChainableCommander } from "ioredis";
import {
  encodeAuthorCard,
  encodePlainTotals,
  encodePostCounters,
  INDEX_POST_TTL_S,
  INDEX_POST_WINDOW_MS,
  INDEX_POSTS_PER_AUTHOR,
  type IndexKeys,
  RECENT_LIKES_MS,
} from "#core/keys.ts";
import { suggestionKeys } from "#core/reads/suggestions.ts";
import { POPULAR_AUTHORS } from "#core/serving/read.ts";
import { type AnyRedis, pipelineOf } from "../redis-cluster.ts";
import { unlinkByPrefix } from "./exec.ts";
import { encodeCommentBody, IndexWriter, RECENT_LIKES_TTL_S } from "./writer.ts";

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
  follows: `SELECT toString(follower_id) AS a, toString(followee_id) AS b, toUnixTimestamp64Milli(created_at) AS ms
            FROM follows_current WHERE deleted_at IS NULL`,
  blocks: `SELECT toString(blocker_id) AS a, toString(blocked_id) AS b FROM blocks_current WHERE deleted_at IS NULL`,
  // Every user, live (a profile and its handle) or deleted, in the order of their versions: of
  // two live users ClickHouse shows with one handle for a moment (one's rename or deletion not
  // inserted yet), the newer claim is written last and holds the handle key, as the updater
  // decides it (USER_LUA).
  users: `SELECT toString(id) AS uid, handle AS h, display_name AS n, bio AS b,
            toUnixTimestamp64Milli(created_at) AS ms, toString(_version) AS v, deleted_at IS NOT NULL AS gone
          FROM users_current ORDER BY _version`,
  // Every live post's id, whole history (an author's `userPosts`).
  userPosts: `SELECT toString(author_id) AS a, toString(id) AS b, toUnixTimestamp64Milli(created_at) AS ms
              FROM posts_current WHERE deleted_at IS NULL`,
  // Live likes of the last RECENT_LIKES_MS (each user's `recentLikes`).
  recentLikes: `SELECT toString(user_id) AS a, toString(post_id) AS b, toUnixTimestamp64Milli(created_at) AS ms
                FROM likes_current
                WHERE deleted_at IS NULL AND created_at >= now64(3) - toIntervalMillisecond({recent_ms:UInt64})`,
  // Every live comment, whole history (a post's `comments` and `commentBodies`).
  comments: `SELECT toString(post_id) AS pid, toString(id) AS cid, toString(author_id) AS uid, text AS body,
               toUnixTimestamp64Milli(created_at) AS ms
             FROM comments_current WHERE deleted_at IS NULL`,
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

/** A live user's profile as the index holds it (`profile(u)`). */
export interface ProfileRow {
  handle: string;
  displayName: string;
  bio: string;
  createdMs: number;
  /** The version (LSN) of the row. */
  version: string;
}

/**
 * What `readIndexRows` hands out, in this order: posts, then counted, impressions, follows,
 * blocks, users (live and deleted, by version), post ids, recent likes, comments, popular.
 */
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
  follow(followerId: string, followeeId: string, createdMs: number): Step;
  block(blockerId: string, blockedId: string): Step;
  /** A live user; users come by version, older first (see BOOTSTRAP_SQL.users). */
  user(userId: string, profile: ProfileRow): Step;
  deletedUser(userId: string): Step;
  /** A live post of any age. */
  userPost(authorId: string, postId: string, createdMs: number): Step;
  /** A live like of the last RECENT_LIKES_MS. */
  recentLike(userId: string, postId: string, createdMs: number): Step;
  /** A live comment. */
  comment(postId: string, commentId: string, commenterId: string, createdMs: number, text: string): Step;
  popularAuthor(authorId: string): Step;
}

/** Streams the index's state from ClickHouse to `visit`, one query after another. */
export async function readIndexRows(
  ch: ClickHouseClient,
  visit: IndexRowsVisitor,
  opts: ReadIndexStateOptions = {},
): Promise<void> {
  const params = {
    window_ms: INDEX_POST_WINDOW_MS,
    n: POPULAR_AUTHORS,
    post_ttl_s: INDEX_POST_TTL_S,
    recent_ms: RECENT_LIKES_MS,
  };
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
  type Edge = { a: string; b: string; ms: string | number };
  await each<Edge>("follows", (r) => visit.follow(r.a, r.b, Number(r.ms)));
  await each<{ a: string; b: string }>("blocks", (r) => visit.block(r.a, r.b));
  type UserRow = { uid: string; h: string; n: string; b: string; ms: string | number; v: string; gone: unknown };
  await each<UserRow>("users", (r) =>
    isTrue(r.gone)
      ? visit.deletedUser(r.uid)
      : visit.user(r.uid, { handle: r.h, displayName: r.n, bio: r.b, createdMs: Number(r.ms), version: r.v }),
  );
  await each<Edge>("userPosts", (r) => visit.userPost(r.a, r.b, Number(r.ms)));
  await each<Edge>("recentLikes", (r) => visit.recentLike(r.a, r.b, Number(r.ms)));
  type CommentRow = { pid: string; cid: string; uid: string; body: string; ms: string | number };
  await each<CommentRow>("comments", (r) => visit.comment(r.pid, r.cid, r.uid, Number(r.ms), r.body));
  await each<{ aid: string }>("popular", (r) => visit.popularAuthor(r.aid));
}

/** A ClickHouse boolean as JSON shows it (true, 1 or "1"). */
function isTrue(v: unknown): boolean {
  return v === true || v === 1 || v === "1" || v === "true";
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
  /** Follower → followee → the follow's created ms. */
  following: Map<string, Map<string, number>>;
  profiles: Map<string, ProfileRow>;
  /** Lower-cased handle → its live user. */
  handles: Map<string, string>;
  /** Author → every live post → created ms. */
  userPosts: Map<string, Map<string, number>>;
  /** User → post → like created ms (the last RECENT_LIKES_MS). */
  recentLikes: Map<string, Map<string, number>>;
  /** Post → comment → its commenter, time and text. */
  comments: Map<string, Map<string, { by: string; createdMs: number; text: string }>>;
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
  /** Live users (profiles). */
  profiles: number;
  /** Live posts of any age (the authors' post ids). */
  userPosts: number;
  recentLikes: number;
  /** Live comments (their bodies). */
  commentBodies: number;
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
    following: new Map(),
    profiles: new Map(),
    handles: new Map(),
    userPosts: new Map(),
    recentLikes: new Map(),
    comments: new Map(),
  };
  const inner = <V>(m: Map<string, Map<string, V>>, k: string): Map<string, V> => {
    let v = m.get(k);
    if (!v) {
      v = new Map();
      m.set(k, v);
    }
    return v;
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
      follow: (a, b, ms) => {
        addTo(state.followees, a, b);
        inner(state.following, a).set(b, ms);
      },
      block: (a, b) => {
        addTo(state.blocksOut, a, b);
        addTo(state.blocksIn, b, a);
      },
      user: (u, profile) => {
        state.profiles.set(u, profile);
        state.handles.set(profile.handle.toLowerCase(), u);
      },
      deletedUser: (u) => {
        state.deletedUsers.add(u);
      },
      userPost: (a, pid, ms) => {
        inner(state.userPosts, a).set(pid, ms);
      },
      recentLike: (u, pid, ms) => {
        inner(state.recentLikes, u).set(pid, ms);
      },
      comment: (pid, cid, by, createdMs, text) => {
        inner(state.comments, pid).set(cid, { by, createdMs, text });
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
  constructor(private readonly redis: AnyRedis) {
    this.p = pipelineOf(redis);
  }
  /** Counts `n` queued commands; sends the pipeline when it is full. */
  add(n: number): Step {
    this.queued += n;
    if (this.queued >= FLUSH_EVERY) return this.flush();
  }
  async flush(): Promise<void> {
    if (this.queued === 0) return;
    const p = this.p;
    this.p = pipelineOf(this.redis);
    this.queued = 0;
    const failed = ((await p.exec()) ?? []).find(([err]) => err);
    if (failed) throw failed[0];
  }
}

/**
 * Removes the namespace's index keys (`{ns}fi:*`) but the impression sets, which the
 * bootstrap does not write: an earlier index, another layout's, or an interrupted bootstrap's.
 */
export async function clearIndex(redis: AnyRedis, keys: IndexKeys): Promise<number> {
  const impressions = `${keys.prefix}im:`;
  return unlinkByPrefix(redis, keys.prefix, (k) => k.startsWith(impressions));
}

/**
 * Builds the index in Redis from ClickHouse, streaming: each row read is queued at once, and
 * only the window's posts are held (their counts are written once all records are read).
 */
export async function bootstrapIndex(
  ch: ClickHouseClient,
  redis: AnyRedis,
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
    profiles: 0,
    userPosts: 0,
    recentLikes: 0,
    commentBodies: 0,
    cleared,
  };
  /**
   * The window's posts: author and the counters (by others: l, c, s; impressions i) and plain
   * totals (every like pl and comment pc), filled in as the records stream by.
   */
  const window = new Map<
    string,
    { authorId: string; l: number; c: number; s: number; i: number; pl: number; pc: number }
  >();
  const authorExpire = new Map<string, number>();
  const popular: string[] = [];
  const out = new Batch(redis);
  await readIndexRows(
    ch,
    {
      post: (pid, authorId, createdMs, text) => {
        window.set(pid, { authorId, l: 0, c: 0, s: 0, i: 0, pl: 0, pc: 0 });
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
        if (kind === "l") {
          w.pl++;
          if (rec !== w.authorId) w.l++;
        } else if (kind === "c") {
          w.pc++;
          if (by !== w.authorId) w.c++;
        } else if (kind === "s" && rec !== w.authorId) w.s++;
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
      follow: (a, b, ms) => {
        out.p.sadd(keys.followees(a), b).zadd(keys.following(a), ms, b).zadd(keys.followers(b), ms, a);
        report.follows++;
        return out.add(3);
      },
      block: (a, b) => {
        out.p.sadd(keys.blocksOut(a), b).sadd(keys.blocksIn(b), a);
        report.blocks++;
        return out.add(2);
      },
      user: (u, pr) => {
        // By version, older first: a later SET of the same handle is the newer claim.
        out.p
          .hset(
            keys.profile(u),
            "h",
            pr.handle,
            "n",
            pr.displayName,
            "b",
            pr.bio,
            "c",
            String(pr.createdMs),
            "_v",
            pr.version,
          )
          .hset(keys.handle(pr.handle), "u", u, "v", pr.version);
        report.profiles++;
        const ak = keys.authorPosts(u);
        if (!authorExpire.has(ak)) return out.add(2);
        out.p.hset(ak, "_u", encodeAuthorCard(pr.handle, pr.displayName));
        return out.add(3);
      },
      deletedUser: (u) => {
        out.p.sadd(keys.deletedUsers, u);
        report.deletedUsers++;
        return out.add(1);
      },
      userPost: (a, pid, ms) => {
        out.p.zadd(keys.userPosts(a), ms, pid);
        report.userPosts++;
        return out.add(1);
      },
      recentLike: (u, pid, ms) => {
        const lk = keys.recentLikes(u);
        out.p.zadd(lk, ms, pid).expire(lk, RECENT_LIKES_TTL_S);
        report.recentLikes++;
        return out.add(2);
      },
      comment: (pid, cid, by, ms, text) => {
        out.p.zadd(keys.comments(pid), ms, cid).hset(keys.commentBodies(pid), cid, encodeCommentBody(by, ms, text));
        report.commentBodies++;
        return out.add(2);
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
    const plain = encodePlainTotals({ likes: w.pl, comments: w.pc });
    if (counters) out.p.hset(keys.authorPosts(w.authorId), `${pid}:n`, counters);
    if (plain) out.p.hset(keys.authorPosts(w.authorId), `${pid}:d`, plain);
    // The post hash's own counters (scripts.ts), at version 0: the updater's first change of the
    // post is newer than what the author hash holds.
    // An absent `n` reads as zeros, so a post nobody touched gets none.
    const own = counters || plain;
    if (own) out.p.hset(keys.post(pid), "n", [w.l, w.c, w.s, w.i, w.pl, w.pc].join(","));
    await out.add((counters ? 1 : 0) + (plain ? 1 : 0) + (own ? 1 : 0));
  }
  for (const [ak, at] of authorExpire) {
    out.p.expireat(ak, at);
    await out.add(1);
  }
  out.p.set(keys.popularAuthors, JSON.stringify(popular));
  await out.add(1);
  await out.flush();
  // A failover may have turned Redis's clock back: the writer's read times start afresh.
  await redis.del(suggestionKeys(keys).followerCountsAt);
  await buildFollowerCounts(ch, redis, keys);
  const done = { ...report, ms: Date.now() - t0 };
  await redis.set(keys.ready, JSON.stringify({ at: Date.now(), ...done }));
  log("index bootstrap: done", done);
  return done;
}

/** Every user with a live follower as ClickHouse knows them (who may have a follower count). */
const FOLLOWED_USERS_SQL = `SELECT DISTINCT toString(followee_id) AS uid FROM follows_current WHERE deleted_at IS NULL`;

/**
 * Fills the suggestions' `followerCounts` (edge/core/reads/suggestions.ts) for every user
 * ClickHouse says has a follower, each count read from the index's own `followers(u)` (the
 * writer's settleFollowerCounts, batches of `batch`), then sets `followerCountsReady`. The
 * bootstrap runs it once its follows are written; the serving index runs it once on an index
 * built before these keys existed. A follow ClickHouse has not seen yet is the updater's to
 * settle, as every follow after it.
 */
export async function buildFollowerCounts(
  ch: ClickHouseClient,
  redis: AnyRedis,
  keys: IndexKeys,
  batch = 1000,
): Promise<number> {
  const writer = new IndexWriter(redis, keys);
  const rs = await ch.query({ query: FOLLOWED_USERS_SQL, format: "JSONEachRow" });
  let users: string[] = [];
  let n = 0;
  for await (const rows of rs.stream<{ uid: string }>()) {
    for (const r of rows) {
      users.push(r.json().uid);
      if (users.length >= batch) {
        await writer.settleFollowerCounts(users);
        n += users.length;
        users = [];
      }
    }
  }
  if (users.length) await writer.settleFollowerCounts(users);
  n += users.length;
  await redis.set(suggestionKeys(keys).followerCountsReady, String(Date.now()));
  return n;
}

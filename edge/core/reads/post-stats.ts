/**
 * Creator stats (issue 17, item 5), pure: GET /api/v1/posts/:id/stats reads a post's hourly
 * counters of the last 7 days from ClickHouse's `post_metrics_1h` (clickhouse/0002, counted
 * signals per 0004: impressions, views, clicks and shares from events, likes and comments from
 * their CDC tables) and adds them up. The query, its parameters, and rows → the answer.
 */

/** The window: the current hour and the 167 before it (7 days of hourly rows). */
export const POST_STATS_HOURS = 7 * 24;
/** How long an answer is cached (Redis, shared by every edge): a creator refreshing sees ≤ 30 s old counts. */
export const POST_STATS_CACHE_TTL_S = 30;

/** Redis key of a post's cached stats (JSON PostStatsCached); `ns` = INDEX_NAMESPACE. */
export const postStatsKey = (ns: string, postId: string): string => `${ns}stats:post:v1:${postId}`;

const HOUR_MS = 3_600_000;

export const POST_STATS_COUNTERS = ["impressions", "views", "clicks", "likes", "comments", "shares"] as const;
export type PostStatsCounter = (typeof POST_STATS_COUNTERS)[number];
export type PostStatsCounts = Record<PostStatsCounter, number>;

/**
 * One post's hours of the window, summed per hour (the SummingMergeTree may hold unmerged
 * parts). Aliases differ from the source columns, so WHERE reads the columns themselves.
 * Parameters: post (UUID), since (epoch seconds of the window's first hour).
 */
export const POST_STATS_SQL = `SELECT
    toUnixTimestamp(hour) AS hour_s,
    sum(impressions) AS n_impressions,
    sum(views) AS n_views,
    sum(clicks) AS n_clicks,
    sum(likes) AS n_likes,
    sum(comments) AS n_comments,
    sum(shares) AS n_shares
FROM post_metrics_1h
WHERE post_id = {post:UUID} AND hour >= toDateTime({since:UInt32}, 'UTC')
GROUP BY hour
ORDER BY hour`;

/** Who wrote the post, and whether it is deleted, when the serving index no longer has it. */
export const POST_AUTHOR_SQL = `SELECT toString(author_id) AS author, isNotNull(deleted_at) AS deleted
FROM posts_current
WHERE id = {post:UUID}
LIMIT 1`;

export interface PostStatsRow {
  hour_s: number | string;
  n_impressions: number | string;
  n_views: number | string;
  n_clicks: number | string;
  n_likes: number | string;
  n_comments: number | string;
  n_shares: number | string;
}

export interface PostStatsHour extends PostStatsCounts {
  /** Start of the hour, ISO-8601 UTC. */
  hour: string;
}

export interface PostStatsBody {
  post_id: string;
  author_id: string;
  /** Start of the window's first hour, ISO-8601 UTC. */
  from: string;
  /** When the counts were read, ISO-8601 UTC. */
  generated_at: string;
  /** Hours with any activity, oldest first (an hour without a row had none). */
  hours: PostStatsHour[];
  /** The hours' sums: the post's counts over the window. */
  totals: PostStatsCounts;
}

/** Epoch ms of the window's first hour for a read at `nowMs`. */
export function postStatsSince(nowMs: number): number {
  return Math.floor(nowMs / HOUR_MS) * HOUR_MS - (POST_STATS_HOURS - 1) * HOUR_MS;
}

const int = (v: number | string): number => {
  const n = Number(v);
  return Number.isFinite(n) ? Math.trunc(n) : 0;
};

export function postStatsBody(
  postId: string,
  authorId: string,
  rows: readonly PostStatsRow[],
  nowMs: number,
): PostStatsBody {
  const totals: PostStatsCounts = { impressions: 0, views: 0, clicks: 0, likes: 0, comments: 0, shares: 0 };
  const hours = rows
    .map((r) => {
      const h: PostStatsHour = {
        hour: new Date(int(r.hour_s) * 1000).toISOString(),
        impressions: int(r.n_impressions),
        views: int(r.n_views),
        clicks: int(r.n_clicks),
        likes: int(r.n_likes),
        comments: int(r.n_comments),
        shares: int(r.n_shares),
      };
      for (const k of POST_STATS_COUNTERS) totals[k] += h[k];
      return h;
    })
    .filter((h) => POST_STATS_COUNTERS.some((k) => h[k] !== 0))
    .sort((a, b) => (a.hour < b.hour ? -1 : a.hour > b.hour ? 1 : 0));
  return {
    post_id: postId,
    author_id: authorId,
    from: new Date(postStatsSince(nowMs)).toISOString(),
    generated_at: new Date(nowMs).toISOString(),
    hours,
    totals,
  };
}

/** What the index's post hash says about authorship (`fi:p:{post}` fields a, d); null when it has no entry. */
export function authorFromIndex(reply: unknown): { author: string; deleted: boolean } | null {
  let a: unknown;
  let d: unknown;
  if (Array.isArray(reply)) [a, d] = reply;
  else if (reply && typeof reply === "object") ({ a, d } = reply as { a?: unknown; d?: unknown });
  if (typeof a !== "string" || a === "") return null;
  return { author: a.toLowerCase(), deleted: String(d ?? "") === "1" };
}

/**
 * The three generators: hot posts (→ hot:posts:1h and the trending_posts snapshot the feed's F2
 * source reads), suggested users for active users (→ suggest:users:{id}) and the feed cache
 * warmer for the most active users (→ feed:v1:{id}, ranked by the same pure code as the edge).
 */
import type { ClickHouseClient } from "@clickhouse/client";
import type { Redis } from "ioredis";
import {
  ACTIVE_USERS_SQL,
  type CandidateRowLike,
  candidatesFromRows,
  chDateTime64,
  FEED_CANDIDATES_SQL,
  FEED_QUERY_LIMITS,
  FEED_TTL_S,
  type FeedCacheEntry,
  feedKey,
  feedVersionKey,
  HOT_POSTS_KEY,
  HOT_POSTS_TTL_S,
  LAST_FEED_TTL_S,
  lastFeedKey,
  newRankingId,
  type RankingOptions,
  rankFeed,
  rankHotPosts,
  SUGGEST_TTL_S,
  SUGGESTED_USERS_BATCH_SQL,
  SUGGESTIONS_PER_USER,
  seenKey,
  suggestionsFromRows,
  suggestKey,
  TRENDING_CANDIDATES_SQL,
} from "../../../edge/core/index.ts";

export interface GeneratorDeps {
  ch: ClickHouseClient;
  redis: Redis;
  /** Where the hot list goes. Default HOT_POSTS_KEY (tests use their own). */
  hotKey?: string;
  ranking?: RankingOptions;
  now?: () => number;
}

const TRENDING_POOL = 1000;

/**
 * The generators' queries run on one thread each (a SETTINGS clause of the query itself, so no
 * session state changes): they are background work, and on a small ClickHouse a generator
 * query spread over every core makes the edge's misses wait behind it.
 */
export function asBackground(sql: string): string {
  const trimmed = sql.trimEnd();
  return /\bSETTINGS\s+[\w\s=,'.-]+$/i.test(trimmed)
    ? `${trimmed}, max_threads = 1`
    : `${trimmed}\nSETTINGS max_threads = 1`;
}

async function rows<T>(ch: ClickHouseClient, query: string, params: Record<string, unknown>): Promise<T[]> {
  const rs = await ch.query({ query: asBackground(query), query_params: params, format: "JSONEachRow" });
  return rs.json<T>();
}

export async function generateHotPosts(deps: GeneratorDeps): Promise<Record<string, number>> {
  const now = deps.now?.() ?? Date.now();
  const candidates = await rows<CandidateRowLike>(deps.ch, TRENDING_CANDIDATES_SQL, { pool: TRENDING_POOL });
  const hot = rankHotPosts(candidates, now, deps.ranking);
  await deps.redis.set(deps.hotKey ?? HOT_POSTS_KEY, JSON.stringify(hot), "EX", HOT_POSTS_TTL_S);
  if (hot.length) {
    const computedAt = chDateTime64(now);
    await deps.ch.insert({
      table: "trending_posts",
      values: hot.map((h, rank) => ({
        generation: now,
        rank,
        post_id: h.postId,
        author_id: h.authorId,
        score: h.score,
        computed_at: computedAt,
      })),
      format: "JSONEachRow",
    });
  }
  return { candidates: candidates.length, hot: hot.length };
}

async function activeUsers(deps: GeneratorDeps, hours: number, limit: number): Promise<string[]> {
  return (await rows<{ user_id: string }>(deps.ch, ACTIVE_USERS_SQL, { hours, limit })).map((r) => r.user_id);
}

/** Runs `fn` over `items` with at most `concurrency` at once; stops taking items once aborted. */
async function eachLimited<T>(
  items: T[],
  concurrency: number,
  fn: (item: T) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length && !signal?.aborted) await fn(items[next++] as T);
    }),
  );
}

export async function generateSuggestions(
  deps: GeneratorDeps,
  opts: { maxUsers: number; batchSize?: number; signal?: AbortSignal },
): Promise<Record<string, number>> {
  const users = await activeUsers(deps, 24, opts.maxUsers);
  const size = opts.batchSize ?? 500;
  let written = 0;
  let batches = 0;
  // One set-based query per batch (sequential: the generator should leave ClickHouse to the
  // edge's requests), then one Redis pipeline per batch.
  for (let i = 0; i < users.length && !opts.signal?.aborted; i += size) {
    const viewers = users.slice(i, i + size);
    const found = await rows<{ viewer_id: string; user_id: string; score: string; reason: string }>(
      deps.ch,
      SUGGESTED_USERS_BATCH_SQL,
      { viewers, limit: SUGGESTIONS_PER_USER },
    );
    const byViewer = new Map<string, typeof found>();
    for (const r of found) {
      const list = byViewer.get(r.viewer_id);
      if (list) list.push(r);
      else byViewer.set(r.viewer_id, [r]);
    }
    const p = deps.redis.pipeline();
    for (const v of viewers) {
      p.set(suggestKey(v), JSON.stringify(suggestionsFromRows(byViewer.get(v) ?? [])), "EX", SUGGEST_TTL_S);
    }
    await p.exec();
    written += viewers.length;
    batches++;
  }
  return { users: users.length, written, batches };
}

/**
 * Builds one user's ranking exactly as the edge does on a miss, and caches it for `ttlS`
 * (default the edge's FEED_TTL_S). The warmer passes its interval plus a margin, so that a
 * warmed user stays warm until the next run instead of going cold half of each interval;
 * writes still reach the next read at once, because they bump the feed version.
 */
export async function warmFeed(deps: GeneratorDeps, userId: string, ttlS = FEED_TTL_S): Promise<FeedCacheEntry> {
  const now = deps.now?.() ?? Date.now();
  // The version is read before the candidates, as the edge does (see feedVersionKey).
  const ver = Number((await deps.redis.get(feedVersionKey(userId))) ?? 0);
  const [candidateRows, seen] = await Promise.all([
    rows<CandidateRowLike>(deps.ch, FEED_CANDIDATES_SQL, { viewer: userId, ...FEED_QUERY_LIMITS }),
    deps.redis.zrange(seenKey(userId), 0, -1),
  ]);
  const { bySource, blockedAuthorIds } = candidatesFromRows(candidateRows);
  const items = rankFeed(
    bySource,
    { viewerId: userId, blockedAuthorIds, seenPostIds: new Set(seen) },
    now,
    deps.ranking,
  );
  const entry: FeedCacheEntry = { v: 1, rankingId: newRankingId(), builtAtMs: now, ver, excluded: [], items };
  const json = JSON.stringify(entry);
  await deps.redis
    .multi()
    .set(feedKey(userId), json, "EX", ttlS)
    .set(lastFeedKey(userId), json, "EX", LAST_FEED_TTL_S)
    .exec();
  return entry;
}

export async function warmFeeds(
  deps: GeneratorDeps,
  opts: { topUsers: number; intervalMs?: number; concurrency?: number; signal?: AbortSignal },
): Promise<Record<string, number>> {
  const users = await activeUsers(deps, 24, opts.topUsers);
  const ttlS = Math.max(FEED_TTL_S, Math.ceil((opts.intervalMs ?? 0) / 1000) + 30);
  let items = 0;
  // Two at a time: the warmer should leave most of ClickHouse to the edge's misses.
  await eachLimited(
    users,
    opts.concurrency ?? 2,
    async (userId) => {
      items += (await warmFeed(deps, userId, ttlS)).items.length;
    },
    opts.signal,
  );
  return { users: users.length, items };
}

/**
 * GET /api/v1/feed as a pipeline: cache → (on a miss) one ClickHouse round trip in parallel with
 * the viewer's seen set → pure ranking → cache write in waitUntil → the page. Every outbound call
 * has a timeout; a failed ClickHouse call falls back to the last ranking, else trending, marked
 * STALE.
 */
import type { ClickHouseClient } from "@clickhouse/client-web";
import type { Redis } from "@upstash/redis/cloudflare";
import {
  ApiError,
  type CandidateRowLike,
  candidatesFromRows,
  FEED_TTL_S,
  type FeedCacheEntry,
  type FeedCursor,
  feedKey,
  feedVersionKey,
  HOT_POSTS_KEY,
  LAST_FEED_TTL_S,
  lastFeedKey,
  newRankingId,
  type RankedItem,
  type RankingOptions,
  rankFeed,
  seenKey,
  servedIds,
} from "../../core/index.ts";
import { FEED_CANDIDATES_SQL, FEED_QUERY_LIMITS } from "../../core/sql.ts";

export type CacheOutcome = "HIT" | "MISS" | "STALE";

export interface Timing {
  name: string;
  ms: number;
  desc?: string;
}

export interface FeedDeps {
  redis: Redis;
  clickhouse: ClickHouseClient;
  ranking: RankingOptions;
  now: () => number;
  waitUntil: (p: Promise<unknown>) => void;
  log: Record<string, unknown>;
}

export interface FeedResult {
  entry: FeedCacheEntry;
  offset: number;
  cache: CacheOutcome;
  timings: Timing[];
}

async function timed<T>(timings: Timing[], name: string, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await fn();
  } finally {
    timings.push({ name, ms: performance.now() - t0 });
  }
}

/**
 * Reads the fresh ranking and the feed version in one round trip (auto-pipelined). A fresh
 * ranking recorded under an older version was invalidated: it reads as a miss. Redis trouble
 * reads as a miss too.
 */
async function readCache(deps: FeedDeps, userId: string): Promise<{ fresh: FeedCacheEntry | null; ver: number }> {
  try {
    const [fresh, ver] = await Promise.all([
      deps.redis.get<FeedCacheEntry>(feedKey(userId)),
      deps.redis.get<number>(feedVersionKey(userId)),
    ]);
    const v = Number(ver ?? 0);
    return { fresh: fresh?.v === 1 && (fresh.ver ?? 0) === v ? fresh : null, ver: v };
  } catch (err) {
    deps.log.redis_error = String(err);
    return { fresh: null, ver: 0 };
  }
}

/** The long-lived copy, read only off the hit path: for paging an expired ranking or degrading. */
async function readLast(deps: FeedDeps, userId: string): Promise<FeedCacheEntry | null> {
  try {
    const last = await deps.redis.get<FeedCacheEntry>(lastFeedKey(userId));
    return last?.v === 1 ? last : null;
  } catch {
    return null;
  }
}

export async function buildRanking(
  deps: Pick<FeedDeps, "redis" | "clickhouse" | "ranking" | "now" | "log">,
  userId: string,
  excluded: string[],
  timings: Timing[],
  ver = 0,
): Promise<FeedCacheEntry> {
  const [rows, seen] = await Promise.all([
    timed(timings, "ch", async () => {
      const rs = await deps.clickhouse.query({
        query: FEED_CANDIDATES_SQL,
        query_params: { viewer: userId, ...FEED_QUERY_LIMITS },
        format: "JSONEachRow",
      });
      return rs.json<CandidateRowLike>();
    }),
    timed(timings, "seen", async () => {
      try {
        return await deps.redis.zrange<string[]>(seenKey(userId), 0, -1);
      } catch (err) {
        deps.log.seen_error = String(err); // rank without it rather than fail
        return [] as string[];
      }
    }),
  ]);
  const t0 = performance.now();
  const { bySource, blockedAuthorIds } = candidatesFromRows(rows);
  const items = rankFeed(
    bySource,
    { viewerId: userId, blockedAuthorIds, seenPostIds: new Set(seen), servedPostIds: new Set(excluded) },
    deps.now(),
    deps.ranking,
  );
  timings.push({ name: "rank", ms: performance.now() - t0 });
  return { v: 1, rankingId: newRankingId(), builtAtMs: deps.now(), ver, excluded, items };
}

/** Writes the fresh (60 s) and last (24 h) copies in one round trip. */
export function writeCache(redis: Redis, userId: string, entry: FeedCacheEntry): Promise<unknown> {
  const p = redis.pipeline();
  p.set(feedKey(userId), entry, { ex: FEED_TTL_S });
  p.set(lastFeedKey(userId), entry, { ex: LAST_FEED_TTL_S });
  return p.exec();
}

export async function getFeed(deps: FeedDeps, userId: string, cursor: FeedCursor | null): Promise<FeedResult> {
  const timings: Timing[] = [];
  const { fresh, ver } = await timed(timings, "redis", () => readCache(deps, userId));

  // Paging through a ranking we still have: serve it as it was, whatever changed since.
  if (cursor) {
    if (fresh?.rankingId === cursor.rankingId) return { entry: fresh, offset: cursor.offset, cache: "HIT", timings };
  } else if (fresh) {
    return { entry: fresh, offset: 0, cache: "HIT", timings };
  }

  // The cursor's ranking expired: exclude what it already served.
  let last = cursor ? await timed(timings, "redis-last", () => readLast(deps, userId)) : undefined;
  const excluded = cursor && last?.rankingId === cursor.rankingId ? servedIds(last, cursor.offset) : [];
  if (cursor && last?.rankingId !== cursor.rankingId) deps.log.cursor = "ranking-gone";
  try {
    const entry = await buildRanking(deps, userId, excluded, timings, ver);
    deps.waitUntil(writeCache(deps.redis, userId, entry).catch((err) => (deps.log.cache_write_error = String(err))));
    return { entry, offset: 0, cache: "MISS", timings };
  } catch (err) {
    deps.log.clickhouse_error = String(err);
  }

  // ClickHouse down or slow: the last ranking, else trending.
  if (last === undefined) last = await readLast(deps, userId);
  if (last) {
    const offset = cursor && last.rankingId === cursor.rankingId ? cursor.offset : 0;
    deps.log.fallback = "last-ranking";
    return { entry: last, offset, cache: "STALE", timings };
  }
  const hot = await deps.redis.get<RankedItem[]>(HOT_POSTS_KEY).catch(() => null);
  if (hot?.length) {
    deps.log.fallback = "trending";
    const items = hot.filter((i) => i.authorId !== userId);
    return {
      entry: { v: 1, rankingId: "trending", builtAtMs: deps.now(), excluded: [], items },
      offset: cursor?.rankingId === "trending" ? cursor.offset : 0,
      cache: "STALE",
      timings,
    };
  }
  throw new ApiError("unavailable", "feed temporarily unavailable; retry shortly");
}

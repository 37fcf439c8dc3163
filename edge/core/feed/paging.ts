/**
 * The feed's cached ranking and its paging, pure. One cache entry per user serves every page:
 * a cursor names the ranking it pages through and an offset into it, so paging never repeats
 * or skips while scores change. When that ranking has expired, the next page comes from a
 * fresh ranking that excludes everything already served (carried in `excluded`).
 */
import type { FeedCursor } from "../cursor.ts";
import type { RankedItem } from "../ranking/rank.ts";

/** What the feed cache (`feed:v1:{user}`) holds. */
export interface FeedCacheEntry {
  v: 1;
  rankingId: string;
  builtAtMs: number;
  /** The user's feed version (feedVersionKey) read before the candidates were; 0 if none. */
  ver?: number;
  /** Post ids served from earlier rankings of this paging session (never shown again in it). */
  excluded: string[];
  items: RankedItem[];
}

/** At most this many excluded ids are carried from ranking to ranking. */
export const MAX_EXCLUDED = 1000;

/** Ids this paging session has served up to `offset` of `entry`. */
export function servedIds(entry: FeedCacheEntry, offset: number): string[] {
  const ids = [...entry.excluded, ...entry.items.slice(0, offset).map((i) => i.postId)];
  return ids.slice(-MAX_EXCLUDED);
}

/** A page of a ranking, and the cursor of the next page (null at the end). */
export function pageOf(
  entry: FeedCacheEntry,
  offset: number,
  limit: number,
): { items: RankedItem[]; next: FeedCursor | null } {
  const items = entry.items.slice(offset, offset + limit);
  const nextOffset = offset + items.length;
  return { items, next: nextOffset < entry.items.length ? { rankingId: entry.rankingId, offset: nextOffset } : null };
}

/** A random, URL-safe ranking id (Web Crypto exists in both runtimes). */
export function newRankingId(): string {
  return crypto.randomUUID().replace(/-/g, "").slice(0, 16);
}

/**
 * The feed's cached ranking and its paging, pure. One cache entry per user serves every page:
 * a cursor names the ranking it pages through and an offset into it, so paging never repeats
 * or skips while scores change. When that ranking has expired, the next page comes from a
 * fresh ranking that excludes everything already served (carried in `excluded`).
 */
import type { FeedCursor } from "./cursor.ts";
import type { Candidate, CandidateSource } from "./ranking/candidates.ts";
import { type RankedItem, type RankingOptions, rankFeed } from "./ranking/rank.ts";

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

export interface FeedItemOut {
  post_id: string;
  author_id: string;
  created_at: string;
  text: string;
  source: CandidateSource;
  score: number;
  explain?: {
    freshness: number;
    engagement: number;
    affinity: number;
    base_score: number;
    diversity_multiplier: number;
  };
}

export function presentItem(item: RankedItem, explain: boolean): FeedItemOut {
  const out: FeedItemOut = {
    post_id: item.postId,
    author_id: item.authorId,
    created_at: new Date(item.createdAtMs).toISOString(),
    text: item.text,
    source: item.source,
    score: item.score,
  };
  if (explain) {
    out.explain = {
      freshness: item.explain.freshness,
      engagement: item.explain.engagement,
      affinity: item.explain.affinity,
      base_score: item.explain.score,
      diversity_multiplier: item.explain.diversityMultiplier,
    };
  }
  return out;
}

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

const SOURCES: Record<number, CandidateSource> = { 1: "follow", 2: "trending", 3: "affinity" };

/** A row of the candidates query (numbers may arrive as strings: 64-bit integers are quoted). */
export interface CandidateRowLike {
  post_id: string;
  author_id: string;
  text: string;
  created_at_ms: string | number;
  src: string | number;
  likes: string | number;
  comments: string | number;
  shares: string | number;
  impressions: string | number;
  affinity: string | number;
  author_blocked: string | number | boolean;
  author_deleted: string | number | boolean;
}

/**
 * Rows of the candidates query → candidates by source, plus the authors the viewer may not see
 * (blocked either way). Deleted authors are flagged on the candidate.
 */
export function candidatesFromRows(rows: CandidateRowLike[]): {
  bySource: Record<CandidateSource, Candidate[]>;
  blockedAuthorIds: Set<string>;
} {
  const bySource: Record<CandidateSource, Candidate[]> = { follow: [], trending: [], affinity: [] };
  const blockedAuthorIds = new Set<string>();
  const truthy = (v: string | number | boolean) => v === true || v === 1 || v === "1" || v === "true";
  for (const r of rows) {
    const source = SOURCES[Number(r.src)];
    if (!source) continue;
    if (truthy(r.author_blocked)) blockedAuthorIds.add(r.author_id);
    bySource[source].push({
      postId: r.post_id,
      authorId: r.author_id,
      text: r.text,
      source,
      createdAtMs: Number(r.created_at_ms),
      likes: Number(r.likes),
      comments: Number(r.comments),
      shares: Number(r.shares),
      impressions: Number(r.impressions),
      authorInteractions90d: Number(r.affinity),
      authorDeleted: truthy(r.author_deleted),
    });
  }
  return { bySource, blockedAuthorIds };
}

/** A random, URL-safe ranking id (Web Crypto exists in both runtimes). */
export function newRankingId(): string {
  return crypto.randomUUID().replace(/-/g, "").slice(0, 16);
}

/** Hot posts are ranked by the same formula (no viewer, so no affinity); at most this many. */
export const HOT_POSTS_MAX = 200;

/** The hot-posts list (`hot:posts:1h`) from trending candidate rows. */
export function rankHotPosts(rows: CandidateRowLike[], nowMs: number, options: RankingOptions = {}): RankedItem[] {
  const { bySource } = candidatesFromRows(rows);
  const none = new Set<string>();
  return rankFeed({ trending: bySource.trending }, { viewerId: "", blockedAuthorIds: none, seenPostIds: none }, nowMs, {
    ...options,
    maxItems: HOT_POSTS_MAX,
  });
}

/** One suggestion as cached in `suggest:users:{id}` and returned by the API. */
export interface SuggestedUser {
  user_id: string;
  score: number;
  reason: "followed_by_your_follows" | "popular";
}

export function suggestionsFromRows(
  rows: { user_id: string; score: string | number; reason: string }[],
): SuggestedUser[] {
  return rows.map((r) => ({
    user_id: r.user_id,
    score: Number(r.score),
    reason: r.reason === "followed_by_your_follows" ? "followed_by_your_follows" : "popular",
  }));
}

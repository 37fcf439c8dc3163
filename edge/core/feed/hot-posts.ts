/** The hot-posts list (`hot:posts:1h`): trending candidates ranked without a viewer. */
import { HOT_POSTS_TTL_S, hotPostIdsKey } from "../keys.ts";
import { type RankedItem, type RankingOptions, rankFeed } from "../ranking/rank.ts";
import type { Command } from "../serving/read.ts";
import { type CandidateRowLike, candidatesFromRows } from "./rows.ts";

/** Hot posts are ranked by the same formula (no viewer, so no affinity); at most this many. */
export const HOT_POSTS_MAX = 200;

/** The ids-only companion of a hot-posts list (`hotPostIdsKey`): `[[postId, authorId], …]`. */
export function hotPostIds(items: readonly Pick<RankedItem, "postId" | "authorId">[]): [string, string][] {
  return items.map((i) => [i.postId, i.authorId]);
}

/** The hot-posts list (`hot:posts:1h`) from trending candidate rows. */
export function rankHotPosts(rows: CandidateRowLike[], nowMs: number, options: RankingOptions = {}): RankedItem[] {
  const { bySource } = candidatesFromRows(rows);
  const none = new Set<string>();
  return rankFeed({ trending: bySource.trending }, { viewerId: "", blockedAuthorIds: none, seenPostIds: none }, nowMs, {
    ...options,
    maxItems: HOT_POSTS_MAX,
  });
}

/**
 * Replacing a hot-posts list: the list (for /trending) and its ids (for feed misses), both with
 * HOT_POSTS_TTL_S. Run as one MULTI (the origin's generator, the edge's /trending on a miss), so
 * no reader sees one without the other; `hotPostIdsKey` keeps the ids in the list's slot.
 */
export function hotPostsWrites(hotKey: string, items: readonly RankedItem[]): Command[] {
  const ttl = String(HOT_POSTS_TTL_S);
  return [
    ["SET", hotKey, JSON.stringify(items), "EX", ttl],
    ["SET", hotPostIdsKey(hotKey), JSON.stringify(hotPostIds(items)), "EX", ttl],
  ];
}

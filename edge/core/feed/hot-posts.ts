/** The hot-posts list (`hot:posts:1h`): trending candidates ranked without a viewer. */
import { type RankedItem, type RankingOptions, rankFeed } from "../ranking/rank.ts";
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

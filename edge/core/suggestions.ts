/** Suggested users (`GET /api/v1/discover/suggested-users`, `suggest:users:{id}`), pure. */

/**
 * How many suggestions are computed and cached per user, by the edge on a miss and by the
 * origin's generator alike; a request's `limit` only cuts this list.
 */
export const SUGGESTIONS_PER_USER = 20;

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

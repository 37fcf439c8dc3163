/** A ranked item as the public API shows it (`GET /api/v1/feed`, `GET /api/v1/trending`). */
import type { CandidateSource } from "../ranking/candidates.ts";
import type { RankedItem } from "../ranking/rank.ts";

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

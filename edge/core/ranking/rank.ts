/**
 * The pure ranking: merge → filter → score → order (score desc, post id asc on ties) →
 * author-diversity pass. No I/O; the edge and the origin's feed warmer both call `rankFeed`.
 */
import {
  type Candidate,
  type CandidateSource,
  type Exclusions,
  filterCandidates,
  mergeCandidates,
} from "./candidates.ts";
import { DEFAULT_WEIGHTS, type RankingWeights, type ScoreComponents, scorePost } from "./score.ts";

export interface RankingOptions {
  weights?: RankingWeights;
  /**
   * Multiplier applied to an author's score for each earlier post of theirs already placed
   * (the n-th repeat is multiplied by decay^n). 1 disables the pass. Default 0.8.
   */
  authorDiversityDecay?: number;
  /** Keep at most this many ranked items. Default 500. */
  maxItems?: number;
}

export interface RankedItem {
  postId: string;
  authorId: string;
  createdAtMs: number;
  text: string;
  source: CandidateSource;
  /** Final score, after the diversity pass; items are ordered by it. */
  score: number;
  explain: ScoreComponents & { diversityMultiplier: number };
}

export const DEFAULT_DIVERSITY_DECAY = 0.8;
export const DEFAULT_MAX_RANKED = 500;

/** Orders by score descending, then post id ascending, so equal scores always rank the same way. */
export function compareRanked(a: { score: number; postId: string }, b: { score: number; postId: string }): number {
  if (a.score !== b.score) return b.score - a.score;
  return a.postId < b.postId ? -1 : a.postId > b.postId ? 1 : 0;
}

export function rankFeed(
  bySource: Partial<Record<CandidateSource, readonly Candidate[]>>,
  exclusions: Exclusions,
  nowMs: number,
  options: RankingOptions = {},
): RankedItem[] {
  const weights = options.weights ?? DEFAULT_WEIGHTS;
  const scored = filterCandidates(mergeCandidates(bySource), exclusions).map((c): RankedItem => {
    const components = scorePost(c, nowMs, weights);
    return {
      postId: c.postId,
      authorId: c.authorId,
      createdAtMs: c.createdAtMs,
      text: c.text,
      source: c.source,
      score: components.score,
      explain: { ...components, diversityMultiplier: 1 },
    };
  });
  scored.sort(compareRanked);
  const diversified = diversify(scored, options.authorDiversityDecay ?? DEFAULT_DIVERSITY_DECAY);
  return diversified.slice(0, options.maxItems ?? DEFAULT_MAX_RANKED);
}

/**
 * Greedy author-diversity pass over items already in rank order. At each step it places the
 * item whose score × decay^(posts of that author already placed) is highest (ties by post id).
 * Within one author the order is kept, so only the heads of each author's queue compete; the
 * placed scores never increase, so the output stays sorted by its final score.
 */
export function diversify(sorted: readonly RankedItem[], decay: number): RankedItem[] {
  if (decay >= 1 || sorted.length < 2) return [...sorted];
  const queues = new Map<string, RankedItem[]>();
  for (const item of sorted) {
    const q = queues.get(item.authorId);
    if (q) q.push(item);
    else queues.set(item.authorId, [item]);
  }
  const placed = new Map<string, number>();
  const heads = new Map<string, number>();
  const out: RankedItem[] = [];
  while (out.length < sorted.length) {
    let best: { author: string; item: RankedItem; score: number; multiplier: number } | null = null;
    for (const [author, q] of queues) {
      const idx = heads.get(author) ?? 0;
      const item = q[idx];
      if (!item) continue;
      const multiplier = decay ** (placed.get(author) ?? 0);
      const score = item.score * multiplier;
      if (!best || compareRanked({ score, postId: item.postId }, { score: best.score, postId: best.item.postId }) < 0) {
        best = { author, item, score, multiplier };
      }
    }
    if (!best) break;
    heads.set(best.author, (heads.get(best.author) ?? 0) + 1);
    placed.set(best.author, (placed.get(best.author) ?? 0) + 1);
    out.push({
      ...best.item,
      score: best.score,
      explain: { ...best.item.explain, diversityMultiplier: best.multiplier },
    });
  }
  return out;
}

/**
 * The pure ranking: merge → filter → score → order (score desc, post id asc on ties) →
 * author-diversity pass → followee new posts lifted into the first 50 → the 500 cap. No I/O;
 * the edge and the origin's fallback-snapshots job both call `rankFeed` (through buildRanking).
 */
import {
  type Candidate,
  type CandidateSource,
  type Exclusions,
  filterCandidates,
  mergeCandidates,
} from "./candidates.ts";
import { FOLLOWEE_NEW_POST_TOP, liftFolloweeNewPosts } from "./followee-lift.ts";
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
  /**
   * Final score, after the diversity pass; items are ordered by it, except a followee's new post
   * lifted into the first 50 (liftFolloweeNewPosts), which keeps its own, lower score.
   */
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
  const maxItems = options.maxItems ?? DEFAULT_MAX_RANKED;
  // Before the cap, so a post the decay pushed past it is lifted too; into a shorter ranking's
  // whole length when the cap is under 50, so it is never cut off.
  const lifted = liftFolloweeNewPosts(diversified, nowMs, Math.min(FOLLOWEE_NEW_POST_TOP, maxItems));
  return lifted.slice(0, maxItems);
}

/**
 * Greedy author-diversity pass over items already in rank order. At each step it places the
 * item whose score × decay^(posts of that author already placed) is highest (ties by post id).
 * Within one author the order is kept, so only the heads of each author's queue compete; the
 * placed scores never increase, so the output stays sorted by its final score. The heads sit in
 * a binary heap: placing one item only changes its author's head, so a step costs log(authors)
 * instead of a scan of every author (500 items by 250 authors: ~4,000 steps instead of 125,000).
 */
export function diversify(sorted: readonly RankedItem[], decay: number): RankedItem[] {
  if (decay >= 1 || sorted.length < 2) return [...sorted];
  const queues = new Map<string, RankedItem[]>();
  for (const item of sorted) {
    const q = queues.get(item.authorId);
    if (q) q.push(item);
    else queues.set(item.authorId, [item]);
  }
  interface Head {
    queue: RankedItem[];
    next: number;
    placed: number;
    score: number;
    multiplier: number;
  }
  const before = (a: Head, b: Head) =>
    compareRanked(
      { score: a.score, postId: (a.queue[a.next] as RankedItem).postId },
      { score: b.score, postId: (b.queue[b.next] as RankedItem).postId },
    ) < 0;
  const heap: Head[] = [];
  const up = (i: number) => {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i] as Head, heap[parent] as Head)) break;
      [heap[i], heap[parent]] = [heap[parent] as Head, heap[i] as Head];
      i = parent;
    }
  };
  const down = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && before(heap[l] as Head, heap[m] as Head)) m = l;
      if (r < heap.length && before(heap[r] as Head, heap[m] as Head)) m = r;
      if (m === i) return;
      [heap[i], heap[m]] = [heap[m] as Head, heap[i] as Head];
      i = m;
    }
  };
  for (const queue of queues.values()) {
    heap.push({ queue, next: 0, placed: 0, score: (queue[0] as RankedItem).score, multiplier: 1 });
    up(heap.length - 1);
  }
  const out: RankedItem[] = [];
  while (heap.length) {
    const h = heap[0] as Head;
    const item = h.queue[h.next] as RankedItem;
    out.push({ ...item, score: h.score, explain: { ...item.explain, diversityMultiplier: h.multiplier } });
    h.next++;
    h.placed++;
    if (h.next < h.queue.length) {
      h.multiplier = decay ** h.placed;
      h.score = (h.queue[h.next] as RankedItem).score * h.multiplier;
      down(0);
    } else {
      const last = heap.pop() as Head;
      if (heap.length) {
        heap[0] = last;
        down(0);
      }
    }
  }
  return out;
}

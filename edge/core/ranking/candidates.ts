/**
 * Candidate merge and filters. Sources are merged in priority order F1 follow → F2 trending →
 * F3 affinity; a post found by several sources keeps its first one.
 */
import type { PostFeatures } from "./score.ts";

export type CandidateSource = "follow" | "trending" | "affinity";
export const SOURCE_PRIORITY: readonly CandidateSource[] = ["follow", "trending", "affinity"];

export interface Candidate extends PostFeatures {
  postId: string;
  authorId: string;
  text: string;
  source: CandidateSource;
  /** The post is soft- or hard-deleted. */
  postDeleted?: boolean;
  /** The author's account is deleted. */
  authorDeleted?: boolean;
}

/** Per-viewer exclusion sets; all ids are lowercase UUID strings. */
export interface Exclusions {
  viewerId: string;
  /** Authors the viewer blocked, and authors who blocked the viewer. */
  blockedAuthorIds: ReadonlySet<string>;
  /** Posts the viewer has already seen (impressions in the last 7 days). */
  seenPostIds: ReadonlySet<string>;
  /** Posts already served on earlier pages of an expired ranking. */
  servedPostIds?: ReadonlySet<string>;
}

export type ExclusionReason = "deleted" | "author_deleted" | "own_post" | "blocked" | "seen" | "served";

/** Merges the three sources in priority order, keeping the first occurrence of each post. */
export function mergeCandidates(bySource: Partial<Record<CandidateSource, readonly Candidate[]>>): Candidate[] {
  const seen = new Set<string>();
  const out: Candidate[] = [];
  for (const source of SOURCE_PRIORITY) {
    for (const c of bySource[source] ?? []) {
      if (seen.has(c.postId)) continue;
      seen.add(c.postId);
      out.push(c.source === source ? c : { ...c, source });
    }
  }
  return out;
}

/** Why a candidate may not be shown to this viewer, or null when it may. */
export function exclusionReason(c: Candidate, ex: Exclusions): ExclusionReason | null {
  if (c.postDeleted) return "deleted";
  if (c.authorDeleted) return "author_deleted";
  if (c.authorId === ex.viewerId) return "own_post";
  if (ex.blockedAuthorIds.has(c.authorId)) return "blocked";
  if (ex.seenPostIds.has(c.postId)) return "seen";
  if (ex.servedPostIds?.has(c.postId)) return "served";
  return null;
}

export function filterCandidates(candidates: readonly Candidate[], ex: Exclusions): Candidate[] {
  return candidates.filter((c) => exclusionReason(c, ex) === null);
}

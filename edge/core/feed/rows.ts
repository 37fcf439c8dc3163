/** Rows of the ClickHouse candidates query (edge/core/sql/queries.ts) as ranking candidates. */
import type { Candidate, CandidateSource } from "../ranking/candidates.ts";

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

/** The ClickHouse path's candidates: the candidates query's rows plus the viewer's seen set. */
export function candidatesFromQuery(
  rows: CandidateRowLike[],
  seen: readonly string[],
): { bySource: Record<CandidateSource, Candidate[]>; blockedAuthorIds: Set<string>; seenPostIds: Set<string> } {
  return { ...candidatesFromRows(rows), seenPostIds: new Set(seen) };
}

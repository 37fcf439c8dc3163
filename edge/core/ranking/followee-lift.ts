/**
 * "A followee's new post is seen": the diversity pass decays an author's n-th post by decay^n
 * in that author's own score order, so a followee's brand-new post with no engagement yet comes
 * after the author's engaged older posts and, for a viewer with many strong candidates, can fall
 * out of the ranking (past its 500 items) or so deep that it never gets an impression, and so
 * never the engagement that would raise it. This pass runs after scoring and diversity and
 * lifts such posts into the first items; everything else keeps its order.
 */
import type { CandidateSource } from "./candidates.ts";

/**
 * How long a followee's post is protected, from its creation time (ms). Two hours: long enough
 * for the viewer's next sessions to show it, short enough that a post which earned no engagement
 * by then ranks on its score alone.
 */
export const FOLLOWEE_NEW_POST_WINDOW_MS = 2 * 3_600_000;

/**
 * A protected post is within this many first items of the viewer's ranking: the first pages of a
 * session (at the API's largest page, 50 items are half of one; at the default 20, 2.5 pages).
 */
export const FOLLOWEE_NEW_POST_TOP = 50;

/** What the pass reads of a ranked item. */
export interface LiftableItem {
  postId: string;
  source: CandidateSource;
  createdAtMs: number;
}

/**
 * A post the viewer must see early: found by F1 (a followee's post; a post F1 found keeps
 * "follow" whatever other source found it too) and created less than the window ago. A post
 * stamped in the future (clock skew) is new, as for freshness.
 */
export function isFolloweeNewPost(item: LiftableItem, nowMs: number): boolean {
  return item.source === "follow" && nowMs - item.createdAtMs < FOLLOWEE_NEW_POST_WINDOW_MS;
}

/**
 * Lifts the followee new posts ranked at or below position `top` (1-based: index ≥ top) into the
 * first `top` items, deterministically and keeping every relative order:
 * - the first `top` items become the first `top` followee new posts of `ranked` (all of them
 *   when there are at most `top`), plus as many of the best other items as leave room, all in
 *   `ranked`'s order (so by final score, ties by post id, as `ranked` is);
 * - the other items follow, also in `ranked`'s order: the other items a lift displaced move
 *   down just past the first `top`, and with more than `top` followee new posts the extra ones
 *   (the lowest ranked) stay where the rest of the order puts them.
 * Nothing is added or dropped and the scores are not changed: a lifted post keeps its own score,
 * so the output is ordered by score except where a post was lifted. When every followee new
 * post is already within the first `top` (the common case), `ranked` is returned as is.
 */
export function liftFolloweeNewPosts<T extends LiftableItem>(
  ranked: readonly T[],
  nowMs: number,
  top: number = FOLLOWEE_NEW_POST_TOP,
): T[] {
  if (top <= 0 || ranked.length <= top) return [...ranked];
  const protectedIdx: number[] = [];
  for (let i = 0; i < ranked.length && protectedIdx.length < top; i++)
    if (isFolloweeNewPost(ranked[i] as T, nowMs)) protectedIdx.push(i);
  const lastProtected = protectedIdx[protectedIdx.length - 1];
  if (lastProtected === undefined || lastProtected < top) return [...ranked];
  const lifted = new Set(protectedIdx);
  const head: T[] = [];
  const tail: T[] = [];
  let others = top - protectedIdx.length;
  ranked.forEach((item, i) => {
    if (lifted.has(i)) head.push(item);
    else if (others > 0) {
      head.push(item);
      others--;
    } else tail.push(item);
  });
  return head.concat(tail);
}

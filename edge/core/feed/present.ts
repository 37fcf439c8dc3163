/**
 * A ranked item as the public API shows it (`GET /api/v1/feed`, `GET /api/v1/trending`): the
 * post hydrated (author card, live counts, the viewer's state) plus where it came from and its
 * score. The hydration comes from what a miss read anyway (round trips 1 and 2), or, for a page
 * of a snapshot and for trending, from one hydration read (reads/posts.ts).
 */

import type { CandidateSource } from "../ranking/candidates.ts";
import type { RankedItem } from "../ranking/rank.ts";
import type { Hydration } from "../reads/posts.ts";
import type { PostCountsOut, PostOut, PostViewerOut, UserCard } from "../reads/shapes.ts";
import type { MissDisplay } from "../serving/read.ts";

export interface FeedItemOut extends PostOut {
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

/** How one ranked item is rendered; null leaves it out (deleted since, author gone or blocked). */
export interface ItemHydration {
  author: UserCard;
  counts: PostCountsOut;
  viewer: PostViewerOut | null;
}

export type Hydrate = (item: RankedItem) => ItemHydration | null;

export function presentItem(item: RankedItem, explain: boolean, h: ItemHydration): FeedItemOut {
  const out: FeedItemOut = {
    post_id: item.postId,
    author_id: item.authorId,
    author: h.author,
    created_at: new Date(item.createdAtMs).toISOString(),
    text: item.text,
    counts: h.counts,
    viewer: h.viewer,
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

/** Items rendered in order, those the hydration leaves out dropped. */
export function presentItems(items: readonly RankedItem[], explain: boolean, hydrate: Hydrate): FeedItemOut[] {
  const out: FeedItemOut[] = [];
  for (const i of items) {
    const h = hydrate(i);
    if (h) out.push(presentItem(i, explain, h));
  }
  return out;
}

/** A card for an author the index has none of (the cold path): the id alone. */
export const unknownCard = (authorId: string): UserCard => ({ id: authorId, handle: "", display_name: "" });

/**
 * A miss rendered from what it read: round trip 2's counts and cards, round trip 1's followees
 * and recent likes. Every ranked post was read, so nothing is left out.
 */
export function hydrateFromMiss(
  display: MissDisplay | null,
  viewer: { id: string; followees: readonly string[]; liked: ReadonlySet<string> } | null,
): Hydrate {
  const follows = new Set(viewer?.followees ?? []);
  return (item) => {
    const card = display?.cards.get(item.authorId);
    return {
      author: card
        ? { id: item.authorId, handle: card.handle, display_name: card.displayName }
        : unknownCard(item.authorId),
      counts: display?.counts.get(item.postId) ?? { likes: 0, comments: 0, shares: 0 },
      viewer: viewer
        ? {
            liked: viewer.liked.has(item.postId),
            following_author: item.authorId !== viewer.id && follows.has(item.authorId),
          }
        : null,
    };
  };
}

/**
 * A page rendered from a hydration read. A post the index no longer holds is left out when the
 * ranking came from the index (it was deleted since), and kept with what the snapshot knows when
 * it came from ClickHouse (the cold path: the index may not hold it at all).
 */
export function hydrateFromRead(h: Hydration, viewerId: string | null, coldRanking: boolean): Hydrate {
  return (item) => {
    if (h.blocked.has(item.authorId)) return null;
    const p = h.posts.get(item.postId);
    const card = h.cards.get(item.authorId);
    if (!p) {
      if (!coldRanking) return null;
      return {
        author: card ?? unknownCard(item.authorId),
        counts: { likes: 0, comments: 0, shares: 0 },
        viewer: viewerId ? { liked: h.liked.has(item.postId), following_author: h.followed.has(item.authorId) } : null,
      };
    }
    if (!card) return null; // the author is gone
    return {
      author: card,
      counts: { likes: p.likes, comments: p.comments, shares: p.shares },
      viewer: viewerId
        ? {
            liked: h.liked.has(item.postId),
            following_author: item.authorId !== viewerId && h.followed.has(item.authorId),
          }
        : null,
    };
  };
}

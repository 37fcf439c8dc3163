/**
 * Posts ready to render, pure: the reads that hydrate a list of posts from the serving index
 * (one round trip: the author hashes' post, counter, plain-total and card fields, and for a
 * viewer their recent likes, followees and blocks) and how the replies become PostOut. A post
 * the index no longer holds (older than its window) is "missing": its body and counts come from
 * ClickHouse (sql/reads.ts), merged by `fromColdRow`.
 */
import { decodePlainTotals, decodePostCounters, type IndexKeys } from "../keys.ts";
import type { Command } from "../serving/read.ts";
import {
  cardFromAuthorHash,
  hmgetValues,
  iso,
  memberships,
  type PostOut,
  type PostViewerOut,
  type UserCard,
} from "./shapes.ts";

export interface PostRef {
  postId: string;
  authorId: string;
}

/** What the index holds of one post. */
export interface IndexedPostView {
  postId: string;
  authorId: string;
  createdMs: number;
  text: string;
  likes: number;
  comments: number;
  shares: number;
}

export interface HydrationPlan {
  refs: PostRef[];
  authors: string[];
  /** Per author, the fields read (in order) of its hash. */
  fields: Map<string, string[]>;
  viewerId: string | null;
  commands: Command[];
}

/** One round trip: per author one HMGET; for a viewer ZMSCORE likes and SMISMEMBER follows/blocks. */
export function hydrationReads(keys: IndexKeys, viewerId: string | null, refs: PostRef[]): HydrationPlan {
  const fields = new Map<string, string[]>();
  for (const r of refs) {
    let f = fields.get(r.authorId);
    if (!f) {
      f = ["_u"];
      fields.set(r.authorId, f);
    }
    f.push(r.postId, `${r.postId}:n`, `${r.postId}:d`);
  }
  const authors = [...fields.keys()];
  const commands: Command[] = authors.map((a) => ["HMGET", keys.authorPosts(a), ...(fields.get(a) as string[])]);
  if (viewerId && refs.length) {
    commands.push(
      ["ZMSCORE", keys.recentLikes(viewerId), ...refs.map((r) => r.postId)],
      ["SMISMEMBER", keys.followees(viewerId), ...authors],
      ["SMISMEMBER", keys.blocksOut(viewerId), ...authors],
      ["SMISMEMBER", keys.blocksIn(viewerId), ...authors],
    );
  }
  return { refs, authors, fields, viewerId, commands };
}

export interface Hydration {
  /** The posts the index holds, by id. */
  posts: Map<string, IndexedPostView>;
  /** Author cards by author id (absent: the author is deleted, or has no hash). */
  cards: Map<string, UserCard>;
  /** Posts of `refs` the index does not hold (deleted, or older than the window). */
  missing: PostRef[];
  liked: Set<string>;
  followed: Set<string>;
  /** Authors the viewer blocks or is blocked by. */
  blocked: Set<string>;
}

export function parseHydration(plan: HydrationPlan, replies: unknown[]): Hydration {
  const posts = new Map<string, IndexedPostView>();
  const cards = new Map<string, UserCard>();
  plan.authors.forEach((a, i) => {
    const names = plan.fields.get(a) as string[];
    const values = hmgetValues(replies[i], names);
    const card = cardFromAuthorHash(a, values[0]);
    if (card) cards.set(a, card);
    for (let j = 1; j + 2 < names.length + 1; j += 3) {
      const postId = names[j] as string;
      const body = values[j];
      if (!body) continue;
      const tab = body.indexOf("\t");
      if (tab < 0) continue;
      const ranking = decodePostCounters(values[j + 1]);
      const plain = decodePlainTotals(values[j + 2]);
      posts.set(postId, {
        postId,
        authorId: a,
        createdMs: Number(body.slice(0, tab)),
        text: body.slice(tab + 1),
        likes: plain.likes,
        comments: plain.comments,
        shares: ranking.shares,
      });
    }
  });
  const liked = new Set<string>();
  const followed = new Set<string>();
  const blocked = new Set<string>();
  if (plan.viewerId && plan.refs.length) {
    const base = plan.authors.length;
    const likes = memberships(replies[base], plan.refs.length);
    plan.refs.forEach((r, i) => {
      if (likes[i]) liked.add(r.postId);
    });
    const follows = memberships(replies[base + 1], plan.authors.length);
    const out = memberships(replies[base + 2], plan.authors.length);
    const inn = memberships(replies[base + 3], plan.authors.length);
    plan.authors.forEach((a, i) => {
      if (follows[i]) followed.add(a);
      if (out[i] || inn[i]) blocked.add(a);
    });
  }
  const missing = plan.refs.filter((r) => !posts.has(r.postId));
  return { posts, cards, missing, liked, followed, blocked };
}

/** A post the viewer may see, rendered; null when its author is gone or blocked either way. */
export function presentIndexed(h: Hydration, postId: string, viewerId: string | null): PostOut | null {
  const p = h.posts.get(postId);
  if (!p) return null;
  const card = h.cards.get(p.authorId);
  if (!card || h.blocked.has(p.authorId)) return null;
  return {
    post_id: p.postId,
    author_id: p.authorId,
    author: card,
    created_at: iso(p.createdMs),
    text: p.text,
    counts: { likes: p.likes, comments: p.comments, shares: p.shares },
    viewer: viewerId ? viewerOf(h, p, viewerId) : null,
  };
}

function viewerOf(h: Hydration, p: IndexedPostView, viewerId: string): PostViewerOut {
  return { liked: h.liked.has(p.postId), following_author: p.authorId !== viewerId && h.followed.has(p.authorId) };
}

/** A row of the long-history query (sql/reads.ts POSTS_BY_IDS_SQL). */
export interface ColdPostRow {
  post_id: string;
  author_id: string;
  text: string;
  created_at_ms: number | string;
  deleted: number | string | boolean;
  likes: number | string;
  comments: number | string;
  shares: number | string;
  liked: number | string | boolean;
}

const yes = (v: unknown) => v === true || v === 1 || v === "1" || v === "true";

/** A ClickHouse post rendered with the author's card; null when deleted or no card. */
export function fromColdRow(
  row: ColdPostRow,
  card: UserCard | null,
  viewer: { id: string; followsAuthor: boolean } | null,
): PostOut | null {
  if (yes(row.deleted) || !card) return null;
  return {
    post_id: row.post_id,
    author_id: row.author_id,
    author: card,
    created_at: iso(Number(row.created_at_ms)),
    text: row.text,
    counts: { likes: Number(row.likes), comments: Number(row.comments), shares: Number(row.shares) },
    viewer: viewer
      ? { liked: yes(row.liked), following_author: row.author_id !== viewer.id && viewer.followsAuthor }
      : null,
  };
}

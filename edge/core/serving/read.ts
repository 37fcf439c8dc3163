/**
 * Reading the serving index for one viewer, pure: which keys the two round trips read, and
 * how their answers become ranking candidates. The I/O (a Redis pipeline per round trip) is the
 * caller's, so the edge (Upstash REST) and the origin's fallback-snapshots job (ioredis) share this code.
 *
 * Round trip 1 (`viewerReads`): the viewer's own keys plus the global ones (ready flag, hot
 * list, popular authors, the seen set) and whether the index holds the viewer (their profile). Round trip 2 (`authorReads`): the posts of every author
 * the sources need (followees, the top affinity authors, the authors of trending posts, the
 * popular authors for a cold viewer) and which of those authors are deleted. Every key of the
 * second trip is known after the first, so both are plain pipelines: they work unchanged on
 * Upstash REST and split by slot on a Redis Cluster.
 *
 * The sources and their bounds mirror FEED_CANDIDATES_SQL (the ClickHouse path) exactly, so
 * both paths rank the same candidates with the same features.
 */

import { decodeAuthorCard, decodePlainTotals, decodePostCounters, type IndexKeys } from "../keys.ts";
import type { Candidate, CandidateSource } from "../ranking/candidates.ts";
import { FEED_QUERY_LIMITS } from "../sql/queries.ts";
import { jsonReply } from "./json.ts";

export const F1_WINDOW_MS = 72 * 3600 * 1000;
export const F2_COLD_WINDOW_MS = 72 * 3600 * 1000;
export const F3_WINDOW_MS = 7 * 24 * 3600 * 1000;
export const POPULAR_AUTHORS = 20;

/** A Redis command as plain strings. */
export type Command = [string, ...string[]];

/** What round trip 1 read, parsed. */
export interface ViewerState {
  /**
   * The index can rank for this viewer: it is ready (bootstrapped) and holds the viewer (their
   * profile; every live user has one). A viewer missing from a ready index (evicted, or a row
   * the index never took in) takes the cold path alone, not the whole index.
   */
  ready: boolean;
  /** Why not ready: the index as a whole, or only this viewer. */
  notReady?: "index" | "viewer";
  followees: string[];
  blockedIds: Set<string>;
  /** Author → interactions over 90 days (> 0 only). */
  affinity: Map<string, number>;
  /** Trending posts in rank order (from the hot list). */
  trending: { postId: string; authorId: string }[];
  popularAuthors: string[];
  seenPostIds: Set<string>;
}

/** Round trip 1: one command per part of ViewerState, in this order. */
export function viewerReads(keys: IndexKeys, viewerId: string, seenKey: string): Command[] {
  return [
    ["GET", keys.ready],
    ["SMEMBERS", keys.followees(viewerId)],
    ["SMEMBERS", keys.blocksOut(viewerId)],
    ["SMEMBERS", keys.blocksIn(viewerId)],
    ["HGETALL", keys.affinity(viewerId)],
    ["GET", keys.hotPostIds],
    ["GET", keys.popularAuthors],
    ["ZRANGE", seenKey, "0", "-1"],
    ["EXISTS", keys.profile(viewerId)],
  ];
}

/** A HGETALL answer: an object (Upstash) or a flat [field, value, …] list (RESP). */
export type HashReply = Record<string, unknown> | unknown[] | null;

export function hashEntries(reply: HashReply): [string, string][] {
  if (!reply) return [];
  if (Array.isArray(reply)) {
    const out: [string, string][] = [];
    for (let i = 0; i + 1 < reply.length; i += 2) out.push([String(reply[i]), String(reply[i + 1])]);
    return out;
  }
  return Object.entries(reply).map(([k, v]) => [k, String(v)]);
}

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);

/** Parses round trip 1's replies (in `viewerReads` order). */
export function parseViewerState(replies: unknown[]): ViewerState {
  const [ready, followees, out, inn, affinity, hot, popular, seen, indexed] = replies;
  const indexReady = ready !== null && ready !== undefined;
  const viewerIndexed = Number(indexed) === 1;
  const aff = new Map<string, number>();
  for (const [author, n] of hashEntries(affinity as HashReply)) {
    if (author.startsWith("_")) continue;
    const v = Number(n);
    if (v > 0) aff.set(author, v);
  }
  const hotPairs = jsonReply<unknown[]>(hot);
  const hotItems = (Array.isArray(hotPairs) ? hotPairs : []).map((pair) =>
    Array.isArray(pair) ? { postId: pair[0], authorId: pair[1] } : {},
  ) as { postId?: unknown; authorId?: unknown }[];
  return {
    ready: indexReady && viewerIndexed,
    ...(indexReady ? (viewerIndexed ? {} : { notReady: "viewer" as const }) : { notReady: "index" as const }),
    followees: strings(followees),
    blockedIds: new Set([...strings(out), ...strings(inn)]),
    affinity: aff,
    trending: hotItems
      .filter(
        (h): h is { postId: string; authorId: string } =>
          typeof h.postId === "string" && typeof h.authorId === "string",
      )
      .slice(0, FEED_QUERY_LIMITS.f2_limit)
      .map((h) => ({ postId: h.postId, authorId: h.authorId })),
    popularAuthors: (jsonReply<string[]>(popular) ?? []).slice(0, POPULAR_AUTHORS),
    seenPostIds: new Set(strings(seen)),
  };
}

/** The authors the F3 source reads: the most interacted-with first, ties by id (as the SQL). */
export function topAffinityAuthors(affinity: ReadonlyMap<string, number>, n = FEED_QUERY_LIMITS.affinity_authors) {
  return [...affinity]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, n)
    .map(([author]) => author);
}

/**
 * What round trip 2 reads: the whole post hash of the authors whose recent posts are sources
 * (followees, the top affinity authors, the popular authors for a cold viewer), and only the
 * fields of each trending post whose author is not among them.
 */
export interface AuthorReadPlan {
  full: string[];
  trendingOnly: { postId: string; authorId: string }[];
  /** Every author a candidate may come from, for the deleted check. */
  authors: string[];
}

export function planAuthorReads(s: ViewerState): AuthorReadPlan {
  const cold = s.followees.length === 0;
  const full = [...new Set([...s.followees, ...topAffinityAuthors(s.affinity), ...(cold ? s.popularAuthors : [])])];
  const fullSet = new Set(full);
  const trendingOnly = s.trending.filter((t) => !fullSet.has(t.authorId));
  const authors = [...new Set([...full, ...trendingOnly.map((t) => t.authorId)])];
  return { full, trendingOnly, authors };
}

const POST_FIELDS = (postId: string) => [postId, `${postId}:n`, `${postId}:d`, "_u"];

/** Round trip 2: HGETALL per full author, HMGET per lone trending post, one SMISMEMBER (deleted). */
export function authorReads(keys: IndexKeys, plan: AuthorReadPlan): Command[] {
  const cmds: Command[] = plan.full.map((a) => ["HGETALL", keys.authorPosts(a)]);
  for (const t of plan.trendingOnly) cmds.push(["HMGET", keys.authorPosts(t.authorId), ...POST_FIELDS(t.postId)]);
  if (plan.authors.length) cmds.push(["SMISMEMBER", keys.deletedUsers, ...plan.authors]);
  return cmds;
}

/** One post as the author hash holds it. */
export interface IndexedPost {
  postId: string;
  authorId: string;
  createdAtMs: number;
  text: string;
  likes: number;
  comments: number;
  shares: number;
  impressions: number;
  /** Plain totals (`{post}:d`): every live like and comment, the author's own included. */
  plainLikes: number;
  plainComments: number;
}

/**
 * An author hash's entries → its posts created at or after `sinceMs` (counters without a base
 * entry, or of an older post, are never decoded).
 */
export function postsOfAuthor(
  authorId: string,
  entries: [string, string][],
  sinceMs = Number.NEGATIVE_INFINITY,
): Map<string, IndexedPost> {
  const base = new Map<string, IndexedPost>();
  const counters: [string, string][] = [];
  const plain: [string, string][] = [];
  for (const [field, value] of entries) {
    if (field.endsWith(":n")) {
      counters.push([field.slice(0, -2), value]);
      continue;
    }
    if (field.endsWith(":d")) {
      plain.push([field.slice(0, -2), value]);
      continue;
    }
    if (field.includes(":") || field.startsWith("_")) continue; // plain totals, the author card, other layouts
    const tab = value.indexOf("\t");
    if (tab < 0) continue;
    const createdAtMs = Number(value.slice(0, tab));
    if (!(createdAtMs >= sinceMs)) continue;
    base.set(field, {
      postId: field,
      authorId,
      createdAtMs,
      text: value.slice(tab + 1),
      likes: 0,
      comments: 0,
      shares: 0,
      impressions: 0,
      plainLikes: 0,
      plainComments: 0,
    });
  }
  for (const [postId, value] of counters) {
    const p = base.get(postId);
    if (p) Object.assign(p, decodePostCounters(value));
  }
  for (const [postId, value] of plain) {
    const p = base.get(postId);
    if (!p) continue;
    const t = decodePlainTotals(value);
    p.plainLikes = t.likes;
    p.plainComments = t.comments;
  }
  return base;
}

/** The author card (`_u`) among an author hash's entries. */
export function authorCardIn(entries: [string, string][]): { handle: string; displayName: string } | null {
  for (const [field, value] of entries) if (field === "_u") return decodeAuthorCard(value);
  return null;
}

/** What a miss read besides the ranking's features: to render the posts it ranks. */
export interface MissDisplay {
  /** Post → plain likes and comments, counted shares (every post round trip 2 read). */
  counts: Map<string, { likes: number; comments: number; shares: number }>;
  /** Author → card (authors whose hash has one). */
  cards: Map<string, { handle: string; displayName: string }>;
}

export interface IndexCandidates {
  bySource: Record<CandidateSource, Candidate[]>;
  blockedAuthorIds: Set<string>;
  /** How to render what was read (the index path only). */
  display?: MissDisplay;
  seenPostIds: Set<string>;
}

/** Round trip 2's replies (in `authorReads` order) + the viewer state → candidates by source. */
export function assembleCandidates(
  s: ViewerState,
  plan: AuthorReadPlan,
  replies: unknown[],
  nowMs: number,
): IndexCandidates {
  const posts = new Map<string, Map<string, IndexedPost>>();
  const cards = new Map<string, { handle: string; displayName: string }>();
  // No source reads a post older than its widest window (F3's 7 days; trending is younger).
  const oldest = nowMs - Math.max(F1_WINDOW_MS, F2_COLD_WINDOW_MS, F3_WINDOW_MS);
  plan.full.forEach((a, i) => {
    const entries = hashEntries(replies[i] as HashReply);
    posts.set(a, postsOfAuthor(a, entries, oldest));
    const card = authorCardIn(entries);
    if (card) cards.set(a, card);
  });
  plan.trendingOnly.forEach((t, j) => {
    // HMGET: a list in field order (RESP), or an object by field (Upstash's client).
    const reply = replies[plan.full.length + j] as unknown[] | Record<string, unknown> | null;
    const entries: [string, string][] = [];
    POST_FIELDS(t.postId).forEach((f, k) => {
      const v = Array.isArray(reply) ? reply[k] : reply?.[f];
      if (v !== null && v !== undefined) entries.push([f, String(v)]);
    });
    const mine = posts.get(t.authorId) ?? new Map<string, IndexedPost>();
    for (const [pid, p] of postsOfAuthor(t.authorId, entries)) mine.set(pid, p);
    posts.set(t.authorId, mine);
    const card = authorCardIn(entries);
    if (card && !cards.has(t.authorId)) cards.set(t.authorId, card);
  });
  const deletedFlags = (replies[plan.full.length + plan.trendingOnly.length] as unknown[] | undefined) ?? [];
  const deleted = new Set(plan.authors.filter((_, i) => Number(deletedFlags[i]) === 1));

  const candidate = (p: IndexedPost, source: CandidateSource): Candidate => ({
    postId: p.postId,
    authorId: p.authorId,
    text: p.text,
    source,
    createdAtMs: p.createdAtMs,
    likes: p.likes,
    comments: p.comments,
    shares: p.shares,
    impressions: p.impressions,
    authorInteractions90d: s.affinity.get(p.authorId) ?? 0,
    authorDeleted: deleted.has(p.authorId),
  });
  /** The newest posts of `from` created at or after `sinceMs`, at most `limit` (as ORDER BY created_at DESC LIMIT). */
  const newest = (from: string[], sinceMs: number, limit: number): IndexedPost[] =>
    from
      .flatMap((a) => [...(posts.get(a)?.values() ?? [])])
      .filter((p) => p.createdAtMs >= sinceMs)
      .sort((x, y) => y.createdAtMs - x.createdAtMs || (x.postId < y.postId ? 1 : x.postId > y.postId ? -1 : 0))
      .slice(0, limit);

  const L = FEED_QUERY_LIMITS;
  const cold = s.followees.length === 0;
  const trending: Candidate[] = [];
  for (const t of s.trending) {
    const p = posts.get(t.authorId)?.get(t.postId);
    if (p) trending.push(candidate(p, "trending"));
  }
  if (cold) {
    for (const p of newest(s.popularAuthors, nowMs - F2_COLD_WINDOW_MS, L.f2_limit))
      trending.push(candidate(p, "trending"));
  }
  return {
    bySource: {
      follow: newest(s.followees, nowMs - F1_WINDOW_MS, L.f1_limit).map((p) => candidate(p, "follow")),
      trending,
      affinity: newest(topAffinityAuthors(s.affinity), nowMs - F3_WINDOW_MS, L.f3_limit).map((p) =>
        candidate(p, "affinity"),
      ),
    },
    blockedAuthorIds: s.blockedIds,
    seenPostIds: s.seenPostIds,
    display: { counts: countsOf(posts), cards },
  };
}

function countsOf(posts: Map<string, Map<string, IndexedPost>>): MissDisplay["counts"] {
  const out: MissDisplay["counts"] = new Map();
  for (const byId of posts.values()) {
    for (const p of byId.values())
      out.set(p.postId, { likes: p.plainLikes, comments: p.plainComments, shares: p.shares });
  }
  return out;
}

/** Runs commands as one pipeline (one round trip) and returns their replies in order. */
export type PipelineExec = (commands: Command[]) => Promise<unknown[]>;

/**
 * The viewer's candidates from the serving index in two round trips, or null when the index
 * is not ready (not bootstrapped yet, or flushed): the caller then takes the ClickHouse path.
 */
export async function loadFromIndex(
  exec: PipelineExec,
  keys: IndexKeys,
  viewerId: string,
  seenKey: string,
  nowMs: number,
): Promise<IndexCandidates | null> {
  const state = parseViewerState(await exec(viewerReads(keys, viewerId, seenKey)));
  if (!state.ready) return null;
  const plan = planAuthorReads(state);
  const replies = plan.authors.length ? await exec(authorReads(keys, plan)) : [];
  return assembleCandidates(state, plan, replies, nowMs);
}

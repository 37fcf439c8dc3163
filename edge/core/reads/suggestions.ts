/**
 * Suggested users (`GET /api/v1/discover/suggested-users`, `suggest:users:{id}`), pure.
 *
 * Two ways to the same list, with the same rules as SUGGESTED_USERS_SQL:
 * - from the serving index (`suggestionReads*` / `readSuggestions`): three Redis round trips of
 *   single-key commands (plain pipelines: they run unchanged on Upstash REST and split by slot
 *   on a Redis Cluster), ranked here by `rankSuggestionCandidates` and `pickSuggestions`;
 * - from ClickHouse (`suggestionsFromRows`), when the index is not ready.
 *
 * The rules: tier 1 (`followed_by_your_follows`) is whom the viewer's SUGGEST_FOLLOWEES_BOUND
 * most recent followees follow, scored by how many of them do; tier 2 (`popular`) is the
 * SUGGEST_POPULAR_POOL most followed users (score: their follower count, ties by user id), cut
 * before the filters. A user in both tiers is tier 1. Out: the viewer, whom the viewer follows
 * (all of them, not only the recent ones), whom the viewer blocked or who blocked the viewer,
 * deleted users. Order: tier, score descending, user id (string order); SUGGESTIONS_PER_USER.
 */
import type { IndexKeys } from "../keys.ts";
import type { Command, PipelineExec } from "../serving/read.ts";
import { SUGGEST_FOLLOWEES_BOUND } from "../sql/queries.ts";

/**
 * How many suggestions are computed and cached per user, by the edge on a miss and by the
 * origin's generator alike; a request's `limit` only cuts this list.
 */
export const SUGGESTIONS_PER_USER = 20;

/**
 * Tier 1 reads the follows of the viewer's most recent followees only (by follow time, ties by
 * the greater id), at most this many: the work of one viewer is bounded by it (one SMEMBERS per
 * followee). SUGGESTED_USERS_SQL applies the same bound.
 */
export { SUGGEST_FOLLOWEES_BOUND };

/** Tier 2's pool: the most followed users, before the filters (SUGGESTIONS_PER_USER * 3, as the SQL). */
export const SUGGEST_POPULAR_POOL = SUGGESTIONS_PER_USER * 3;

/**
 * How many of the ranked candidates round trip 3 checks (deleted, already followed): the best
 * ones in order. A viewer with fewer than SUGGESTIONS_PER_USER survivors among them gets fewer
 * (thousands of candidates, nearly all followed or deleted: not a case a real graph has).
 */
export const SUGGEST_CHECK_BOUND = 1000;

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

/**
 * The index keys of tier 2, kept by the origin's index writer and bootstrap. One hash tag, so
 * the writer's script that sets `followerCounts` and `followerCountsAt` runs on one Redis
 * Cluster slot.
 * - `followerCounts`: ZSET user → minus the user's live follower count (only users with at least
 *   one): a plain `ZRANGE 0 n-1` lists the most followed first, ties by user id, the SQL's order.
 *   Under the index's prefix (a bootstrap clears it with the rest).
 * - `followerCountsReady`: set by the bootstrap once `followerCounts` is complete. An index
 *   built before these keys existed lacks it: the reads then take the ClickHouse path.
 * - `followerCountsAt`: HASH user → when the count was last read (Redis TIME, µs), so of two
 *   writers the later read wins whatever order their writes land in. Bookkeeping of the writer,
 *   not state of the index: outside its prefix (a replay rewrites these times and nothing else),
 *   kept a day after its last write, cleared by a bootstrap.
 */
export function suggestionKeys(keys: IndexKeys) {
  const p = `${keys.prefix}{fc}:`;
  return {
    followerCounts: `${p}z`,
    followerCountsReady: `${p}ready`,
    followerCountsAt: `fc-at:{fc}:${keys.prefix}`,
  };
}
export type SuggestionKeys = ReturnType<typeof suggestionKeys>;

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);
const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Round trip 1: whether the index can answer, the viewer's recent followees and blocks, the popular pool. */
export function suggestionReads1(keys: IndexKeys, viewerId: string): Command[] {
  const s = suggestionKeys(keys);
  return [
    ["GET", keys.ready],
    ["EXISTS", s.followerCountsReady],
    ["EXISTS", keys.profile(viewerId)],
    ["ZRANGE", keys.following(viewerId), String(-SUGGEST_FOLLOWEES_BOUND), "-1"],
    ["SMEMBERS", keys.blocksOut(viewerId)],
    ["SMEMBERS", keys.blocksIn(viewerId)],
    ["ZRANGE", s.followerCounts, "0", String(SUGGEST_POPULAR_POOL - 1)],
  ];
}

export interface SuggestionTrip1 {
  viewerId: string;
  /** The index can answer: ready, with its follower counts, and it holds the viewer. */
  ready: boolean;
  notReady?: "index" | "viewer";
  recentFollowees: string[];
  blocked: Set<string>;
  /** The popular pool's ids, most followed first (scores come in trip 2). */
  popularIds: string[];
}

export function parseSuggestions1(viewerId: string, replies: unknown[]): SuggestionTrip1 {
  const [ready, countsReady, indexed, recent, out, inn, popular] = replies;
  const indexReady = ready !== null && ready !== undefined && Number(countsReady) === 1;
  const viewerIndexed = Number(indexed) === 1;
  return {
    viewerId,
    ready: indexReady && viewerIndexed,
    ...(indexReady ? (viewerIndexed ? {} : { notReady: "viewer" as const }) : { notReady: "index" as const }),
    recentFollowees: strings(recent),
    blocked: new Set([...strings(out), ...strings(inn)]),
    popularIds: strings(popular),
  };
}

/** Round trip 2: each recent followee's followees, and the popular pool's follower counts. */
export function suggestionReads2(keys: IndexKeys, t1: SuggestionTrip1): Command[] {
  const cmds: Command[] = t1.recentFollowees.map((f) => ["SMEMBERS", keys.followees(f)]);
  if (t1.popularIds.length) cmds.push(["ZMSCORE", suggestionKeys(keys).followerCounts, ...t1.popularIds]);
  return cmds;
}

/** What the ranking needs, as the index holds it (trip 1 and 2 parsed). */
export interface SuggestionInput {
  viewerId: string;
  /** The viewer's followees that tier 1 reads (at most SUGGEST_FOLLOWEES_BOUND). */
  recentFollowees: string[];
  /** Followee → whom they follow (the recent followees' entries; others are ignored). */
  followeesOf: ReadonlyMap<string, readonly string[]>;
  /** The popular pool with follower counts, most followed first. */
  popular: readonly (readonly [string, number])[];
  blocked: ReadonlySet<string>;
}

export function parseSuggestions2(t1: SuggestionTrip1, replies: unknown[]): SuggestionInput {
  const followeesOf = new Map<string, string[]>();
  t1.recentFollowees.forEach((f, i) => {
    followeesOf.set(f, strings(replies[i]));
  });
  const scores = t1.popularIds.length ? replies[t1.recentFollowees.length] : [];
  const popular: [string, number][] = [];
  t1.popularIds.forEach((id, i) => {
    const raw = Array.isArray(scores) ? scores[i] : null;
    // A count gone between the two trips (the user lost their last follower) leaves the pool.
    const n = raw === null || raw === undefined ? 0 : -Number(raw);
    if (Number.isFinite(n) && n > 0) popular.push([id, n]);
  });
  return { viewerId: t1.viewerId, recentFollowees: t1.recentFollowees, followeesOf, popular, blocked: t1.blocked };
}

/** A ranked candidate (before the deleted and already-followed filters). */
export interface SuggestionCandidate extends SuggestedUser {
  tier: 1 | 2;
}

/**
 * Tier 1 and tier 2 merged, the viewer, their recent followees and blocked users left out,
 * ordered by tier, score descending, user id. Pure.
 */
export function rankSuggestionCandidates(input: SuggestionInput): SuggestionCandidate[] {
  const recent = input.recentFollowees.slice(-SUGGEST_FOLLOWEES_BOUND);
  const skip = (id: string) => id === input.viewerId || input.blocked.has(id);
  const fof = new Map<string, number>();
  for (const f of new Set(recent)) {
    for (const id of new Set(input.followeesOf.get(f) ?? [])) fof.set(id, (fof.get(id) ?? 0) + 1);
  }
  const mine = new Set(recent);
  const out: SuggestionCandidate[] = [];
  for (const [id, n] of fof) {
    if (!skip(id) && !mine.has(id)) out.push({ user_id: id, score: n, reason: "followed_by_your_follows", tier: 1 });
  }
  const pool = [...input.popular]
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1] || cmp(a[0], b[0]))
    .slice(0, SUGGEST_POPULAR_POOL);
  for (const [id, n] of pool) {
    if (!skip(id) && !mine.has(id) && !fof.has(id)) out.push({ user_id: id, score: n, reason: "popular", tier: 2 });
  }
  return out.sort((a, b) => a.tier - b.tier || b.score - a.score || cmp(a.user_id, b.user_id));
}

/** The candidates round trip 3 checks: the best SUGGEST_CHECK_BOUND. */
export function candidatesToCheck(ranked: readonly SuggestionCandidate[]): SuggestionCandidate[] {
  return ranked.slice(0, SUGGEST_CHECK_BOUND);
}

/** Round trip 3: which of the checked candidates are deleted, and which the viewer follows. */
export function suggestionReads3(
  keys: IndexKeys,
  viewerId: string,
  checked: readonly SuggestionCandidate[],
): Command[] {
  if (checked.length === 0) return [];
  const ids = checked.map((c) => c.user_id);
  return [
    ["SMISMEMBER", keys.deletedUsers, ...ids],
    ["SMISMEMBER", keys.followees(viewerId), ...ids],
  ];
}

/** The first `limit` candidates that are neither excluded (deleted, already followed). Pure. */
export function pickSuggestions(
  ranked: readonly SuggestionCandidate[],
  excluded: (id: string) => boolean,
  limit = SUGGESTIONS_PER_USER,
): SuggestedUser[] {
  const out: SuggestedUser[] = [];
  for (const c of ranked) {
    if (out.length >= limit) break;
    if (!excluded(c.user_id)) out.push({ user_id: c.user_id, score: c.score, reason: c.reason });
  }
  return out;
}

/** Trip 3's replies as the set of excluded ids. */
export function parseSuggestions3(checked: readonly SuggestionCandidate[], replies: unknown[]): Set<string> {
  const [deleted, followed] = replies;
  const flag = (v: unknown, i: number) => Array.isArray(v) && Number(v[i]) === 1;
  const out = new Set<string>();
  checked.forEach((c, i) => {
    if (flag(deleted, i) || flag(followed, i)) out.add(c.user_id);
  });
  return out;
}

/**
 * Suggestions of the whole index state at once (the rules above with every fact known), pure:
 * what the three round trips compute, for tests and for callers holding the state in memory.
 */
export function suggestFromIndex(
  input: SuggestionInput,
  facts: { deleted: (id: string) => boolean; follows: (id: string) => boolean },
  limit = SUGGESTIONS_PER_USER,
): SuggestedUser[] {
  const ranked = candidatesToCheck(rankSuggestionCandidates(input));
  return pickSuggestions(ranked, (id) => facts.deleted(id) || facts.follows(id), limit);
}

/**
 * Suggestions for several viewers from the serving index, in three round trips whatever their
 * number (each trip one pipeline of every viewer's commands, all single-key). A viewer the index
 * cannot answer for (not ready, no follower counts yet, or the viewer not held) maps to null:
 * the caller asks ClickHouse.
 */
export async function readSuggestions(
  exec: PipelineExec,
  keys: IndexKeys,
  viewerIds: readonly string[],
): Promise<Map<string, SuggestedUser[] | null>> {
  const result = new Map<string, SuggestedUser[] | null>();
  const one = await splitExec(
    exec,
    viewerIds.map((v) => ({ of: v, cmds: suggestionReads1(keys, v) })),
  );
  const trips1: SuggestionTrip1[] = [];
  for (const { of, replies } of one) {
    const t1 = parseSuggestions1(of, replies);
    if (t1.ready) trips1.push(t1);
    else result.set(of, null);
  }
  for (const [v, users] of await suggestionsAfterTrip1(exec, keys, trips1)) result.set(v, users);
  return result;
}

/** One pipeline of every plan's commands, the replies handed back to each plan. */
async function splitExec<T>(exec: PipelineExec, plans: { of: T; cmds: Command[] }[]) {
  const all = plans.flatMap((p) => p.cmds);
  const replies = all.length ? await exec(all) : [];
  let at = 0;
  return plans.map((p) => {
    const mine = replies.slice(at, at + p.cmds.length);
    at += p.cmds.length;
    return { of: p.of, replies: mine };
  });
}

/**
 * Round trips 2 and 3 for viewers whose round trip 1 was read already (and found the index
 * ready for them): the edge sends round trip 1 alongside its cache read, so a MISS costs the
 * cache read's time once, not once more before the index's trips.
 */
export async function suggestionsAfterTrip1(
  exec: PipelineExec,
  keys: IndexKeys,
  trips1: readonly SuggestionTrip1[],
): Promise<Map<string, SuggestedUser[]>> {
  const result = new Map<string, SuggestedUser[]>();
  const two = await splitExec(
    exec,
    trips1.map((t1) => ({ of: t1, cmds: suggestionReads2(keys, t1) })),
  );
  const ranked = two.map(({ of, replies }) => {
    const checked = candidatesToCheck(rankSuggestionCandidates(parseSuggestions2(of, replies)));
    return { viewerId: of.viewerId, checked };
  });
  const three = await splitExec(
    exec,
    ranked.map((r) => ({ of: r, cmds: suggestionReads3(keys, r.viewerId, r.checked) })),
  );
  for (const { of, replies } of three) {
    const excluded = parseSuggestions3(of.checked, replies);
    result.set(
      of.viewerId,
      pickSuggestions(of.checked, (id) => excluded.has(id)),
    );
  }
  return result;
}

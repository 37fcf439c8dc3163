/**
 * Feed invalidation as a plan, pure: what a write (origin/src/writes) or a change the sink has
 * made visible in ClickHouse (origin/src/sink) makes stale, by name. A feed is never stored under
 * a key of its own (rankings live in snapshots): it is invalidated by bumping its user's feed
 * version (feedVersionKey), so their next new session ranks afresh instead of reusing the last
 * snapshot. Suggested users are a stored list (suggestKey): those are deleted.
 *
 * The origin runs the plan as a plain pipeline, not a transaction: every command names one key,
 * so on a Redis Cluster each goes to its own slot, and nothing needs them to land together (each
 * user's version bump stands alone; a suggestions list deleted without the rest is only deleted
 * sooner). A pipeline cut short leaves some keys stale until their TTL, as a failed MULTI did.
 */
import { FEED_VERSION_TTL_S, feedVersionKey, suggestKey } from "../keys.ts";
import type { Command } from "../serving/read.ts";

/** What a change makes stale: the users whose feeds, and those whose suggested users. */
export interface Stale {
  feeds: Iterable<string>;
  suggestions?: Iterable<string>;
}

/**
 * The commands that invalidate `stale`: one DEL per suggestions key, then INCR and EXPIRE
 * (FEED_VERSION_TTL_S) of each feed version, every user once; none when nothing is stale. Every
 * command names one key (a pipeline of them, never a MULTI: see above).
 */
export function invalidationCommands(stale: Stale): Command[] {
  const del = [...new Set(stale.suggestions ?? [])].map((u): Command => ["DEL", suggestKey(u)]);
  return [...del, ...feedVersionBumps(stale.feeds)];
}

/**
 * Bumps each user's feed version (feedVersionKey): their next new session ranks afresh. One
 * INCR and one EXPIRE per user, each naming that user's key only.
 */
export function feedVersionBumps(userIds: Iterable<string>): Command[] {
  const out: Command[] = [];
  for (const u of new Set(userIds)) {
    out.push(["INCR", feedVersionKey(u)], ["EXPIRE", feedVersionKey(u), String(FEED_VERSION_TTL_S)]);
  }
  return out;
}

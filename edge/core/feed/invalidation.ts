/**
 * Feed invalidation as a plan, pure: what a write (origin/src/writes) or a change the sink has
 * made visible in ClickHouse (origin/src/sink) makes stale, by name. A feed is never stored under
 * a key of its own (rankings live in snapshots): it is invalidated by bumping its user's feed
 * version (feedVersionKey), so their next new session ranks afresh instead of reusing the last
 * snapshot. Suggested users are a stored list (suggestKey): those are deleted. The origin runs the
 * plan as one MULTI.
 */
import { FEED_VERSION_TTL_S, feedVersionKey, suggestKey } from "../keys.ts";
import type { Command } from "../serving/read.ts";

/** What a change makes stale: the users whose feeds, and those whose suggested users. */
export interface Stale {
  feeds: Iterable<string>;
  suggestions?: Iterable<string>;
}

/**
 * The commands that invalidate `stale`: one DEL of the suggestions keys, then INCR and EXPIRE
 * (FEED_VERSION_TTL_S) of each feed version, every user once; none when nothing is stale.
 */
export function invalidationCommands(stale: Stale): Command[] {
  const suggestions = [...new Set(stale.suggestions ?? [])].map(suggestKey);
  const del: Command[] = suggestions.length ? [["DEL", ...suggestions]] : [];
  return [...del, ...feedVersionBumps(stale.feeds)];
}

/** Bumps each user's feed version (feedVersionKey): their next new session ranks afresh. */
export function feedVersionBumps(userIds: Iterable<string>): Command[] {
  const out: Command[] = [];
  for (const u of new Set(userIds)) {
    out.push(["INCR", feedVersionKey(u)], ["EXPIRE", feedVersionKey(u), String(FEED_VERSION_TTL_S)]);
  }
  return out;
}

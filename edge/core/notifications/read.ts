/**
 * Reading a page of notifications, pure: two round trips and the rules that turn them into the
 * page. Round trip 1 (`pageRead`, one read-only script on the viewer's slot): a keyset page of
 * the viewer's groups (the list paging of edge/core/reads/lists.ts, run inside the script),
 * each group's summary, the seen mark and how many groups are unread. Round trip 2
 * (`actorReads`): the card of every actor those summaries name, and whether the viewer blocks
 * them or is blocked by them (the serving index's profiles and block sets).
 *
 * The rules (`presentPage`): an actor who blocks the viewer or whom the viewer blocks, and a
 * deleted user (no profile), is left out of the actors and the count; a group with no actor left
 * among its summary's is left out (the cursor still moves past it, so a page may hold fewer than
 * `limit`). A group is unread while its latest_at is after the seen mark.
 */
import type { IndexKeys, NotificationKeys } from "../keys.ts";
import { LIST_PAGE_LUA, type ListEntry, parseScored } from "../reads/lists.ts";
import { CARD_FIELDS, iso, memberships, parseCard, type UserCard } from "../reads/shapes.ts";
import type { Command } from "../serving/read.ts";
import type { NotificationCursor } from "./cursor.ts";
import { decodeSummary, type GroupSummary, type NotificationKind, parseGroupId } from "./groups.ts";

/** Page size of GET /api/v1/notifications: 1–50, default 20. */
export const NOTIFICATIONS_PAGE_MAX = 50;
/** Actors a group shows, newest first. */
export const ACTORS_SHOWN = 3;

/**
 * KEYS: groups(u), summaries(u), seen(u). ARGV 1–5: LIST_PAGE_LUA's (newest first, cursor, count);
 * ARGV[6]: the window's start (ms): older groups are not counted as unread.
 * Returns {seen mark, unread groups, [gid, latest, …] (count entries), [summary per entry]}.
 */
export const NOTIFICATIONS_PAGE_LUA = `local page = (function()
${LIST_PAGE_LUA}
end)()
local seen = tonumber(redis.call('GET', KEYS[3]) or '0') or 0
local from = math.max(seen, tonumber(ARGV[6]))
local unread = redis.call('ZCOUNT', KEYS[1], '(' .. string.format('%d', from), '+inf')
local ids = {}
for i = 1, #page, 2 do ids[#ids + 1] = page[i] end
local sums = {}
if #ids > 0 then sums = redis.call('HMGET', KEYS[2], unpack(ids)) end
return {string.format('%d', seen), unread, page, sums}`;

/** Round trip 1: the page after `cursor` (`limit + 1` entries: the extra one says whether more follow). */
export function pageRead(
  keys: NotificationKeys,
  viewerId: string,
  cursor: NotificationCursor | null,
  limit: number,
  windowStartMs: number,
): Command {
  return [
    // Read-only (see listPageRead): a replica near the edge may answer it.
    "EVAL_RO",
    NOTIFICATIONS_PAGE_LUA,
    "3",
    keys.groups(viewerId),
    keys.summaries(viewerId),
    keys.seen(viewerId),
    "1",
    cursor ? "1" : "0",
    cursor ? String(cursor.score) : "0",
    cursor ? cursor.id : "",
    String(limit + 1),
    String(Math.floor(windowStartMs)),
  ];
}

/** A stored group as round trip 1 read it. */
export interface StoredGroup {
  gid: string;
  kind: NotificationKind;
  postId: string | null;
  day: string;
  latestMs: number;
  summary: GroupSummary;
}

export interface PageReply {
  seenMs: number;
  /** Groups whose latest_at is after the seen mark. */
  unread: number;
  /** At most `limit`, newest first; groups whose id or summary cannot be read are left out. */
  groups: StoredGroup[];
  /** The position after the page's last entry, or null when the list ends here. */
  next: NotificationCursor | null;
}

/** Round trip 1's reply. */
export function parsePageReply(reply: unknown, limit: number): PageReply {
  const [seen, unread, page, sums] = Array.isArray(reply) ? reply : [];
  const entries: ListEntry[] = parseScored(page);
  const summaries = Array.isArray(sums) ? sums : [];
  const served = entries.slice(0, limit);
  const groups: StoredGroup[] = [];
  served.forEach((e, i) => {
    const ref = parseGroupId(e.id);
    const summary = decodeSummary(summaries[i]);
    if (!ref || !summary || !Number.isFinite(e.score)) return;
    groups.push({ gid: e.id, ...ref, latestMs: e.score, summary });
  });
  const last = served.at(-1);
  return {
    seenMs: Number(seen) || 0,
    unread: Number(unread) || 0,
    groups,
    next: entries.length > limit && last ? { score: last.score, id: last.id } : null,
  };
}

/** The distinct actors the groups' summaries name (round trip 2 reads each). */
export function actorsOf(groups: StoredGroup[]): string[] {
  return [...new Set(groups.flatMap((g) => g.summary.actors.map((a) => a.id)))];
}

/** Round trip 2: each actor's card, then whether the viewer blocks them and whether they block the viewer. */
export function actorReads(keys: IndexKeys, viewerId: string, actorIds: string[]): Command[] {
  if (!actorIds.length) return [];
  return [
    ...actorIds.map((a): Command => ["HMGET", keys.profile(a), ...CARD_FIELDS]),
    ["SMISMEMBER", keys.blocksOut(viewerId), ...actorIds],
    ["SMISMEMBER", keys.blocksIn(viewerId), ...actorIds],
  ];
}

/** Round trip 2's replies: the card of each actor the viewer may see (hidden ones are absent). */
export function parseActorReads(actorIds: string[], replies: unknown[]): Map<string, UserCard> {
  const n = actorIds.length;
  const out = new Map<string, UserCard>();
  const blocking = memberships(replies[n], n);
  const blockedBy = memberships(replies[n + 1], n);
  actorIds.forEach((a, i) => {
    const card = parseCard(a, replies[i]);
    if (card && !blocking[i] && !blockedBy[i]) out.set(a, card);
  });
  return out;
}

export interface NotificationOut {
  /** The group's id (stable for the group's life). */
  id: string;
  kind: NotificationKind;
  post_id: string | null;
  /** The UTC day of the group's actions, YYYY-MM-DD. */
  day: string;
  /** Newest first, at most 3. */
  actors: UserCard[];
  /** Distinct actors in the group, those hidden from the viewer left out. */
  count: number;
  latest_at: string;
  unread: boolean;
}

export interface NotificationsPageOut {
  items: NotificationOut[];
  /** Groups newer than the viewer's seen mark. */
  unread: number;
  next_cursor: string | null;
}

/** One group as the viewer sees it, or null when none of its actors may be shown. */
export function presentGroup(g: StoredGroup, visible: Map<string, UserCard>, seenMs: number): NotificationOut | null {
  const shown = g.summary.actors.filter((a) => visible.has(a.id));
  if (!shown.length) return null;
  const hidden = g.summary.actors.length - shown.length;
  return {
    id: g.gid,
    kind: g.kind,
    post_id: g.postId,
    day: g.day,
    actors: shown.slice(0, ACTORS_SHOWN).map((a) => visible.get(a.id) as UserCard),
    count: Math.max(shown.length, g.summary.count - hidden),
    latest_at: iso(g.latestMs),
    unread: g.latestMs > seenMs,
  };
}

/** The page: each group the viewer may see, in order, and the page's unread count and cursor. */
export function presentPage(
  page: PageReply,
  visible: Map<string, UserCard>,
  encodeCursor: (c: NotificationCursor) => string,
): NotificationsPageOut {
  const items: NotificationOut[] = [];
  for (const g of page.groups) {
    const out = presentGroup(g, visible, page.seenMs);
    if (out) items.push(out);
  }
  return { items, unread: page.unread, next_cursor: page.next ? encodeCursor(page.next) : null };
}

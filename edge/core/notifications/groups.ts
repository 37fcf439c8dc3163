/**
 * Notifications, pure: which change notifies whom, how actions group, and what a user's groups
 * should hold given the live actions (the model the checker and the property test compare the
 * stored groups with). No I/O here.
 *
 * Kinds: `like` (someone liked your post), `comment` (someone commented on your post), `follow`
 * (someone followed you). One group per (kind, post, UTC day) for likes and comments and per
 * (kind, UTC day) for follows; the day is the action's own (its created_at), so a change and its
 * take-back (an unlike, a deleted comment, an unfollow) always name the same group. Nobody is
 * notified of their own action.
 */
import { NOTIFICATION_ACTORS_KEPT, NOTIFICATION_GROUPS_MAX, NOTIFICATION_TTL_S } from "../keys.ts";

export const NOTIFICATION_KINDS = ["like", "comment", "follow"] as const;
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];

/** One action as a change reports it: made (`live`) or taken back. */
export interface NotificationChange {
  kind: NotificationKind;
  /** Who is notified: the post's author (likes, comments) or the followee. */
  recipient: string;
  actorId: string;
  /** The post liked or commented on; null for a follow. */
  postId: string | null;
  /** The comment's id (an actor may comment more than once); null for likes and follows. */
  itemId: string | null;
  /** The action's created_at (ms): its group's day and the actor's time in it. */
  createdMs: number;
  live: boolean;
}

const PREFIX: Record<NotificationKind, string> = { like: "l", comment: "c", follow: "f" };
const KIND_OF: Record<string, NotificationKind> = { l: "like", c: "comment", f: "follow" };

/** The UTC day of an epoch-ms time, YYYY-MM-DD. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** A group's id: `l:{post}:{day}`, `c:{post}:{day}` or `f:{day}`. */
export function groupId(kind: NotificationKind, postId: string | null, day: string): string {
  return kind === "follow" ? `f:${day}` : `${PREFIX[kind]}:${postId}:${day}`;
}

/** The group a change belongs to. */
export const groupOf = (c: Pick<NotificationChange, "kind" | "postId" | "createdMs">): string =>
  groupId(c.kind, c.postId, utcDay(c.createdMs));

export interface GroupRef {
  kind: NotificationKind;
  postId: string | null;
  day: string;
}

const GID = /^(?:([lc]):([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})|f):(\d{4}-\d{2}-\d{2})$/;

/** The inverse of groupId; null for anything else. */
export function parseGroupId(gid: string): GroupRef | null {
  const m = GID.exec(gid);
  if (!m) return null;
  const [, k, post, day] = m;
  return { kind: KIND_OF[k ?? "f"] as NotificationKind, postId: post ?? null, day: day as string };
}

/** Whether a change notifies anyone: never one's own action. */
export function notifies(c: Pick<NotificationChange, "recipient" | "actorId">): boolean {
  return c.recipient !== c.actorId;
}

/** A group's summary as `summaries(u)` holds it: distinct actors, and the newest few with their times. */
export interface GroupSummary {
  count: number;
  /** Newest first, at most NOTIFICATION_ACTORS_KEPT. */
  actors: { id: string; ms: number }[];
}

/** "count|actor,ms,actor,ms…" (what NOTIFY_LUA writes). */
export function encodeSummary(s: GroupSummary): string {
  return `${s.count}|${s.actors.map((a) => `${a.id},${a.ms}`).join(",")}`;
}

/** The inverse of encodeSummary; null for a missing or malformed value. */
export function decodeSummary(v: unknown): GroupSummary | null {
  if (typeof v !== "string") return null;
  const bar = v.indexOf("|");
  if (bar < 1) return null;
  const count = Number(v.slice(0, bar));
  if (!Number.isSafeInteger(count) || count < 0) return null;
  const parts = v.slice(bar + 1).split(",");
  const actors: GroupSummary["actors"] = [];
  for (let i = 0; i + 1 < parts.length; i += 2) {
    const ms = Number(parts[i + 1]);
    if (!parts[i] || !Number.isFinite(ms)) return null;
    actors.push({ id: parts[i] as string, ms });
  }
  return { count, actors };
}

/** A group as the model computes it from the live actions. */
export interface ExpectedGroup {
  gid: string;
  latestMs: number;
  /** Actor → ms of their newest live action in the group. */
  actors: Map<string, number>;
}

/**
 * What one user's groups should hold, given every live action that notifies them (any order):
 * one entry per distinct actor (their newest action's time), groups whose latest action is
 * within NOTIFICATION_TTL_S, newest first (ties by id, descending, as Redis orders them), at most
 * NOTIFICATION_GROUPS_MAX. (The store also refuses an action that is already older than the
 * window when it arrives; a group's actions share one day, so the two differ only at the
 * window's edge.)
 */
export function expectedGroups(
  actions: Omit<NotificationChange, "live" | "recipient">[],
  nowMs: number,
  max = NOTIFICATION_GROUPS_MAX,
): ExpectedGroup[] {
  const oldest = nowMs - NOTIFICATION_TTL_S * 1000;
  const byGid = new Map<string, ExpectedGroup>();
  for (const a of actions) {
    const gid = groupOf(a);
    const g = byGid.get(gid) ?? { gid, latestMs: 0, actors: new Map<string, number>() };
    byGid.set(gid, g);
    g.actors.set(a.actorId, Math.max(g.actors.get(a.actorId) ?? 0, a.createdMs));
    g.latestMs = Math.max(g.latestMs, a.createdMs);
  }
  return [...byGid.values()]
    .filter((g) => g.latestMs >= oldest)
    .sort((x, y) => y.latestMs - x.latestMs || (x.gid < y.gid ? 1 : x.gid > y.gid ? -1 : 0))
    .slice(0, max);
}

/** A group's summary from its actors (newest first, ties by id descending, as ZRANGE REV orders them). */
export function summaryOf(actors: Map<string, number>, kept = NOTIFICATION_ACTORS_KEPT): GroupSummary {
  const sorted = [...actors].sort(([a, x], [b, y]) => y - x || (a < b ? 1 : a > b ? -1 : 0));
  return { count: actors.size, actors: sorted.slice(0, kept).map(([id, ms]) => ({ id, ms })) };
}

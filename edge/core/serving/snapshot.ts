/**
 * Feed snapshots, pure: a built ranking is immutable under its ranking id (snapshotKey), and
 * a cursor pages only its own snapshot, so paging never repeats or skips whatever the warmer,
 * an invalidation or another device does meanwhile. The Redis layout is a LIST: element 0 is
 * the metadata, then one JSON item per ranked post; a page is `LRANGE key 1+offset …`.
 */
import type { FeedCursor } from "../cursor.ts";
import type { ExperimentAssignment } from "../experiments.ts";
import type { RankedItem } from "../ranking/rank.ts";
import { jsonReply } from "./json.ts";

/** A random, URL-safe ranking id (Web Crypto exists in both runtimes): 96 bits, unguessable. */
export function newRankingId(): string {
  return crypto.randomUUID().replace(/-/g, "").slice(0, 24);
}

/** Which path built the ranking: the serving index, or ClickHouse (the cold path). */
export type RankingPath = "index" | "clickhouse";

export interface SnapshotMeta {
  v: 2;
  rankingId: string;
  viewerId: string;
  builtAtMs: number;
  count: number;
  path: RankingPath;
  /** The viewer's feed version (feedVersionKey) read before the candidates; 0 if none. */
  ver: number;
  /**
   * The ranking experiment and variant the snapshot was ranked under (issue 17), null outside
   * any experiment; absent in snapshots of older edges (read as null). Every page of the
   * snapshot reports it, so a paging session never switches variant midway.
   */
  experiment?: ExperimentAssignment | null;
}

export interface Snapshot {
  meta: SnapshotMeta;
  items: RankedItem[];
}

/** What `snapshotPointerKey(user)` holds: the viewer's newest snapshot. */
export interface SnapshotPointer {
  rankingId: string;
  builtAtMs: number;
  ver: number;
  count: number;
  /**
   * The snapshot's experiment and variant (SnapshotMeta.experiment): what the events intake
   * stamps on the viewer's events that do not name one (edge/src/routes/events.ts reads it in
   * a script, as the slugs `"experiment":"…"` and `"variant":"…"` of this JSON).
   */
  experiment?: ExperimentAssignment | null;
}

/**
 * A new session may start from the viewer's newest snapshot only while it is this young and
 * the viewer's version has not moved: every change older than 2 s must show in a new session,
 * and a change takes up to ~1 s to reach the index.
 */
export const SNAPSHOT_REUSE_MS = 1000;

export function reusable(p: SnapshotPointer | null, ver: number, nowMs: number): p is SnapshotPointer {
  return p !== null && p.ver === ver && nowMs - p.builtAtMs >= 0 && nowMs - p.builtAtMs < SNAPSHOT_REUSE_MS;
}

/** The LIST elements of a snapshot, in order. */
export function snapshotElements(s: Snapshot): string[] {
  return [JSON.stringify(s.meta), ...s.items.map((i) => JSON.stringify(i))];
}

export function pointerOf(meta: SnapshotMeta): SnapshotPointer {
  return {
    rankingId: meta.rankingId,
    builtAtMs: meta.builtAtMs,
    ver: meta.ver,
    count: meta.count,
    experiment: meta.experiment ?? null,
  };
}

/** The LRANGE bounds (inclusive) of the page at `offset`, metadata excluded. */
export function pageRange(offset: number, limit: number): [number, number] {
  return [1 + offset, offset + limit];
}

export class SnapshotError extends Error {
  override readonly name = "SnapshotError";
  constructor(
    readonly reason: "expired" | "foreign" | "out_of_range",
    message: string,
  ) {
    super(message);
  }
}

/**
 * A page read back from Redis (`metaReply` = LINDEX 0, `itemReplies` = the page's LRANGE),
 * checked against the cursor: a snapshot that is gone, another viewer's, or an offset past its
 * end is a SnapshotError (a 400 for the caller, never a rebuild).
 */
export function pageFromReplies(
  viewerId: string,
  cursor: FeedCursor,
  limit: number,
  metaReply: unknown,
  itemReplies: unknown,
): { meta: SnapshotMeta; items: RankedItem[]; next: FeedCursor | null } {
  const meta = jsonReply<SnapshotMeta>(metaReply);
  if (meta?.v !== 2 || meta.rankingId !== cursor.rankingId) {
    throw new SnapshotError("expired", "this feed cursor has expired; start again without a cursor");
  }
  if (meta.viewerId !== viewerId) throw new SnapshotError("foreign", "this feed cursor belongs to another user");
  if (cursor.offset > meta.count) throw new SnapshotError("out_of_range", "feed cursor offset out of range");
  const items = (Array.isArray(itemReplies) ? itemReplies : [])
    .map((r) => jsonReply<RankedItem>(r))
    .filter((i): i is RankedItem => i !== null)
    .slice(0, limit);
  return { meta, items, next: nextCursor(meta, cursor.offset, items.length) };
}

/** The experiment a snapshot was ranked under (null outside any, and for older snapshots). */
export function snapshotExperiment(meta: Pick<SnapshotMeta, "experiment">): ExperimentAssignment | null {
  const e = meta.experiment;
  return e && typeof e.experiment === "string" && typeof e.variant === "string"
    ? { experiment: e.experiment, variant: e.variant }
    : null;
}

export function nextCursor(meta: SnapshotMeta, offset: number, served: number): FeedCursor | null {
  const next = offset + served;
  return next < meta.count ? { rankingId: meta.rankingId, offset: next } : null;
}

/**
 * Feed snapshots, pure: a built ranking is immutable under its viewer and ranking id (snapshotKey), and
 * a cursor pages only its own snapshot, so paging never repeats or skips whatever the fallback-snapshots job,
 * an invalidation or another device does meanwhile. The Redis layout is a LIST: element 0 is
 * the metadata (JSON), then one item per ranked post; a page is `LRANGE key 1+offset …`.
 * Items of a v3 snapshot are tab-separated (encodeSnapshotItem: no keys, nothing escaped, text
 * last); those of a v2 snapshot (older edges, alive for their TTL) are JSON objects.
 */

import type { ExperimentAssignment } from "../experiments/assignment.ts";
import type { FeedCursor } from "../feed/cursor.ts";
import { SNAPSHOT_PAGING_TTL_S, snapshotKey } from "../keys.ts";
import type { RankedItem } from "../ranking/rank.ts";
import { jsonReply } from "./json.ts";
import type { Command } from "./read.ts";

/** A random, URL-safe ranking id (Web Crypto exists in both runtimes): 96 bits, unguessable. */
export function newRankingId(): string {
  return crypto.randomUUID().replace(/-/g, "").slice(0, 24);
}

/** Which path built the ranking: the serving index, or ClickHouse (the cold path). */
export type RankingPath = "index" | "clickhouse";

export interface SnapshotMeta {
  /** 3: tab-separated items (what this code writes); 2: JSON items (read only). */
  v: 2 | 3;
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
 * and a change takes up to ~1 s to reach the index (more on a loaded machine). A reuse can
 * hide a change the index took in after the snapshot was built, so the window adds to that
 * delay: half a second absorbs a client's double request and leaves 1.5 s for the pipeline.
 */
export const SNAPSHOT_REUSE_MS = 500;

export function reusable(p: SnapshotPointer | null, ver: number, nowMs: number): p is SnapshotPointer {
  return p !== null && p.ver === ver && nowMs - p.builtAtMs >= 0 && nowMs - p.builtAtMs < SNAPSHOT_REUSE_MS;
}

/** The snapshot layout this code writes. */
export const SNAPSHOT_VERSION = 3;

const SOURCES = new Set<string>(["follow", "trending", "affinity"]);

/**
 * One ranked item as a v3 snapshot element: post id, author id, created ms, source, score,
 * then the score's parts (freshness, engagement, affinity, score before diversity, diversity
 * multiplier), then the text (last, so its own tabs need no escaping).
 */
export function encodeSnapshotItem(i: RankedItem): string {
  const e = i.explain;
  return `${i.postId}\t${i.authorId}\t${i.createdAtMs}\t${i.source}\t${i.score}\t${e.freshness}\t${e.engagement}\t${e.affinity}\t${e.score}\t${e.diversityMultiplier}\t${i.text}`;
}

/** A v3 snapshot element back to its item; null when it is not one. */
export function decodeSnapshotItem(raw: unknown): RankedItem | null {
  if (typeof raw !== "string") return null;
  const f: string[] = [];
  let at = 0;
  for (let k = 0; k < 10; k++) {
    const tab = raw.indexOf("\t", at);
    if (tab < 0) return null;
    f.push(raw.slice(at, tab));
    at = tab + 1;
  }
  const [postId, authorId, created, source, score, freshness, engagement, affinity, base, diversity] = f as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  if (!SOURCES.has(source)) return null;
  return {
    postId,
    authorId,
    createdAtMs: Number(created),
    text: raw.slice(at),
    source: source as RankedItem["source"],
    score: Number(score),
    explain: {
      freshness: Number(freshness),
      engagement: Number(engagement),
      affinity: Number(affinity),
      score: Number(base),
      diversityMultiplier: Number(diversity),
    },
  };
}

/** An item element of a snapshot of layout `v` (3: tab-separated, 2: JSON). */
export function snapshotItemOf(v: number, raw: unknown): RankedItem | null {
  return v === 3 ? decodeSnapshotItem(raw) : jsonReply<RankedItem>(raw);
}

/** The LIST elements of a snapshot, in order: its metadata (JSON), then its items (v3). */
export function snapshotElements(s: Snapshot): string[] {
  const out = [JSON.stringify({ ...s.meta, v: SNAPSHOT_VERSION })];
  for (const i of s.items) out.push(encodeSnapshotItem(i));
  return out;
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

/**
 * The reads of one page of the viewer's snapshot `cursor` names (its metadata, then the page's
 * items; replies for pageFromReplies). The key is built from the authenticated viewer and the
 * cursor's ranking id, so another user's cursor names no snapshot of theirs: it finds nothing.
 */
export function pageReads(viewerId: string, cursor: FeedCursor, limit: number): Command[] {
  const key = snapshotKey(viewerId, cursor.rankingId);
  const [from, to] = pageRange(cursor.offset, limit);
  return [
    ["LINDEX", key, "0"],
    ["LRANGE", key, String(from), String(to)],
  ];
}

/** Keeps the viewer's snapshot for the session after a page read (SNAPSHOT_PAGING_TTL_S). */
export function pagingTtlWrite(viewerId: string, rankingId: string): Command {
  return ["EXPIRE", snapshotKey(viewerId, rankingId), String(SNAPSHOT_PAGING_TTL_S)];
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
 * end is a SnapshotError (a 400 for the caller, never a rebuild). Another viewer's cursor reads
 * an absent key of this viewer (pageReads), so it is "expired" here; the viewer check stays as
 * a second guard.
 */
export function pageFromReplies(
  viewerId: string,
  cursor: FeedCursor,
  limit: number,
  metaReply: unknown,
  itemReplies: unknown,
): { meta: SnapshotMeta; items: RankedItem[]; next: FeedCursor | null } {
  const meta = jsonReply<SnapshotMeta>(metaReply);
  if ((meta?.v !== 2 && meta?.v !== 3) || meta.rankingId !== cursor.rankingId) {
    throw new SnapshotError("expired", "this feed cursor has expired; start again without a cursor");
  }
  if (meta.viewerId !== viewerId) throw new SnapshotError("foreign", "this feed cursor belongs to another user");
  if (cursor.offset > meta.count) throw new SnapshotError("out_of_range", "feed cursor offset out of range");
  const items = (Array.isArray(itemReplies) ? itemReplies : [])
    .map((r) => snapshotItemOf(meta.v, r))
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

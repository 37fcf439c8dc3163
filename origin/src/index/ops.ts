/**
 * Kafka messages (the CDC topics and `events`) → serving-index operations, pure. Parsing
 * reuses the sink's transforms, so both consumers read a message the same way; a message the
 * sink would dead-letter is skipped here (the sink records it).
 */

import type { EventType } from "#core/events/schema.ts";
import { msFromChDateTime64 } from "#core/sql/clickhouse-time.ts";
import type { CdcTable } from "#core/topics.ts";
import { cdcRow, DeadLetter, eventRow, parseJson } from "../sink/transform.ts";

export type IndexOp =
  | { kind: "post"; postId: string; authorId: string; createdMs: number; text: string; live: boolean }
  | {
      kind: "interaction";
      /** The record in the post hash: `l:{user}` or `c:{comment}`. */
      field: string;
      counter: "l" | "c";
      postId: string;
      actorId: string;
      authorId: string;
      live: boolean;
      /** The like's or the comment's created_at (ms). */
      createdMs: number;
      /** A comment's text ("" for a like). */
      text: string;
    }
  | { kind: "event"; postId: string; userId: string; type: EventType; receivedMs: number }
  | { kind: "follow"; followerId: string; followeeId: string; live: boolean; createdMs: number }
  | { kind: "block"; blockerId: string; blockedId: string; live: boolean }
  | {
      kind: "user";
      userId: string;
      /** Soft-deleted (deleted_at set) or hard-deleted: the row's last image is then the handle it held. */
      deleted: boolean;
      handle: string;
      displayName: string;
      bio: string;
      createdMs: number;
      /**
       * The change's version (its LSN, as the sink's and ClickHouse's `_version`): a handle
       * claimed by two users in the index (one's release still in flight on another partition)
       * goes to the newer claim, and a change not newer than the profile's is a replay.
       */
      version: number;
    };

/** The comment id of a comment interaction (its record is `c:{comment}`). */
export const commentIdOf = (op: { field: string }): string => op.field.slice(2);

const msOf = (v: unknown) => msFromChDateTime64(String(v));

/** One CDC message → its operation (null for a tombstone or an unusable message). */
export function cdcOp(table: CdcTable, value: unknown): IndexOp | null {
  let c: ReturnType<typeof cdcRow>;
  try {
    c = cdcRow(table, value);
  } catch (err) {
    if (err instanceof DeadLetter) return null;
    throw err;
  }
  if (!c) return null;
  const r = c.row;
  const s = (k: string) => String(r[k]);
  const live = c.live === 1;
  switch (table) {
    case "posts":
      return {
        kind: "post",
        postId: s("id"),
        authorId: s("author_id"),
        createdMs: msOf(r.created_at),
        text: s("text"),
        live,
      };
    case "likes":
      return {
        kind: "interaction",
        field: `l:${s("user_id")}`,
        counter: "l",
        postId: s("post_id"),
        actorId: s("user_id"),
        authorId: s("post_author_id"),
        live,
        createdMs: msOf(r.created_at),
        text: "",
      };
    case "comments":
      return {
        kind: "interaction",
        field: `c:${s("id")}`,
        counter: "c",
        postId: s("post_id"),
        actorId: s("author_id"),
        authorId: s("post_author_id"),
        live,
        createdMs: msOf(r.created_at),
        text: s("text"),
      };
    case "follows":
      return {
        kind: "follow",
        followerId: s("follower_id"),
        followeeId: s("followee_id"),
        live,
        createdMs: msOf(r.created_at),
      };
    case "blocks":
      return { kind: "block", blockerId: s("blocker_id"), blockedId: s("blocked_id"), live };
    case "users":
      return {
        kind: "user",
        userId: s("id"),
        deleted: !live,
        handle: s("handle"),
        displayName: s("display_name"),
        bio: s("bio"),
        createdMs: msOf(r.created_at),
        version: c.version,
      };
  }
}

/** One `events` message → its operation, for the types the index counts. */
export function eventOp(value: unknown): IndexOp | null {
  let e: ReturnType<typeof eventRow>;
  try {
    e = eventRow(value);
  } catch (err) {
    if (err instanceof DeadLetter) return null;
    throw err;
  }
  if (e.type !== "share" && e.type !== "click" && e.type !== "impression") return null;
  return { kind: "event", postId: e.post_id, userId: e.user_id, type: e.type, receivedMs: msOf(e.received_at) };
}

/** A message's operation, by topic (the CDC table, or null for `events`). */
export function opOf(table: CdcTable | null, raw: Buffer | null): IndexOp | null {
  let value: unknown;
  try {
    value = parseJson(raw);
  } catch (err) {
    if (err instanceof DeadLetter) return null;
    throw err;
  }
  if (value === null) return null;
  return table ? cdcOp(table, value) : eventOp(value);
}

/**
 * Kafka messages of cdc.likes, cdc.comments and cdc.follows → notification changes, pure. The
 * parsing is the serving index's (index/ops.ts, on the sink's transforms), so all three
 * consumers read a message alike; what it notifies is the core's rule (edge/core/notifications).
 */
import { type NotificationChange, notifies } from "#core/notifications/groups.ts";
import type { PostGone } from "#core/notifications/write.ts";
import type { CdcTable } from "#core/topics.ts";
import { commentIdOf, type IndexOp, opOf } from "../index/ops.ts";

/** The tables whose changes notify someone, and posts (a deleted post takes its groups along). */
export const NOTIFYING_TABLES = ["likes", "comments", "follows", "posts"] as const satisfies readonly CdcTable[];

/** What the notifications part applies: a change that notifies someone, or a deleted post. */
export type NotificationOp = NotificationChange | PostGone;

/** An index operation as the change it notifies, or null (another kind, or one's own action). */
export function changeOf(op: IndexOp): NotificationChange | null {
  let c: NotificationChange | null = null;
  if (op.kind === "post") return null;
  if (op.kind === "interaction") {
    c = {
      kind: op.counter === "l" ? "like" : "comment",
      recipient: op.authorId,
      actorId: op.actorId,
      postId: op.postId,
      itemId: op.counter === "c" ? commentIdOf(op) : null,
      createdMs: op.createdMs,
      live: op.live,
    };
  } else if (op.kind === "follow") {
    c = {
      kind: "follow",
      recipient: op.followeeId,
      actorId: op.followerId,
      postId: null,
      itemId: null,
      createdMs: op.createdMs,
      live: op.live,
    };
  }
  return c && notifies(c) ? c : null;
}

/**
 * One message of a notifying table → what it does to notifications, or null (a tombstone, an
 * unusable message, one's own action, a post written or edited).
 */
export function changeOfMessage(table: CdcTable, raw: Buffer | null): NotificationOp | null {
  const op = opOf(table, raw);
  if (!op) return null;
  if (op.kind === "post") return op.live ? null : { kind: "post-gone", recipient: op.authorId, postId: op.postId };
  return changeOf(op);
}

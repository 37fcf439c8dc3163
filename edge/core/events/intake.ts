/**
 * The event intake as a plan, pure: what one accepted batch writes, in one round trip.
 * - one stream entry holding the whole batch (the relay turns it back into one Kafka message
 *   per event); events that name no experiment take the one of the viewer's newest snapshot,
 *   filled in by a script that reads the pointer as it appends;
 * - impressions mark their posts seen (newest kept, bounded, with a TTL);
 * - impressions, shares and clicks bump the viewer's feed version by name, so their own signals
 *   show in their next new session at once (the last snapshot is not reused).
 */
import { feedVersionBumps } from "../feed/invalidation.ts";
import { SEEN_TTL_S, seenKey, snapshotPointerKey } from "../keys.ts";
import type { Command } from "../serving/read.ts";
import {
  EVENT_BATCH_STREAM_FIELD,
  type EventRecord,
  encodeBatchForTagging,
  XADD_WITH_EXPERIMENT_TAGS_LUA,
} from "./schema.ts";

/** How many seen posts per user are kept (newest first). */
export const MAX_SEEN_PER_USER = 5000;

/** The event types that move the viewer's own feed (a new session must not reuse the last ranking). */
const MOVES_OWN_FEED = new Set<EventRecord["type"]>(["impression", "share", "click"]);

/** The commands that take in one batch of `userId`'s accepted events (at least one). */
export function intakeCommands(stream: string, userId: string, records: readonly EventRecord[]): Command[] {
  const out: Command[] = [];
  const batch = encodeBatchForTagging(records);
  if (batch.tagged) {
    out.push([
      "EVAL",
      XADD_WITH_EXPERIMENT_TAGS_LUA,
      "2",
      stream,
      snapshotPointerKey(userId),
      EVENT_BATCH_STREAM_FIELD,
      batch.body,
    ]);
  } else {
    out.push(["XADD", stream, "*", EVENT_BATCH_STREAM_FIELD, batch.body]);
  }
  const impressions = records.filter((r) => r.type === "impression");
  if (impressions.length) {
    const key = seenKey(userId);
    out.push(
      ["ZADD", key, ...impressions.flatMap((r) => [String(r.received_at), r.post_id])],
      ["ZREMRANGEBYRANK", key, "0", String(-(MAX_SEEN_PER_USER + 1))],
      ["EXPIRE", key, String(SEEN_TTL_S)],
    );
  }
  if (records.some((r) => MOVES_OWN_FEED.has(r.type))) out.push(...feedVersionBumps([userId]));
  return out;
}

/**
 * The event intake as a plan, pure: what one accepted batch reads and writes.
 * - one stream entry holding the whole batch (the relay turns it back into one Kafka message
 *   per event); events that name no experiment take the one of the viewer's newest snapshot;
 * - impressions mark their posts seen (newest kept, bounded, with a TTL);
 * - impressions, shares and clicks bump the viewer's feed version by name, so their own signals
 *   show in their next new session at once (the last snapshot is not reused).
 *
 * Experiment tags: a batch with an event that names no experiment first reads the viewer's
 * snapshot pointer (`reads`, one GET), and the tags are filled in here (fillExperimentTags)
 * before the XADD. Every command names one key, so the plan runs the same on one Redis and on
 * a Redis Cluster (docs/scale.md, row 1). Until then one script read the pointer and appended in
 * the same round trip, but it named the global stream and the viewer's pointer: two slots.
 *
 * The trade-off: such a batch costs one more round trip to Redis, a read only, so a read replica
 * next to the edge answers it (Upstash's read regions; ~3 ms under the bench's distance profile,
 * which sends read-only requests to a replica 1.5 ms away); a batch whose events all echo their
 * experiment costs none. What it keeps: the tag is the pointer as of the intake, as with the script (a new
 * session saved between the read and the append is the race the script had with a new session
 * saved just before it), and 202 still means the entry is in the stream: a failed read or write
 * is a 503, nothing is appended after a failed read, and the client sends the batch again, as
 * before. The other way, the relay filling the tag as it moves
 * entries to Kafka, costs the intake nothing but reads the pointer when the relay gets there:
 * after a Kafka outage that is minutes later, when the pointer may have moved to another
 * session or expired, and the events would be tagged with that session or none.
 */
import { feedVersionBumps } from "../feed/invalidation.ts";
import { SEEN_TTL_S, seenKey, snapshotPointerKey } from "../keys.ts";
import type { Command } from "../serving/read.ts";
import { EVENT_BATCH_STREAM_FIELD, type EventRecord, encodeBatchForTagging, fillExperimentTags } from "./schema.ts";

/** How many seen posts per user are kept (newest first). */
export const MAX_SEEN_PER_USER = 5000;

/** The event types that move the viewer's own feed (a new session must not reuse the last ranking). */
const MOVES_OWN_FEED = new Set<EventRecord["type"]>(["impression", "share", "click"]);

/** One batch's intake: what to read first (maybe nothing), and the writes given those replies. */
export interface IntakePlan {
  /** The viewer's snapshot pointer when an event needs its experiment tag; else none (no round trip). */
  reads: Command[];
  /** The writes, from the replies to `reads` (in order; [] when there were none). */
  writes: (replies: readonly unknown[]) => Command[];
}

/** The plan that takes in one batch of `userId`'s accepted events (at least one). */
export function planIntake(stream: string, userId: string, records: readonly EventRecord[]): IntakePlan {
  const batch = encodeBatchForTagging(records);
  return {
    reads: batch.tagged ? [["GET", snapshotPointerKey(userId)]] : [],
    writes: (replies) => {
      const pointer = typeof replies[0] === "string" ? replies[0] : null;
      const body = batch.tagged ? fillExperimentTags(batch.body, pointer) : batch.body;
      return intakeWrites(stream, userId, records, body);
    },
  };
}

/** The writes of one batch whose stream entry is `body` (the batch's JSON, tags filled in). */
function intakeWrites(stream: string, userId: string, records: readonly EventRecord[], body: string): Command[] {
  const out: Command[] = [["XADD", stream, "*", EVENT_BATCH_STREAM_FIELD, body]];
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

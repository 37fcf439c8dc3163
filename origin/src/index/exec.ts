/**
 * The serving index's reads from the origin (the feed warmer, tests, check tools): the same
 * pure read plan as the edge (edge/core/serving/read.ts), run as ioredis pipelines, and the
 * snapshot writes the edge does through Upstash.
 */
import type { Redis } from "ioredis";
import {
  type Command,
  type PipelineExec,
  pointerOf,
  SNAPSHOT_PAGING_TTL_S,
  SNAPSHOT_TTL_S,
  type Snapshot,
  snapshotElements,
  snapshotKey,
  snapshotPointerKey,
} from "../../../edge/core/index.ts";

/** Runs commands as one pipeline; a failed command fails the whole call. */
export function ioredisExec(redis: Redis): PipelineExec {
  return async (commands: Command[]) => {
    if (commands.length === 0) return [];
    const res = (await redis.pipeline(commands.map(([verb, ...args]) => [verb.toLowerCase(), ...args])).exec()) ?? [];
    return res.map(([err, value]) => {
      if (err) throw err;
      return value;
    });
  };
}

/** Saves a snapshot and points its viewer at it, in one round trip. */
export async function saveSnapshot(redis: Redis, s: Snapshot): Promise<void> {
  const key = snapshotKey(s.meta.rankingId);
  await redis
    .multi()
    .rpush(key, ...snapshotElements(s))
    .expire(key, SNAPSHOT_TTL_S)
    .set(snapshotPointerKey(s.meta.viewerId), JSON.stringify(pointerOf(s.meta)), "EX", SNAPSHOT_PAGING_TTL_S)
    .exec();
}

/**
 * Unlinks every key that begins with `prefix` (glob characters in it are matched literally),
 * except those `keep` says to keep; one SCAN pass. Returns how many went.
 */
export async function unlinkByPrefix(
  redis: Redis,
  prefix: string,
  keep: (key: string) => boolean = () => false,
): Promise<number> {
  const pattern = `${prefix.replace(/[*?[\]\\]/g, "\\$&")}*`;
  let cursor = "0";
  let removed = 0;
  do {
    const [next, found] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 1000);
    cursor = next;
    const gone = found.filter((k) => !keep(k));
    if (gone.length) removed += await redis.unlink(...gone);
  } while (cursor !== "0");
  return removed;
}

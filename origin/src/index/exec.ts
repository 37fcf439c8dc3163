/**
 * How the origin executes a core command plan (edge/core: the feed miss, the serving index's
 * reads) on ioredis: as one pipeline or as one transaction, like the edge on Upstash REST
 * (edge/src/redis-exec.ts).
 */
import type { Redis } from "ioredis";
import type { Command, PipelineExec } from "#core/serving/read.ts";

type Replies = [Error | null, unknown][] | null;

/** The replies in order; a failed command fails the whole call. */
function unwrap(res: Replies): unknown[] {
  return (res ?? []).map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}

const lower = (commands: Command[]) => commands.map(([verb, ...args]) => [verb.toLowerCase(), ...args]);

/** Runs commands as one pipeline (one round trip). */
export function ioredisExec(redis: Redis): PipelineExec {
  return async (commands: Command[]) => (commands.length ? unwrap(await redis.pipeline(lower(commands)).exec()) : []);
}

/** Runs commands as one transaction (MULTI/EXEC): all of them or none. */
export function ioredisAtomic(redis: Redis): PipelineExec {
  return async (commands: Command[]) => (commands.length ? unwrap(await redis.multi(lower(commands)).exec()) : []);
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

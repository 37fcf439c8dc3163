/**
 * How the origin executes a core command plan (edge/core: the feed miss, the serving index's
 * reads) on ioredis: as one pipeline or as one transaction, like the edge on Upstash REST
 * (edge/src/redis-exec.ts). Each takes a standalone Redis or a Cluster (origin/src/redis-cluster.ts).
 */
import { Command } from "ioredis";
import type { PipelineExec, Command as PlanCommand } from "#core/serving/read.ts";
import { type AnyRedis, isCluster, keySlot, pipelineFromCommands, scanAll, unlinkKeys } from "../redis-cluster.ts";

type Replies = [Error | null, unknown][] | null;

/** The replies in order; a failed command fails the whole call. */
function unwrap(res: Replies): unknown[] {
  return (res ?? []).map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}

const lower = (commands: PlanCommand[]) => commands.map(([verb, ...args]) => [verb.toLowerCase(), ...args]);

/**
 * Runs commands as one pipeline (one round trip; on a Cluster one per node, each command routed
 * by its own key, replies in order: pipelineOf).
 */
export function ioredisExec(redis: AnyRedis): PipelineExec {
  return async (commands: PlanCommand[]) =>
    commands.length ? unwrap(await pipelineFromCommands(redis, lower(commands)).exec()) : [];
}

/** Redis Cluster's refusal of a transaction whose keys are in more than one slot. */
export const CROSSSLOT_MESSAGE = "CROSSSLOT Keys in request don't hash to the same slot";

/** The distinct slots the keys of `commands` hash to. */
function slotsOf(commands: unknown[][]): Set<number> {
  const slots = new Set<number>();
  for (const [verb, ...args] of commands) {
    for (const k of new Command(String(verb), args as string[]).getKeys()) slots.add(keySlot(k));
  }
  return slots;
}

/**
 * Runs commands as one transaction (MULTI/EXEC): all of them or none. On a Cluster every key
 * must be in one slot (`cluster.multi()` on the node that owns it); one with keys in several is
 * refused before anything is sent, with Redis's CROSSSLOT message.
 */
export function ioredisAtomic(redis: AnyRedis): PipelineExec {
  return async (commands: PlanCommand[]) => {
    if (!commands.length) return [];
    const batch = lower(commands);
    if (isCluster(redis) && slotsOf(batch).size > 1) throw new Error(CROSSSLOT_MESSAGE);
    return unwrap(await redis.multi(batch).exec());
  };
}

/**
 * Unlinks every key that begins with `prefix` (glob characters in it are matched literally),
 * except those `keep` says to keep; one SCAN pass (of every master on a Cluster, each page's
 * keys unlinked one UNLINK per slot there). Returns how many went.
 */
export async function unlinkByPrefix(
  redis: AnyRedis,
  prefix: string,
  keep: (key: string) => boolean = () => false,
): Promise<number> {
  const pattern = `${prefix.replace(/[*?[\]\\]/g, "\\$&")}*`;
  let removed = 0;
  for await (const found of scanAll(redis, pattern, 1000)) {
    removed += await unlinkKeys(
      redis,
      found.filter((k) => !keep(k)),
    );
  }
  return removed;
}

/**
 * How the edge executes a core command plan ([verb, key, ...args] lists, edge/core): as one
 * Upstash pipeline (one HTTP round trip) or as one transaction (MULTI/EXEC, Upstash's
 * /multi-exec). Replies come back in order, not JSON-parsed (the client is EdgeClients.rawRedis
 * or any client: each reply is read by the plan's own parser).
 */
import type { Redis } from "@upstash/redis/cloudflare";
import type { Command, PipelineExec } from "#core/serving/read.ts";

type UpstashPipeline = ReturnType<Redis["pipeline"]>;

const num = (v: string | undefined): number => Number(v);

/** Adds one plan command to an Upstash pipeline or transaction. */
function queue(p: UpstashPipeline, command: Command): void {
  const [verb, key = "", ...args] = command;
  switch (verb) {
    case "GET":
      p.get(key);
      return;
    case "SMEMBERS":
      p.smembers(key);
      return;
    case "HGETALL":
      p.hgetall(key);
      return;
    case "ZRANGE":
      p.zrange(key, num(args[0]), num(args[1]));
      return;
    case "HGET":
      p.hget(key, args[0] as string);
      return;
    case "HMGET":
      p.hmget(key, ...args);
      return;
    case "SMISMEMBER":
      p.smismember(key, args);
      return;
    case "LINDEX":
      p.lindex(key, num(args[0]));
      return;
    case "LRANGE":
      p.lrange(key, num(args[0]), num(args[1]));
      return;
    case "ZCARD":
      p.zcard(key);
      return;
    case "ZSCORE":
      p.zscore(key, args[0] as string);
      return;
    case "ZMSCORE":
      p.zmscore(key, args);
      return;
    case "EXISTS":
      p.exists(key);
      return;
    case "SISMEMBER":
      p.sismember(key, args[0] as string);
      return;
    case "EXPIRE":
      p.expire(key, num(args[0]));
      return;
    case "INCR":
      p.incr(key);
      return;
    case "RPUSH":
      p.rpush(key, ...args);
      return;
    case "SET":
      // SET key value [EX seconds]
      if (args[1] === "EX") p.set(key, args[0] as string, { ex: num(args[2]) });
      else if (args.length === 1) p.set(key, args[0] as string);
      else throw new Error(`redis-exec: unsupported SET options ${args.slice(1).join(" ")}`);
      return;
    case "XADD": {
      // XADD stream * field value [field value …]
      if (args[0] !== "*") throw new Error("redis-exec: XADD takes * ids only");
      const fields: Record<string, string> = {};
      for (let i = 1; i + 1 < args.length; i += 2) fields[args[i] as string] = args[i + 1] as string;
      p.xadd(key, "*", fields);
      return;
    }
    case "ZADD": {
      // ZADD key score member [score member …]
      const members = [];
      for (let i = 0; i + 1 < args.length; i += 2) members.push({ score: num(args[i]), member: args[i + 1] as string });
      const [first, ...rest] = members;
      if (!first) throw new Error("redis-exec: ZADD without members");
      p.zadd(key, first, ...rest);
      return;
    }
    case "ZREM":
      p.zrem(key, ...args);
      return;
    case "ZREMRANGEBYSCORE":
      p.zremrangebyscore(key, args[0] as "-inf", args[1] as "+inf");
      return;
    case "ZREMRANGEBYRANK":
      p.zremrangebyrank(key, num(args[0]), num(args[1]));
      return;
    case "EVAL":
    case "EVAL_RO": {
      // EVAL script numkeys key [key …] arg [arg …] — here `key` is the script.
      const n = num(args[0]);
      if (verb === "EVAL") p.eval(key, args.slice(1, 1 + n), args.slice(1 + n));
      else p.evalRo(key, args.slice(1, 1 + n), args.slice(1 + n));
      return;
    }
    default:
      throw new Error(`redis-exec: unsupported command ${verb}`);
  }
}

function runner(redis: Redis, open: (r: Redis) => UpstashPipeline): PipelineExec {
  return async (commands: Command[]) => {
    if (commands.length === 0) return [];
    const p = open(redis);
    for (const c of commands) queue(p, c);
    return p.exec();
  };
}

/** Runs commands as one pipeline (one round trip). */
export const upstashExec = (redis: Redis): PipelineExec => runner(redis, (r) => r.pipeline());

/** Runs commands as one transaction (MULTI/EXEC): all of them or none. */
export const upstashAtomic = (redis: Redis): PipelineExec => runner(redis, (r) => r.multi());

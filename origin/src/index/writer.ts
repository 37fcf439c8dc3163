/**
 * Applies serving-index operations to Redis: one pipeline per batch, each operation one
 * idempotent command or script (scripts.ts), so a batch applied twice changes nothing the
 * second time.
 */
import type { ChainableCommander, Redis } from "ioredis";
import {
  AFFINITY_REFRESH_QUIET_MS,
  INDEX_IMPRESSIONS_TTL_S,
  INDEX_POST_TTL_S,
  INDEX_POST_WINDOW_MS,
  INDEX_POSTS_PER_AUTHOR,
  type IndexKeys,
} from "../../../edge/core/index.ts";
import type { IndexOp } from "./ops.ts";
import { EVENT_LUA, INTERACTION_LUA, REFRESH_AFFINITY_LUA, UPSERT_POST_LUA } from "./scripts.ts";

type Scripted = ChainableCommander & {
  fiUpsertPost(...args: (string | number)[]): ChainableCommander;
  fiInteraction(...args: (string | number)[]): ChainableCommander;
  fiEvent(...args: (string | number)[]): ChainableCommander;
  fiRefreshAffinity(...args: (string | number)[]): ChainableCommander;
};

const defined = new WeakSet<Redis>();

function define(redis: Redis): void {
  if (defined.has(redis)) return;
  redis.defineCommand("fiUpsertPost", { numberOfKeys: 2, lua: UPSERT_POST_LUA });
  redis.defineCommand("fiInteraction", { numberOfKeys: 3, lua: INTERACTION_LUA });
  redis.defineCommand("fiEvent", { numberOfKeys: 3, lua: EVENT_LUA });
  redis.defineCommand("fiRefreshAffinity", { numberOfKeys: 1, lua: REFRESH_AFFINITY_LUA });
  defined.add(redis);
}

/** The UTC day of an epoch-ms time, as the impressions key names it. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export class IndexWriter {
  constructor(
    private readonly redis: Redis,
    readonly keys: IndexKeys,
  ) {
    define(redis);
  }

  /** Queues one operation on a pipeline of this writer's client. */
  queue(p: ChainableCommander, op: IndexOp, nowMs: number): void {
    const k = this.keys;
    const s = p as Scripted;
    switch (op.kind) {
      case "post":
        s.fiUpsertPost(
          k.post(op.postId),
          k.authorPosts(op.authorId),
          op.postId,
          op.authorId,
          op.createdMs,
          op.text,
          op.live ? 1 : 0,
          nowMs,
          INDEX_POST_TTL_S,
          INDEX_POST_WINDOW_MS,
          INDEX_POSTS_PER_AUTHOR,
          k.affinity(""),
        );
        return;
      case "interaction":
        s.fiInteraction(
          k.post(op.postId),
          k.authorPosts(op.authorId),
          k.affinity(op.actorId),
          op.field,
          op.counter,
          op.postId,
          op.actorId,
          op.authorId,
          op.live ? 1 : 0,
          nowMs,
          INDEX_POST_TTL_S,
        );
        return;
      case "event":
        s.fiEvent(
          k.post(op.postId),
          k.affinity(op.userId),
          k.impressions(op.userId, utcDay(op.receivedMs)),
          op.postId,
          op.userId,
          op.type,
          nowMs,
          INDEX_POST_TTL_S,
          INDEX_IMPRESSIONS_TTL_S,
          k.authorPosts(""),
        );
        return;
      case "follow":
        if (op.live) p.sadd(k.followees(op.followerId), op.followeeId);
        else p.srem(k.followees(op.followerId), op.followeeId);
        return;
      case "block":
        if (op.live) p.sadd(k.blocksOut(op.blockerId), op.blockedId).sadd(k.blocksIn(op.blockedId), op.blockerId);
        else p.srem(k.blocksOut(op.blockerId), op.blockedId).srem(k.blocksIn(op.blockedId), op.blockerId);
        return;
      case "user":
        if (op.deleted) p.sadd(k.deletedUsers, op.userId);
        else p.srem(k.deletedUsers, op.userId);
        return;
    }
  }

  /** Applies a batch in one round trip; throws if any command failed (the batch is retried whole). */
  async apply(ops: IndexOp[], nowMs = Date.now()): Promise<void> {
    if (ops.length === 0) return;
    const p = this.redis.pipeline();
    for (const op of ops) this.queue(p, op, nowMs);
    const res = (await p.exec()) ?? [];
    const failed = res.find(([err]) => err);
    if (failed) throw failed[0];
  }

  /**
   * Replaces the affinity of each user with ClickHouse's numbers, except users the updater
   * bumped in the last AFFINITY_REFRESH_QUIET_MS. Returns how many were replaced.
   */
  async refreshAffinity(byUser: Map<string, [string, number][]>, nowMs = Date.now()): Promise<number> {
    if (byUser.size === 0) return 0;
    const p = this.redis.pipeline() as Scripted;
    for (const [user, pairs] of byUser) {
      p.fiRefreshAffinity(this.keys.affinity(user), nowMs, AFFINITY_REFRESH_QUIET_MS, ...pairs.flat());
    }
    const res = (await p.exec()) ?? [];
    const failed = res.find(([err]) => err);
    if (failed) throw failed[0];
    return res.filter(([, r]) => Number(r) === 1).length;
  }
}

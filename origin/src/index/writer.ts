/**
 * Applies serving-index operations to Redis: one pipeline per batch, each operation a few
 * idempotent commands or scripts (scripts.ts), so a batch applied twice changes nothing the
 * second time. What each operation writes:
 * - post: UPSERT_POST_LUA (post hash, author hash with counters, plain totals and `_u`) and the
 *   author's post ids (`userPosts`, ZADD or ZREM: every live post, whole history);
 * - like or comment: INTERACTION_LUA (record, counters, plain totals, affinity); a like also the
 *   liker's `recentLikes` (ZADD while it is live and of the last RECENT_LIKES_MS, else ZREM; older
 *   members trimmed, the key's TTL renewed); a comment also the post's `comments` and
 *   `commentBodies` (ZADD and HSET, or ZREM and HDEL);
 * - event: EVENT_LUA (counters, affinity, impressions); a share or click also bumps the
 *   actor's feed version;
 * - follow: `followees` (SET), `following` of the follower and `followers` of the followee (ZSETs
 *   by the follow's created ms); once the batch landed, each followee's follower count is
 *   settled into the suggestions' `followerCounts` (settleFollowerCounts: two more round trips,
 *   only for batches with follows);
 * - user: USER_LUA (profile, handle keys, deleted users, the author hash's `_u`).
 * Each plain command sets one key to what its change says, so a replay in order ends where the
 * first delivery did.
 */
import type { ChainableCommander, Redis } from "ioredis";
import { feedVersionBumps } from "#core/feed/invalidation.ts";
import {
  AFFINITY_REFRESH_QUIET_MS,
  INDEX_IMPRESSIONS_TTL_S,
  INDEX_POST_TTL_S,
  INDEX_POST_WINDOW_MS,
  INDEX_POSTS_PER_AUTHOR,
  type IndexKeys,
  RECENT_LIKES_MS,
} from "#core/keys.ts";
import { suggestionKeys } from "#core/reads/suggestions.ts";
import { commentIdOf, type IndexOp } from "./ops.ts";
import {
  EVENT_LUA,
  FOLLOWER_COUNT_READ_LUA,
  FOLLOWER_COUNT_SET_LUA,
  INTERACTION_LUA,
  REFRESH_AFFINITY_LUA,
  UPSERT_POST_LUA,
  USER_LUA,
} from "./scripts.ts";

type Scripted = ChainableCommander & {
  fiUpsertPost(...args: (string | number)[]): ChainableCommander;
  fiInteraction(...args: (string | number)[]): ChainableCommander;
  fiEvent(...args: (string | number)[]): ChainableCommander;
  fiUser(...args: (string | number)[]): ChainableCommander;
  fiRefreshAffinity(...args: (string | number)[]): ChainableCommander;
  fiFollowerCountRead(...args: (string | number)[]): ChainableCommander;
  fiFollowerCountSet(...args: (string | number)[]): ChainableCommander;
};

/** The TTL of a `recentLikes` key, renewed by every write to it. */
export const RECENT_LIKES_TTL_S = RECENT_LIKES_MS / 1000;

/** A comment as `commentBodies(p)` holds it: "commenterId\tcreatedMs\ttext". */
export function encodeCommentBody(commenterId: string, createdMs: number, text: string): string {
  return `${commenterId}\t${createdMs}\t${text}`;
}

const defined = new WeakSet<Redis>();

function define(redis: Redis): void {
  if (defined.has(redis)) return;
  redis.defineCommand("fiUpsertPost", { numberOfKeys: 3, lua: UPSERT_POST_LUA });
  redis.defineCommand("fiInteraction", { numberOfKeys: 3, lua: INTERACTION_LUA });
  redis.defineCommand("fiEvent", { numberOfKeys: 3, lua: EVENT_LUA });
  redis.defineCommand("fiUser", { numberOfKeys: 4, lua: USER_LUA });
  redis.defineCommand("fiRefreshAffinity", { numberOfKeys: 1, lua: REFRESH_AFFINITY_LUA });
  redis.defineCommand("fiFollowerCountRead", { numberOfKeys: 1, lua: FOLLOWER_COUNT_READ_LUA });
  redis.defineCommand("fiFollowerCountSet", { numberOfKeys: 2, lua: FOLLOWER_COUNT_SET_LUA });
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
          k.profile(op.authorId),
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
        if (op.live) p.zadd(k.userPosts(op.authorId), op.createdMs, op.postId);
        else p.zrem(k.userPosts(op.authorId), op.postId);
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
        if (op.counter === "l") {
          const lk = k.recentLikes(op.actorId);
          const since = nowMs - RECENT_LIKES_MS;
          if (op.live && op.createdMs >= since) p.zadd(lk, op.createdMs, op.postId);
          else p.zrem(lk, op.postId);
          p.zremrangebyscore(lk, "-inf", `(${since}`).expire(lk, RECENT_LIKES_TTL_S);
        } else {
          const id = commentIdOf(op);
          if (op.live) {
            p.zadd(k.comments(op.postId), op.createdMs, id);
            p.hset(k.commentBodies(op.postId), id, encodeCommentBody(op.actorId, op.createdMs, op.text));
          } else {
            p.zrem(k.comments(op.postId), id);
            p.hdel(k.commentBodies(op.postId), id);
          }
        }
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
        // A share or click moves the actor's own ranking (affinity, the share counter): their
        // next new session must not reuse a snapshot built before the index took it in (the
        // intake bumped the version already, but before this landed).
        if (op.type !== "impression") {
          for (const [cmd, ...args] of feedVersionBumps([op.userId])) p.call(cmd, ...args);
        }
        return;
      case "follow":
        if (op.live) {
          p.sadd(k.followees(op.followerId), op.followeeId)
            .zadd(k.following(op.followerId), op.createdMs, op.followeeId)
            .zadd(k.followers(op.followeeId), op.createdMs, op.followerId);
        } else {
          p.srem(k.followees(op.followerId), op.followeeId)
            .zrem(k.following(op.followerId), op.followeeId)
            .zrem(k.followers(op.followeeId), op.followerId);
        }
        return;
      case "block":
        if (op.live) p.sadd(k.blocksOut(op.blockerId), op.blockedId).sadd(k.blocksIn(op.blockedId), op.blockerId);
        else p.srem(k.blocksOut(op.blockerId), op.blockedId).srem(k.blocksIn(op.blockedId), op.blockerId);
        return;
      case "user":
        s.fiUser(
          k.profile(op.userId),
          k.authorPosts(op.userId),
          k.deletedUsers,
          k.handle(op.handle),
          op.userId,
          op.deleted ? 0 : 1,
          op.handle,
          op.displayName,
          op.bio,
          op.createdMs,
          op.version,
          k.handle(""),
          k.profile(""),
        );
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
    const followees = new Set<string>();
    for (const op of ops) if (op.kind === "follow") followees.add(op.followeeId);
    if (followees.size) await this.settleFollowerCounts([...followees]);
  }

  /**
   * Records the live follower count of each user in the suggestions' `followerCounts`: one
   * pipeline reads each count (with its read time), a second records each unless a later read
   * was. Runs after every batch with follows (a redelivered batch too), so a crash between the
   * batch and this leaves nothing behind once the batch is redelivered.
   */
  async settleFollowerCounts(userIds: string[]): Promise<void> {
    const s = suggestionKeys(this.keys);
    const read = this.redis.pipeline() as Scripted;
    for (const u of userIds) read.fiFollowerCountRead(this.keys.followers(u));
    const counts = (await read.exec()) ?? [];
    const write = this.redis.pipeline() as Scripted;
    counts.forEach(([err, reply], i) => {
      if (err) throw err;
      const [n, at] = reply as [number, number];
      write.fiFollowerCountSet(s.followerCounts, s.followerCountsAt, userIds[i] as string, n, at, 24 * 3600);
    });
    const res = (await write.exec()) ?? [];
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

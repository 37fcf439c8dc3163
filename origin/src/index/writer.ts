/**
 * Applies serving-index operations to Redis, each operation a few idempotent commands or scripts
 * (scripts.ts), each script on one hash tag, so a batch applied twice changes nothing the second
 * time and every step runs on a Redis Cluster. A batch takes up to four round trips, each a
 * pipeline (one per node on a cluster):
 * 1. the owners' steps: P_UPSERT_LUA, P_INTERACTION_LUA, P_EVENT_LUA (post hash, outbox,
 *    impressions), USER_LUA (profile, author hash `_u`, handle releases), and every plain command
 *    (each on one key): the author's post ids (`userPosts`), a like's `recentLikes` (ZADD while it
 *    is live and of the last RECENT_LIKES_MS, else ZREM; older members trimmed, TTL renewed), a
 *    comment's `comments` and `commentBodies`, follows and blocks, the feed version of a user whose
 *    share or click moved their ranking;
 * 2. what they return, on the other tags: the counters into the author hash (A_SHOW_LUA for a
 *    live post of the window, A_HIDE_LUA for a deleted one, A_COPY_LUA otherwise, by version),
 *    each owed affinity bump (U_AFFINITY_LUA, once per marker), the deleted-users set, the
 *    handle claims and releases;
 * 3. the applied outbox entries and handle releases leave their owners; each shown post's
 *    counters are read again (another updater may have moved them before the post was shown);
 * 4. the markers of the applied bumps go; the counters read again are copied (by version).
 * Then, for batches with follows, the follower counts (settleFollowerCounts).
 */
import type { ChainableCommander } from "ioredis";
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
import { type AnyRedis, pipelineOf } from "../redis-cluster.ts";
import { commentIdOf, type IndexOp } from "./ops.ts";
import {
  A_COPY_LUA,
  A_HIDE_LUA,
  A_SHOW_LUA,
  FOLLOWER_COUNT_READ_LUA,
  FOLLOWER_COUNT_SET_LUA,
  HANDLE_CLAIM_LUA,
  HANDLE_RELEASE_LUA,
  P_EVENT_LUA,
  P_INTERACTION_LUA,
  P_SET_COUNTS_LUA,
  P_UPSERT_LUA,
  REFRESH_AFFINITY_LUA,
  U_AFFINITY_LUA,
  USER_LUA,
} from "./scripts.ts";

type Cmd = (...args: (string | number)[]) => ChainableCommander;
type Scripted = ChainableCommander & {
  fiPUpsert: Cmd;
  fiPInteraction: Cmd;
  fiPEvent: Cmd;
  fiPSetCounts: Cmd;
  fiACopy: Cmd;
  fiAShow: Cmd;
  fiAHide: Cmd;
  fiUAffinity: Cmd;
  fiUser: Cmd;
  fiHandleClaim: Cmd;
  fiHandleRelease: Cmd;
  fiRefreshAffinity: Cmd;
  fiFollowerCountRead: Cmd;
  fiFollowerCountSet: Cmd;
};

/** The TTL of a `recentLikes` key, renewed by every write to it. */
export const RECENT_LIKES_TTL_S = RECENT_LIKES_MS / 1000;
/** How long an applied bump's marker outlives a crash between steps 2 and 4 (then it is only memory). */
export const AFFINITY_MARKER_TTL_S = INDEX_POST_TTL_S;

/** A comment as `commentBodies(p)` holds it: "commenterId\tcreatedMs\ttext". */
export function encodeCommentBody(commenterId: string, createdMs: number, text: string): string {
  return `${commenterId}\t${createdMs}\t${text}`;
}

const defined = new WeakSet<object>();

function define(redis: AnyRedis): void {
  if (defined.has(redis)) return;
  const scripts: [string, number, string][] = [
    ["fiPUpsert", 2, P_UPSERT_LUA],
    ["fiPInteraction", 2, P_INTERACTION_LUA],
    ["fiPEvent", 3, P_EVENT_LUA],
    ["fiPSetCounts", 1, P_SET_COUNTS_LUA],
    ["fiACopy", 1, A_COPY_LUA],
    ["fiAShow", 2, A_SHOW_LUA],
    ["fiAHide", 1, A_HIDE_LUA],
    ["fiUAffinity", 2, U_AFFINITY_LUA],
    ["fiUser", 3, USER_LUA],
    ["fiHandleClaim", 1, HANDLE_CLAIM_LUA],
    ["fiHandleRelease", 1, HANDLE_RELEASE_LUA],
    ["fiRefreshAffinity", 1, REFRESH_AFFINITY_LUA],
    ["fiFollowerCountRead", 1, FOLLOWER_COUNT_READ_LUA],
    ["fiFollowerCountSet", 2, FOLLOWER_COUNT_SET_LUA],
  ];
  for (const [name, numberOfKeys, lua] of scripts) redis.defineCommand(name, { numberOfKeys, lua });
  defined.add(redis);
}

/** The UTC day of an epoch-ms time, as the impressions key names it. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** A post's state as step 1 returns it: version, "l,c,s,i", "pl,pc", and the bumps owed. */
export interface PostState {
  v: number;
  n: string;
  d: string;
  owed: OwedBump[];
}

/** An affinity bump a post's change owes: `user`'s affinity with `author` moves by `delta`. */
export interface OwedBump {
  postId: string;
  /** The outbox entry (`q:<entry>`) and the marker's second half. */
  entry: string;
  user: string;
  author: string;
  delta: number;
}

/** Parses state() (scripts.ts) from `from` on. */
export function parsePostState(postId: string, reply: unknown[], from = 0): PostState {
  const owed: OwedBump[] = [];
  for (const e of reply.slice(from + 3)) {
    const [entry, , , user, author, delta] = String(e).split("\t");
    owed.push({ postId, entry: entry as string, user: user as string, author: author as string, delta: Number(delta) });
  }
  // In the order they were owed: a record's +1 before its -1, so an affinity never dips below
  // zero on the way (a count that reaches zero leaves its hash; a dip would lose the +1).
  owed.sort((a, b) => Number(a.entry) - Number(b.entry));
  return { v: Number(reply[from]), n: String(reply[from + 1]), d: String(reply[from + 2]), owed };
}

/** How many commands a pipeline holds (ioredis's and pipelineOf's both keep `length`). */
const queued = (p: ChainableCommander): number => (p as unknown as { length: number }).length;

/** Runs one pipeline; throws the first failed command's error; returns the replies. */
async function run(p: ChainableCommander): Promise<unknown[]> {
  const res = (await p.exec()) ?? [];
  const failed = res.find(([err]) => err);
  if (failed) throw failed[0];
  return res.map(([, r]) => r);
}

/** What step 1 of an operation asks of the later steps. */
type Follow =
  | { kind: "none" }
  | { kind: "post"; op: Extract<IndexOp, { kind: "post" }> }
  | { kind: "counts"; postId: string; author: string }
  | { kind: "event"; postId: string }
  | { kind: "user"; op: Extract<IndexOp, { kind: "user" }> };

export class IndexWriter {
  constructor(
    private readonly redis: AnyRedis,
    readonly keys: IndexKeys,
  ) {
    define(redis);
  }

  /** Queues step 1 of one operation; returns what its reply asks of the later steps. */
  private queue(p: ChainableCommander, op: IndexOp, nowMs: number): Follow {
    const k = this.keys;
    const s = p as Scripted;
    switch (op.kind) {
      case "post":
        s.fiPUpsert(
          k.post(op.postId),
          k.postOutbox(op.postId),
          op.authorId,
          op.createdMs,
          op.live ? 1 : 0,
          nowMs,
          INDEX_POST_TTL_S,
          INDEX_POST_WINDOW_MS,
        );
        if (op.live) p.zadd(k.userPosts(op.authorId), op.createdMs, op.postId);
        else p.zrem(k.userPosts(op.authorId), op.postId);
        return { kind: "post", op };
      case "interaction":
        s.fiPInteraction(
          k.post(op.postId),
          k.postOutbox(op.postId),
          op.field,
          op.counter,
          op.actorId,
          op.authorId,
          op.live ? 1 : 0,
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
        return { kind: "counts", postId: op.postId, author: op.authorId };
      case "event":
        s.fiPEvent(
          k.post(op.postId),
          k.postOutbox(op.postId),
          k.impressions(op.postId, utcDay(op.receivedMs)),
          op.userId,
          op.type,
          INDEX_POST_TTL_S,
          INDEX_IMPRESSIONS_TTL_S,
        );
        // A share or click moves the actor's own ranking (affinity, the share counter): their
        // next new session must not reuse a snapshot built before the index took it in (the
        // intake bumped the version already, but before this landed).
        if (op.type !== "impression") {
          for (const [cmd, ...args] of feedVersionBumps([op.userId])) p.call(cmd, ...args);
        }
        return { kind: "event", postId: op.postId };
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
        return { kind: "none" };
      case "block":
        if (op.live) p.sadd(k.blocksOut(op.blockerId), op.blockedId).sadd(k.blocksIn(op.blockedId), op.blockerId);
        else p.srem(k.blocksOut(op.blockerId), op.blockedId).srem(k.blocksIn(op.blockedId), op.blockerId);
        return { kind: "none" };
      case "user":
        s.fiUser(
          k.profile(op.userId),
          k.authorPosts(op.userId),
          k.handleReleases(op.userId),
          op.userId,
          op.deleted ? 0 : 1,
          op.handle,
          op.displayName,
          op.bio,
          op.createdMs,
          op.version,
        );
        return { kind: "user", op };
    }
  }

  /**
   * Applies a batch (steps 1 to 4, see the file's comment); throws if any command failed (the
   * batch is retried whole, which every step allows).
   */
  async apply(ops: IndexOp[], nowMs = Date.now()): Promise<void> {
    if (ops.length === 0) return;
    const k = this.keys;
    const p1 = pipelineOf(this.redis);
    // Where each operation's step-1 reply sits in the pipeline.
    const follows: [Follow, number][] = [];
    for (const op of ops) {
      const at = queued(p1);
      follows.push([this.queue(p1, op, nowMs), at]);
    }
    const r1 = await run(p1);
    await this.afterStep(1);

    const p2 = pipelineOf(this.redis) as Scripted;
    const owed: OwedBump[] = [];
    const releases: [string, string][] = [];
    const shown: Extract<IndexOp, { kind: "post" }>[] = [];
    const copy = (author: string, postId: string, st: PostState) =>
      p2.fiACopy(k.authorPosts(author), postId, st.v, st.n, st.d);
    for (const [f, at] of follows) {
      const reply = r1[at] as unknown[];
      if (f.kind === "post") {
        const st = parsePostState(f.op.postId, reply, 1);
        const mode = String(reply[0]);
        if (mode === "show") {
          p2.fiAShow(
            k.authorPosts(f.op.authorId),
            k.profile(f.op.authorId),
            f.op.postId,
            f.op.createdMs,
            f.op.text,
            st.v,
            st.n,
            st.d,
            nowMs,
            INDEX_POST_WINDOW_MS,
            INDEX_POSTS_PER_AUTHOR,
            Math.floor(f.op.createdMs / 1000) + INDEX_POST_TTL_S,
          );
          shown.push(f.op);
        } else if (mode === "hide") p2.fiAHide(k.authorPosts(f.op.authorId), f.op.postId);
        owed.push(...st.owed);
      } else if (f.kind === "counts") {
        const st = parsePostState(f.postId, reply);
        copy(f.author, f.postId, st);
        owed.push(...st.owed);
      } else if (f.kind === "event") {
        const author = String(reply[0] ?? "");
        if (!author) continue;
        const st = parsePostState(f.postId, reply, 1);
        copy(author, f.postId, st);
        owed.push(...st.owed);
      } else if (f.kind === "user") {
        const [outcome, claimed, ...owedReleases] = reply as [number, string, ...string[]];
        if (Number(outcome) === 0) continue;
        const op = f.op;
        if (op.deleted) p2.sadd(k.deletedUsers, op.userId);
        else p2.srem(k.deletedUsers, op.userId);
        for (const r of owedReleases) {
          const [handle, version] = r.split("\t") as [string, string];
          p2.fiHandleRelease(k.handle(handle), op.userId, version);
          releases.push([op.userId, r]);
        }
        if (claimed) p2.fiHandleClaim(k.handle(claimed), op.userId, op.version);
      }
    }
    // Each entry once (a redelivered batch's changes of one record all return its entries).
    const unique = [...new Map(owed.map((b) => [`${b.postId}:${b.entry}`, b])).values()];
    owed.splice(0, owed.length, ...unique);
    for (const b of owed) {
      p2.fiUAffinity(
        k.affinity(b.user),
        k.affinityApplied(b.user),
        `${b.postId}:${b.entry}`,
        b.author,
        b.delta,
        nowMs,
        AFFINITY_MARKER_TTL_S,
      );
    }
    // Claims and releases compare versions, so their order in the pipeline does not matter.
    if (queued(p2)) await run(p2);
    await this.afterStep(2);

    if (owed.length === 0 && releases.length === 0 && shown.length === 0) return this.afterBatch(ops);
    const p3 = pipelineOf(this.redis);
    const byPost = new Map<string, string[]>();
    for (const b of owed) byPost.set(b.postId, [...(byPost.get(b.postId) ?? []), `q:${b.entry}`]);
    for (const [postId, fields] of byPost) p3.hdel(k.postOutbox(postId), ...fields);
    for (const [user, r] of releases) p3.srem(k.handleReleases(user), r);
    const reread = queued(p3);
    for (const op of shown) p3.hmget(k.post(op.postId), "v", "n");
    const r3 = await run(p3);
    await this.afterStep(3);

    const p4 = pipelineOf(this.redis) as Scripted;
    for (const b of owed) p4.hdel(k.affinityApplied(b.user), `${b.postId}:${b.entry}`);
    shown.forEach((op, i) => {
      const [v, n] = (r3[reread + i] as [string | null, string | null]) ?? [];
      if (!v || !n) return;
      const c = n.split(",");
      p4.fiACopy(k.authorPosts(op.authorId), op.postId, Number(v), c.slice(0, 4).join(","), c.slice(4, 6).join(","));
    });
    if (queued(p4)) await run(p4);
    return this.afterBatch(ops);
  }

  /**
   * Called after each of steps 1 to 3 of `apply` that ran. Nothing here; a fault test overrides
   * it to stop a batch there, as a crash would, and then delivers the batch again.
   */
  protected async afterStep(_step: 1 | 2 | 3): Promise<void> {}

  private async afterBatch(ops: IndexOp[]): Promise<void> {
    const followees = new Set<string>();
    for (const op of ops) if (op.kind === "follow") followees.add(op.followeeId);
    if (followees.size) await this.settleFollowerCounts([...followees]);
  }

  /**
   * The reconciliation's repair of a post's counters: from `from` (1 ranking, 5 plain totals)
   * the values `seen` become `want` in the post hash (only while it still holds `seen`), then
   * go to the author hash by version. Returns whether the post hash took them.
   */
  async setPostCounts(postId: string, authorId: string, from: 1 | 5, seen: number[], want: number[]): Promise<boolean> {
    const p = pipelineOf(this.redis) as Scripted;
    p.fiPSetCounts(this.keys.post(postId), from, seen.join(","), want.join(","));
    const [reply] = await run(p);
    if (!Array.isArray(reply)) return false;
    const st = parsePostState(postId, reply);
    const p2 = pipelineOf(this.redis) as Scripted;
    p2.fiACopy(this.keys.authorPosts(authorId), postId, st.v, st.n, st.d);
    await run(p2);
    return true;
  }

  /**
   * Records the live follower count of each user in the suggestions' `followerCounts`: one
   * pipeline reads each count (with its read time), a second records each unless a later read
   * was. Runs after every batch with follows (a redelivered batch too), so a crash between the
   * batch and this leaves nothing behind once the batch is redelivered.
   */
  async settleFollowerCounts(userIds: string[]): Promise<void> {
    const s = suggestionKeys(this.keys);
    const read = pipelineOf(this.redis) as Scripted;
    for (const u of userIds) read.fiFollowerCountRead(this.keys.followers(u));
    const counts = (await read.exec()) ?? [];
    const write = pipelineOf(this.redis) as Scripted;
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
    const p = pipelineOf(this.redis) as Scripted;
    for (const [user, pairs] of byUser) {
      p.fiRefreshAffinity(this.keys.affinity(user), nowMs, AFFINITY_REFRESH_QUIET_MS, ...pairs.flat());
    }
    const res = (await p.exec()) ?? [];
    const failed = res.find(([err]) => err);
    if (failed) throw failed[0];
    return res.filter(([, r]) => Number(r) === 1).length;
  }
}

/**
 * The live channel's publisher (docs/api.md "Live channel"): the consumers tell it what happened
 * (a followee's new post, a recipient whose notifications changed) and it tells the edge, for
 * the users who are online only, over the edge's signed internal route
 * (POST /internal/live/publish, HMAC with ORIGIN_SHARED_SECRET over the exact bytes, signer
 * `origin`).
 *
 * Best effort, and never in the consumers' way: a hook only puts an item on a bounded queue and
 * returns; one loop drains it. A full queue drops its oldest item (counted in `stats.dropped`);
 * a failed lookup or publish is counted and the items are gone. Nothing is retried: the REST
 * reads (a new feed session, GET /api/v1/notifications) stay the truth, and the next change
 * brings a fresh value. Unread counts are coalesced per recipient while they wait, so a burst of
 * likes for one user is one lookup and one message.
 *
 * Who is online: the users' objects keep `live:online` (edge/core/live/presence.ts). A new post
 * goes to the intersection of its author's followers (the serving index's `followers(a)`) with
 * it, walking the smaller of the two in pages of single-key commands (ZRANGE, then ZMSCORE on
 * the other), so it runs on a Redis Cluster and costs O(min(followers, online)); at most
 * MAX_SCANNED members per post are looked at (an author beyond that reaches the first ones).
 */
import type { ChainableCommander } from "ioredis";
import type { Logger } from "pino";
import { signRequest } from "#core/auth/origin-auth.ts";
import { feedVersionBumps } from "#core/feed/invalidation.ts";
import { type IndexKeys, NOTIFICATION_TTL_S, type NotificationKeys } from "#core/keys.ts";
import { type LiveKeys, onlineOf, UNREAD_LUA } from "#core/live/presence.ts";
import { MAX_PUBLISH_MESSAGES, ORIGIN_SIGNER, type PublishMessage } from "#core/live/protocol.ts";
import type { Part, PartHealth } from "../lifecycle.ts";
import { type AnyRedis, pipelineOf } from "../redis-cluster.ts";

/** The edge path the publisher posts to (edge/src/routes/live.ts). */
export const LIVE_PUBLISH_PATH = "/internal/live/publish";
/** A post older than this when its change arrives (a replay, a bootstrap) announces nothing. */
export const NEW_POST_MAX_AGE_MS = 10 * 60_000;
/** Members of a follower or online set looked at per post. */
export const MAX_SCANNED = 200_000;
const PAGE = 1000;
/** Post ids remembered as announced (the write path's and the updater's hooks name the same post). */
const RECENT_POSTS = 10_000;

export interface LivePublisherOptions {
  /** The edge's base URL (LIVE_EDGE_URL). */
  edgeUrl: string | (() => string);
  sharedSecret: string;
  /** Items waiting at most (LIVE_QUEUE_MAX); beyond it the oldest is dropped. */
  queueMax: number;
  /** A publish request's timeout (LIVE_PUBLISH_TIMEOUT_MS). */
  timeoutMs: number;
}

export interface LiveStats {
  /** Items taken by the hooks. */
  queued: number;
  /** Items dropped because the queue was full (the oldest go). */
  dropped: number;
  /** Messages the edge accepted, and those lost to a failed lookup or publish. */
  published: number;
  failed: number;
  /** Publish requests sent. */
  requests: number;
  /** Hook → publish answered, ms, of the last item published. */
  lastLagMs: number | null;
  queueLength: number;
}

/**
 * UNREAD_LUA as a command of the client (`liveUnread(groups, seen, windowStart)`): EVALSHA with
 * the script's key first, so on a Cluster auto-pipelining keeps a batch of them (an EVAL's first
 * argument is the script, not its key: see FIRST_ARGUMENT_NOT_A_KEY in redis-cluster.ts).
 */
type WithUnread = ChainableCommander & {
  liveUnread(groups: string, seen: string, windowStart: string): ChainableCommander;
};
const defined = new WeakSet<object>();
function defineUnread(redis: AnyRedis): void {
  if (defined.has(redis)) return;
  redis.defineCommand("liveUnread", { numberOfKeys: 2, lua: UNREAD_LUA });
  defined.add(redis);
}

type Item = { kind: "post"; authorId: string; postId: string; createdMs: number; at: number };

export class LivePublisher implements Part {
  readonly name = "live";
  private readonly posts: Item[] = [];
  /** Posts already queued (insertion ordered, the oldest forgotten first). */
  private readonly recent = new Set<string>();
  /** Recipients whose unread count changed, by when they were first queued (insertion ordered). */
  private readonly unread = new Map<string, number>();
  private wake: (() => void) | null = null;
  private running = false;
  private loop: Promise<void> | null = null;
  private lastError: string | null = null;
  private readonly own: Omit<LiveStats, "queueLength"> = {
    queued: 0,
    dropped: 0,
    published: 0,
    failed: 0,
    requests: 0,
    lastLagMs: null,
  };

  constructor(
    private readonly redis: AnyRedis,
    private readonly keys: { index: IndexKeys; notifications: NotificationKeys; live: LiveKeys },
    private readonly log: Logger,
    private readonly opts: LivePublisherOptions,
  ) {
    defineUnread(redis);
  }

  get stats(): LiveStats {
    return { ...this.own, queueLength: this.posts.length + this.unread.size };
  }

  private get size(): number {
    return this.posts.length + this.unread.size;
  }

  /** Makes room for one item: drops the oldest (a post first: an unread count is the smaller loss). */
  private makeRoom(): void {
    while (this.size >= this.opts.queueMax) {
      if (this.posts.length) this.posts.shift();
      else {
        const first = this.unread.keys().next();
        if (first.done) return;
        this.unread.delete(first.value);
      }
      this.own.dropped++;
    }
  }

  /**
   * Hook of the write API (at commit) and of the serving-index updater (once the post's change
   * landed): a live post. The first of the two announces it; the second finds it remembered.
   * Never blocks or throws.
   */
  postCreated(authorId: string, postId: string, createdMs: number, nowMs = Date.now()): void {
    if (!this.running || nowMs - createdMs > NEW_POST_MAX_AGE_MS || this.recent.has(postId)) return;
    this.recent.add(postId);
    if (this.recent.size > RECENT_POSTS) this.recent.delete(this.recent.values().next().value as string);
    this.makeRoom();
    this.posts.push({ kind: "post", authorId, postId, createdMs, at: nowMs });
    this.own.queued++;
    this.wake?.();
  }

  /** Hook of the notifications part: these recipients' groups changed. Never blocks or throws. */
  notificationsChanged(recipients: Iterable<string>, nowMs = Date.now()): void {
    if (!this.running) return;
    for (const r of recipients) {
      if (this.unread.has(r)) continue;
      this.makeRoom();
      this.unread.set(r, nowMs);
      this.own.queued++;
    }
    this.wake?.();
  }

  async start(): Promise<void> {
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }

  health(): PartHealth {
    return { ok: true, detail: { ...this.stats, lastError: this.lastError } };
  }

  private async run(): Promise<void> {
    while (this.running) {
      if (this.size === 0) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        this.wake = null;
        continue;
      }
      const posts = this.posts.splice(0, this.posts.length);
      const unread = [...this.unread];
      this.unread.clear();
      try {
        await this.drain(posts, unread);
        this.lastError = null;
      } catch (err) {
        this.own.failed += posts.length + unread.length;
        this.lastError = (err as Error).message;
        this.log.warn({ err: this.lastError, posts: posts.length, unread: unread.length }, "live publish failed");
      }
    }
  }

  /** Who of `users` is online now (ZMSCORE, in pages). */
  private async online(users: string[], nowMs: number): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < users.length; i += PAGE) {
      const page = users.slice(i, i + PAGE);
      out.push(...onlineOf(page, await this.redis.zmscore(this.keys.live.online, ...page), nowMs));
    }
    return out;
  }

  /** The author's followers who are online: the smaller set walked, the other asked. */
  async onlineFollowers(authorId: string, nowMs = Date.now()): Promise<string[]> {
    const followers = this.keys.index.followers(authorId);
    const online = this.keys.live.online;
    const [nf, no] = await Promise.all([this.redis.zcard(followers), this.redis.zcount(online, `(${nowMs}`, "+inf")]);
    if (nf === 0 || no === 0) return [];
    const out: string[] = [];
    if (nf <= no) {
      for (let start = 0; start < Math.min(nf, MAX_SCANNED); start += PAGE) {
        const page = await this.redis.zrange(followers, start, start + PAGE - 1);
        if (page.length === 0) break;
        out.push(...onlineOf(page, await this.redis.zmscore(online, ...page), nowMs));
      }
    } else {
      for (let offset = 0; offset < Math.min(no, MAX_SCANNED); offset += PAGE) {
        const page = await this.redis.zrangebyscore(online, `(${nowMs}`, "+inf", "LIMIT", offset, PAGE);
        if (page.length === 0) break;
        const scores = await this.redis.zmscore(followers, ...page);
        out.push(...page.filter((_, i) => scores[i] !== null));
      }
    }
    return out.filter((u) => u !== authorId);
  }

  private async drain(posts: Item[], unread: [string, number][]): Promise<void> {
    const nowMs = Date.now();
    const messages: PublishMessage[] = [];
    const since: number[] = [];
    for (const p of posts) {
      for (const user of await this.onlineFollowers(p.authorId, nowMs)) {
        messages.push({ type: "new_post", user, post_id: p.postId, at: p.createdMs });
        since.push(p.at);
      }
    }
    // A client told of a new post fetches a new session: it must not reuse a snapshot built
    // before the post reached the index (SNAPSHOT_REUSE_MS), so the recipients' feed versions
    // move first.
    const told = new Set(messages.map((m) => m.user));
    if (told.size) {
      const p = pipelineOf(this.redis);
      for (const [cmd, ...args] of feedVersionBumps(told)) p.call(cmd as string, ...(args as string[]));
      await p.exec();
    }
    if (unread.length) {
      const firstQueued = new Map(unread);
      const users = await this.online(
        unread.map(([u]) => u),
        nowMs,
      );
      if (users.length) {
        const windowStart = String(nowMs - NOTIFICATION_TTL_S * 1000);
        const p = pipelineOf(this.redis) as WithUnread;
        for (const u of users)
          p.liveUnread(this.keys.notifications.groups(u), this.keys.notifications.seen(u), windowStart);
        const replies = (await p.exec()) ?? [];
        users.forEach((user, i) => {
          const [err, n] = replies[i] ?? [new Error("no reply"), null];
          if (err) throw err;
          messages.push({ type: "unread", user, unread: Number(n) || 0, at: nowMs });
          since.push(firstQueued.get(user) ?? nowMs);
        });
      }
    }
    for (let i = 0; i < messages.length; i += MAX_PUBLISH_MESSAGES) {
      const chunk = messages.slice(i, i + MAX_PUBLISH_MESSAGES);
      try {
        await this.send(chunk);
        this.own.published += chunk.length;
        this.own.lastLagMs = Date.now() - Math.min(...since.slice(i, i + MAX_PUBLISH_MESSAGES));
      } catch (err) {
        this.own.failed += chunk.length;
        this.lastError = (err as Error).message;
        this.log.warn({ err: this.lastError, messages: chunk.length }, "live publish to the edge failed");
      }
    }
  }

  private async send(messages: PublishMessage[]): Promise<void> {
    const body = new TextEncoder().encode(JSON.stringify({ messages }));
    const base = typeof this.opts.edgeUrl === "function" ? this.opts.edgeUrl() : this.opts.edgeUrl;
    const url = new URL(LIVE_PUBLISH_PATH, base);
    const headers = await signRequest(this.opts.sharedSecret, {
      method: "POST",
      pathWithQuery: url.pathname,
      userId: ORIGIN_SIGNER,
      timestampMs: Date.now(),
      requestId: `live-${crypto.randomUUID()}`,
      body,
    });
    this.own.requests++;
    const res = await fetch(url, {
      method: "POST",
      headers: { ...headers, "content-type": "application/json" },
      body,
      signal: AbortSignal.timeout(this.opts.timeoutMs),
    });
    if (!res.ok) throw new Error(`edge answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
    await res.body?.cancel().catch(() => {});
  }
}

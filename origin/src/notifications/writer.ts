/**
 * Applies notification changes to Redis: one pipeline per batch of NOTIFY_LUA calls (one per
 * change, each on its recipient's slot; POST_GONE_LUA for a deleted post), then, for the groups a call trimmed, CLEANUP_LUA. Every
 * call is idempotent (edge/core/notifications/write.ts), so a batch applied twice changes
 * nothing the second time.
 */
import type { ChainableCommander } from "ioredis";
import type { NotificationKeys } from "#core/keys.ts";
import type { NotificationChange } from "#core/notifications/groups.ts";
import {
  CLEANUP_LUA,
  cleanupCall,
  NOTIFY_LUA,
  notifyCall,
  POST_GONE_LUA,
  type PostGone,
  postGoneCall,
  type ScriptCall,
} from "#core/notifications/write.ts";
import { type AnyRedis, pipelineOf } from "../redis-cluster.ts";

type Scripted = ChainableCommander & {
  ntNotify(...args: string[]): ChainableCommander;
  ntPostGone(...args: string[]): ChainableCommander;
  ntCleanup(...args: string[]): ChainableCommander;
};

const defined = new WeakMap<AnyRedis, string>();

/** The scripts on a connection; `notifyLua` is NOTIFY_LUA but for a test's deliberately broken variant. */
function define(redis: AnyRedis, notifyLua: string): void {
  const had = defined.get(redis);
  if (had === notifyLua) return;
  if (had !== undefined) throw new Error("a connection runs one NOTIFY script: give the other writer its own");
  redis.defineCommand("ntNotify", { numberOfKeys: 5, lua: notifyLua });
  redis.defineCommand("ntPostGone", { numberOfKeys: 3, lua: POST_GONE_LUA });
  redis.defineCommand("ntCleanup", { numberOfKeys: 3, lua: CLEANUP_LUA });
  defined.set(redis, notifyLua);
}

const flat = (c: ScriptCall) => [...c.keys, ...c.args];

export interface ApplyReport {
  /** Changes applied. */
  changes: number;
  /** Groups trimmed (too old, or beyond the per-user bound). */
  trimmed: number;
}

export class NotificationWriter {
  constructor(
    private readonly redis: AnyRedis,
    readonly keys: NotificationKeys,
    notifyLua = NOTIFY_LUA,
  ) {
    define(redis, notifyLua);
  }

  /**
   * Applies a batch (in order): changes, and deleted posts (their groups go, and no like or
   * comment arriving later brings them back). Throws if any call failed (the batch is then
   * retried whole).
   */
  async apply(changes: (NotificationChange | PostGone)[], nowMs = Date.now()): Promise<ApplyReport> {
    if (changes.length === 0) return { changes: 0, trimmed: 0 };
    const p = pipelineOf(this.redis) as Scripted;
    for (const c of changes)
      if (c.kind === "post-gone") p.ntPostGone(...flat(postGoneCall(this.keys, c, nowMs)));
      else p.ntNotify(...flat(notifyCall(this.keys, c, nowMs)));
    const res = (await p.exec()) ?? [];
    const trimmed: { recipient: string; gid: string }[] = [];
    res.forEach(([err, reply], i) => {
      if (err) throw err;
      const recipient = (changes[i] as NotificationChange).recipient;
      for (const gid of Array.isArray(reply) ? reply : []) trimmed.push({ recipient, gid: String(gid) });
    });
    if (trimmed.length) {
      const q = pipelineOf(this.redis) as Scripted;
      for (const t of trimmed) q.ntCleanup(...flat(cleanupCall(this.keys, t.recipient, t.gid)));
      const failed = ((await q.exec()) ?? []).find(([err]) => err);
      if (failed) throw failed[0];
    }
    return { changes: changes.length, trimmed: trimmed.length };
  }
}

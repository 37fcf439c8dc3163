/**
 * A lease in Redis that one origin process at a time holds while it does something no two may do
 * at once: `SET key token PX ttl NX` to take it, renewed every third of its TTL while the work
 * runs, released by its holder only (a compare-and-delete). A holder that dies leaves it to
 * expire, so the next taker waits at most the TTL. A holder stalled past its TTL (a paused
 * process) may overlap the next one for the rest of its run: work done under a lease must stay
 * safe to run twice, the lease only keeps that rare.
 */
import { randomUUID } from "node:crypto";
import type { AnyRedis } from "./redis-cluster.ts";

/** Renews (ARGV[2] ms) or releases (ARGV[2] = 0) the key when it still holds this holder's token (ARGV[1]). */
const LEASE_LUA = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '0' then return redis.call('DEL', KEYS[1]) end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])`;

/** Runs work under a cross-process lease; `null` when another process holds it. */
export interface Lease {
  tryRun<T>(fn: () => Promise<T>): Promise<T | null>;
}

export class RedisLease implements Lease {
  constructor(
    private readonly redis: AnyRedis,
    readonly key: string,
    private readonly ttlMs = 15_000,
  ) {}

  async tryRun<T>(fn: () => Promise<T>): Promise<T | null> {
    const token = randomUUID();
    if ((await this.redis.set(this.key, token, "PX", this.ttlMs, "NX")) !== "OK") return null;
    const renew = setInterval(() => {
      this.redis.eval(LEASE_LUA, 1, this.key, token, this.ttlMs).catch(() => {});
    }, this.ttlMs / 3);
    renew.unref();
    try {
      return await fn();
    } finally {
      clearInterval(renew);
      await this.redis.eval(LEASE_LUA, 1, this.key, token, 0).catch(() => {});
    }
  }
}

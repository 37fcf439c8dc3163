/**
 * Cache invalidation from the origin (write API and sink): deletes the keys and bumps the
 * feed version of every feed among them, in one round trip (see feedVersionKey).
 */
import type { Redis } from "ioredis";
import { FEED_VERSION_TTL_S } from "../../edge/core/index.ts";

const FEED_KEY = /^feed:v1:[0-9a-f-]{36}$/;

export async function invalidateKeys(redis: Redis, keys: string[]): Promise<void> {
  if (keys.length === 0) return;
  const m = redis.multi().del(...keys);
  for (const k of keys) {
    if (FEED_KEY.test(k)) m.incr(`${k}:ver`).expire(`${k}:ver`, FEED_VERSION_TTL_S);
  }
  await m.exec();
}

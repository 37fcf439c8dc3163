/**
 * Cache invalidation from the origin (write API and sink): deletes the keys and bumps the
 * feed version of every feed among them, in one round trip (see feedVersionKey).
 */
import type { Redis } from "ioredis";
import { FEED_VERSION_TTL_S, feedKeyUser, feedVersionKey } from "../../edge/core/index.ts";

export async function invalidateKeys(redis: Redis, keys: string[]): Promise<void> {
  if (keys.length === 0) return;
  const m = redis.multi().del(...keys);
  for (const k of keys) {
    const user = feedKeyUser(k);
    if (user) m.incr(feedVersionKey(user)).expire(feedVersionKey(user), FEED_VERSION_TTL_S);
  }
  await m.exec();
}

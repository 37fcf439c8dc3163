/**
 * Who is connected to the live channel, and a user's unread count, in Redis (pure: key names,
 * commands and scripts). The user's Durable Object writes its presence while it holds a
 * connection; the origin reads it to publish only to users who are online.
 *
 * - `online`: ZSET user → expiry (epoch ms). The object renews it every HEARTBEAT_MS (expiry
 *   now + PRESENCE_TTL_MS) and, when its last connection closes, sets it to expire
 *   RESUME_GRACE_MS later (a reconnecting client misses nothing); an object that went away
 *   without closing (an eviction, a crash) leaves an entry that expires on its own, and every
 *   renewal trims the expired ones. One key: at 1M users online it is ~100 MB and each
 *   lookup is O(log n) per member (ZMSCORE).
 */
import type { Command } from "../serving/read.ts";
import { PRESENCE_TTL_MS, RESUME_GRACE_MS } from "./protocol.ts";

export function liveKeys(ns = "") {
  return { online: `${ns}live:online` };
}
export type LiveKeys = ReturnType<typeof liveKeys>;

/** The object's renewal: the user online until now + PRESENCE_TTL_MS, the expired trimmed. */
export function presenceRenewal(keys: LiveKeys, userId: string, nowMs: number): Command[] {
  return [
    ["ZADD", keys.online, String(nowMs + PRESENCE_TTL_MS), userId],
    ["ZREMRANGEBYSCORE", keys.online, "-inf", `(${nowMs}`],
  ];
}

/** The user's last connection closed: online RESUME_GRACE_MS more (what arrives meanwhile is resumed). */
export function presenceGrace(keys: LiveKeys, userId: string, nowMs: number): Command[] {
  return [["ZADD", keys.online, String(nowMs + RESUME_GRACE_MS), userId]];
}

/** Which of `users` are online at `nowMs`, from ZMSCORE's reply (same order). */
export function onlineOf(
  users: readonly string[],
  scores: readonly (string | number | null)[],
  nowMs: number,
): string[] {
  return users.filter((_, i) => {
    const s = scores[i];
    return s !== null && s !== undefined && Number(s) > nowMs;
  });
}

/**
 * KEYS: groups(u), seen(u) (one slot: the user's tag). ARGV: the window's start (ms). The
 * user's unread count, as GET /api/v1/notifications counts it (edge/core/notifications/read.ts):
 * groups newer than both the seen mark and the window's start.
 */
export const UNREAD_LUA = `local seen = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
local from = math.max(seen, tonumber(ARGV[1]))
return redis.call('ZCOUNT', KEYS[1], '(' .. string.format('%d', from), '+inf')`;

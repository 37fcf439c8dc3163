/**
 * Marking notifications seen, pure: POST /api/v1/notifications/seen `{until}` raises the
 * viewer's seen mark to `until` (never lowers it: an older `until`, a second device or a retried
 * request unmarks nothing), and every group whose latest_at is at or before the mark reads as
 * read. `until` is epoch ms or an ISO-8601 time; one in the future counts as now, so a client
 * cannot mark unread what has not happened yet.
 */
import { z } from "zod";
import { NOTIFICATION_TTL_S, type NotificationKeys } from "../keys.ts";
import type { Command } from "../serving/read.ts";

/** The body of POST /api/v1/notifications/seen. */
export const seenBodySchema = z
  .object({
    until: z.union([z.number().int().nonnegative().max(8.64e15), z.string().max(40).datetime({ offset: true })]).meta({
      description:
        "Everything up to this time is read: epoch ms or an ISO-8601 time (a later one than the server's clock counts as now).",
    }),
  })
  .strict();
export type SeenBody = z.output<typeof seenBodySchema>;

/** The mark a body asks for, in ms, no later than now. */
export function untilMs(body: SeenBody, nowMs: number): number {
  const ms = typeof body.until === "number" ? body.until : Date.parse(body.until);
  return Math.min(Math.max(0, Math.floor(ms)), nowMs);
}

/** KEYS: seen(u). ARGV: the mark (ms), TTL s. Raises the mark (and renews its TTL); returns the mark now held. */
export const SEEN_LUA = `local cur = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
local want = tonumber(ARGV[1])
if want > cur then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
  return ARGV[1]
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return string.format('%d', cur)`;

/** The write of a seen mark (one command). */
export function seenWrite(keys: NotificationKeys, viewerId: string, markMs: number): Command {
  return ["EVAL", SEEN_LUA, "1", keys.seen(viewerId), String(markMs), String(NOTIFICATION_TTL_S)];
}

/**
 * Notifications at the edge (docs/api.md "Notifications"): the core's plans
 * (edge/core/notifications) run on Upstash REST. A page is two round trips: the viewer's groups
 * with their summaries, the seen mark and the unread count (one script on the viewer's slot),
 * then the cards of the actors they name and the viewer's blocks of them (the serving index).
 */
import { ApiError } from "#core/errors.ts";
import { type IndexKeys, NOTIFICATION_TTL_S, type NotificationKeys } from "#core/keys.ts";
import {
  decodeNotificationCursor,
  encodeNotificationCursor,
  type NotificationCursor,
  NotificationCursorError,
} from "#core/notifications/cursor.ts";
import {
  actorReads,
  actorsOf,
  type NotificationsPageOut,
  pageRead,
  parseActorReads,
  parsePageReply,
  presentPage,
} from "#core/notifications/read.ts";
import { seenWrite } from "#core/notifications/seen.ts";
import type { Command, PipelineExec } from "#core/serving/read.ts";
import { type Timing, timed } from "../timing.ts";

export interface NotificationDeps {
  exec: PipelineExec;
  keys: IndexKeys;
  notificationKeys: NotificationKeys;
  viewerId: string;
  now: () => number;
  log: Record<string, unknown>;
  /** Each round trip's duration (`page`, `actors`), for Server-Timing. */
  timings: Timing[];
}

async function run(deps: NotificationDeps, commands: Command[]): Promise<unknown[]> {
  try {
    return await deps.exec(commands);
  } catch (err) {
    deps.log.redis_error = String(err);
    throw new ApiError("unavailable", "notifications temporarily unavailable; retry shortly", undefined, {
      cause: err,
    });
  }
}

function cursorOf(raw: string | undefined): NotificationCursor | null {
  if (raw === undefined) return null;
  try {
    return decodeNotificationCursor(raw);
  } catch (err) {
    if (err instanceof NotificationCursorError) throw new ApiError("bad_request", `cursor: ${err.message}`);
    throw err;
  }
}

/** GET /api/v1/notifications: the viewer's groups, newest first. */
export async function getNotifications(
  deps: NotificationDeps,
  cursorRaw: string | undefined,
  limit: number,
): Promise<NotificationsPageOut> {
  const cursor = cursorOf(cursorRaw);
  const windowStart = deps.now() - NOTIFICATION_TTL_S * 1000;
  const [reply] = await timed(deps.timings, "page", () =>
    run(deps, [pageRead(deps.notificationKeys, deps.viewerId, cursor, limit, windowStart)]),
  );
  const page = parsePageReply(reply, limit);
  const actors = actorsOf(page.groups);
  const replies = actors.length
    ? await timed(deps.timings, "actors", () => run(deps, actorReads(deps.keys, deps.viewerId, actors)))
    : [];
  return presentPage(page, parseActorReads(actors, replies), encodeNotificationCursor);
}

/** POST /api/v1/notifications/seen: raises the viewer's seen mark to `markMs` (never lowers it). */
export async function markSeen(deps: NotificationDeps, markMs: number): Promise<void> {
  await run(deps, [seenWrite(deps.notificationKeys, deps.viewerId, markMs)]);
}

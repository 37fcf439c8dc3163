/**
 * The viewer's unread count pushed to their own live object after the edge changed it (POST
 * /api/v1/notifications/seen): the origin only sees the changes that come through Kafka, and a
 * seen mark is written at the edge. One read-only script on the viewer's slot, then the object.
 */
import { NOTIFICATION_TTL_S, type NotificationKeys } from "#core/keys.ts";
import { UNREAD_LUA } from "#core/live/presence.ts";
import type { PipelineExec } from "#core/serving/read.ts";
import type { LiveNamespace } from "../bindings.ts";
import { fanOut } from "./publish.ts";

export async function pushUnread(
  live: LiveNamespace,
  exec: PipelineExec,
  keys: NotificationKeys,
  userId: string,
  nowMs: number,
): Promise<void> {
  const windowStart = nowMs - NOTIFICATION_TTL_S * 1000;
  const [unread] = await exec([["EVAL", UNREAD_LUA, "2", keys.groups(userId), keys.seen(userId), String(windowStart)]]);
  await fanOut(live, [{ type: "unread", user: userId, unread: Number(unread) || 0, at: nowMs }]);
}

/**
 * The notifications page's cursor: a keyset position in the viewer's groups (the last served
 * group's latest_at and id), `<ms>_<group id>`, so groups that arrive or move up meanwhile
 * neither repeat nor skip the rest (the same paging as edge/core/reads/lists.ts). A viewer only
 * ever pages their own groups, so a cursor needs no owner; anything that is not a position is a
 * 400.
 */
import type { ListCursor } from "../reads/cursor.ts";
import { parseGroupId } from "./groups.ts";

export type NotificationCursor = Pick<ListCursor, "score" | "id">;

export class NotificationCursorError extends Error {}

const WIRE = /^(0|[1-9][0-9]{0,15})_(.{1,64})$/;

export function encodeNotificationCursor(c: NotificationCursor): string {
  return `${c.score}_${c.id}`;
}

/** The position a cursor names; NotificationCursorError for anything else. */
export function decodeNotificationCursor(raw: string): NotificationCursor {
  const m = WIRE.exec(raw);
  const score = Number(m?.[1]);
  if (!m || !Number.isSafeInteger(score) || !parseGroupId(m[2] as string)) {
    throw new NotificationCursorError("cursor is malformed");
  }
  return { score, id: m[2] as string };
}

/**
 * The live channel's wire protocol, pure (docs/api.md "Live channel"): what a client may send,
 * what the server sends, the event ids a client resumes with, the origin's publish body, and
 * the channel's bounds. The edge's Durable Object (edge/src/live/channel.ts) and the origin's
 * publisher (origin/src/live/) both speak it from here.
 *
 * Messages are state, not a log: `new_posts` and `notifications` each carry the whole current
 * value, so the newest message of a type replaces every earlier one. A reconnect that names the
 * last event id it received gets the current value of every type that changed after it, which
 * is all it missed; an id from an older epoch (the object's state expired) gets `resync`.
 */
import { z } from "zod";

/** At most this many open connections per user (one Durable Object holds them); the next is a 429. */
export const MAX_CONNECTIONS_PER_USER = 5;
/** A client message longer than this (bytes of UTF-8, or of a binary frame) closes the connection (1009). */
export const MAX_CLIENT_MESSAGE_BYTES = 512;
/** Client messages per connection per window, beyond the auto-answered `ping`. More closes it (1008). */
export const CLIENT_MESSAGES_PER_WINDOW = 20;
export const CLIENT_MESSAGE_WINDOW_MS = 10_000;
/** How often the object sends `heartbeat` and renews the user's presence. */
export const HEARTBEAT_MS = 30_000;
/** A connection that sent nothing (not even `ping`) for this long is closed (4408) at a heartbeat. */
export const IDLE_CLOSE_MS = 90_000;
/** Presence lives this long after its last renewal (a dropped object's user goes offline by then). */
export const PRESENCE_TTL_MS = 75_000;
/** At least this long between two sends of changed state to a user's connections (coalescing). */
export const FLUSH_INTERVAL_MS = 200;
/** New posts the object remembers (newest kept): `count` is at most this. */
export const NEW_POSTS_KEPT = 100;
/**
 * After its last connection closed, the user stays online (presence) and the object keeps its
 * state this long, so what is published while a client reconnects is there when it resumes. A
 * resume after that is `resync`: the object may have missed something.
 */
export const RESUME_GRACE_MS = 60_000;
/** The text a client sends to check the connection; answered `pong` without waking the object. */
export const PING = "ping";
export const PONG = "pong";
/** The subprotocol the server speaks; a client offering subprotocols must offer it. */
export const SUBPROTOCOL = "feed-live.v1";
/** A subprotocol `bearer.<jwt>` carries the token for clients that cannot set headers (browsers). */
export const BEARER_SUBPROTOCOL_PREFIX = "bearer.";
/** The origin's publish: at most this many messages and bytes per request. */
export const MAX_PUBLISH_MESSAGES = 500;
export const MAX_PUBLISH_BYTES = 128 * 1024;
/** The signed user of an origin → edge publish (never a UUID, so never a user's signature). */
export const ORIGIN_SIGNER = "origin";

const epochMs = z.number().int().nonnegative().max(8.64e15);
const uuid = z
  .string()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, "must be a lowercase UUID");

// ---- event ids -----------------------------------------------------------------------------------

/** An event id: "<epoch>.<seq>", the object's epoch (8 hex) and its per-user sequence. */
export interface EventId {
  epoch: string;
  seq: number;
}

const EVENT_ID_RE = /^([0-9a-f]{8})\.(0|[1-9][0-9]{0,14})$/;

export function encodeEventId(id: EventId): string {
  return `${id.epoch}.${id.seq}`;
}

/** The id a client names, or null when it is not one this server could have sent. */
export function parseEventId(raw: string): EventId | null {
  const m = EVENT_ID_RE.exec(raw);
  return m ? { epoch: m[1] as string, seq: Number(m[2]) } : null;
}

// ---- client → server -----------------------------------------------------------------------------

/**
 * What a client sends besides `ping`: `new_posts_seen` once it started a new feed session, with
 * the `newest_at` of the last `new_posts` it acted on (the server's time, so no clock skew):
 * posts up to then no longer count. Every connection of the user gets the new count.
 */
export const clientMessageSchema = z
  .object({
    type: z.literal("new_posts_seen"),
    until: z.union([epochMs, z.string().max(40).datetime({ offset: true })]),
  })
  .strict();
export type ClientMessage = z.output<typeof clientMessageSchema>;

export type ClientMessageResult = { ok: true; message: ClientMessage } | { ok: false; code: number; reason: string };

const utf8 = new TextEncoder();

/** A client frame (other than `ping`, which the runtime answers), checked: size first, then shape. */
export function parseClientMessage(frame: string | ArrayBuffer): ClientMessageResult {
  const bytes = typeof frame === "string" ? utf8.encode(frame).byteLength : frame.byteLength;
  if (bytes > MAX_CLIENT_MESSAGE_BYTES) {
    return { ok: false, code: 1009, reason: `message over ${MAX_CLIENT_MESSAGE_BYTES} bytes` };
  }
  if (typeof frame !== "string") return { ok: false, code: 1003, reason: "binary messages are not accepted" };
  let value: unknown;
  try {
    value = JSON.parse(frame);
  } catch {
    return { ok: false, code: 1008, reason: "not JSON" };
  }
  const parsed = clientMessageSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, code: 1008, reason: `${issue?.path.join(".") || "message"}: ${issue?.message ?? "invalid"}` };
  }
  return { ok: true, message: parsed.data };
}

export const timeMs = (v: number | string): number => (typeof v === "number" ? v : Date.parse(v));

// ---- server → client -----------------------------------------------------------------------------

export type ServerMessage =
  | { type: "hello"; heartbeat_s: number; resumed: boolean }
  | { type: "new_posts"; id: string; count: number; newest_at: string | null }
  | { type: "notifications"; id: string; unread: number }
  | { type: "resync"; id: string }
  | { type: "heartbeat"; at: string };

export const encodeServerMessage = (m: ServerMessage): string => JSON.stringify(m);

// ---- origin → edge -------------------------------------------------------------------------------

/**
 * What the origin publishes, per user: a followee's new post (deduplicated by post id, so a
 * redelivered batch counts it once), or the user's unread count as of `at` (an older value than
 * the one held is ignored, so a replayed or reordered publish changes nothing).
 */
export const publishMessageSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("new_post"), user: uuid, post_id: uuid, at: epochMs }).strict(),
  z
    .object({
      type: z.literal("unread"),
      user: uuid,
      unread: z.number().int().nonnegative().max(1_000_000),
      at: epochMs,
    })
    .strict(),
]);
export type PublishMessage = z.output<typeof publishMessageSchema>;

export const publishBodySchema = z
  .object({ messages: z.array(publishMessageSchema).min(1).max(MAX_PUBLISH_MESSAGES) })
  .strict();
export type PublishBody = z.output<typeof publishBodySchema>;

/** The messages grouped by user, in order (one Durable Object call per user). */
export function byUser(messages: readonly PublishMessage[]): Map<string, PublishMessage[]> {
  const out = new Map<string, PublishMessage[]>();
  for (const m of messages) {
    const list = out.get(m.user);
    if (list) list.push(m);
    else out.set(m.user, [m]);
  }
  return out;
}

// ---- the upgrade request -------------------------------------------------------------------------

export type UpgradeCredentials =
  | { ok: true; authorization: string | undefined; subprotocol: string | null }
  | { ok: false; reason: string };

/** A JWT's characters (base64url parts and dots): what a `bearer.` subprotocol may carry. */
const JWT_CHARS = /^[A-Za-z0-9_.-]{1,4096}$/;

/**
 * Where an upgrade's token comes from, in this order: the `Authorization` header (clients that
 * can set headers), a `bearer.<jwt>` subprotocol in `Sec-WebSocket-Protocol` (browsers: it is
 * the one header a page's `new WebSocket(url, protocols)` sets), or the `access_token` query
 * parameter (the last resort: a URL ends up in more logs than a header). A client that offers
 * subprotocols must offer SUBPROTOCOL, which the answer then names (a browser refuses a
 * connection whose answer names none of those it offered).
 */
export function upgradeCredentials(h: {
  authorization?: string | undefined;
  protocols?: string | undefined;
  accessToken?: string | undefined;
}): UpgradeCredentials {
  const offered = (h.protocols ?? "")
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean);
  if (offered.length > 8) return { ok: false, reason: "Sec-WebSocket-Protocol: at most 8 subprotocols" };
  if (offered.length && !offered.includes(SUBPROTOCOL)) {
    return { ok: false, reason: `Sec-WebSocket-Protocol: offer ${SUBPROTOCOL}` };
  }
  const subprotocol = offered.length ? SUBPROTOCOL : null;
  if (h.authorization) return { ok: true, authorization: h.authorization, subprotocol };
  const bearer = offered.find((p) => p.startsWith(BEARER_SUBPROTOCOL_PREFIX));
  const token = bearer ? bearer.slice(BEARER_SUBPROTOCOL_PREFIX.length) : h.accessToken;
  if (token === undefined || token === "") return { ok: true, authorization: undefined, subprotocol };
  if (!JWT_CHARS.test(token)) return { ok: true, authorization: "Bearer invalid", subprotocol };
  return { ok: true, authorization: `Bearer ${token}`, subprotocol };
}

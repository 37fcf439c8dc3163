/**
 * The public API's operations, one `createRoute` config per operationId, with full paths. The
 * route files attach middleware and handlers to these (`router.openapi({ ...operations.x,
 * middleware }, handler)`), so the OpenAPI document (edge/openapi.json, GET /openapi.json) is
 * built from the very schemas the worker validates with; the typed client (edge/client/) takes
 * its types from here.
 *
 * Validation notes, so the document says what the worker does:
 * - query and path parameters are validated by the route's zod schemas (a failure is the 400
 *   envelope, see rejectInvalid);
 * - JSON bodies are checked by the routes' own middleware, kept as before (limitBody → 413,
 *   jsonBody/jsonIfBody → 415 or 400, then the zod schema): their schemas appear in the document
 *   as components (`requestBodies` below) referenced from the operation, so zod-openapi adds no
 *   second validator (with its own 415 words) in front of them. Write bodies are validated by the
 *   origin with the same edge/core schemas; the edge forwards them.
 */
import { createRoute, z } from "@hono/zod-openapi";
import {
  clientEventSchema,
  eventsEnvelopeSchema,
  MAX_EVENTS_BODY_BYTES,
  MAX_EVENTS_PER_REQUEST,
} from "#core/events/schema.ts";
import { CursorError, decodeCursor } from "#core/feed/cursor.ts";
import { NOTIFICATIONS_PAGE_MAX } from "#core/notifications/read.ts";
import { seenBodySchema } from "#core/notifications/seen.ts";
import { POST_STATS_CACHE_TTL_S } from "#core/reads/post-stats.ts";
import { UUID_RE, uuidSchema } from "#core/uuid.ts";
import { newCommentSchema, newPostSchema, profileSchema } from "#core/writes.ts";
import { pageLimit, strictInt } from "../validation.ts";
import {
  CommentsPage,
  CreatedComment,
  CreatedPost,
  EventsAccepted,
  FeedPage,
  Health,
  NotificationsPage,
  Post,
  PostStats,
  PostsPage,
  Profile,
  SuggestedUsers,
  TrendingPage,
  UserProfile,
  UsersPage,
} from "./schemas.ts";

/** The bearer scheme's name in the document's components. */
export const BEARER = "bearerAuth";

// ---- headers -----------------------------------------------------------------------------

const str = { type: "string" } as const;
const REQUEST_ID = {
  "X-Request-Id": {
    description:
      "The request's id (the caller's sane X-Request-Id, else a new UUID); in the worker's and the origin's logs.",
    schema: str,
  },
};
const X_CACHE = {
  "X-Cache": {
    description: "HIT: served from a cached ranking/key; MISS: computed now; STALE: a fallback while a source is down.",
    schema: { type: "string", enum: ["HIT", "MISS", "STALE"] },
  },
} as const;
const SERVER_TIMING = {
  "Server-Timing": {
    description:
      'Stages of the request inside the worker, e.g. `index;dur=1.2, rank;dur=0.8, total;dur=2.3` (`ch;dur=…;desc="cold path"` on the ClickHouse path).',
    schema: str,
  },
};
const RETRY_AFTER = {
  "Retry-After": { description: "Seconds until the rate-limit window has passed.", schema: { type: "integer" } },
};

// ---- error responses ------------------------------------------------------------------------

/** What each error status means here; each is the one envelope, `error.code` as listed. */
const ERROR_STATUSES = {
  400: "`bad_request`: a parameter, path id, cursor or body is invalid (the message names the field: `limit: …`).",
  401: "`unauthorized`: missing, malformed, expired or wrongly signed bearer token.",
  403: "`forbidden`: the resource is someone else's (only its author may delete it, or read its stats).",
  404: "`not_found`: the post, user or comment does not exist (or the caller has no profile yet).",
  409: "`conflict`: a unique value is taken (a handle), or a replayed request.",
  413: "`payload_too_large`: the body is over the route's limit.",
  415: "`unsupported_media_type`: a body that is not labelled JSON (`Content-Type: application/json`).",
  429: "`rate_limited`: too many requests for this user (or client IP); see Retry-After.",
  500: "`internal`: an unexpected error (nothing more is said), or an invalid worker configuration.",
  503: "`unavailable`: a backing service (Redis, ClickHouse, the origin) is unreachable; retry shortly.",
} as const;
export type ErrorStatus = keyof typeof ERROR_STATUSES;

/** The component name of each error response (`#/components/responses/<name>`). */
export const ERROR_RESPONSE_NAMES = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  409: "Conflict",
  413: "PayloadTooLarge",
  415: "UnsupportedMediaType",
  429: "RateLimited",
  500: "Internal",
  503: "Unavailable",
} as const satisfies Record<ErrorStatus, string>;

/** The error responses as document components: each the envelope (schema `Error`) with its headers. */
export const errorResponseComponents = Object.fromEntries(
  (Object.keys(ERROR_STATUSES) as unknown as ErrorStatus[]).map((status) => [
    ERROR_RESPONSE_NAMES[status],
    {
      description: ERROR_STATUSES[status],
      headers: Number(status) === 429 ? { ...REQUEST_ID, ...RETRY_AFTER } : REQUEST_ID,
      content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
    },
  ]),
);

/** The error responses of an operation, as references to the components above. */
function errors<const S extends ErrorStatus>(...statuses: S[]): { [K in S]: { $ref: string } } {
  return Object.fromEntries(
    statuses.map((s) => [s, { $ref: `#/components/responses/${ERROR_RESPONSE_NAMES[s]}` }]),
  ) as { [K in S]: { $ref: string } };
}

const json = <S extends z.ZodType>(schema: S, description: string, headers: Record<string, unknown> = {}) => ({
  description,
  headers: { ...REQUEST_ID, ...headers },
  content: { "application/json": { schema } },
});
const noContent = (description: string) => ({ description, headers: REQUEST_ID });

// ---- request parts ---------------------------------------------------------------------------

/** Query of GET /api/v1/feed. */
export const feedQuery = z
  .object({
    limit: pageLimit,
    // A malformed or tampered cursor is a 400 like any bad parameter ("cursor: …").
    cursor: z
      .string()
      .max(200)
      .transform((raw, ctx) => {
        try {
          return decodeCursor(raw);
        } catch (err) {
          if (!(err instanceof CursorError)) throw err;
          ctx.addIssue({ code: "custom", message: err.message });
          return z.NEVER;
        }
      })
      .optional()
      .meta({
        description: "`next_cursor` of the previous page: pages that page's snapshot. Malformed or foreign → 400.",
        type: "string",
        maxLength: 200,
      }),
    explain: z
      .enum(["0", "1", "true", "false"])
      .optional()
      .transform((v) => v === "1" || v === "true")
      .meta({
        description: "`1`/`true`: each item carries `explain` (the score's parts).",
        type: "string",
        enum: ["0", "1", "true", "false"],
      }),
  })
  .strict();

/** `?limit=` alone (trending, suggestions). */
export const limitQuery = z.object({ limit: pageLimit }).strict();

const idParams = z.object({ id: uuidSchema });
const userParams = z.object({ user_id: uuidSchema });

export type UserRefOut = { kind: "me" } | { kind: "handle"; handle: string } | { kind: "id"; id: string };

/** A user in a read path: a UUID, `me` (the caller) or `@handle`. */
export const userRef = z
  .string()
  .max(40)
  .transform((raw, ctx) => {
    if (raw === "me") return { kind: "me" } as UserRefOut;
    if (/^@[A-Za-z0-9_]{1,32}$/.test(raw)) return { kind: "handle", handle: raw.slice(1).toLowerCase() } as UserRefOut;
    if (UUID_RE.test(raw)) return { kind: "id", id: raw.toLowerCase() } as UserRefOut;
    ctx.addIssue({ code: "custom", message: "must be a UUID, `me` or `@handle`" });
    return z.NEVER;
  })
  .meta({
    description: "The user: a UUID, `me` (the caller), or `@` and a handle (`@ada`, any case).",
    type: "string",
    maxLength: 40,
  });
export type UserRef = UserRefOut;
const userRefParams = z.object({ id: userRef });

const listCursor = z.string().max(300).optional().meta({
  description: "`next_cursor` of the previous page of the same list. Malformed, tampered or another list's → 400.",
  type: "string",
  maxLength: 300,
});

/** Query of the read side's lists (an author's posts, followers, following). */
export const listQuery = z.object({ limit: pageLimit, cursor: listCursor }).strict();

/** Query of a post's comments. */
export const commentsQuery = z
  .object({
    limit: pageLimit,
    cursor: listCursor,
    order: z
      .enum(["oldest", "newest"])
      .default("oldest")
      .meta({ description: "`oldest` (default) or `newest` first.", type: "string", enum: ["oldest", "newest"] }),
  })
  .strict();

/** Query of GET /api/v1/notifications. */
export const notificationsQuery = z
  .object({
    limit: strictInt(1, NOTIFICATIONS_PAGE_MAX)
      .default(20)
      .meta({
        description: `Groups per page: a whole number 1–${NOTIFICATIONS_PAGE_MAX} in plain decimal digits.`,
        type: "integer",
        minimum: 1,
        maximum: NOTIFICATIONS_PAGE_MAX,
        default: 20,
      }),
    cursor: z.string().max(100).optional().meta({
      description: "`next_cursor` of the previous page. Malformed → 400.",
      type: "string",
      maxLength: 100,
    }),
  })
  .strict();

/** The live channel's upgrade (edge/core/live/protocol.ts). */
export const liveQuery = z
  .object({
    last_event_id: z
      .string()
      .regex(/^[0-9a-f]{8}\.(0|[1-9][0-9]{0,14})$/, "must be an event id this channel sent (`<epoch>.<seq>`)")
      .optional()
      .meta({
        description:
          "The `id` of the last `new_posts`, `notifications` or `resync` message received: the channel sends what changed after it (or `resync` when it cannot).",
        type: "string",
      }),
    access_token: z.string().min(1).max(4096).optional().meta({
      description:
        "The bearer token, for clients that can set neither `Authorization` nor `Sec-WebSocket-Protocol` (a URL lands in more logs: prefer the subprotocol `bearer.<jwt>`).",
      type: "string",
      maxLength: 4096,
    }),
  })
  .strict();

/** Bodies, by component name: validated by the routes' middleware (events) or the origin (writes). */
export const requestBodies = {
  ClientEvent: clientEventSchema,
  EventsRequest: eventsEnvelopeSchema.extend({
    events: eventsEnvelopeSchema.shape.events.meta({
      items: { $ref: "#/components/schemas/ClientEvent" },
      description: `1–${MAX_EVENTS_PER_REQUEST} events. Each is checked on its own: an invalid one is listed in \`rejected\`, the rest are accepted.`,
    }),
  }),
  ProfileUpdate: profileSchema,
  NewPost: newPostSchema,
  NewComment: newCommentSchema,
  NotificationsSeen: seenBodySchema,
} as const;

/** The typed shape of each body (the client's): events as a client sends them. */
export interface RequestBodyTypes {
  postEvents: { events: z.input<typeof clientEventSchema>[] };
  putProfile: z.input<typeof profileSchema>;
  createPost: z.input<typeof newPostSchema>;
  createComment: z.input<typeof newCommentSchema>;
  markNotificationsSeen: z.input<typeof seenBodySchema>;
}

const bodyRef = (name: keyof typeof requestBodies, description: string, required = true) => ({
  required,
  description,
  content: { "application/json": { schema: { $ref: `#/components/schemas/${name}` } } },
});

const auth = [{ [BEARER]: [] }];

// ---- operations --------------------------------------------------------------------------------

const write = <const M extends "put" | "post" | "delete", const P extends string>(
  method: M,
  path: P,
  operationId: string,
  summary: string,
) => ({ method, path, operationId, summary, tags: ["writes"], security: auth });

const WRITE_ERRORS = [400, 401, 409, 413, 415, 429, 500, 503] as const;
const READ_ERRORS = [400, 401, 404, 429, 500, 503] as const;
const READ_NOTE =
  "Served at the edge from the serving index (ClickHouse for posts older than 7 days). A user who blocks you or whom you block, a deleted or an unknown user, and their posts, are 404 alike; a write of yours shows on your next request.";
const WRITE_NOTE =
  " Forwarded to the origin (signed with the caller's user id), which validates the body and commits the write.";

export const operations = {
  getHealth: createRoute({
    method: "get",
    path: "/healthz",
    operationId: "getHealth",
    summary: "Liveness of the edge worker",
    tags: ["meta"],
    responses: { 200: json(Health, "The worker is up."), ...errors(500) },
  }),
  getOpenApiDocument: createRoute({
    method: "get",
    path: "/openapi.json",
    operationId: "getOpenApiDocument",
    summary: "This OpenAPI 3.1 document",
    tags: ["meta"],
    responses: {
      200: json(z.object({}).passthrough().meta({ description: "An OpenAPI 3.1 document." }), "The document."),
      ...errors(429, 500),
    },
  }),
  getApiReference: createRoute({
    method: "get",
    path: "/docs",
    operationId: "getApiReference",
    summary: "API reference page (Swagger UI over /openapi.json, served offline)",
    tags: ["meta"],
    responses: {
      200: { description: "An HTML page.", headers: REQUEST_ID, content: { "text/html": { schema: z.string() } } },
      ...errors(429, 500),
    },
  }),
  getFeed: createRoute({
    method: "get",
    path: "/api/v1/feed",
    operationId: "getFeed",
    summary: "The caller's ranked feed, one page at a time",
    description:
      "Without `cursor`: a new ranking (a snapshot, kept ~30 min after its last read) reflecting every change older than 2 s. With the previous page's `next_cursor`: the next page of that same snapshot, never repeating or skipping an item.",
    tags: ["feed"],
    security: auth,
    request: { query: feedQuery },
    responses: {
      200: json(FeedPage, "A page of the feed.", { ...X_CACHE, ...SERVER_TIMING }),
      ...errors(400, 401, 429, 500, 503),
    },
  }),
  getTrending: createRoute({
    method: "get",
    path: "/api/v1/trending",
    operationId: "getTrending",
    summary: "Hot posts of the last 24 h (no authentication)",
    tags: ["feed"],
    request: { query: limitQuery },
    responses: { 200: json(TrendingPage, "Hot posts, best first.", X_CACHE), ...errors(400, 429, 500, 503) },
  }),
  getSuggestedUsers: createRoute({
    method: "get",
    path: "/api/v1/discover/suggested-users",
    operationId: "getSuggestedUsers",
    summary: "People to follow",
    description:
      "People followed by the people you follow, excluding yourself and whom you already follow; popular authors as cold-start fallback.",
    tags: ["discover"],
    security: auth,
    request: { query: limitQuery },
    responses: {
      200: json(SuggestedUsers, "Suggestions, best first.", { ...X_CACHE, ...SERVER_TIMING }),
      ...errors(400, 401, 429, 500, 503),
    },
  }),
  getPostStats: createRoute({
    method: "get",
    path: "/api/v1/posts/{id}/stats",
    operationId: "getPostStats",
    summary: "A post's hourly counts of the last 7 days (its author only)",
    description: `Impressions, views, clicks, likes, comments and shares per hour for the last 7 days and their totals, read from ClickHouse (\`post_metrics_1h\`, the counted signals). Only the post's author may read them (403 for anyone else; 404 for a post that does not exist or is deleted). Answers are cached ${POST_STATS_CACHE_TTL_S} s in Redis (shared by every edge; \`X-Cache: HIT\`), so counts can be up to ${POST_STATS_CACHE_TTL_S} s behind ClickHouse, which is itself ~1–2 s behind the events.`,
    tags: ["posts"],
    security: auth,
    request: { params: idParams },
    responses: {
      200: json(PostStats, "The post's counts.", X_CACHE),
      ...errors(400, 401, 403, 404, 429, 500, 503),
    },
  }),
  postEvents: createRoute({
    method: "post",
    path: "/api/v1/events",
    operationId: "postEvents",
    summary: "Report user-behaviour events (impressions, views, clicks, shares, dwell)",
    description: `At most ${MAX_EVENTS_PER_REQUEST} events and ${MAX_EVENTS_BODY_BYTES / 1024} KiB per request. The user comes from the token; the server stamps the receive time and generates \`event_id\` where absent. 202 means the events are durably queued. A request whose events are all invalid is a 400 with the rejections in \`error.details\`. An event that names no \`experiment\`/\`variant\` takes those of the caller's newest feed snapshot (the page's \`experiment\`), if it was ranked under one.`,
    tags: ["events"],
    security: auth,
    request: { body: bodyRef("EventsRequest", "The events.") },
    responses: {
      202: json(EventsAccepted, "Accepted (and per-event rejections)."),
      ...errors(400, 401, 413, 415, 429, 500, 503),
    },
  }),
  getUser: createRoute({
    method: "get",
    path: "/api/v1/users/{id}",
    operationId: "getUser",
    summary: "A user's profile, counts and your relation to them",
    description: READ_NOTE,
    tags: ["reads"],
    security: auth,
    request: { params: userRefParams },
    responses: { 200: json(UserProfile, "The profile."), ...errors(...READ_ERRORS) },
  }),
  getUserPosts: createRoute({
    method: "get",
    path: "/api/v1/users/{id}/posts",
    operationId: "getUserPosts",
    summary: "A user's posts, newest first (the whole history)",
    description: `Paging never repeats or skips a post while the author keeps posting. ${READ_NOTE}`,
    tags: ["reads"],
    security: auth,
    request: { params: userRefParams, query: listQuery },
    responses: { 200: json(PostsPage, "A page of posts."), ...errors(...READ_ERRORS) },
  }),
  getFollowers: createRoute({
    method: "get",
    path: "/api/v1/users/{id}/followers",
    operationId: "getFollowers",
    summary: "Who follows a user, newest follow first",
    description: READ_NOTE,
    tags: ["reads"],
    security: auth,
    request: { params: userRefParams, query: listQuery },
    responses: { 200: json(UsersPage, "A page of users."), ...errors(...READ_ERRORS) },
  }),
  getFollowing: createRoute({
    method: "get",
    path: "/api/v1/users/{id}/following",
    operationId: "getFollowing",
    summary: "Whom a user follows, newest follow first",
    description: READ_NOTE,
    tags: ["reads"],
    security: auth,
    request: { params: userRefParams, query: listQuery },
    responses: { 200: json(UsersPage, "A page of users."), ...errors(...READ_ERRORS) },
  }),
  getPost: createRoute({
    method: "get",
    path: "/api/v1/posts/{id}",
    operationId: "getPost",
    summary: "A post, hydrated",
    description: READ_NOTE,
    tags: ["reads"],
    security: auth,
    request: { params: idParams },
    responses: { 200: json(Post, "The post."), ...errors(...READ_ERRORS) },
  }),
  getComments: createRoute({
    method: "get",
    path: "/api/v1/posts/{id}/comments",
    operationId: "getComments",
    summary: "A post's comments, oldest first (or newest)",
    description: `Deleted comments and comments by users you block or who block you are left out (a page may then hold fewer than \`limit\`; the cursor still moves on). ${READ_NOTE}`,
    tags: ["reads"],
    security: auth,
    request: { params: idParams, query: commentsQuery },
    responses: { 200: json(CommentsPage, "A page of comments."), ...errors(...READ_ERRORS) },
  }),
  getNotifications: createRoute({
    method: "get",
    path: "/api/v1/notifications",
    operationId: "getNotifications",
    summary: "Who liked or commented on your posts and who followed you, grouped",
    description:
      "Newest group first: one group per post and UTC day for likes and for comments, one per day for new followers, with the newest actors (up to 3), how many there are and whether the group is newer than your seen mark. Never your own actions; an unlike, a deleted comment or an unfollow takes the actor out again. Users who block you or whom you block, and deleted users, are left out of the actors and the count (of the count, those among the group's 10 newest actors), and a group with none left is left out (a page may then hold fewer than `limit`; the cursor still moves on). `unread` counts the groups newer than your seen mark. Kept 30 days, at most 200 groups. Served at the edge from Redis, ~1–2 s behind the writes.",
    tags: ["notifications"],
    security: auth,
    request: { query: notificationsQuery },
    responses: {
      200: json(NotificationsPage, "A page of notification groups.", SERVER_TIMING),
      ...errors(400, 401, 429, 500, 503),
    },
  }),
  markNotificationsSeen: createRoute({
    method: "post",
    path: "/api/v1/notifications/seen",
    operationId: "markNotificationsSeen",
    summary: "Mark notifications up to a time as read",
    description:
      "Every group whose latest_at is at or before `until` reads as read. The mark only ever moves forward: an older `until` (another device, a retry) unmarks nothing; one later than the server's clock counts as now.",
    tags: ["notifications"],
    security: auth,
    request: { body: bodyRef("NotificationsSeen", "Up to when.") },
    responses: { 204: noContent("Marked."), ...errors(400, 401, 413, 415, 429, 500, 503) },
  }),
  openLiveChannel: createRoute({
    method: "get",
    path: "/api/v1/live",
    operationId: "openLiveChannel",
    summary: "The live channel (WebSocket): new posts of followees, the unread count, heartbeats",
    description:
      'A WebSocket upgrade (`Upgrade: websocket`; a plain GET is a 400). The token comes from `Authorization: Bearer`, else a subprotocol `bearer.<jwt>` offered beside `feed-live.v1` in `Sec-WebSocket-Protocol` (what a browser\'s `new WebSocket(url, protocols)` can set), else `?access_token=`. Server messages are JSON text: `hello`, `new_posts {id, count, newest_at}`, `notifications {id, unread}`, `resync {id}`, `heartbeat {at}`; the client sends `ping` (answered `pong`) at least every 60 s and `{"type":"new_posts_seen","until"}` after it starts a new feed session. Reconnect with `last_event_id` to get what changed meanwhile. At most 5 connections per user (the 6th is a 429), client messages at most 512 bytes and 20 per 10 s. See docs/api.md, "Live channel".',
    tags: ["live"],
    security: auth,
    request: { query: liveQuery },
    responses: {
      101: { description: "Switching Protocols: the channel is open.", headers: REQUEST_ID },
      ...errors(400, 401, 429, 500, 503),
    },
  }),
  putProfile: createRoute({
    ...write("put", "/api/v1/users/me", "putProfile", "Create or update the caller's profile"),
    description: `Creating a profile is needed before posting, following or liking.${WRITE_NOTE}`,
    request: { body: bodyRef("ProfileUpdate", "The profile.") },
    responses: { 200: json(Profile, "The profile as stored."), ...errors(...WRITE_ERRORS) },
  }),
  createPost: createRoute({
    ...write("post", "/api/v1/posts", "createPost", "Publish a post"),
    description: WRITE_NOTE.trim(),
    request: { body: bodyRef("NewPost", "The post.") },
    responses: { 201: json(CreatedPost, "The new post."), ...errors(...WRITE_ERRORS, 404) },
  }),
  deletePost: createRoute({
    ...write("delete", "/api/v1/posts/{id}", "deletePost", "Delete one of the caller's posts"),
    description: WRITE_NOTE.trim(),
    request: { params: idParams },
    responses: { 204: noContent("Deleted."), ...errors(...WRITE_ERRORS, 403, 404) },
  }),
  follow: createRoute({
    ...write("put", "/api/v1/follows/{user_id}", "follow", "Follow a user (idempotent)"),
    description: WRITE_NOTE.trim(),
    request: { params: userParams },
    responses: { 204: noContent("Following."), ...errors(...WRITE_ERRORS, 404) },
  }),
  unfollow: createRoute({
    ...write("delete", "/api/v1/follows/{user_id}", "unfollow", "Stop following a user (idempotent)"),
    description: WRITE_NOTE.trim(),
    request: { params: userParams },
    responses: { 204: noContent("Not following."), ...errors(...WRITE_ERRORS) },
  }),
  like: createRoute({
    ...write("put", "/api/v1/posts/{id}/like", "like", "Like a post (idempotent)"),
    description: WRITE_NOTE.trim(),
    request: { params: idParams },
    responses: { 204: noContent("Liked."), ...errors(...WRITE_ERRORS, 404) },
  }),
  unlike: createRoute({
    ...write("delete", "/api/v1/posts/{id}/like", "unlike", "Take a like back (idempotent)"),
    description: WRITE_NOTE.trim(),
    request: { params: idParams },
    responses: { 204: noContent("Not liked."), ...errors(...WRITE_ERRORS) },
  }),
  createComment: createRoute({
    ...write("post", "/api/v1/posts/{id}/comments", "createComment", "Comment on a post"),
    description: WRITE_NOTE.trim(),
    request: { params: idParams, body: bodyRef("NewComment", "The comment.") },
    responses: { 201: json(CreatedComment, "The new comment."), ...errors(...WRITE_ERRORS, 404) },
  }),
  deleteComment: createRoute({
    ...write("delete", "/api/v1/comments/{id}", "deleteComment", "Delete one of the caller's comments"),
    description: WRITE_NOTE.trim(),
    request: { params: idParams },
    responses: { 204: noContent("Deleted."), ...errors(...WRITE_ERRORS, 403, 404) },
  }),
  block: createRoute({
    ...write("put", "/api/v1/blocks/{user_id}", "block", "Block a user (idempotent; hides both ways)"),
    description: WRITE_NOTE.trim(),
    request: { params: userParams },
    responses: { 204: noContent("Blocked."), ...errors(...WRITE_ERRORS, 404) },
  }),
  unblock: createRoute({
    ...write("delete", "/api/v1/blocks/{user_id}", "unblock", "Unblock a user (idempotent)"),
    description: WRITE_NOTE.trim(),
    request: { params: userParams },
    responses: { 204: noContent("Not blocked."), ...errors(...WRITE_ERRORS) },
  }),
};

export type Operations = typeof operations;
export type OperationId = keyof Operations;

/** Document-level facts: title, auth scheme and what every path can also answer. */
export const DOCUMENT_INFO = {
  title: "edge-feed public API",
  description: [
    "A personalized social feed served from the edge (Cloudflare Workers).",
    "",
    'Every error is the one JSON envelope `{"error": {"code", "message"}}` (schema `Error`) with its status, and every answer carries `X-Request-Id` and `X-Content-Type-Options: nosniff`.',
    "Besides the statuses listed per operation, any path answers: 404 `not_found` when no route matches, 405 `method_not_allowed` (with `Allow`) for a method the path does not serve, and 501 `not_implemented` for a method the API does not know. `OPTIONS` on `/api/*` is the CORS preflight.",
    "",
    "Authentication: `Authorization: Bearer <JWT>` whose `sub` is the user's UUID.",
  ].join("\n"),
};

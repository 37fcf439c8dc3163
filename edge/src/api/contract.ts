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
  CursorError,
  clientEventSchema,
  decodeCursor,
  eventsEnvelopeSchema,
  MAX_EVENTS_BODY_BYTES,
  MAX_EVENTS_PER_REQUEST,
  newCommentSchema,
  newPostSchema,
  POST_STATS_CACHE_TTL_S,
  profileSchema,
  uuidSchema,
} from "../../core/index.ts";
import { pageLimit } from "../validation.ts";
import {
  CreatedComment,
  CreatedPost,
  EventsAccepted,
  FeedPage,
  Health,
  PostStats,
  Profile,
  SuggestedUsers,
  TrendingPage,
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
} as const;

/** The typed shape of each body (the client's): events as a client sends them. */
export interface RequestBodyTypes {
  postEvents: { events: z.input<typeof clientEventSchema>[] };
  putProfile: z.input<typeof profileSchema>;
  createPost: z.input<typeof newPostSchema>;
  createComment: z.input<typeof newCommentSchema>;
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
    responses: { 200: json(SuggestedUsers, "Suggestions, best first.", X_CACHE), ...errors(400, 401, 429, 500, 503) },
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

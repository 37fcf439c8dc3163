/**
 * The live channel's routes (docs/api.md "Live channel"):
 * - GET /api/v1/live: the WebSocket upgrade. Authenticated like every user route (the token
 *   from the header, a `bearer.<jwt>` subprotocol or `?access_token=`: edge/core/live/protocol.ts
 *   `upgradeCredentials`), counted against RATE_LIMIT_LIVE, then handed to the user's Durable
 *   Object (edge/src/live/channel.ts), which refuses a sixth connection with 429.
 * - POST /internal/live/publish: the origin's messages for online users, signed by the origin
 *   with ORIGIN_SHARED_SECRET over the exact bytes (edge/core/auth/origin-auth.ts, the signer
 *   `origin`). No replay guard: every message is idempotent state (a post counted once by its
 *   id, an unread count older than the one held ignored), so a replay within the ±60 s window
 *   changes nothing. Not part of the public contract (not in the OpenAPI document).
 */
import { Hono, type MiddlewareHandler } from "hono";
import { hasSignatureHeaders, verifyRequest } from "#core/auth/origin-auth.ts";
import { ApiError, type ErrorCode, STATUS_OF } from "#core/errors.ts";
import { MAX_PUBLISH_BYTES, ORIGIN_SIGNER, publishBodySchema, upgradeCredentials } from "#core/live/protocol.ts";
import { firstIssueError } from "#core/validation.ts";
import { operations } from "../api/contract.ts";
import { authenticate } from "../auth.ts";
import type { AppEnv } from "../env.ts";
import { LIVE_HEADERS } from "../live/headers.ts";
import { fanOut } from "../live/publish.ts";
import { limitBody } from "../middleware.ts";
import { routeLimit } from "../ratelimit.ts";
import { apiRouter } from "../validation.ts";

/** The path the origin publishes to (origin/src/live/publisher.ts). */
export const LIVE_PUBLISH_PATH = "/internal/live/publish";

const unavailable = () => new ApiError("unavailable", "the live channel is unavailable; retry shortly");

/** Authenticates the upgrade from wherever its token is; sets `userId` (401 otherwise). */
const liveUser = (): MiddlewareHandler<AppEnv> =>
  async function liveUser(c, next) {
    const creds = upgradeCredentials({
      authorization: c.req.header("authorization"),
      protocols: c.req.header("sec-websocket-protocol"),
      accessToken: c.req.query("access_token"),
    });
    if (!creds.ok) throw new ApiError("bad_request", creds.reason);
    c.set("userId", (await authenticate(creds.authorization, c.var.config.auth)).toLowerCase());
    await next();
  };

/** The object's refusal (an envelope) as the worker's own error. */
async function refusal(res: Response): Promise<ApiError> {
  const body = (await res.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null;
  const code = body?.error?.code;
  if (!code || !(code in STATUS_OF)) return unavailable();
  const retry = res.headers.get("retry-after");
  return new ApiError(code as ErrorCode, body?.error?.message ?? code, undefined, {
    ...(retry ? { headers: { "Retry-After": retry } } : {}),
  });
}

export const liveRoutes = apiRouter().openapi(
  { ...operations.openLiveChannel, middleware: [liveUser(), routeLimit("live")] as const },
  async (c) => {
    const q = c.req.valid("query");
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
      throw new ApiError("bad_request", "expected a WebSocket upgrade (Upgrade: websocket)");
    }
    const ns = c.var.config.live;
    if (!ns) throw unavailable();
    const creds = upgradeCredentials({ protocols: c.req.header("sec-websocket-protocol") });
    const headers = new Headers(c.req.raw.headers);
    headers.delete("authorization");
    headers.delete("sec-websocket-protocol");
    headers.set(LIVE_HEADERS.user, c.get("userId"));
    if (q.last_event_id) headers.set(LIVE_HEADERS.lastEventId, q.last_event_id);
    if (creds.ok && creds.subprotocol) headers.set(LIVE_HEADERS.subprotocol, creds.subprotocol);
    let res: Response;
    try {
      res = await ns
        .get(ns.idFromName(c.get("userId")) as never)
        .fetch(new Request("https://live.internal/connect", { headers }));
    } catch (err) {
      c.get("logFields").live_error = String(err);
      throw unavailable();
    }
    if (res.status !== 101) throw await refusal(res);
    c.get("logFields").live = "open";
    // A new answer around the object's socket: its own headers are immutable, and the app's
    // middleware adds X-Request-Id and the security headers after this.
    const webSocket = (res as Response & { webSocket?: unknown }).webSocket;
    const protocol = res.headers.get("sec-websocket-protocol");
    return new Response(null, {
      status: 101,
      webSocket,
      ...(protocol ? { headers: { "Sec-WebSocket-Protocol": protocol } } : {}),
    } as ResponseInit);
  },
);

/** The origin's publish (signed; see the header of this file). */
export const livePublishRoutes = new Hono<AppEnv>().post(LIVE_PUBLISH_PATH, limitBody(MAX_PUBLISH_BYTES), async (c) => {
  const secret = c.var.config.origin.sharedSecret;
  if (!secret) throw new ApiError("internal", "ORIGIN_SHARED_SECRET is not configured");
  if (!hasSignatureHeaders((n) => c.req.header(n))) throw new ApiError("unauthorized", "publish not signed");
  const body = new Uint8Array(await c.req.arrayBuffer());
  const url = new URL(c.req.url);
  const verified = await verifyRequest(
    secret,
    { method: "POST", pathWithQuery: url.pathname + url.search, headers: (n) => c.req.header(n), body },
    Date.now(),
  );
  if (!verified.ok) throw new ApiError("unauthorized", `publish not signed by the origin: ${verified.reason}`);
  if (verified.userId !== ORIGIN_SIGNER) throw new ApiError("unauthorized", "publish not signed by the origin");
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(body));
  } catch {
    throw new ApiError("bad_request", "body: not JSON");
  }
  const parsed = publishBodySchema.safeParse(value);
  if (!parsed.success) throw firstIssueError(parsed.error.issues, "body");
  const ns = c.var.config.live;
  if (!ns) throw unavailable();
  const report = await fanOut(ns, parsed.data.messages);
  Object.assign(c.get("logFields"), { live_users: report.users, live_connected: report.connected });
  return c.json(report, 200);
});

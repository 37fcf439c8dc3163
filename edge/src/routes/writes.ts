/**
 * The write endpoints: validated for shape here, then forwarded to the origin (ORIGIN_URL),
 * signed so the origin knows the user id came from a verified token (edge/core/auth/origin-auth.ts).
 * The origin validates bodies and owns the transaction. Origin down or slow → 503.
 */
import type { Context } from "hono";
import { signRequest } from "#core/auth/origin-auth.ts";
import { ApiError } from "#core/errors.ts";
import { type OperationId, operations } from "../api/contract.ts";
import type { AppEnv } from "../env.ts";
import { limitBody, requireUser } from "../middleware.ts";
import { routeLimit } from "../ratelimit.ts";
import { apiRouter, jsonIfBody } from "../validation.ts";

/** Write bodies are small (a post is ≤ 2000 chars). */
export const MAX_WRITE_BODY_BYTES = 16 * 1024;

async function forward(c: Context<AppEnv>): Promise<Response> {
  const { origin } = c.var.config;
  const secret = origin.sharedSecret;
  if (!secret) throw new ApiError("internal", "ORIGIN_SHARED_SECRET is not configured");
  const body = new Uint8Array(await c.req.arrayBuffer());
  const url = new URL(c.req.url);
  const pathWithQuery = `/v1${url.pathname.slice("/api/v1".length)}${url.search}`;
  const headers = await signRequest(secret, {
    method: c.req.method,
    pathWithQuery,
    userId: c.get("userId"),
    timestampMs: Date.now(),
    requestId: c.get("requestId"),
    body,
  });
  let res: Response;
  try {
    res = await fetch(new URL(pathWithQuery, origin.url), {
      method: c.req.method,
      // The request id travels in the signed x-edge-request-id and, for proxies and log
      // pipelines between edge and origin, as the plain X-Request-Id too: the origin logs it
      // (its replay guard keys on the signature, never on the id).
      headers: {
        ...headers,
        "x-request-id": c.get("requestId"),
        "content-type": c.req.header("content-type") ?? "application/json",
      },
      body: body.length ? body : null,
      signal: AbortSignal.timeout(origin.timeoutMs),
    });
  } catch (err) {
    c.get("logFields").origin_error = String(err);
    throw new ApiError("unavailable", "the write service is unavailable; retry later");
  }
  c.get("logFields").origin_status = res.status;
  if (res.status >= 502 && res.status <= 504) {
    throw new ApiError("unavailable", "the write service is unavailable; retry later");
  }
  // The origin answers in the same JSON envelope; pass it through.
  return new Response(res.body, { status: res.status, headers: { "content-type": "application/json" } });
}

/** The forwarded operations (edge/src/api/contract.ts), by operationId. */
const WRITE_OPERATIONS = [
  "putProfile",
  "createPost",
  "deletePost",
  "follow",
  "unfollow",
  "like",
  "unlike",
  "createComment",
  "deleteComment",
  "block",
  "unblock",
] as const satisfies readonly OperationId[];

/**
 * Auth, the rate limit, the body limit (413) and the JSON label (415) apply to these routes
 * only, in that order; then the route's path ids are validated as UUIDs (400), and the request
 * is forwarded. The origin validates the bodies.
 */
const writeMiddleware = () => [requireUser(), routeLimit("writes"), limitBody(MAX_WRITE_BODY_BYTES), jsonIfBody()];

export const writeRoutes = apiRouter();
for (const id of WRITE_OPERATIONS) {
  writeRoutes.openapi({ ...operations[id], middleware: writeMiddleware() }, forward);
}

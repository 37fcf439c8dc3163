/**
 * The write endpoints: validated for shape here, then forwarded to the origin (ORIGIN_URL),
 * signed so the origin knows the user id came from a verified token (edge/core/origin-auth.ts).
 * The origin validates bodies and owns the transaction. Origin down or slow → 503.
 */
import { type Context, Hono } from "hono";
import { ApiError, signRequest } from "../../core/index.ts";
import type { AppEnv } from "../env.ts";
import { limitBody, requireUser } from "../middleware.ts";

/** Write bodies are small (a post is ≤ 2000 chars). */
export const MAX_WRITE_BODY_BYTES = 16 * 1024;
const DEFAULT_ORIGIN_TIMEOUT_MS = 3000;
const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

async function forward(c: Context<AppEnv>): Promise<Response> {
  for (const [name, value] of Object.entries(c.req.param() as Record<string, string>)) {
    if (!UUID_RE.test(value)) throw new ApiError("bad_request", `${name}: must be a UUID`);
  }
  const secret = c.env.ORIGIN_SHARED_SECRET;
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
  const timeoutMs = Number(c.env.ORIGIN_TIMEOUT_MS) || DEFAULT_ORIGIN_TIMEOUT_MS;
  let res: Response;
  try {
    res = await fetch(new URL(pathWithQuery, c.env.ORIGIN_URL), {
      method: c.req.method,
      headers: { ...headers, "content-type": c.req.header("content-type") ?? "application/json" },
      body: body.length ? body : null,
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    c.get("logFields").origin_error = String(err);
    throw new ApiError("unavailable", "the write service is unavailable; retry later");
  }
  if (res.status >= 502 && res.status <= 504) {
    throw new ApiError("unavailable", "the write service is unavailable; retry later");
  }
  // The origin answers in the same JSON envelope; pass it through.
  return new Response(res.body, { status: res.status, headers: { "content-type": "application/json" } });
}

const WRITE_PATHS: [method: "put" | "post" | "delete", path: string][] = [
  ["put", "/users/me"],
  ["post", "/posts"],
  ["delete", "/posts/:id"],
  ["put", "/follows/:user_id"],
  ["delete", "/follows/:user_id"],
  ["put", "/posts/:id/like"],
  ["delete", "/posts/:id/like"],
  ["post", "/posts/:id/comments"],
  ["delete", "/comments/:id"],
  ["put", "/blocks/:user_id"],
  ["delete", "/blocks/:user_id"],
];

/** Mounted at /api/v1; auth and the body limit apply to these routes only. */
export const writeRoutes = new Hono<AppEnv>();
for (const [method, path] of WRITE_PATHS) {
  writeRoutes.on(method.toUpperCase(), path, requireUser(), limitBody(MAX_WRITE_BODY_BYTES), forward);
}

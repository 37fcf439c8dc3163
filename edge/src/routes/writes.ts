/**
 * The write endpoints: validated for shape here, then forwarded to the origin (ORIGIN_URL),
 * signed so the origin knows the user id came from a verified token (edge/core/origin-auth.ts).
 * The origin validates bodies and owns the transaction. Origin down or slow → 503.
 */
import { zValidator } from "@hono/zod-validator";
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { z } from "zod";
import { ApiError, rejectInvalid, signRequest, uuidSchema } from "../../core/index.ts";
import type { AppEnv } from "../env.ts";
import { limitBody, requireUser } from "../middleware.ts";
import { routeLimit } from "../ratelimit.ts";
import { jsonIfBody } from "../validation.ts";

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

/** Every path id (`:id`, `:user_id`) is a UUID; the origin validates the bodies. */
function uuidParams(path: string): MiddlewareHandler<AppEnv>[] {
  const names = [...path.matchAll(/:(\w+)/g)].map((m) => m[1] as string);
  if (names.length === 0) return [];
  const schema = z.object(Object.fromEntries(names.map((n) => [n, uuidSchema])));
  return [zValidator("param", schema, rejectInvalid)];
}

/** Mounted at /api/v1; auth and the body limit apply to these routes only. */
export const writeRoutes = new Hono<AppEnv>();
for (const [method, path] of WRITE_PATHS) {
  writeRoutes.on(
    method.toUpperCase(),
    path,
    requireUser(),
    routeLimit("writes"),
    limitBody(MAX_WRITE_BODY_BYTES),
    jsonIfBody(),
    ...uuidParams(path),
    forward,
  );
}

/**
 * The origin's one error renderer: its HTTP server and the write API answer every thrown error,
 * and an unknown route, through here in the one envelope (edge/core's `errorAnswer` decides
 * code, status and headers, as it does for the edge).
 */
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { Logger } from "pino";
import { ApiError, errorAnswer } from "#core/errors.ts";

/** Answers `err` in the envelope; errors that are neither an ApiError nor an HTTP error are logged. */
export function errorResponse(err: unknown, c: Context, log: Logger): Response {
  const answer = errorAnswer(err);
  if (answer.unexpected) {
    // The request id, when the origin's HTTP server (or the write API) set one.
    const requestId = (c as Context<{ Variables: { requestId?: string } }>).get("requestId");
    log.error({ request_id: requestId, err: (err as Error).message }, "unhandled origin error");
  }
  return c.json(answer.body, answer.status as ContentfulStatusCode, answer.headers);
}

export function notFoundResponse(c: Context, log: Logger): Response {
  return errorResponse(new ApiError("not_found", `no route for ${c.req.method} ${c.req.path}`), c, log);
}

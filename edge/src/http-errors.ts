/**
 * The edge's one error renderer: every error, thrown anywhere or a route not found, leaves
 * through here as the one envelope (edge/core/errors.ts `errorAnswer` decides code, status and
 * headers; this only writes the response).
 */
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { errorAnswer } from "#core/errors.ts";

/** Answers `err` in the envelope; `unexpected` is called (to log) for errors that are neither an ApiError nor an HTTP error. */
export function errorResponse(err: unknown, c: Context, unexpected: (err: unknown) => void): Response {
  const answer = errorAnswer(err);
  if (answer.unexpected) unexpected(err);
  return c.json(answer.body, answer.status as ContentfulStatusCode, answer.headers);
}

/**
 * The one error envelope as an HTTP answer: ApiError keeps its code, status and headers; a Hono
 * HTTPException (body limit, malformed input) maps to the nearest code; anything else is a 500
 * that the caller logs. Shared by the worker and the benchmark's Node baseline.
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { ApiError, type ErrorCode, errorBody } from "../core/index.ts";

/** Answers `err` in the envelope; `unexpected` is called (to log) for errors that are neither kind. */
export function errorResponse(err: Error, c: Context, unexpected: (err: Error) => void): Response {
  if (err instanceof ApiError) {
    for (const [k, v] of Object.entries(err.headers ?? {})) c.header(k, v);
    return c.json(errorBody(err.code, err.message, err.details), err.status as 400);
  }
  if (err instanceof HTTPException) {
    const status = err.status;
    const code: ErrorCode =
      status === 401
        ? "unauthorized"
        : status === 413
          ? "payload_too_large"
          : status >= 500
            ? "internal"
            : "bad_request";
    return c.json(errorBody(code, err.message || "request rejected"), status);
  }
  unexpected(err);
  return c.json(errorBody("internal", "internal error"), 500);
}

/**
 * A JSON body as the origin's APIs (writes, experiments) take it, checked as the edge checks its
 * own (edge/src/validation.ts): a body not labelled JSON is a 415, one that does not parse a 400
 * "body must be JSON", then hono's validator checks it against the core schema and the handler
 * reads it with `c.req.valid("json")`; the first problem is a 400 in the one envelope
 * (rejectInvalid). The bytes are the ones the request's check (its signature, the operator's
 * token) has read: hono keeps them, so the request is never read twice.
 */
import { zValidator } from "@hono/zod-validator";
import type { MiddlewareHandler } from "hono";
import type { z } from "zod";
import { ApiError } from "#core/errors.ts";
import { rejectInvalid } from "#core/validation.ts";

const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/i;

const requireJson: MiddlewareHandler = async (c, next) => {
  if (!JSON_MEDIA_TYPE.test((c.req.header("content-type") ?? "").split(";")[0]?.trim() ?? "")) {
    throw new ApiError("unsupported_media_type", "body must be JSON (Content-Type: application/json)");
  }
  try {
    await c.req.json();
  } catch {
    throw new ApiError("bad_request", "body must be JSON");
  }
  await next();
};

/** The two checks of a route's JSON body, in order: `app.post(path, ...jsonBody(schema), handler)`. */
export const jsonBody = <T extends z.ZodType>(schema: T) =>
  [requireJson, zValidator("json", schema, rejectInvalid)] as const;

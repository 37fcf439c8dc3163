/**
 * Request validation pieces the edge's routes share. Each route validates with hono's
 * validator middleware (`zValidator(target, schema, rejectInvalid)`); `rejectInvalid`
 * (edge/core/validation.ts) turns the first issue into the one error envelope.
 */
import type { MiddlewareHandler } from "hono";
import { z } from "zod";
import { ApiError } from "../core/index.ts";
import type { AppEnv } from "./env.ts";

/** `?limit=`: 1–100, default 20 (feed, trending, suggestions). */
export const pageLimit = z.coerce.number().int().min(1).max(100).default(20);

const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/i;

/**
 * Requires a JSON body and parses it (hono caches it for the json validator that follows).
 * Without this the validator would validate `{}` for a body not labelled JSON and answer a
 * malformed one with its own words; here both get one 400 showing the expected `shape`.
 */
export const jsonBody =
  (shape: string): MiddlewareHandler<AppEnv> =>
  async (c, next) => {
    const mediaType = (c.req.header("content-type") ?? "").split(";")[0]?.trim() ?? "";
    if (!JSON_MEDIA_TYPE.test(mediaType)) {
      throw new ApiError("bad_request", `body must be JSON (Content-Type: application/json): ${shape}`);
    }
    try {
      await c.req.json();
    } catch {
      throw new ApiError("bad_request", `body must be JSON: ${shape}`);
    }
    await next();
  };

/**
 * Request validation pieces the edge's routes share. Each route validates with hono's
 * validator middleware (`zValidator(target, schema, rejectInvalid)`); `rejectInvalid`
 * (edge/core/validation.ts) turns the first issue into the one error envelope.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { z } from "zod";
import { ApiError } from "#core/errors.ts";
import { rejectInvalid } from "#core/validation.ts";
import type { AppEnv } from "./env.ts";

/**
 * A router for the public API's operations (edge/src/api/contract.ts): `.openapi(route, handler)`
 * validates the route's query and path parameters with its zod schemas, and a failure leaves
 * through rejectInvalid as the 400 envelope, never zod-openapi's default answer.
 */
export const apiRouter = () => new OpenAPIHono<AppEnv>({ defaultHook: rejectInvalid });

/**
 * A whole number written in plain decimal digits, nothing else: `0x10`, `1e1`, `+5`, ` 5`,
 * `5.0`, `05` and a repeated parameter are refused (a number coercion accepted the first five).
 */
export const strictInt = (min: number, max: number) =>
  z
    .string("must be one whole number")
    .regex(/^(0|[1-9][0-9]{0,8})$/, "must be a whole number in plain decimal digits")
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

/** `?limit=`: 1–100, default 20 (feed, trending, suggestions). */
export const pageLimit = strictInt(1, 100).default(20).meta({
  description: "Page size: a whole number 1–100 in plain decimal digits.",
  type: "integer",
  minimum: 1,
  maximum: 100,
  default: 20,
});

const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/i;

/** Whether the request says its body is JSON (`application/json`, `application/…+json`, parameters allowed). */
export function isJsonContentType(header: string | undefined): boolean {
  return JSON_MEDIA_TYPE.test((header ?? "").split(";")[0]?.trim() ?? "");
}

/**
 * For the forwarded writes: a request that carries a body must label it JSON (415 otherwise).
 * Runs after limitBody, which has read the body, so the 415 never leaves with it unread.
 */
export const jsonIfBody =
  (shape = "a JSON object"): MiddlewareHandler<AppEnv> =>
  async (c, next) => {
    const bytes = c.req.raw.body ? (await c.req.arrayBuffer()).byteLength : 0;
    if (bytes > 0 && !isJsonContentType(c.req.header("content-type"))) {
      throw new ApiError("unsupported_media_type", `body must be JSON (Content-Type: application/json): ${shape}`);
    }
    await next();
  };

/**
 * Requires a JSON body and parses it (hono caches it for the json validator that follows).
 * Without this the validator would validate `{}` for a body not labelled JSON and answer a
 * malformed one with its own words; here a body not labelled JSON is a 415 and a malformed
 * one a 400, both showing the expected `shape`.
 */
export const jsonBody =
  (shape: string): MiddlewareHandler<AppEnv> =>
  async (c, next) => {
    if (!isJsonContentType(c.req.header("content-type"))) {
      throw new ApiError("unsupported_media_type", `body must be JSON (Content-Type: application/json): ${shape}`);
    }
    try {
      await c.req.json();
    } catch {
      throw new ApiError("bad_request", `body must be JSON: ${shape}`);
    }
    await next();
  };

/**
 * The one way a failed schema check becomes the error envelope: a 400 `bad_request` whose
 * message names the first problem as `<field path>: <zod message>` (or `<what>: …` when the
 * problem is the whole value). Used by hono's validator middleware (`@hono/zod-validator`) at
 * the edge, the origin and the benchmark's baseline, and by hand-parsed bodies.
 */
import { ApiError } from "./errors.ts";

/** The part of a zod issue the message is built from (structural, so any zod version fits). */
export interface SchemaIssue {
  readonly path: readonly PropertyKey[];
  readonly message: string;
}

/** A 400 naming the first issue; `what` stands in for an empty path ("query", "body"…). */
export function firstIssueError(issues: readonly SchemaIssue[], what: string): ApiError {
  const issue = issues[0];
  const path = issue?.path.map(String).join(".");
  return new ApiError("bad_request", `${path || what}: ${issue?.message ?? "invalid"}`);
}

/** What a validator middleware passes its hook (`@hono/zod-validator`'s result shape). */
export interface ValidationResult {
  readonly success: boolean;
  readonly error?: { readonly issues: readonly SchemaIssue[] };
  readonly target: string;
}

/** The names a request part goes by in messages (hono's `json` target is the body). */
const TARGET_NAMES: Record<string, string> = { json: "body", param: "path", query: "query", header: "headers" };

/**
 * The shared validator hook: `zValidator("query", schema, rejectInvalid)`. Throws on failure so
 * the answer leaves through the app's one error handler; on success the validator goes on.
 */
export function rejectInvalid(result: ValidationResult): void {
  if (result.success) return;
  throw firstIssueError(result.error?.issues ?? [], TARGET_NAMES[result.target] ?? result.target);
}

/**
 * The one UUID check of the project (path ids, event ids, token subjects, CDC columns). Either
 * case is accepted, as RFC 4122 allows; whoever keeps an id stores its lowercase form.
 */
import { z } from "zod";

/** A UUID in its 8-4-4-4-12 hex text form, either case. Any version (seeded ids are not v4). */
export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The schema form of UUID_RE; its message is what a 400 shows after the field name. */
export const uuidSchema = z
  .string()
  .regex(UUID_RE, "must be a UUID")
  // For the OpenAPI document only (the regex above is the check): JSON Schema's pattern has no flags.
  .meta({ format: "uuid", pattern: "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$" });

export function isUuid(value: string): boolean {
  return UUID_RE.test(value);
}

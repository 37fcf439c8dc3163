/**
 * POST /api/v1/events: validated, per-event rejection reasons, server receive time, event ids
 * generated where absent, the user from the token only; the writes are the core's intake plan
 * (edge/core/events/intake.ts): one round trip, two when an event takes its experiment from the
 * viewer's snapshot pointer (read first). 202 means the events are in Redis: from there the
 * relay moves them to Kafka without losing any.
 */
import { zValidator } from "@hono/zod-validator";
import type { z } from "zod";
import { ApiError } from "#core/errors.ts";
import { planIntake } from "#core/events/intake.ts";
import { acceptEvents, eventsEnvelopeSchema, MAX_EVENTS_BODY_BYTES } from "#core/events/schema.ts";
import { rejectInvalid } from "#core/validation.ts";
import { operations } from "../api/contract.ts";
import { limitBody, requireUser } from "../middleware.ts";
import { routeLimit } from "../ratelimit.ts";
import { upstashExec } from "../redis-exec.ts";
import { apiRouter, jsonBody } from "../validation.ts";

/** The body's checks, in this order: 413 over the limit, 415 not JSON, 400 malformed or not the envelope. */
const bodyChecks = [
  limitBody(MAX_EVENTS_BODY_BYTES),
  jsonBody('{"events": [...]}'),
  zValidator("json", eventsEnvelopeSchema, rejectInvalid),
] as const;

export const eventsRoutes = apiRouter().openapi(
  { ...operations.postEvents, middleware: [requireUser(), routeLimit("events"), ...bodyChecks] as const },
  async (c) => {
    const userId = c.get("userId");
    const now = Date.now();
    const body = c.req.valid("json" as never) as z.output<typeof eventsEnvelopeSchema>;
    const { records, rejected } = acceptEvents(body.events, userId, now, () => crypto.randomUUID());
    if (records.length === 0) {
      throw new ApiError("bad_request", "no valid events", rejected);
    }
    try {
      // Raw replies: the pointer is read as the JSON text it is stored as.
      const exec = upstashExec(c.var.clients.rawRedis);
      const plan = planIntake(c.var.config.events.stream, userId, records);
      const replies = plan.reads.length ? await exec(plan.reads) : [];
      await exec(plan.writes(replies));
    } catch (err) {
      throw new ApiError("unavailable", "event store unavailable; retry later", undefined, { cause: err });
    }
    c.get("logFields").events = { accepted: records.length, rejected: rejected.length };
    return c.json({ accepted: records.length, rejected }, 202);
  },
);

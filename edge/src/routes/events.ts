/**
 * POST /api/v1/events: validated, per-event rejection reasons, server receive time, event ids
 * generated where absent, the user from the token only, everything appended to the Redis stream
 * in one round trip (impressions also mark the post seen). 202 means the events are in Redis:
 * from there the relay moves them to Kafka without losing any.
 */
import { zValidator } from "@hono/zod-validator";
import type { z } from "zod";
import {
  ApiError,
  acceptEvents,
  EVENT_BATCH_STREAM_FIELD,
  encodeBatchForTagging,
  eventsEnvelopeSchema,
  FEED_VERSION_TTL_S,
  feedVersionKey,
  MAX_EVENTS_BODY_BYTES,
  rejectInvalid,
  SEEN_TTL_S,
  seenKey,
  snapshotPointerKey,
  XADD_WITH_EXPERIMENT_TAGS_LUA,
} from "../../core/index.ts";
import { operations } from "../api/contract.ts";
import { limitBody, requireUser } from "../middleware.ts";
import { routeLimit } from "../ratelimit.ts";
import { apiRouter, jsonBody } from "../validation.ts";

/** How many seen posts per user are kept (newest first). */
const MAX_SEEN_PER_USER = 5000;

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
    const { redis } = c.var.clients;

    // One round trip: one stream entry holding the whole batch, plus the seen-set update for
    // impressions. The relay turns the entry back into one Kafka message per event. Events that
    // name no experiment take the one of the viewer's newest snapshot: a script in the same
    // pipeline reads the pointer and fills the tags in as it appends (no extra round trip).
    const p = redis.pipeline();
    const stream = c.var.config.events.stream;
    const batch = encodeBatchForTagging(records);
    if (batch.tagged) {
      p.eval(
        XADD_WITH_EXPERIMENT_TAGS_LUA,
        [stream, snapshotPointerKey(userId)],
        [EVENT_BATCH_STREAM_FIELD, batch.body],
      );
    } else {
      p.xadd(stream, "*", { [EVENT_BATCH_STREAM_FIELD]: batch.body });
    }
    const impressions = records.filter((r) => r.type === "impression");
    if (impressions.length) {
      const key = seenKey(userId);
      const [first, ...rest] = impressions.map((r) => ({ score: r.received_at, member: r.post_id }));
      p.zadd(key, first as { score: number; member: string }, ...rest);
      p.zremrangebyrank(key, 0, -(MAX_SEEN_PER_USER + 1));
      p.expire(key, SEEN_TTL_S);
    }
    // The viewer's own signals show in their next new session at once: a newer feed version
    // keeps their last snapshot from being reused (see SNAPSHOT_REUSE_MS).
    if (records.some((r) => r.type === "impression" || r.type === "share" || r.type === "click")) {
      p.incr(feedVersionKey(userId));
      p.expire(feedVersionKey(userId), FEED_VERSION_TTL_S);
    }
    try {
      await p.exec();
    } catch (err) {
      throw new ApiError("unavailable", "event store unavailable; retry later", undefined, { cause: err });
    }
    c.get("logFields").events = { accepted: records.length, rejected: rejected.length };
    return c.json({ accepted: records.length, rejected }, 202);
  },
);

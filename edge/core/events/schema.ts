/**
 * User-behaviour events: the intake schema the edge validates, and the record that travels
 * edge → Redis stream → Kafka `events` → ClickHouse `events_raw`.
 */
import { z } from "zod";
import { EXPERIMENT_NAME_RE, VARIANT_NAME_RE } from "../experiments/schema.ts";
import { uuidSchema as uuid } from "../uuid.ts";

export const EVENT_TYPES = ["impression", "view", "click", "share", "dwell"] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** At most this many events per intake request. */
export const MAX_EVENTS_PER_REQUEST = 500;
/** At most this many bytes per intake request body. */
export const MAX_EVENTS_BODY_BYTES = 256 * 1024;
/** Client timestamps further than this from the server's clock are refused. */
export const MAX_CLOCK_SKEW_MS = 7 * 24 * 3600 * 1000;

/**
 * The ranking experiment and variant an event happened under (issue 17): optional, the names'
 * slugs (edge/core/experiments/schema.ts). The edge fills them in from the served snapshot when the
 * client leaves them out.
 */
const experimentTag = z.string().regex(EXPERIMENT_NAME_RE, "must be an experiment name (a lowercase slug)");
const variantTag = z.string().regex(VARIANT_NAME_RE, "must be a variant name (a lowercase slug)");

/** One event as a client sends it. `ts` is epoch ms or an ISO-8601 string. */
export const clientEventSchema = z
  .object({
    event_id: uuid.optional(),
    type: z.enum(EVENT_TYPES),
    post_id: uuid,
    ts: z.union([z.number().int().nonnegative(), z.string().datetime({ offset: true })]).optional(),
    dwell_ms: z
      .number()
      .int()
      .min(0)
      .max(24 * 3600 * 1000)
      .optional(),
    experiment: experimentTag.optional(),
    variant: variantTag.optional(),
  })
  .strict();
export type ClientEvent = z.infer<typeof clientEventSchema>;

/**
 * Layout of the edge's event stream entries: the edge writes one entry per accepted request
 * with the JSON array of its records in field "b" (one XADD instead of one per event); the
 * relay also reads single-event entries (field "e") written by older edges or by hand.
 */
export const EVENT_BATCH_STREAM_FIELD = "b";
export const EVENT_STREAM_FIELD = "e";

/** The record relayed to Kafka and stored in ClickHouse; all times are epoch ms. */
export const eventRecordSchema = z
  .object({
    event_id: uuid,
    user_id: uuid,
    post_id: uuid,
    type: z.enum(EVENT_TYPES),
    client_ts: z.number().int().nonnegative(),
    received_at: z.number().int().nonnegative(),
    dwell_ms: z.number().int().min(0).default(0),
    experiment: experimentTag.optional(),
    variant: variantTag.optional(),
  })
  .strict();
export type EventRecord = z.infer<typeof eventRecordSchema>;

export interface Rejection {
  index: number;
  error: string;
}

/** The body of POST /api/v1/events: each event is validated on its own (acceptEvents). */
export const eventsEnvelopeSchema = z.object({
  events: z
    .array(z.unknown())
    .min(1, "events must contain at least one event")
    .max(MAX_EVENTS_PER_REQUEST, `at most ${MAX_EVENTS_PER_REQUEST} events per request`),
});

/**
 * Validates each event of a request and builds the records to append; the user comes from the
 * token, never the body. Used by the edge's intake and by the benchmark's baseline.
 */
export function acceptEvents(
  raw: unknown[],
  userId: string,
  nowMs: number,
  newId: () => string,
): { records: EventRecord[]; rejected: Rejection[] } {
  const records: EventRecord[] = [];
  const rejected: Rejection[] = [];
  raw.forEach((item, index) => {
    const parsed = clientEventSchema.safeParse(item);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      rejected.push({ index, error: `${issue?.path.join(".") || "event"}: ${issue?.message ?? "invalid"}` });
      return;
    }
    const e: ClientEvent = parsed.data;
    const clientTs = e.ts === undefined ? nowMs : typeof e.ts === "number" ? e.ts : Date.parse(e.ts);
    if (Math.abs(clientTs - nowMs) > MAX_CLOCK_SKEW_MS) {
      rejected.push({ index, error: "ts: more than 7 days away from the server's clock" });
      return;
    }
    if (e.type === "dwell" && e.dwell_ms === undefined) {
      rejected.push({ index, error: "dwell_ms: required for a dwell event" });
      return;
    }
    records.push({
      event_id: (e.event_id ?? newId()).toLowerCase(),
      user_id: userId,
      post_id: e.post_id.toLowerCase(),
      type: e.type,
      client_ts: clientTs,
      received_at: nowMs,
      dwell_ms: e.dwell_ms ?? 0,
      // Only when given: a record without them stays byte-for-byte what it was.
      ...(e.experiment !== undefined ? { experiment: e.experiment } : {}),
      ...(e.variant !== undefined ? { variant: e.variant } : {}),
    });
  });
  return { records, rejected };
}

// ---------------------------------------------------------------------------------------------
// Experiment attribution at intake (issue 17)

/**
 * Marks, in a batch's JSON, where a record without `experiment`/`variant` takes the tag of the
 * viewer's newest snapshot. It cannot occur anywhere else in the JSON: every string of a record
 * is a UUID, an event type or a slug.
 */
export const EXPERIMENT_TAG_PLACEHOLDER = "#X#";

/**
 * The batch as the stream entry's JSON, with the placeholder just before the closing brace of
 * each record that names neither an experiment nor a variant (a client that echoes the feed's
 * `experiment` keeps its own). `tagged` says whether any record carries the placeholder.
 */
export function encodeBatchForTagging(records: readonly EventRecord[]): { body: string; tagged: boolean } {
  let tagged = false;
  const parts = records.map((r) => {
    const json = JSON.stringify(r);
    if (r.experiment !== undefined || r.variant !== undefined) return json;
    tagged = true;
    return `${json.slice(0, -1)}${EXPERIMENT_TAG_PLACEHOLDER}}`;
  });
  return { body: `[${parts.join(",")}]`, tagged };
}

/**
 * The tag of a snapshot pointer's JSON (SnapshotPointer: `"experiment":{"experiment":"…",
 * "variant":"…"}`): the text each placeholder becomes, "" when the pointer is missing or names
 * no experiment. (The intake reads the pointer first, then fills the tags here: intake.ts.)
 */
export function experimentTagOf(pointerJson: string | null): string {
  if (!pointerJson) return "";
  const e = /"experiment":"([a-z0-9][a-z0-9-]*)"/.exec(pointerJson)?.[1];
  const v = /"variant":"([a-z0-9][a-z0-9-]*)"/.exec(pointerJson)?.[1];
  return e && v ? `,"experiment":"${e}","variant":"${v}"` : "";
}

/** The batch with every placeholder replaced (what the intake appends to the stream). */
export function fillExperimentTags(body: string, pointerJson: string | null): string {
  return body.split(EXPERIMENT_TAG_PLACEHOLDER).join(experimentTagOf(pointerJson));
}

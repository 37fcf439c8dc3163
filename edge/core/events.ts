/**
 * User-behaviour events: the intake schema the edge validates, and the record that travels
 * edge → Redis stream → Kafka `events` → ClickHouse `events_raw`.
 */
import { z } from "zod";

export const EVENT_TYPES = ["impression", "view", "click", "share", "dwell"] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** At most this many events per intake request. */
export const MAX_EVENTS_PER_REQUEST = 500;
/** At most this many bytes per intake request body. */
export const MAX_EVENTS_BODY_BYTES = 256 * 1024;
/** Client timestamps further than this from the server's clock are refused. */
export const MAX_CLOCK_SKEW_MS = 7 * 24 * 3600 * 1000;

const uuid = z
  .string()
  .regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, "must be a UUID");

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
  })
  .strict();
export type EventRecord = z.infer<typeof eventRecordSchema>;

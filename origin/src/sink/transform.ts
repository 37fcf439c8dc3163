/**
 * Pure transforms of the ClickHouse sink: a Kafka message in, a ClickHouse row out, or a
 * DeadLetter naming why the message cannot be used. No I/O here.
 */

import type { CountableEvent } from "#core/events/counting.ts";
import { type EventType, eventRecordSchema } from "#core/events/schema.ts";
import { chDateTime64, msFromChDateTime64 } from "#core/sql/clickhouse-time.ts";
import type { CdcTable } from "#core/topics.ts";
import { isUuid } from "#core/uuid.ts";

export class DeadLetter extends Error {
  override readonly name = "DeadLetter";
}

type ColumnKind = "uuid" | "string" | "ts" | "nts";
interface TableSpec {
  /** Columns identifying a row (its ClickHouse ordering key, in order). */
  keys: string[];
  columns: Record<string, ColumnKind>;
}

const TIMES = { created_at: "ts", updated_at: "ts", deleted_at: "nts" } as const;

/** The PostgreSQL columns mirrored into each `<table>_cdc`. */
export const CDC_SPECS: Record<CdcTable, TableSpec> = {
  users: { keys: ["id"], columns: { id: "uuid", handle: "string", display_name: "string", bio: "string", ...TIMES } },
  posts: {
    keys: ["author_id", "created_at", "id"],
    columns: { id: "uuid", author_id: "uuid", text: "string", ...TIMES },
  },
  follows: { keys: ["follower_id", "followee_id"], columns: { follower_id: "uuid", followee_id: "uuid", ...TIMES } },
  likes: {
    keys: ["post_id", "user_id"],
    columns: { user_id: "uuid", post_id: "uuid", post_author_id: "uuid", ...TIMES },
  },
  comments: {
    keys: ["post_id", "id"],
    columns: { id: "uuid", post_id: "uuid", author_id: "uuid", post_author_id: "uuid", text: "string", ...TIMES },
  },
  blocks: { keys: ["blocker_id", "blocked_id"], columns: { blocker_id: "uuid", blocked_id: "uuid", ...TIMES } },
};

export type ChRow = Record<string, string | number | null>;

export interface CdcRow {
  table: CdcTable;
  /** The row to insert; `_sign` is filled in by `sequenceChanges`. */
  row: ChRow;
  /** The row's identity (its ordering-key values joined by "|"), as ClickHouse prints them. */
  key: string;
  /** The change's LSN. */
  version: number;
  /** 1 when the row exists and is not soft-deleted after this change. */
  live: number;
}

/** What ClickHouse already holds for a key: the latest version and whether it is live. */
export interface KeyState {
  version: number;
  live: number;
}

/**
 * Orders a batch's changes against what ClickHouse already holds, key by key: a change whose
 * version is not newer than the latest known one is a redelivery or a stale replay (a
 * re-snapshot after a lost connector offset, say) and is skipped; every other change gets
 * `_sign` = its liveness minus the previous state's, so the counting views see each real
 * change once whatever Kafka Connect or the sink replays.
 */
export function sequenceChanges(
  changes: CdcRow[],
  known: ReadonlyMap<string, KeyState>,
): { rows: ChRow[]; skipped: number } {
  const current = new Map(known);
  const rows: ChRow[] = [];
  let skipped = 0;
  for (const c of changes) {
    const prev = current.get(c.key);
    if (prev && c.version <= prev.version) {
      skipped++;
      continue;
    }
    c.row._sign = c.live - (prev?.live ?? 0);
    current.set(c.key, { version: c.version, live: c.live });
    rows.push(c.row);
  }
  return { rows, skipped };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function convert(table: CdcTable, image: Record<string, unknown>): ChRow {
  const out: ChRow = {};
  for (const [col, kind] of Object.entries(CDC_SPECS[table].columns)) {
    const v = image[col];
    if (kind === "uuid") {
      if (typeof v !== "string" || !isUuid(v)) throw new DeadLetter(`${table}.${col}: expected a UUID`);
      // The one UUID check (edge/core/uuid.ts) takes either case; ids are kept lowercase.
      out[col] = v.toLowerCase();
    } else if (kind === "string") {
      if (typeof v !== "string") throw new DeadLetter(`${table}.${col}: expected a string`);
      out[col] = v;
    } else {
      if (v === null && kind === "nts") {
        out[col] = null;
        continue;
      }
      // Debezium sends timestamptz as an ISO-8601 string (ZonedTimestamp).
      const ms = typeof v === "string" ? Date.parse(v) : Number.NaN;
      if (!Number.isFinite(ms)) throw new DeadLetter(`${table}.${col}: expected an ISO-8601 timestamp`);
      out[col] = chDateTime64(ms);
    }
  }
  return out;
}

/**
 * A Debezium change event (JSON converter, schemas disabled, full envelope) → a CDC row with
 * its key, version (LSN) and liveness. Deletes use the before image (REPLICA IDENTITY FULL makes
 * it complete). Returns null for a tombstone.
 */
export function cdcRow(table: CdcTable, value: unknown): CdcRow | null {
  if (value === null) return null;
  if (!isObject(value)) throw new DeadLetter("not a JSON object");
  const { op, before, after, source } = value;
  if (op === "t") throw new DeadLetter("TRUNCATE is not replicated; resnapshot the table instead");
  if (op !== "c" && op !== "u" && op !== "d" && op !== "r") throw new DeadLetter(`unknown op ${JSON.stringify(op)}`);
  if (!isObject(source)) throw new DeadLetter("missing source block");
  const lsn = source.lsn;
  const tsMs = source.ts_ms;
  if (typeof lsn !== "number" || !Number.isSafeInteger(lsn) || lsn < 0) throw new DeadLetter("missing source.lsn");
  if (typeof tsMs !== "number" || !Number.isFinite(tsMs)) throw new DeadLetter("missing source.ts_ms");
  const image = op === "d" ? before : after;
  if (!isObject(image)) throw new DeadLetter(`op ${op} without its ${op === "d" ? "before" : "after"} image`);
  const row = convert(table, image);
  row._version = lsn;
  row._is_deleted = op === "d" ? 1 : 0;
  row._sign = 0;
  row._source_ts = chDateTime64(tsMs);
  const key = CDC_SPECS[table].keys.map((k) => row[k]).join("|");
  const live = op !== "d" && row.deleted_at === null ? 1 : 0;
  return { table, row, key, version: lsn, live };
}

/** An events_raw row as the sink builds it; `author_id` and `counted` are settled by the sink. */
export type EventRow = ChRow & {
  event_id: string;
  user_id: string;
  post_id: string;
  author_id: string;
  type: EventType;
  received_at: string;
  counted: number;
};

/** A relayed event record → an events_raw row (author and counted flag resolved later by the sink). */
export function eventRow(value: unknown): EventRow {
  const parsed = eventRecordSchema.safeParse(value);
  if (!parsed.success) {
    throw new DeadLetter(parsed.error.issues.map((i) => `${i.path.join(".") || "event"}: ${i.message}`).join("; "));
  }
  const e = parsed.data;
  return {
    event_id: e.event_id.toLowerCase(),
    user_id: e.user_id.toLowerCase(),
    post_id: e.post_id.toLowerCase(),
    author_id: ZERO_UUID,
    type: e.type,
    dwell_ms: e.dwell_ms,
    counted: 1,
    client_ts: chDateTime64(e.client_ts),
    received_at: chDateTime64(e.received_at),
    // The ranking experiment and variant (clickhouse/0005), only when the event carries them:
    // an omitted column takes its default ('').
    ...(e.experiment !== undefined ? { experiment: e.experiment } : {}),
    ...(e.variant !== undefined ? { variant: e.variant } : {}),
  };
}

/** The fields of an events_raw row the counting rule reads (edge/core/events/counting.ts). */
export function countable(r: EventRow): CountableEvent {
  return {
    user_id: r.user_id,
    post_id: r.post_id,
    type: r.type,
    received_at_ms: msFromChDateTime64(r.received_at),
  };
}

export const ZERO_UUID = "00000000-0000-0000-0000-000000000000";

/** Parses a Kafka message value as JSON; null for an empty value (tombstone). */
export function parseJson(buf: Buffer | null): unknown {
  if (buf === null || buf.length === 0) return null;
  try {
    return JSON.parse(buf.toString("utf8"));
  } catch (err) {
    throw new DeadLetter(`invalid JSON: ${(err as Error).message}`);
  }
}

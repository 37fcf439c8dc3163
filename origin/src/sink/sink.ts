/**
 * Kafka → ClickHouse sink: one consumer group reads `cdc.*` and `events`, turns each batch
 * into rows (transform.ts), checks them against what ClickHouse already holds (one lookup per
 * batch: the latest version and liveness per key, or the event ids present), inserts only the
 * new ones, and only then commits the batch's offsets. A crash anywhere redelivers the batch,
 * and a Connect restart may replay changes or re-snapshot; both are skipped or counted as no
 * change, so the materialized views that count see every real change exactly once. A message that cannot be used goes to `dead_letters` with its reason and
 * the pipeline goes on. When ClickHouse is down the batch is retried with backoff (heartbeats
 * keep the partition assigned); nothing is committed until it lands. A failure no retry can fix
 * (retry.ts) is thrown to kafkajs, which redelivers the batch, still uncommitted.
 */
import type { ClickHouseClient } from "@clickhouse/client";
import type { EachBatchPayload, Kafka, KafkaMessage } from "kafkajs";
import type { Logger } from "pino";
import { CDC_TABLES, type CdcTable, cdcTopic, decideCounted, EVENTS_TOPIC } from "../../../edge/core/index.ts";
import { ResilientConsumer } from "../kafka/resilient-consumer.ts";
import type { Part, PartHealth } from "../lifecycle.ts";
import { staleKeys } from "./invalidation.ts";
import {
  CDC_SPECS,
  type CdcRow,
  type ChRow,
  cdcRow,
  countable,
  DeadLetter,
  type EventRow,
  eventRow,
  parseJson,
  sequenceChanges,
} from "./transform.ts";

export interface SinkOptions {
  /** Consumer group id. Default clickhouse-sink. */
  groupId?: string;
  /** Prefix of every topic name (KAFKA_TOPIC_NAMESPACE). Default "". */
  topicNamespace?: string;
  /** Partitions processed at once. Default 3. */
  concurrency?: number;
  /**
   * A consumer that has neither fetched nor worked on a batch for this long is replaced by a
   * fresh one (kafkajs consumers can hang after a broker restart without crashing). Default 30 s.
   */
  stallMs?: number;
  /** Called with cache keys made stale by changes now visible in ClickHouse (best effort). */
  invalidate?: (keys: string[]) => Promise<void>;
}

export interface SinkStats {
  batches: number;
  rowsInserted: number;
  duplicatesSkipped: number;
  deadLetters: number;
  /** Waits before another attempt: of a batch's ClickHouse writes (`insert`), of a fresh consumer (`reopen`). */
  retries: { insert: number; reopen: number };
  /** Consumer crashes seen (each followed by kafkajs's own restart or a reopen). */
  crashes: number;
  /** Times the watchdog replaced a consumer that had stopped fetching. */
  stalls: number;
  /** Commit → visible-in-ClickHouse lag of the last inserted row, by topic. */
  lastLagMs: Record<string, number>;
  lastBatchAt: number | null;
}

interface DeadRow extends ChRow {
  topic: string;
  partition: number;
  offset: number;
  key: string;
  value: string;
  error: string;
}

export class ClickHouseSink implements Part {
  readonly name = "clickhouse-sink";
  private readonly own = {
    batches: 0,
    rowsInserted: 0,
    duplicatesSkipped: 0,
    deadLetters: 0,
    insertRetries: 0,
    lastLagMs: {} as Record<string, number>,
    lastBatchAt: null as number | null,
  };
  private readonly consumer: ResilientConsumer;
  private readonly topicToTable: Map<string, CdcTable>;

  constructor(
    kafka: Kafka,
    private readonly ch: ClickHouseClient,
    private readonly log: Logger,
    private readonly opts: SinkOptions = {},
  ) {
    const ns = opts.topicNamespace ?? "";
    this.topicToTable = new Map(CDC_TABLES.map((t) => [ns + cdcTopic(t), t]));
    this.consumer = new ResilientConsumer(kafka, log, {
      groupId: opts.groupId ?? "clickhouse-sink",
      topics: [...this.topicToTable.keys(), ns + EVENTS_TOPIC],
      concurrency: opts.concurrency,
      stallMs: opts.stallMs,
      eachBatch: (payload) => this.handleBatch(payload),
    });
  }

  get stats(): SinkStats {
    const { insertRetries, ...own } = this.own;
    const c = this.consumer.stats;
    return {
      ...own,
      retries: { insert: insertRetries, reopen: c.reopenRetries },
      crashes: c.crashes,
      stalls: c.stalls,
    };
  }

  start(): Promise<void> {
    return this.consumer.start();
  }

  stop(): Promise<void> {
    return this.consumer.stop();
  }

  health(): PartHealth {
    const f = this.consumer.failure;
    return { ok: this.consumer.ok, detail: f ? { ...this.stats, error: f } : this.stats };
  }

  private async handleBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    if (batch.messages.length === 0) return;
    const { topic, partition } = batch;
    const table = this.topicToTable.get(topic);
    const cdc: CdcRow[] = [];
    const events: EventRow[] = [];
    const dead: DeadRow[] = [];
    for (const m of batch.messages) {
      try {
        const value = parseJson(m.value);
        if (table) {
          const r = cdcRow(table, value);
          if (r) cdc.push(r);
        } else if (value !== null) {
          events.push(eventRow(value));
        }
      } catch (err) {
        if (!(err instanceof DeadLetter)) throw err;
        dead.push(deadRow(topic, partition, m, err.message));
      }
    }
    // ClickHouse down: hold the batch until it lands.
    const last = await this.consumer.land(
      payload,
      async () => {
        if (table) await this.writeCdc(table, cdc);
        else await this.writeEvents(events);
        if (dead.length) await this.insert("dead_letters", dead);
      },
      ({ error, attempt, waitMs }) => {
        this.own.insertRetries++;
        const e = error as Error & { code?: string };
        this.log.warn(
          { topic, partition, attempt, waitMs, err: e.message || e.name, code: e.code, cause: String(e.cause ?? "") },
          "sink insert failed; retrying",
        );
      },
    );
    this.own.deadLetters += dead.length;
    if (dead.length)
      this.log.warn({ topic, partition, count: dead.length, first: dead[0]?.error }, "dead-lettered messages");
    if (!last) return;
    this.own.batches++;
    this.own.lastBatchAt = Date.now();
    this.own.lastLagMs[topic] = Date.now() - Number(last.timestamp);
  }

  private async writeCdc(table: CdcTable, changes: CdcRow[]): Promise<void> {
    if (changes.length === 0) return;
    const spec = CDC_SPECS[table];
    const target = `${table}_cdc`;
    // The latest version and liveness ClickHouse holds for each key in the batch. Filtering on
    // the first ordering-key column (a UUID in every table) keeps the lookup on the primary
    // index; DateTime64 keys print as "YYYY-MM-DD hh:mm:ss.mmm", as transform.ts writes them.
    const firstKey = spec.keys[0] as string;
    const keyExpr = spec.keys.map((k) => `toString(${k})`).join(", '|', ");
    const found = await this.lookup<{ k: string; v: string; live: number }>(
      `SELECT concat(${keyExpr}) AS k, max(_version) AS v,
         argMax(toUInt8(_is_deleted = 0 AND deleted_at IS NULL), _version) AS live
       FROM {t:Identifier} WHERE ${firstKey} IN {ids:Array(UUID)} GROUP BY k`,
      target,
      [...new Set(changes.map((c) => String(c.row[firstKey])))],
    );
    const known = new Map(found.map((r) => [r.k, { version: Number(r.v), live: Number(r.live) }]));
    const { rows, skipped } = sequenceChanges(changes, known);
    this.own.duplicatesSkipped += skipped;
    if (rows.length === 0) return;
    await this.insert(target, rows);
    if (this.opts.invalidate) {
      const keys = [...new Set(rows.flatMap((r) => staleKeys(table, r)))];
      if (keys.length) {
        await this.opts.invalidate(keys).catch((err: unknown) => {
          this.log.warn({ err: (err as Error).message, keys: keys.length }, "cache invalidation failed");
        });
      }
    }
  }

  /**
   * Inserts the batch's new events, each with its post's author and its `counted` flag (the
   * abuse bound, edge/core/counting.ts), decided against what already counted: the keys in
   * `event_counted_keys` for the batch's users and posts. Events of one user share a
   * partition, so no other batch decides for the same user at the same time; a redelivered
   * batch finds its own events present and skips them.
   */
  private async writeEvents(rows: EventRow[]): Promise<void> {
    const unique = dedupeBy(rows, (r) => r.event_id);
    if (unique.length === 0) return;
    const ids = unique.map((r) => r.event_id);
    const postIds = [...new Set(unique.map((r) => r.post_id))];
    const [existing, authors] = await Promise.all([
      this.lookup<{ id: string }>(
        "SELECT toString(event_id) AS id FROM {t:Identifier} WHERE event_id IN {ids:Array(UUID)}",
        "events_raw",
        ids,
      ),
      // The aliases must not shadow `id`: ClickHouse resolves an alias inside WHERE.
      this.lookup<{ pid: string; author: string }>(
        "SELECT toString(id) AS pid, toString(author_id) AS author FROM {t:Identifier} WHERE id IN {ids:Array(UUID)}",
        "posts_by_id",
        postIds,
      ),
    ]);
    const present = new Set(existing.map((r) => r.id));
    const authorOf = new Map(authors.map((a) => [a.pid, a.author]));
    const fresh = unique.filter((r) => !present.has(r.event_id));
    this.own.duplicatesSkipped += rows.length - fresh.length;
    if (fresh.length === 0) return;
    const counted = await this.countedKeys(fresh);
    const flags = decideCounted(fresh.map(countable), (p) => authorOf.get(p), counted);
    fresh.forEach((r, i) => {
      r.author_id = authorOf.get(r.post_id) ?? r.author_id;
      r.counted = flags[i] ? 1 : 0;
    });
    await this.insert("events_raw", fresh);
  }

  /** The keys (`user|post|type|day`) that already counted for these events' users and posts. */
  private async countedKeys(rows: EventRow[]): Promise<Set<string>> {
    const keys = new Set<string>();
    for (const part of chunks(rows, LOOKUP_CHUNK / 2)) {
      const rs = await this.ch.query({
        query: `SELECT concat(toString(user_id), '|', toString(post_id), '|', toString(type), '|', toString(day)) AS k
                FROM event_counted_keys
                WHERE user_id IN {users:Array(UUID)} AND post_id IN {posts:Array(UUID)}`,
        query_params: {
          users: [...new Set(part.map((r) => r.user_id))],
          posts: [...new Set(part.map((r) => r.post_id))],
        },
        format: "JSONEachRow",
      });
      for (const r of await rs.json<{ k: string }>()) keys.add(r.k);
    }
    return keys;
  }

  /** Runs a lookup `... IN {ids:Array(UUID)}` over `ids` in URL-sized chunks. */
  private async lookup<T>(query: string, table: string, ids: string[]): Promise<T[]> {
    const out: T[] = [];
    for (const part of chunks(ids)) {
      const rs = await this.ch.query({ query, query_params: { t: table, ids: part }, format: "JSONEachRow" });
      out.push(...(await rs.json<T>()));
    }
    return out;
  }

  private async insert(table: string, values: ChRow[]): Promise<void> {
    await this.ch.insert({ table, values, format: "JSONEachRow" });
    this.own.rowsInserted += values.length;
  }
}

/**
 * Lookups pass ids as query parameters, which travel in the URL: keep each under ~100 KB
 * (a real server allows 1 MiB by default).
 */
const LOOKUP_CHUNK = 2000;

function chunks<T>(items: T[], size = LOOKUP_CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function dedupeBy<T>(rows: T[], key: (r: T) => string): T[] {
  const seen = new Set<string>();
  return rows.filter((r) => {
    const k = key(r);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function deadRow(topic: string, partition: number, m: KafkaMessage, error: string): DeadRow {
  return {
    topic,
    partition,
    offset: Number(m.offset),
    key: m.key?.toString("utf8") ?? "",
    value: (m.value?.toString("utf8") ?? "").slice(0, 64 * 1024),
    error: error.slice(0, 1000),
  };
}

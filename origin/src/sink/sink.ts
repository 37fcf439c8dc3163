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
import { randomUUID } from "node:crypto";
import type { ClickHouseClient } from "@clickhouse/client";
import type { EachBatchPayload, Kafka, KafkaMessage } from "kafkajs";
import type { Logger } from "pino";
import { decideCounted } from "#core/events/counting.ts";
import { invalidationCommands } from "#core/feed/invalidation.ts";
import type { Command } from "#core/serving/read.ts";
import type { CdcTable } from "#core/topics.ts";
import { ConsumerPart, pipelineTopics } from "../kafka/consumer-part.ts";
import type { Lease } from "../lease.ts";
import { staleBy } from "./invalidation.ts";
import { SharedLock } from "./shared-lock.ts";
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
  ZERO_UUID,
} from "./transform.ts";

export interface SinkOptions {
  /** Consumer group id. Default clickhouse-sink. */
  groupId?: string;
  /** Prefix of every topic name (KAFKA_TOPIC_NAMESPACE). Default "". */
  topicNamespace?: string;
  /** Partitions processed at once. Default KAFKA_PARTITIONS_CONCURRENTLY (6). */
  concurrency?: number;
  /**
   * A consumer that has neither fetched nor worked on a batch for this long is replaced by a
   * fresh one (kafkajs consumers can hang after a broker restart without crashing). Default 30 s.
   */
  stallMs?: number;
  /**
   * Runs the invalidation plan (#core/feed/invalidation.ts) of changes now visible in ClickHouse,
   * best effort; the origin runs it as a plain pipeline (ioredisExec: every command names one
   * key, so no transaction and no slot to share). Default: none run.
   */
  invalidate?: (commands: Command[]) => Promise<unknown>;
  /**
   * How often events waiting for their post are looked at when nothing in this process says
   * a post arrived (another process inserted it). Default 5000 ms.
   */
  settleEveryMs?: number;
  /**
   * Held while settling events that came before their post, so that of several sink processes
   * one settles at a time (a settle decides counts for any user's events: two at once would both
   * count an event). Default: none (one process; the in-process lock alone).
   */
  settleLease?: Lease;
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
  /** Events inserted before their post was known, and those settled since (clickhouse/0006). */
  pending: { inserted: number; settled: number; failures: number };
}

/** What one attempt at a batch decided to insert, kept for the next attempt. */
interface BatchPlans {
  cdc?: CdcPlan;
  events?: EventsPlan;
}
interface CdcPlan {
  target: string;
  rows: ChRow[];
  token: string;
}
interface EventsPlan {
  fresh: EventRow[];
  noted: EventRow[];
  token: string;
}

interface DeadRow extends ChRow {
  topic: string;
  partition: number;
  offset: number;
  key: string;
  value: string;
  error: string;
}

export class ClickHouseSink extends ConsumerPart {
  readonly name = "clickhouse-sink";
  private readonly own = {
    batches: 0,
    rowsInserted: 0,
    duplicatesSkipped: 0,
    deadLetters: 0,
    insertRetries: 0,
    lastLagMs: {} as Record<string, number>,
    lastBatchAt: null as number | null,
    pending: { inserted: 0, settled: 0, failures: 0 },
  };
  /** Each topic's table; the events topic has none. */
  private readonly topicToTable: Map<string, CdcTable | null>;
  /**
   * Counting decisions (the abuse bound) read what already counted and then insert: a batch
   * of the events topic holds it shared (batches of different partitions have different users,
   * so they never decide for the same key), settling pending events holds it alone (those are
   * any user's). Across processes: the settle runs under `settleLease`, and a batch leaves every
   * event of a post with events still pending to the settle (writeEvents), so a batch in one
   * process and a settle in another never decide for the same key either.
   */
  private readonly deciding = new SharedLock();
  /** Set when events may be waiting for a post that is now known; cleared by a settle run. */
  private settleDirty = true;
  private settleSoon: ReturnType<typeof setTimeout> | null = null;
  private settleTicker: ReturnType<typeof setInterval> | null = null;
  private settling: Promise<void> | null = null;
  /** A settle's events_raw insert that did not land: the next settle run sends it again first. */
  private unsettledInsert: { rows: EventRow[]; token: string } | null = null;
  private stopped = false;

  constructor(
    kafka: Kafka,
    private readonly ch: ClickHouseClient,
    log: Logger,
    private readonly opts: SinkOptions = {},
  ) {
    const topics = pipelineTopics(opts.topicNamespace ?? "");
    super(kafka, log, {
      groupId: opts.groupId ?? "clickhouse-sink",
      topics: [...topics.keys()],
      concurrency: opts.concurrency,
      stallMs: opts.stallMs,
    });
    this.topicToTable = topics;
  }

  get stats(): SinkStats {
    const { insertRetries, ...own } = this.own;
    const c = this.consumerStats;
    return {
      ...own,
      retries: { insert: insertRetries, reopen: c.reopenRetries },
      crashes: c.crashes,
      stalls: c.stalls,
    };
  }

  override async start(): Promise<void> {
    this.stopped = false;
    this.settleTicker = setInterval(() => this.kickSettle(), this.opts.settleEveryMs ?? 5000);
    this.settleTicker.unref();
    await super.start();
    this.kickSettle();
  }

  override async stop(): Promise<void> {
    this.stopped = true;
    if (this.settleTicker) clearInterval(this.settleTicker);
    if (this.settleSoon) clearTimeout(this.settleSoon);
    this.settleTicker = this.settleSoon = null;
    await super.stop();
    await this.settling?.catch(() => {});
  }

  /**
   * Settles, soon, the events that arrived before their post: called when a post or such an
   * event was inserted, and periodically. Runs one at a time; a run that fails (ClickHouse
   * away) leaves the flag set for the next.
   */
  private kickSettle(): void {
    this.settleDirty = true;
    if (this.stopped || this.settleSoon || this.settling) return;
    this.settleSoon = setTimeout(() => {
      this.settleSoon = null;
      this.settling = this.settleLoop().finally(() => {
        this.settling = null;
        if (this.settleDirty && !this.stopped) this.kickSettle();
      });
    }, 50);
    this.settleSoon.unref?.();
  }

  private async settleLoop(): Promise<void> {
    while (this.settleDirty && !this.stopped) {
      this.settleDirty = false;
      try {
        const lease = this.opts.settleLease;
        const full = lease ? await lease.tryRun(() => this.settlePending()) : await this.settlePending();
        // null: another process settles now (its own ticker comes back for what is left).
        if (full) this.settleDirty = true;
      } catch (err) {
        this.own.pending.failures++;
        this.log.warn({ err: (err as Error).message }, "settling events that came before their post failed; retrying");
        this.settleDirty = true;
        return;
      }
    }
  }

  protected async handleBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
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
    // ClickHouse down: hold the batch until it lands. What an attempt decided to insert is kept
    // for the next attempt (`plans`), which sends those rows again with their tokens.
    const plans: BatchPlans = {};
    const last = await this.consumer.land(
      payload,
      async () => {
        if (table) await this.writeCdc(table, cdc, plans);
        else await this.writeEvents(events, plans);
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

  private async writeCdc(table: CdcTable, changes: CdcRow[], plans: BatchPlans = {}): Promise<void> {
    if (changes.length === 0) return;
    plans.cdc ??= await this.planCdc(table, changes);
    const { target, rows, token } = plans.cdc;
    if (rows.length === 0) return;
    await this.insert(target, rows, token);
    if (table === "posts") this.kickSettle();
    if (this.opts.invalidate) {
      const stale = staleBy(table, rows);
      const commands = invalidationCommands(stale);
      if (commands.length) {
        await this.opts.invalidate(commands).catch((err: unknown) => {
          const { feeds, suggestions } = stale;
          this.log.warn(
            { err: (err as Error).message, feeds: feeds.size, suggestions: suggestions.size },
            "cache invalidation failed",
          );
        });
      }
    }
  }

  /** The batch's changes ClickHouse does not hold yet (the rest are replays), with their insert's token. */
  private async planCdc(table: CdcTable, changes: CdcRow[]): Promise<CdcPlan> {
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
    return { target, rows, token: randomUUID() };
  }

  /**
   * Inserts the batch's new events, each with its post's author and its `counted` flag (the
   * abuse bound, edge/core/events/counting.ts), decided against what already counted: the keys in
   * `event_counted_keys` for the batch's users and posts. Events of one user share a
   * partition, so no other batch decides for the same user at the same time; a redelivered
   * batch finds its own events present and skips them.
   *
   * An event whose post ClickHouse does not know yet (it overtook the post's change) goes in
   * with the zero author and `counted = 0`, and waits in `events_pending` until the post
   * arrives (settlePending). Noted after the insert: a crash in between redelivers the batch,
   * which finds those events present with the zero author and notes them then.
   */
  private async writeEvents(rows: EventRow[], plans: BatchPlans = {}): Promise<void> {
    const unique = dedupeBy(rows, (r) => r.event_id);
    if (unique.length === 0) return;
    await this.deciding.shared(async () => {
      plans.events ??= await this.planEvents(rows, unique);
      const { fresh, noted, token } = plans.events;
      if (fresh.length > 0) await this.insert("events_raw", fresh, token);
      if (noted.length > 0) {
        await this.insert(
          "events_pending",
          noted.map((r) => pendingRow(r, 1, 0)),
        );
        this.own.pending.inserted += noted.length;
        this.kickSettle();
      }
    });
  }

  /**
   * What the batch's events insert: the new ones (each stamped, or early: zero author, not
   * counted) and the pending notes to make (the early ones, and redelivered ones still without
   * their author), with the events insert's token.
   */
  private async planEvents(rows: EventRow[], unique: EventRow[]): Promise<EventsPlan> {
    const ids = unique.map((r) => r.event_id);
    const postIds = [...new Set(unique.map((r) => r.post_id))];
    const [existing, authors, waitingPosts] = await Promise.all([
      this.lookup<{ id: string; author: string }>(
        "SELECT toString(event_id) AS id, toString(author_id) AS author FROM {t:Identifier} FINAL WHERE event_id IN {ids:Array(UUID)}",
        "events_raw",
        ids,
      ),
      this.authorsOf(postIds),
      this.lookup<{ pid: string }>(
        "SELECT DISTINCT toString(post_id) AS pid FROM {t:Identifier} FINAL WHERE post_id IN {ids:Array(UUID)}",
        "events_pending",
        postIds,
      ),
    ]);
    const present = new Map(existing.map((r) => [r.id, r.author]));
    const fresh = unique.filter((r) => !present.has(r.event_id));
    this.own.duplicatesSkipped += rows.length - fresh.length;
    // Redelivered events still without their author (the note may not have been made).
    const unnoted = unique.filter((r) => present.get(r.event_id) === ZERO_UUID);
    // A post with events still pending: the settle (maybe in another process) decides those,
    // so this batch's events of it wait for the settle too, which then decides all of them in
    // receive order. Deciding here could count a key the settle counts at the same moment.
    const waiting = new Set(waitingPosts.map((r) => r.pid));
    const decidable = (r: EventRow) => authors.has(r.post_id) && !waiting.has(r.post_id);
    const known = fresh.filter(decidable);
    const early = fresh.filter((r) => !decidable(r));
    await this.stamp(known, authors);
    for (const r of early) {
      r.author_id = ZERO_UUID;
      r.counted = 0;
    }
    return { fresh, noted: [...early, ...unnoted], token: randomUUID() };
  }

  /**
   * Gives each event (its post known, in receive order) its post's author and its counted flag,
   * decided against what already counted (the abuse bound, the own-post rule included).
   */
  private async stamp(rows: EventRow[], authors: Map<string, string>): Promise<void> {
    if (rows.length === 0) return;
    const counted = await this.countedKeys(rows);
    const flags = decideCounted(rows.map(countable), (p) => authors.get(p), counted);
    rows.forEach((r, i) => {
      r.author_id = authors.get(r.post_id) as string;
      r.counted = flags[i] ? 1 : 0;
    });
  }

  /** Post id → author, for the posts ClickHouse knows. */
  private async authorsOf(postIds: string[]): Promise<Map<string, string>> {
    // The aliases must not shadow `id`: ClickHouse resolves an alias inside WHERE.
    const rows = await this.lookup<{ pid: string; author: string }>(
      "SELECT toString(id) AS pid, toString(author_id) AS author FROM {t:Identifier} WHERE id IN {ids:Array(UUID)}",
      "posts_by_id",
      postIds,
    );
    return new Map(rows.map((a) => [a.pid, a.author]));
  }

  /**
   * Settles events that came before their post, now that the post is known: each again into
   * events_raw with its author and its counted flag (decided in receive order against what
   * already counted, the own-post rule included), which the views count once since the first
   * row had counted = 0; then its pending note is deleted. A run interrupted in between is
   * finished by the next: an event whose events_raw row already has its author only loses its
   * note. Returns true when there may be more (a full page).
   */
  private async settlePending(): Promise<boolean> {
    return this.deciding.exclusive(async () => {
      const rs = await this.ch.query({
        query: `SELECT toString(event_id) AS eid, toString(post_id) AS pid FROM events_pending FINAL
                WHERE post_id IN (SELECT id FROM posts_by_id WHERE id IN (SELECT post_id FROM events_pending))
                ORDER BY received_at, event_id LIMIT {n:UInt32}`,
        query_params: { n: SETTLE_PAGE },
        format: "JSONEachRow",
      });
      const due = await rs.json<{ eid: string; pid: string }>();
      if (due.length === 0) return false;
      const authors = await this.authorsOf([...new Set(due.map((d) => d.pid))]);
      // Aliases never shadow the columns WHERE reads (ClickHouse resolves aliases there).
      const found = await this.lookup<Record<string, string | number>>(
        `SELECT toString(event_id) AS e_id, toString(user_id) AS e_user, toString(post_id) AS e_post,
                toString(author_id) AS e_author, toString(type) AS e_type, dwell_ms AS e_dwell, counted AS e_counted,
                experiment AS e_experiment, variant AS e_variant, client_ts AS e_client_ts, received_at AS e_received_at
         FROM {t:Identifier} FINAL WHERE event_id IN {ids:Array(UUID)}`,
        "events_raw",
        due.map((d) => d.eid),
      );
      const raw: EventRow[] = found
        .map((r) => ({
          event_id: String(r.e_id),
          user_id: String(r.e_user),
          post_id: String(r.e_post),
          author_id: String(r.e_author),
          type: String(r.e_type) as EventRow["type"],
          dwell_ms: Number(r.e_dwell),
          counted: Number(r.e_counted),
          experiment: String(r.e_experiment),
          variant: String(r.e_variant),
          client_ts: String(r.e_client_ts),
          received_at: String(r.e_received_at),
        }))
        .sort((a, b) =>
          a.received_at === b.received_at ? (a.event_id < b.event_id ? -1 : 1) : a.received_at < b.received_at ? -1 : 1,
        );
      // An insert of an earlier run that did not land goes first, as it was (its rows look
      // settled now, so this run would skip them and the views would never count them).
      if (this.unsettledInsert) {
        await this.insert("events_raw", this.unsettledInsert.rows, this.unsettledInsert.token);
        this.unsettledInsert = null;
      }
      const unsettled = raw.filter((r) => r.author_id === ZERO_UUID && authors.has(r.post_id));
      if (unsettled.length > 0) {
        await this.stamp(unsettled, authors);
        this.unsettledInsert = { rows: unsettled, token: randomUUID() };
        await this.insert("events_raw", unsettled, this.unsettledInsert.token);
        this.unsettledInsert = null;
      }
      // A note whose event is not in events_raw (expired by its TTL) goes too.
      const byId = new Map(raw.map((r) => [r.event_id, r]));
      const done = due.map((d) => {
        const r = byId.get(d.eid);
        return r ? pendingRow(r, 2, 1) : { event_id: d.eid, post_id: d.pid, _version: 2, _is_deleted: 1 };
      });
      await this.insert("events_pending", done);
      this.own.pending.settled += unsettled.length;
      if (unsettled.length) this.log.debug({ settled: unsettled.length }, "settled events that came before their post");
      return due.length === SETTLE_PAGE;
    });
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

  /**
   * With a token (clickhouse/0007): a repeat of an insert that may have landed half way (in the
   * table, not in all its views) keeps one copy in the table, and each view inserts only what
   * it missed.
   */
  private async insert(table: string, values: ChRow[], token?: string): Promise<void> {
    await this.ch.insert({
      table,
      values,
      format: "JSONEachRow",
      ...(token
        ? {
            clickhouse_settings: {
              insert_deduplication_token: token,
              deduplicate_blocks_in_dependent_materialized_views: 1,
            },
          }
        : {}),
    });
    this.own.rowsInserted += values.length;
  }
}

/** Pending events settled per run (one ClickHouse lookup of their rows, one insert). */
const SETTLE_PAGE = 5000;

/** An events_pending row: version 1 pending, 2 (deleted) settled. */
function pendingRow(r: EventRow, version: number, deleted: number): ChRow {
  return {
    event_id: r.event_id,
    user_id: r.user_id,
    post_id: r.post_id,
    type: r.type,
    received_at: r.received_at,
    _version: version,
    _is_deleted: deleted,
  };
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

/**
 * The event relay: the edge appends accepted events to a Redis stream; the relay reads it
 * with a consumer group, produces each batch to Kafka `events` with an idempotent producer
 * (acks from all in-sync replicas, key = user id), and only after Kafka acknowledged the batch
 * acknowledges and deletes the entries (XACK + XDEL in one MULTI). Entries left pending by a
 * relay that died are reclaimed with XAUTOCLAIM. When Kafka is down the batch is retried with
 * backoff and nothing is acknowledged: the stream grows and nothing is dropped.
 */
import { hostname } from "node:os";
import type { Redis } from "ioredis";
import type { Producer } from "kafkajs";
import type { Logger } from "pino";
import { EVENT_BATCH_STREAM_FIELD, EVENT_STREAM_FIELD } from "../../../edge/core/index.ts";
import { backoffMs } from "../connect/render.ts";
import type { Part, PartHealth } from "../lifecycle.ts";

export interface RelayOptions {
  stream: string;
  topic: string;
  /** Consumer group on the stream. Default relay. */
  group?: string;
  /** This relay's consumer name. Default <hostname>-<pid>. */
  consumer?: string;
  /** Entries per batch. Default 500. */
  batchSize?: number;
  /** How long a read blocks waiting for entries. Default 1000 ms. */
  blockMs?: number;
  /** Entries pending longer than this on another consumer are reclaimed. Default 30000 ms. */
  claimIdleMs?: number;
}

export interface RelayStats {
  /** Events produced to Kafka. */
  relayed: number;
  /** Stream entries acknowledged (one per edge request, or per event from older writers). */
  entries: number;
  batches: number;
  produceErrors: number;
  reclaimed: number;
  /** Age of the oldest entry of the last batch when Kafka acknowledged it. */
  lastLagMs: number;
  lastBatchAt: number | null;
}

type Entry = [id: string, fields: string[]];

/** Field of a stream entry that holds one event's JSON. */
export const EVENT_FIELD = EVENT_STREAM_FIELD;
/** Field of a stream entry that holds a JSON array of events (the edge writes one per request). */
export const BATCH_FIELD = EVENT_BATCH_STREAM_FIELD;

/** Messages per Kafka produce request: well under the broker's 1 MiB record-batch limit. */
const MAX_MESSAGES_PER_SEND = 1000;

export class EventRelay implements Part {
  readonly name = "relay";
  readonly stats: RelayStats = {
    relayed: 0,
    entries: 0,
    batches: 0,
    produceErrors: 0,
    reclaimed: 0,
    lastLagMs: 0,
    lastBatchAt: null,
  };
  private stopping = false;
  private loop: Promise<void> | null = null;
  private readonly group: string;
  private readonly consumer: string;

  /** `redis` must be a connection of its own: the relay blocks on it. */
  constructor(
    private readonly redis: Redis,
    private readonly producer: Producer,
    private readonly log: Logger,
    private readonly opts: RelayOptions,
  ) {
    this.group = opts.group ?? "relay";
    this.consumer = opts.consumer ?? `${hostname()}-${process.pid}`;
  }

  async start(): Promise<void> {
    try {
      await this.redis.xgroup("CREATE", this.opts.stream, this.group, "0", "MKSTREAM");
    } catch (err) {
      if (!String((err as Error).message).includes("BUSYGROUP")) throw err;
    }
    this.stopping = false;
    this.loop = this.run();
  }

  /** Finishes the batch in flight (Kafka ack, then stream ack), then stops reading. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.loop;
  }

  health(): PartHealth {
    return { ok: this.loop !== null && !this.stopping, detail: this.stats };
  }

  /** Entries in the stream not yet delivered to this group plus those pending (unacked). */
  async backlog(): Promise<{ pending: number; undelivered: number | null }> {
    const groups = (await this.redis.xinfo("GROUPS", this.opts.stream)) as unknown[][];
    for (const g of groups) {
      const info: Record<string, unknown> = {};
      for (let i = 0; i + 1 < g.length; i += 2) info[String(g[i])] = g[i + 1];
      if (info.name === this.group) {
        return { pending: Number(info.pending ?? 0), undelivered: info.lag == null ? null : Number(info.lag) };
      }
    }
    return { pending: 0, undelivered: null };
  }

  private async run(): Promise<void> {
    let lastClaim = 0;
    while (!this.stopping) {
      try {
        let entries: Entry[] = [];
        if (Date.now() - lastClaim > (this.opts.claimIdleMs ?? 30_000) / 2) {
          lastClaim = Date.now();
          entries = await this.reclaim();
        }
        if (entries.length === 0) entries = await this.readNew();
        if (entries.length) await this.relay(entries);
      } catch (err) {
        if (this.stopping) break;
        this.log.error({ err: (err as Error).message }, "relay loop error; retrying");
        await sleep(1000);
      }
    }
  }

  private async readNew(): Promise<Entry[]> {
    const res = (await this.redis.xreadgroup(
      "GROUP",
      this.group,
      this.consumer,
      "COUNT",
      this.opts.batchSize ?? 500,
      "BLOCK",
      this.opts.blockMs ?? 1000,
      "STREAMS",
      this.opts.stream,
      ">",
    )) as [string, Entry[]][] | null;
    return res?.[0]?.[1] ?? [];
  }

  /** Takes over entries another (dead) consumer left pending for too long. */
  private async reclaim(): Promise<Entry[]> {
    const res = (await this.redis.xautoclaim(
      this.opts.stream,
      this.group,
      this.consumer,
      this.opts.claimIdleMs ?? 30_000,
      "0-0",
      "COUNT",
      this.opts.batchSize ?? 500,
    )) as [string, Entry[], string[]?];
    // Deleted entries come back as null fields: nothing left to relay for them.
    const entries = (res[1] ?? []).filter((e) => Array.isArray(e[1]));
    if (entries.length) {
      this.stats.reclaimed += entries.length;
      this.log.info({ count: entries.length }, "reclaimed pending entries");
    }
    return entries;
  }

  /** Produces one batch until Kafka acknowledges it, then acks and deletes the entries. */
  private async relay(entries: Entry[]): Promise<void> {
    const messages = entries.flatMap(([id, fields]) => messagesOf(id, fields));
    for (let i = 0; i < messages.length; i += MAX_MESSAGES_PER_SEND) {
      const chunk = messages.slice(i, i + MAX_MESSAGES_PER_SEND);
      for (let attempt = 0; ; attempt++) {
        try {
          await this.producer.send({ topic: this.opts.topic, acks: -1, messages: chunk });
          break;
        } catch (err) {
          this.stats.produceErrors++;
          // Even while stopping, an unacknowledged batch just stays pending for the next relay
          // (chunks already produced come again then; the sink drops them by event_id).
          if (this.stopping) return;
          const wait = backoffMs(Math.min(attempt, 6), 250, 10_000);
          this.log.warn(
            { err: (err as Error).message, attempt, wait, batch: entries.length, messages: chunk.length },
            "Kafka produce failed; holding batch",
          );
          await sleep(wait);
        }
      }
    }
    const ids = entries.map(([id]) => id);
    await this.redis
      .multi()
      .xack(this.opts.stream, this.group, ...ids)
      .xdel(this.opts.stream, ...ids)
      .exec();
    this.stats.relayed += messages.length;
    this.stats.entries += entries.length;
    this.stats.batches++;
    this.stats.lastBatchAt = Date.now();
    this.stats.lastLagMs = Date.now() - Number(ids[0]?.split("-")[0]);
  }
}

interface RelayMessage {
  key: string | null;
  value: string;
  headers: Record<string, string>;
}

/**
 * The Kafka messages of one stream entry: one per event, keyed by user. A batch entry whose
 * value is not a JSON array travels as one message, so the sink dead-letters it with its reason
 * instead of the relay dropping it.
 */
export function messagesOf(id: string, fields: string[]): RelayMessage[] {
  const batch = fieldValue(fields, BATCH_FIELD);
  if (batch !== undefined) {
    let items: unknown;
    try {
      items = JSON.parse(batch);
    } catch {
      items = null;
    }
    if (Array.isArray(items)) {
      return items.map((item, k) => {
        const value = JSON.stringify(item);
        return { key: userIdOf(value), value, headers: { "stream-id": id, "stream-index": String(k) } };
      });
    }
    return [{ key: null, value: batch, headers: { "stream-id": id } }];
  }
  const value = fieldValue(fields, EVENT_FIELD) ?? "";
  return [{ key: userIdOf(value), value, headers: { "stream-id": id } }];
}

function fieldValue(fields: string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

/** Kafka key = user id, so one user's events stay ordered on one partition. */
export function userIdOf(json: string): string | null {
  try {
    const v = JSON.parse(json) as { user_id?: unknown };
    return typeof v.user_id === "string" ? v.user_id : null;
  } catch {
    return null;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * The event relay: the edge appends accepted events to a Redis stream; the relay reads it
 * with a consumer group, produces each batch to Kafka `events` with an idempotent producer
 * (acks from all in-sync replicas, key = user id), and only after Kafka acknowledged the batch
 * acknowledges and deletes the entries (XACK + XDEL in one MULTI). Entries left pending by a
 * relay that died are reclaimed with XAUTOCLAIM. When Kafka is down the batch is retried with
 * backoff and nothing is acknowledged: the stream grows and nothing is dropped. A failure no
 * retry can fix (retry.ts) stops the relay and its health says why; the entries stay pending.
 */
import { hostname } from "node:os";
import type { Producer } from "kafkajs";
import type { Logger } from "pino";
import { EVENT_BATCH_STREAM_FIELD, EVENT_STREAM_FIELD } from "#core/events/schema.ts";
import type { Part, PartHealth } from "../lifecycle.ts";
import type { AnyRedis } from "../redis-cluster.ts";
import { retry } from "../retry.ts";

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
  /** Waits before another attempt: of a Kafka produce (`produce`), of a stream read or ack (`stream`). */
  retries: { produce: number; stream: number };
  reclaimed: number;
  /** Age of the oldest entry of the last batch when Kafka acknowledged it. */
  lastLagMs: number;
  lastBatchAt: number | null;
}

type Entry = [id: string, fields: string[]];

/** Messages per Kafka produce request: well under the broker's 1 MiB record-batch limit. */
const MAX_MESSAGES_PER_SEND = 1000;

export class EventRelay implements Part {
  readonly name = "relay";
  readonly stats: RelayStats = {
    relayed: 0,
    entries: 0,
    batches: 0,
    produceErrors: 0,
    retries: { produce: 0, stream: 0 },
    reclaimed: 0,
    lastLagMs: 0,
    lastBatchAt: null,
  };
  private stopping = false;
  private loop: Promise<void> | null = null;
  /** Cuts a retry's wait short on stop. */
  private abort = new AbortController();
  /** Why the relay stopped by itself (a failure no retry can fix). */
  private failure: string | null = null;
  private lastClaim = 0;
  private readonly group: string;
  private readonly consumer: string;

  /**
   * `redis` must be a client of its own: the relay blocks on it (XREADGROUP BLOCK). A Cluster
   * (REDIS_CLUSTER_NODES) routes each command by the stream's key; XREADGROUP and XGROUP are not
   * auto-pipelined (FIRST_ARGUMENT_NOT_A_KEY), and the ack's MULTI names the one stream key.
   */
  constructor(
    private readonly redis: AnyRedis,
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
    this.failure = null;
    this.abort = new AbortController();
    this.loop = this.run();
  }

  /**
   * Finishes the batch in flight (Kafka ack, then stream ack), then stops reading. A batch
   * waiting to be retried is left unacknowledged, for the next relay.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    this.abort.abort();
    await this.loop;
  }

  health(): PartHealth {
    const ok = this.loop !== null && !this.stopping && this.failure === null;
    return { ok, detail: this.failure ? { ...this.stats, error: this.failure } : this.stats };
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      try {
        // Redis away (a restart, a failover): the stream holds the events, so wait for it as
        // long as it takes.
        await retry(() => this.step(), {
          retries: Number.POSITIVE_INFINITY,
          minMs: 500,
          maxMs: 10_000,
          signal: this.abort.signal,
          onRetry: ({ error, attempt, waitMs }) => {
            this.stats.retries.stream++;
            this.log.warn({ err: error.message, attempt, waitMs }, "relay stream step failed; retrying");
          },
        });
      } catch (err) {
        if (this.stopping) break;
        this.failure = (err as Error).message;
        this.log.error({ err: this.failure }, "relay stopped: a failure no retry can fix");
        break;
      }
    }
  }

  /** One round: reclaim what another relay left behind (every claimIdleMs / 2), else read new entries. */
  private async step(): Promise<void> {
    let entries: Entry[] = [];
    if (Date.now() - this.lastClaim > (this.opts.claimIdleMs ?? 30_000) / 2) {
      this.lastClaim = Date.now();
      entries = await this.reclaim();
    }
    if (entries.length === 0) entries = await this.readNew();
    if (entries.length) await this.relay(entries);
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
      // Kafka down: hold the batch until Kafka takes it. A stop cuts the wait short and leaves
      // the batch pending for the next relay (chunks already produced come again then; the sink
      // drops them by event_id).
      await retry(
        async () => {
          try {
            await this.producer.send({ topic: this.opts.topic, acks: -1, messages: chunk });
          } catch (err) {
            this.stats.produceErrors++;
            throw err;
          }
        },
        {
          retries: Number.POSITIVE_INFINITY,
          minMs: 250,
          maxMs: 10_000,
          signal: this.abort.signal,
          onRetry: ({ error, attempt, waitMs }) => {
            this.stats.retries.produce++;
            this.log.warn(
              { err: error.message, attempt, waitMs, batch: entries.length, messages: chunk.length },
              "Kafka produce failed; holding batch",
            );
          },
        },
      );
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
  const batch = fieldValue(fields, EVENT_BATCH_STREAM_FIELD);
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
  const value = fieldValue(fields, EVENT_STREAM_FIELD) ?? "";
  return [{ key: userIdOf(value), value, headers: { "stream-id": id } }];
}

function fieldValue(fields: string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

/** Kafka key = user id, so one user's events stay ordered on one partition. */
function userIdOf(json: string): string | null {
  try {
    const v = JSON.parse(json) as { user_id?: unknown };
    return typeof v.user_id === "string" ? v.user_id : null;
  } catch {
    return null;
  }
}

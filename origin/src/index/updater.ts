/**
 * The serving-index updater: its own consumer group on the topics the ClickHouse sink reads
 * (`cdc.*`, `events`), applying each batch to Redis in one pipeline of idempotent operations
 * (writer.ts) and committing offsets only after that. A crash between applying and committing
 * redelivers the batch, which then changes nothing; Redis down holds the batch (retried with
 * backoff, heartbeats keep the partition) until it lands. Independent of ClickHouse: with
 * ClickHouse down the index stays current.
 */
import type { Consumer, EachBatchPayload, Kafka } from "kafkajs";
import type { Logger } from "pino";
import { CDC_TABLES, type CdcTable, cdcTopic, EVENTS_TOPIC } from "../../../edge/core/index.ts";
import type { Part, PartHealth } from "../lifecycle.ts";
import { retriable, retry } from "../retry.ts";
import { type IndexOp, opOf } from "./ops.ts";
import type { IndexWriter } from "./writer.ts";

export interface IndexUpdaterOptions {
  /** Consumer group id. Default serving-index. */
  groupId?: string;
  /** Prefix of every topic name (KAFKA_TOPIC_NAMESPACE). Default "". */
  topicNamespace?: string;
  /** Partitions processed at once. Default 3. */
  concurrency?: number;
}

export interface IndexUpdaterStats {
  batches: number;
  ops: number;
  applyRetries: number;
  reopenRetries: number;
  crashes: number;
  /** Produce → applied lag of the last message applied, by topic. */
  lastLagMs: Record<string, number>;
  lastBatchAt: number | null;
}

export class IndexUpdater implements Part {
  readonly name = "index-updater";
  readonly stats: IndexUpdaterStats = {
    batches: 0,
    ops: 0,
    applyRetries: 0,
    reopenRetries: 0,
    crashes: 0,
    lastLagMs: {},
    lastBatchAt: null,
  };
  private consumer: Consumer | null = null;
  private running = false;
  private healthy = true;
  private readonly topicToTable: Map<string, CdcTable | null>;
  private readonly abort = new AbortController();

  constructor(
    private readonly kafka: Kafka,
    private readonly writer: IndexWriter,
    private readonly log: Logger,
    private readonly opts: IndexUpdaterOptions = {},
  ) {
    const ns = opts.topicNamespace ?? "";
    this.topicToTable = new Map<string, CdcTable | null>([
      ...CDC_TABLES.map((t) => [ns + cdcTopic(t), t] as [string, CdcTable]),
      [ns + EVENTS_TOPIC, null],
    ]);
  }

  get groupId(): string {
    return this.opts.groupId ?? "serving-index";
  }

  async start(): Promise<void> {
    this.running = true;
    await this.open();
  }

  private async open(): Promise<void> {
    const consumer = this.kafka.consumer({
      groupId: this.groupId,
      maxBytesPerPartition: 4 * 1024 * 1024,
      maxWaitTimeInMs: 100,
    });
    this.consumer = consumer;
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      const { error, restart } = payload as { error: Error; restart: boolean };
      this.stats.crashes++;
      this.log.error({ err: error.message, restart }, "index updater consumer crashed");
      if (!restart && this.running && this.consumer === consumer) void this.reopen(consumer);
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [...this.topicToTable.keys()], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.opts.concurrency ?? 3,
      eachBatch: (payload) => this.handleBatch(payload),
    });
  }

  private async reopen(old: Consumer): Promise<void> {
    this.healthy = false;
    await old.disconnect().catch(() => {});
    // Kafka away for longer than kafkajs's own retries: keep trying until it is back.
    await retry(
      async () => {
        try {
          await this.open();
        } catch (err) {
          await this.consumer?.disconnect().catch(() => {});
          throw err;
        }
      },
      {
        retries: Number.POSITIVE_INFINITY,
        minMs: 500,
        maxMs: 10_000,
        signal: this.abort.signal,
        onRetry: ({ error, attempt, waitMs }) => {
          this.stats.reopenRetries++;
          this.log.warn({ err: error.message, attempt, waitMs }, "index updater reopen failed; retrying");
        },
      },
    )
      .then(() => {
        this.healthy = true;
        this.log.info("index updater consumer reopened");
      })
      .catch((err: Error) => {
        if (this.running)
          this.log.error({ err: err.message }, "index updater not reopened: a failure no retry can fix");
      });
  }

  async stop(): Promise<void> {
    this.running = false;
    this.abort.abort();
    await this.consumer?.disconnect();
  }

  health(): PartHealth {
    return { ok: this.running && this.healthy, detail: this.stats };
  }

  private async handleBatch({ batch, heartbeat, isRunning, isStale, resolveOffset }: EachBatchPayload): Promise<void> {
    if (batch.messages.length === 0) return;
    const { topic, partition } = batch;
    const table = this.topicToTable.get(topic) ?? null;
    const ops: IndexOp[] = [];
    for (const m of batch.messages) {
      const op = opOf(table, m.value);
      if (op) ops.push(op);
    }
    // Redis away: hold the batch until it lands (heartbeats keep the partition ours).
    let beat: ReturnType<typeof setInterval> | undefined;
    try {
      await retry(() => this.writer.apply(ops), {
        retries: Number.POSITIVE_INFINITY,
        minMs: 200,
        maxMs: 5000,
        signal: this.abort.signal,
        retriable: (err) => isRunning() && !isStale() && retriable(err),
        onRetry: ({ error, attempt, waitMs }) => {
          this.stats.applyRetries++;
          beat ??= setInterval(() => heartbeat().catch(() => {}), 1000);
          this.log.warn({ topic, partition, attempt, waitMs, err: error.message }, "index apply failed; retrying");
        },
      });
    } finally {
      if (beat) clearInterval(beat);
    }
    const last = batch.messages[batch.messages.length - 1];
    if (!last) return;
    resolveOffset(last.offset);
    await this.consumer?.commitOffsets([{ topic, partition, offset: (BigInt(last.offset) + 1n).toString() }]);
    this.stats.batches++;
    this.stats.ops += ops.length;
    this.stats.lastBatchAt = Date.now();
    this.stats.lastLagMs[topic] = Date.now() - Number(last.timestamp);
  }
}

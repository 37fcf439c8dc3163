/**
 * The serving-index updater: its own consumer group on the topics the ClickHouse sink reads
 * (`cdc.*`, `events`), applying each batch to Redis in one pipeline of idempotent operations
 * (writer.ts) and committing offsets only after that. A crash between applying and committing
 * redelivers the batch, which then changes nothing; Redis down holds the batch (retried with
 * backoff, heartbeats keep the partition) until it lands. Independent of ClickHouse: with
 * ClickHouse down the index stays current.
 */
import type { EachBatchPayload, Kafka } from "kafkajs";
import type { Logger } from "pino";
import { CDC_TABLES, type CdcTable, cdcTopic, EVENTS_TOPIC } from "../../../edge/core/index.ts";
import { ResilientConsumer } from "../kafka/resilient-consumer.ts";
import type { Part, PartHealth } from "../lifecycle.ts";
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
  stalls: number;
  /** Produce → applied lag of the last message applied, by topic. */
  lastLagMs: Record<string, number>;
  lastBatchAt: number | null;
}

/**
 * The updaters running in this process: the metrics (metrics.ts) read their stats at scrape
 * time, wherever the updater was made (the serving index makes its own).
 */
const running = new Set<IndexUpdater>();

export function runningIndexUpdaters(): IndexUpdater[] {
  return [...running];
}

export class IndexUpdater implements Part {
  readonly name = "index-updater";
  private readonly own = {
    batches: 0,
    ops: 0,
    applyRetries: 0,
    lastLagMs: {} as Record<string, number>,
    lastBatchAt: null as number | null,
  };
  private readonly consumer: ResilientConsumer;
  private readonly topicToTable: Map<string, CdcTable | null>;

  constructor(
    kafka: Kafka,
    private readonly writer: IndexWriter,
    private readonly log: Logger,
    private readonly opts: IndexUpdaterOptions = {},
  ) {
    const ns = opts.topicNamespace ?? "";
    this.topicToTable = new Map<string, CdcTable | null>([
      ...CDC_TABLES.map((t) => [ns + cdcTopic(t), t] as [string, CdcTable]),
      [ns + EVENTS_TOPIC, null],
    ]);
    this.consumer = new ResilientConsumer(kafka, log, {
      groupId: this.groupId,
      topics: [...this.topicToTable.keys()],
      concurrency: opts.concurrency,
      eachBatch: (payload) => this.handleBatch(payload),
    });
  }

  get groupId(): string {
    return this.opts.groupId ?? "serving-index";
  }

  get stats(): IndexUpdaterStats {
    const c = this.consumer.stats;
    return { ...this.own, reopenRetries: c.reopenRetries, crashes: c.crashes, stalls: c.stalls };
  }

  start(): Promise<void> {
    running.add(this);
    return this.consumer.start();
  }

  stop(): Promise<void> {
    running.delete(this);
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
    const table = this.topicToTable.get(topic) ?? null;
    const ops: IndexOp[] = [];
    for (const m of batch.messages) {
      const op = opOf(table, m.value);
      if (op) ops.push(op);
    }
    // Redis away: hold the batch until it lands.
    const last = await this.consumer.land(
      payload,
      () => this.writer.apply(ops),
      ({ error, attempt, waitMs }) => {
        this.own.applyRetries++;
        this.log.warn({ topic, partition, attempt, waitMs, err: error.message }, "index apply failed; retrying");
      },
    );
    if (!last) return;
    this.own.batches++;
    this.own.ops += ops.length;
    this.own.lastBatchAt = Date.now();
    this.own.lastLagMs[topic] = Date.now() - Number(last.timestamp);
  }
}

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
import type { CdcTable } from "#core/topics.ts";
import { ConsumerPart, pipelineTopics } from "../kafka/consumer-part.ts";
import { type IndexOp, opOf } from "./ops.ts";
import type { IndexWriter } from "./writer.ts";

export interface IndexUpdaterOptions {
  /** Consumer group id. Default serving-index. */
  groupId?: string;
  /** Prefix of every topic name (KAFKA_TOPIC_NAMESPACE). Default "". */
  topicNamespace?: string;
  /** Partitions processed at once. Default KAFKA_PARTITIONS_CONCURRENTLY (6). */
  concurrency?: number;
  /** Told of each live post once its batch landed (the live channel's publisher; never blocks). */
  live?: { postCreated(authorId: string, postId: string, createdMs: number): void };
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

export class IndexUpdater extends ConsumerPart {
  readonly name = "index-updater";
  private readonly own = {
    batches: 0,
    ops: 0,
    applyRetries: 0,
    lastLagMs: {} as Record<string, number>,
    lastBatchAt: null as number | null,
  };
  private readonly topicToTable: Map<string, CdcTable | null>;
  private readonly live: IndexUpdaterOptions["live"];

  constructor(
    kafka: Kafka,
    private readonly writer: IndexWriter,
    log: Logger,
    opts: IndexUpdaterOptions = {},
  ) {
    const topics = pipelineTopics(opts.topicNamespace ?? "");
    super(kafka, log, {
      groupId: opts.groupId ?? "serving-index",
      topics: [...topics.keys()],
      concurrency: opts.concurrency,
    });
    this.topicToTable = topics;
    this.live = opts.live;
  }

  get stats(): IndexUpdaterStats {
    const c = this.consumerStats;
    return { ...this.own, reopenRetries: c.reopenRetries, crashes: c.crashes, stalls: c.stalls };
  }

  protected async handleBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
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
    for (const op of ops)
      if (op.kind === "post" && op.live) this.live?.postCreated(op.authorId, op.postId, op.createdMs);
    this.own.batches++;
    this.own.ops += ops.length;
    this.own.lastBatchAt = Date.now();
    this.own.lastLagMs[topic] = Date.now() - Number(last.timestamp);
  }
}

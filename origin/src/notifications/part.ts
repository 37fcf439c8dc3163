/**
 * The notifications part: its own consumer group on cdc.likes, cdc.comments, cdc.follows and
 * cdc.posts (a deleted post takes its groups along), applying each batch's changes to the
 * recipients' notification groups in Redis (writer.ts) and committing offsets only after that.
 * A crash between applying and committing redelivers the batch, which then changes nothing;
 * Redis away holds the batch (retried with backoff) until it lands. A new group starts from the topics' beginning, so a fresh deployment (or a flushed
 * Redis, after the group's offsets are reset) rebuilds every notification of the last 30 days
 * that Kafka still holds.
 */
import type { EachBatchPayload, Kafka } from "kafkajs";
import type { Logger } from "pino";
import { type CdcTable, cdcTopic } from "#core/topics.ts";
import { ConsumerPart } from "../kafka/consumer-part.ts";
import { changeOfMessage, NOTIFYING_TABLES, type NotificationOp } from "./ops.ts";
import type { NotificationWriter } from "./writer.ts";

export interface NotificationsPartOptions {
  /** Consumer group id. Default notifications. */
  groupId?: string;
  /** Prefix of every topic name (KAFKA_TOPIC_NAMESPACE). Default "". */
  topicNamespace?: string;
  /** Partitions processed at once. Default KAFKA_PARTITIONS_CONCURRENTLY (6). */
  concurrency?: number;
  /** Told of the recipients of each batch once it landed (the live channel's publisher; never blocks). */
  live?: { notificationsChanged(recipients: Iterable<string>): void };
}

export interface NotificationsStats {
  batches: number;
  /** Messages read. */
  messages: number;
  /** Changes applied (messages that notify someone). */
  changes: number;
  /** Groups trimmed by age or by the per-user bound. */
  trimmed: number;
  applyRetries: number;
  reopenRetries: number;
  crashes: number;
  stalls: number;
  /** Produce → applied lag of the last message applied, by topic. */
  lastLagMs: Record<string, number>;
  lastBatchAt: number | null;
}

export class NotificationsPart extends ConsumerPart {
  readonly name = "notifications";
  private readonly own = {
    batches: 0,
    messages: 0,
    changes: 0,
    trimmed: 0,
    applyRetries: 0,
    lastLagMs: {} as Record<string, number>,
    lastBatchAt: null as number | null,
  };
  private readonly topicToTable: Map<string, CdcTable>;
  private readonly live: NotificationsPartOptions["live"];

  constructor(
    kafka: Kafka,
    private readonly writer: NotificationWriter,
    log: Logger,
    opts: NotificationsPartOptions = {},
  ) {
    const ns = opts.topicNamespace ?? "";
    const topics = new Map<string, CdcTable>(NOTIFYING_TABLES.map((t) => [ns + cdcTopic(t), t]));
    super(kafka, log, {
      groupId: opts.groupId ?? "notifications",
      topics: [...topics.keys()],
      concurrency: opts.concurrency,
    });
    this.topicToTable = topics;
    this.live = opts.live;
  }

  get stats(): NotificationsStats {
    const c = this.consumerStats;
    return { ...this.own, reopenRetries: c.reopenRetries, crashes: c.crashes, stalls: c.stalls };
  }

  protected async handleBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const { topic, partition } = batch;
    const table = this.topicToTable.get(topic);
    const changes: NotificationOp[] = [];
    if (table) {
      for (const m of batch.messages) {
        const c = changeOfMessage(table, m.value);
        if (c) changes.push(c);
      }
    }
    let trimmed = 0;
    const last = await this.consumer.land(
      payload,
      async () => {
        trimmed = (await this.writer.apply(changes)).trimmed;
      },
      ({ error, attempt, waitMs }) => {
        this.own.applyRetries++;
        this.log.warn(
          { topic, partition, attempt, waitMs, err: error.message },
          "notifications apply failed; retrying",
        );
      },
    );
    if (!last) return;
    if (changes.length) this.live?.notificationsChanged(new Set(changes.map((c) => c.recipient)));
    this.own.batches++;
    this.own.messages += batch.messages.length;
    this.own.changes += changes.length;
    this.own.trimmed += trimmed;
    this.own.lastBatchAt = Date.now();
    this.own.lastLagMs[topic] = Date.now() - Number(last.timestamp);
  }
}

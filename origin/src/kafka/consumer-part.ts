/**
 * The one base of the origin's parts that consume Kafka (the ClickHouse sink, the serving-index
 * updater, the experiments projection): a resilient consumer (resilient-consumer.ts) in the
 * part's group on its topics, started and stopped with the part, healthy while it runs, its
 * crashes, stalls and reopen retries beside the part's own numbers. A part says what it counts
 * (`stats`) and what a batch does (`handleBatch`, which lands it with `consumer.land`); a part
 * with more to start or stop overrides `start`/`stop` around the base's.
 */
import type { EachBatchPayload, Kafka } from "kafkajs";
import type { Logger } from "pino";
import { CDC_TABLES, type CdcTable, cdcTopic, EVENTS_TOPIC } from "#core/topics.ts";
import type { Part, PartHealth } from "../lifecycle.ts";
import { midBatch } from "./failpoint.ts";
import { ResilientConsumer, type ResilientConsumerStats } from "./resilient-consumer.ts";

export interface ConsumerPartOptions {
  groupId: string;
  topics: string[];
  /** Partitions processed at once. Default: the Kafka client's (KAFKA_PARTITIONS_CONCURRENTLY). */
  concurrency?: number;
  /** A consumer idle this long is replaced by a fresh one. Default 30 s. */
  stallMs?: number;
}

export abstract class ConsumerPart implements Part {
  abstract readonly name: string;
  /** The part's running numbers (the metrics and the health detail read them). */
  abstract readonly stats: object;
  protected readonly consumer: ResilientConsumer;

  constructor(
    kafka: Kafka,
    protected readonly log: Logger,
    opts: ConsumerPartOptions,
  ) {
    this.consumer = new ResilientConsumer(kafka, log, {
      ...opts,
      // An empty batch has nothing to write or commit.
      eachBatch: (payload) => (payload.batch.messages.length === 0 ? Promise.resolve() : this.handleBatch(payload)),
      // The fault matrix's "killed mid-batch" (off unless FAULT_INJECTION_FILE is set).
      afterWrite: (batch) => midBatch(this.name, batch),
    });
  }

  /** Writes a batch (never an empty one) and lands it, or throws and leaves it for redelivery. */
  protected abstract handleBatch(payload: EachBatchPayload): Promise<void>;

  /** The consumer's crashes, stalls and reopen retries. */
  protected get consumerStats(): ResilientConsumerStats {
    return this.consumer.stats;
  }

  start(): Promise<void> {
    return this.consumer.start();
  }

  stop(): Promise<void> {
    return this.consumer.stop();
  }

  /** Whether the part's own work is sound, beyond its consumer running. Default yes. */
  protected ready(): boolean {
    return true;
  }

  /** What the health says about the part. Default its stats. */
  protected healthDetail(): object {
    return this.stats;
  }

  health(): PartHealth {
    const failure = this.consumer.failure;
    const detail = this.healthDetail();
    return { ok: this.consumer.ok && this.ready(), detail: failure ? { ...detail, error: failure } : detail };
  }
}

/**
 * The topics of the pipeline the sink and the serving-index updater both read, each with the
 * table whose changes it carries: every `cdc.<table>`, then `events` (no table). `ns` is
 * KAFKA_TOPIC_NAMESPACE.
 */
export function pipelineTopics(ns: string): Map<string, CdcTable | null> {
  return new Map<string, CdcTable | null>([
    ...CDC_TABLES.map((t) => [ns + cdcTopic(t), t] as const),
    [ns + EVENTS_TOPIC, null],
  ]);
}

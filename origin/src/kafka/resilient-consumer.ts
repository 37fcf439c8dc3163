/**
 * A kafkajs batch consumer that does not stay down: what every consumer part (consumer-part.ts:
 * the ClickHouse sink, the serving-index updater, the experiments projection) consumes with. kafkajs restarts a crashed consumer by itself only after
 * retriable errors; after any other crash (seen when the broker goes away for longer than its
 * retry budget) this opens a fresh consumer with backoff, and a watchdog replaces a consumer
 * that has neither fetched, heartbeated nor worked on a batch for `stallMs` (kafkajs consumers
 * can hang after a broker restart without crashing). Offsets are the handler's to commit, after
 * its writes, so a reopen resumes exactly where the last committed batch ended.
 */
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage } from "kafkajs";
import type { Logger } from "pino";
import { retriable, retry } from "../retry.ts";
import { consumerSession, partitionsConcurrently } from "./session.ts";

export interface ResilientConsumerOptions {
  groupId: string;
  topics: string[];
  /**
   * Partitions processed at once. Default: the Kafka client's (KAFKA_PARTITIONS_CONCURRENTLY,
   * session.ts), else 6.
   */
  concurrency?: number;
  /** A consumer idle this long is replaced by a fresh one. Default 30 s. */
  stallMs?: number;
  /** Handles one batch: writes, then `commit`s; a throw leaves the batch to kafkajs (redelivery). */
  eachBatch: (payload: EachBatchPayload) => Promise<void>;
  /** Runs in `land` between a batch's writes and its commit (the fault matrix's failpoint.ts). */
  afterWrite?: (batch: EachBatchPayload["batch"]) => void;
}

/** Heartbeat errors that mean the group is rebalancing or has dropped this member (kafkajs's isRebalancing, and UNKNOWN_MEMBER_ID). */
const REBALANCING = new Set(["REBALANCE_IN_PROGRESS", "ILLEGAL_GENERATION", "UNKNOWN_MEMBER_ID"]);

export interface ResilientConsumerStats {
  /** Consumer crashes seen (each followed by kafkajs's own restart or a reopen). */
  crashes: number;
  /** Times the watchdog replaced a consumer that had stopped fetching. */
  stalls: number;
  /** Waits before another attempt to open a fresh consumer. */
  reopenRetries: number;
}

export class ResilientConsumer {
  readonly stats: ResilientConsumerStats = { crashes: 0, stalls: 0, reopenRetries: 0 };
  private consumer: Consumer | null = null;
  private running = false;
  private healthy = true;
  private reopening = false;
  private lastActivity = Date.now();
  private watchdog: ReturnType<typeof setInterval> | null = null;
  /** Why no consumer runs although one should (a reopen failed in a way no retry fixes). */
  failure: string | null = null;
  private abortController = new AbortController();

  constructor(
    private readonly kafka: Kafka,
    private readonly log: Logger,
    private readonly opts: ResilientConsumerOptions,
  ) {}

  /** Aborted on stop: a handler's retry waits on it. */
  get signal(): AbortSignal {
    return this.abortController.signal;
  }

  get ok(): boolean {
    return this.running && this.healthy;
  }

  /** Marks work in progress (a handler retrying a batch is not a stall). */
  touch(): void {
    this.lastActivity = Date.now();
  }

  async start(): Promise<void> {
    this.running = true;
    this.failure = null;
    this.abortController = new AbortController();
    this.touch();
    await this.open();
    const stallMs = this.opts.stallMs ?? 30_000;
    this.watchdog = setInterval(
      () => {
        const idle = Date.now() - this.lastActivity;
        if (!this.running || this.reopening || idle < stallMs || !this.consumer) return;
        this.stats.stalls++;
        this.log.error({ idleMs: idle }, "consumer stalled; opening a fresh one");
        void this.reopen(this.consumer);
      },
      Math.min(5000, stallMs),
    );
    this.watchdog.unref();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.abortController.abort();
    if (this.watchdog) clearInterval(this.watchdog);
    // kafkajs waits for the batch in progress before leaving the group.
    await this.consumer?.disconnect();
  }

  /**
   * Writes a batch until it lands, then moves past it: `write` is retried while its failure
   * may pass (unbounded: the design holds the batch while the store is away), heartbeating so
   * the partition stays this consumer's; once the partition is no longer ours, or the failure is
   * one no retry fixes, it throws and the batch stays uncommitted for redelivery. After the
   * write, the batch's offsets are resolved and committed. Returns the last message.
   *
   * A heartbeat that says the group is rebalancing (a process joined or left) ends the retries
   * too: kafkajs rejoins only once the batch returns, and the group waits for it only its
   * rebalance timeout (60 s), after which another member would get the partition while this
   * one still retried the batch, both writing it at once. So the batch is given up (the
   * heartbeat's error is thrown, and kafkajs rejoins at once) and comes again to whichever
   * member holds the partition next.
   */
  async land(
    { batch, heartbeat, isRunning, isStale, resolveOffset }: EachBatchPayload,
    write: () => Promise<void>,
    onRetry: (r: { error: Error; attempt: number; waitMs: number }) => void,
  ): Promise<KafkaMessage | null> {
    // kafkajs heartbeats only between batches: a batch that takes longer than the session
    // (a slow store, retries) beats on its own, every second, from the start.
    let rebalancing: Error | null = null;
    const beat = setInterval(() => {
      this.touch();
      heartbeat().catch((err: unknown) => {
        if (REBALANCING.has((err as { type?: string }).type ?? "")) rebalancing ??= err as Error;
      });
    }, 1000);
    try {
      await retry(write, {
        retries: Number.POSITIVE_INFINITY,
        minMs: 200,
        maxMs: 5000,
        signal: this.signal,
        retriable: (err) => rebalancing === null && isRunning() && !isStale() && retriable(err),
        onRetry: (r) => {
          this.touch(); // retrying a batch is work, not a stall
          onRetry(r);
        },
      });
    } catch (err) {
      if (rebalancing !== null) {
        this.log.warn(
          { topic: batch.topic, partition: batch.partition, err: (err as Error).message },
          "the group rebalances while this batch waits for its store; it stays uncommitted for the partition's next holder",
        );
        throw rebalancing;
      }
      if (isRunning() && !isStale() && !this.signal.aborted) {
        const e = err as Error & { code?: string };
        this.log.error(
          { topic: batch.topic, partition: batch.partition, err: e.message || e.name, code: e.code },
          "batch write failed in a way no retry fixes; it stays uncommitted for redelivery",
        );
      }
      throw err;
    } finally {
      clearInterval(beat);
    }
    this.touch();
    const last = batch.messages[batch.messages.length - 1];
    if (!last) return null;
    this.opts.afterWrite?.(batch);
    // Move the fetch position past the batch (kafkajs re-fetches unresolved offsets), then
    // commit it: both only after the writes.
    resolveOffset(last.offset);
    await this.consumer?.commitOffsets([
      { topic: batch.topic, partition: batch.partition, offset: (BigInt(last.offset) + 1n).toString() },
    ]);
    return last;
  }

  private async open(): Promise<void> {
    const consumer = this.kafka.consumer({
      groupId: this.opts.groupId,
      // Large enough for a few thousand rows per partition per batch.
      maxBytesPerPartition: 4 * 1024 * 1024,
      maxWaitTimeInMs: 100,
      // A process killed without leaving its group holds its partitions until its session
      // expires; a restarted process waits that long for them. The session and heartbeat come
      // with the Kafka client (clients.ts: KAFKA_SESSION_TIMEOUT_MS, default 6 s, the least a
      // broker accepts by default; kafkajs's own default is 30 s). Heartbeats also go during a
      // long batch (land), so a live member is never taken for dead.
      ...consumerSession(this.kafka),
    });
    this.consumer = consumer;
    const touch = () => this.touch();
    for (const ev of [consumer.events.FETCH, consumer.events.START_BATCH_PROCESS, consumer.events.HEARTBEAT])
      consumer.on(ev, touch);
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      const { error, restart } = payload as { error: Error; restart: boolean };
      this.stats.crashes++;
      this.log.error({ err: error.message, name: error.name, restart }, "consumer crashed");
      if (!restart && this.running && this.consumer === consumer) void this.reopen(consumer);
    });
    await consumer.connect();
    await consumer.subscribe({ topics: this.opts.topics, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.opts.concurrency ?? partitionsConcurrently(this.kafka),
      eachBatch: (payload) => this.opts.eachBatch(payload),
    });
  }

  private async reopen(old: Consumer): Promise<void> {
    if (this.reopening) return;
    this.reopening = true;
    this.healthy = false;
    try {
      await old.disconnect().catch(() => {});
      // Kafka away for longer than kafkajs's own retries: keep trying until it is back.
      const attempts = await retry(
        async (attempt) => {
          this.touch();
          try {
            await this.open();
          } catch (err) {
            await this.consumer?.disconnect().catch(() => {});
            throw err;
          }
          return attempt;
        },
        {
          retries: Number.POSITIVE_INFINITY,
          minMs: 500,
          maxMs: 10_000,
          signal: this.signal,
          onRetry: ({ error, attempt, waitMs }) => {
            this.stats.reopenRetries++;
            this.log.warn({ err: error.message, attempt, waitMs }, "consumer reopen failed; retrying");
          },
        },
      );
      this.healthy = true;
      this.log.info({ attempts }, "consumer reopened");
    } catch (err) {
      if (this.running) {
        this.failure = (err as Error).message;
        this.log.error({ err: this.failure }, "consumer not reopened: a failure no retry can fix");
      }
    } finally {
      this.reopening = false;
      this.touch();
    }
  }
}

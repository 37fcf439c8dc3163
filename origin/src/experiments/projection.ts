/**
 * The running experiments in Redis (edge/core/experiments/schema.ts: runningExperimentsKey, one JSON
 * document), kept by the origin from the CDC stream of the experiments table.
 *
 * The CDC change is the signal, PostgreSQL the state: each batch of `cdc.experiments` triggers a
 * rebuild that reads the running experiments from PostgreSQL and writes the whole document, and
 * only then commits the batch's offsets. So the value is always one committed state, never a
 * half-applied or reordered replay; a redelivered batch rewrites the same value. Rebuilds are
 * serialized across origins by a PostgreSQL advisory lock held across the read and the Redis
 * write, so the last write holds the latest state. A start, stop or promotion reaches Redis
 * within the CDC lag (about a second); the edge re-reads it every EXPERIMENTS_REFRESH_MS (5 s).
 *
 * It also rebuilds at start (bootstrap), whenever the key is missing (checked every `watchMs`:
 * a flush or a failover heals within seconds) and every `resyncMs` whatever happens.
 */
import type { EachBatchPayload, Kafka } from "kafkajs";
import type pg from "pg";
import type { Logger } from "pino";
import { encodeRunningExperiments, runningExperimentsKey } from "#core/experiments/schema.ts";
import { cdcTopic, EXPERIMENT_TOPICS } from "#core/topics.ts";
import { DEFAULT_TOPIC_PARTITIONS } from "../config.ts";
import { ensureTopics } from "../connect/manager.ts";
import { ConsumerPart } from "../kafka/consumer-part.ts";
import type { AnyRedis } from "../redis-cluster.ts";
import { transaction } from "../writes/tx.ts";
import { loadRunning } from "./store.ts";

export interface ExperimentsProjectionOptions {
  /** Consumer group. Default experiments-projection. */
  groupId?: string;
  /** KAFKA_TOPIC_NAMESPACE. Default "". */
  topicNamespace?: string;
  /** INDEX_NAMESPACE: prefix of the Redis key. Default "". */
  namespace?: string;
  /** How often the key's presence is checked. Default 5000 ms. */
  watchMs?: number;
  /** A rebuild at least this often, changes or not. Default 60000 ms. */
  resyncMs?: number;
  /**
   * Partitions and replication of the experiments topics, created at start when missing.
   * Default KAFKA_TOPIC_PARTITIONS's default (12) and 1. The projection reads them with one
   * consumer at a time and rebuilds from PostgreSQL on each batch, so their count is not its
   * order: it only follows the other topics' for a uniform layout.
   */
  partitions?: number;
  replicationFactor?: number;
}

/** Fixed, arbitrary: "edge-feed experiments projection" in pg_locks. */
const LOCK_KEY = 7_302_811_917;

export interface ExperimentsProjectionStats {
  rebuilds: number;
  failures: number;
  lastRebuildAt: number | null;
  running: number;
  lastError: string | null;
}

export class ExperimentsProjection extends ConsumerPart {
  readonly name = "experiments-projection";
  readonly key: string;
  readonly stats: ExperimentsProjectionStats = {
    rebuilds: 0,
    failures: 0,
    lastRebuildAt: null,
    running: 0,
    lastError: null,
  };
  private timer: ReturnType<typeof setInterval> | null = null;
  private inFlight: Promise<void> | null = null;
  private queued: Promise<void> | null = null;

  constructor(
    private readonly kafka: Kafka,
    private readonly pg: pg.Pool,
    private readonly redis: AnyRedis,
    log: Logger,
    private readonly opts: ExperimentsProjectionOptions = {},
  ) {
    super(kafka, log, {
      groupId: opts.groupId ?? "experiments-projection",
      topics: [(opts.topicNamespace ?? "") + cdcTopic("experiments")],
      concurrency: 1,
    });
    this.key = runningExperimentsKey(opts.namespace ?? "");
  }

  override async start(): Promise<void> {
    // Its topics (EXPERIMENT_TOPICS, apart from ALL_TOPICS), before Debezium first writes one.
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const ns = this.opts.topicNamespace ?? "";
      await ensureTopics(
        admin,
        EXPERIMENT_TOPICS.map((t) => ns + t),
        this.opts.partitions ?? DEFAULT_TOPIC_PARTITIONS,
        this.opts.replicationFactor ?? 1,
      );
    } finally {
      await admin.disconnect().catch(() => {});
    }
    // The bootstrap first: Redis is right before the first change arrives. A failure here is
    // not fatal (PostgreSQL or Redis away): the watch retries it.
    await this.rebuild("bootstrap").catch(() => {});
    await super.start();
    let lastFull = Date.now();
    this.timer = setInterval(() => {
      void (async () => {
        const due = Date.now() - lastFull >= (this.opts.resyncMs ?? 60_000);
        const missing = due ? false : (await this.redis.exists(this.key).catch(() => 0)) === 0;
        if (due || missing || this.stats.lastError) {
          lastFull = Date.now();
          await this.rebuild(missing ? "key missing" : "resync").catch(() => {});
        }
      })();
    }, this.opts.watchMs ?? 5000);
    this.timer.unref();
  }

  override async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await super.stop();
    await this.inFlight?.catch(() => {});
  }

  /** Sound while the last rebuild wrote the document. */
  protected override ready(): boolean {
    return this.stats.lastError === null;
  }

  protected override healthDetail(): object {
    return { key: this.key, ...this.stats };
  }

  protected async handleBatch(payload: EachBatchPayload): Promise<void> {
    await this.consumer.land(
      payload,
      () => this.rebuild("cdc"),
      ({ error, attempt, waitMs }) =>
        this.log.warn({ attempt, waitMs, err: error.message }, "experiments projection failed; retrying"),
    );
  }

  /**
   * Reads the running experiments and writes the document, under the advisory lock. A call
   * while one runs queues one more (that one may have read before the change that prompted
   * this call); calls while one is queued share it.
   */
  rebuild(reason: string): Promise<void> {
    if (this.queued) return this.queued;
    if (this.inFlight) {
      const queued = this.inFlight.then(() => {
        this.queued = null;
        return this.rebuild(reason);
      });
      this.queued = queued;
      return queued;
    }
    const run = this.rebuildOnce(reason).finally(() => {
      this.inFlight = null;
    });
    this.inFlight = run.catch(() => {});
    return run;
  }

  private async rebuildOnce(reason: string): Promise<void> {
    const client = await this.pg.connect();
    try {
      // The lock is held until COMMIT, after the Redis write.
      const experiments = await transaction(client, async (db) => {
        await db.query("SELECT pg_advisory_xact_lock($1)", [LOCK_KEY]);
        const { experiments, version } = await loadRunning(db);
        await this.redis.set(this.key, encodeRunningExperiments(experiments, version, Date.now()));
        return experiments;
      });
      this.stats.rebuilds++;
      this.stats.lastRebuildAt = Date.now();
      this.stats.running = experiments.length;
      this.stats.lastError = null;
      this.log.debug({ reason, running: experiments.map((e) => e.name) }, "running experiments written");
    } catch (err) {
      this.stats.failures++;
      this.stats.lastError = (err as Error).message;
      this.log.warn({ reason, err: this.stats.lastError }, "running experiments not written");
      throw err;
    } finally {
      client.release();
    }
  }
}

/**
 * The serving index as one origin part: bootstrap from ClickHouse when the index is missing,
 * then keep it current with the updater. If the index disappears while running (a flush, a
 * failover to an empty replica), the part notices within `watchMs`, stops the updater,
 * bootstraps again and resumes. While it bootstraps the edge answers from ClickHouse.
 *
 * Several origins may run the part side by side: their updaters share the partitions of one
 * consumer group, and one bootstrap runs at a time, under a Redis lock (`<ready>:bootstrap`,
 * SET NX with a TTL the holder renews); the others wait for the index to be ready, then start
 * their updaters. A holder that dies leaves the lock to expire (BOOTSTRAP_LOCK_MS).
 */

import type { ClickHouseClient } from "@clickhouse/client";
import type { Admin, Kafka } from "kafkajs";
import type { Logger } from "pino";
import type { IndexKeys } from "#core/keys.ts";
import { suggestionKeys } from "#core/reads/suggestions.ts";
import { ALL_TOPICS } from "#core/topics.ts";
import { RedisLease } from "../lease.ts";
import type { Part, PartHealth } from "../lifecycle.ts";
import type { AnyRedis } from "../redis-cluster.ts";
import { retry } from "../retry.ts";
import { type BootstrapReport, bootstrapIndex, buildFollowerCounts } from "./bootstrap.ts";
import { IndexUpdater, type IndexUpdaterOptions, type IndexUpdaterStats } from "./updater.ts";
import { IndexWriter } from "./writer.ts";

export interface ServingIndexOptions extends IndexUpdaterOptions {
  /** The ClickHouse sink's consumer group: the updater starts where it stands after a bootstrap. */
  sinkGroupId: string;
  /** How often the part checks that the index is still there. Default 5000 ms. */
  watchMs?: number;
}

/** The bootstrap lock's TTL; its holder renews it every third of it. */
export const BOOTSTRAP_LOCK_MS = 30_000;

/** Thrown while another origin holds the bootstrap lock: the part waits (retrying) for its index. */
class BootstrapElsewhere extends Error {
  readonly retriable = true;
  constructor() {
    super("another origin is bootstrapping the serving index; waiting for it");
  }
}

export class ServingIndex implements Part {
  readonly name = "serving-index";
  readonly writer: IndexWriter;
  private updater: IndexUpdater | null = null;
  private state: "idle" | "bootstrapping" | "serving" | "failed" | "stopped" = "idle";
  private readonly abort = new AbortController();
  private lastBootstrap: BootstrapReport | null = null;
  private lastError: string | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private cycle: Promise<void> | null = null;

  constructor(
    private readonly kafka: Kafka,
    private readonly ch: ClickHouseClient,
    private readonly redis: AnyRedis,
    readonly keys: IndexKeys,
    private readonly log: Logger,
    private readonly opts: ServingIndexOptions,
  ) {
    this.writer = new IndexWriter(redis, keys);
  }

  /** Returns at once: a bootstrap may take minutes, and the edge has the ClickHouse path meanwhile. */
  async start(): Promise<void> {
    this.cycle = this.ensure();
    this.timer = setInterval(() => {
      if (this.state === "serving" && !this.cycle) this.cycle = this.ensure();
    }, this.opts.watchMs ?? 5000);
    this.timer.unref();
  }

  /**
   * Bootstraps when `ready` is missing, then (re)starts the updater; retries while the failure
   * may pass (ClickHouse, Kafka or Redis away). A failure no retry fixes leaves the part
   * unhealthy with the reason in its health, and the edge on the ClickHouse path.
   */
  private async ensure(): Promise<void> {
    try {
      await retry(() => this.ensureOnce(), {
        retries: Number.POSITIVE_INFINITY,
        minMs: 1000,
        maxMs: 30_000,
        signal: this.abort.signal,
        onRetry: ({ error, attempt, waitMs }) => {
          if (error instanceof BootstrapElsewhere) {
            // Not a failure: this part's updater starts once that bootstrap is done.
            if (!this.stopped()) this.state = "bootstrapping";
            this.log.info({ attempt, waitMs }, error.message);
            return;
          }
          this.lastError = error.message;
          if (!this.stopped()) this.state = "idle";
          this.log.warn({ err: error.message, attempt, waitMs }, "serving index bootstrap failed; retrying");
        },
      });
      this.lastError = null;
    } catch (err) {
      if (!this.stopped()) {
        this.state = "failed";
        this.lastError = (err as Error).message;
        this.log.error({ err: this.lastError }, "serving index not built: a failure no retry can fix");
      }
    } finally {
      this.cycle = null;
    }
  }

  private async ensureOnce(): Promise<void> {
    const ready = await this.redis.exists(this.keys.ready);
    if (ready && this.updater) {
      // An index bootstrapped before the suggestions' follower counts existed: fill them in once.
      if (!(await this.redis.exists(suggestionKeys(this.keys).followerCountsReady)))
        await buildFollowerCounts(this.ch, this.redis, this.keys);
      return;
    }
    if (!ready) {
      await this.updater?.stop().catch(() => {});
      this.updater = null;
      if (this.stopped()) return;
      this.state = "bootstrapping";
      // Held by another origin: a retriable error, so `ensure` tries again with backoff (by then
      // the index is usually ready, and the updater starts).
      const lease = new RedisLease(this.redis, `${this.keys.ready}:bootstrap`, BOOTSTRAP_LOCK_MS);
      const ran = await lease.tryRun(async () => {
        // Another origin may have bootstrapped it while this one waited for the lock.
        if (!(await this.redis.exists(this.keys.ready))) await this.bootstrap();
        return true;
      });
      if (ran === null) throw new BootstrapElsewhere();
    }
    if (this.stopped()) return;
    if (!this.updater) {
      this.updater = new IndexUpdater(this.kafka, this.writer, this.log, this.opts);
      await this.updater.start();
    }
    this.state = "serving";
  }

  private async bootstrap(): Promise<void> {
    const t0 = Date.now();
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      // The updater group's offsets are set below for a group with no member: other origins'
      // updaters stop once they see `ready` gone (each checks every watchMs).
      await this.groupEmptied(admin);
      // The offsets first: ClickHouse then holds at least everything before them.
      const sinkOffsets = await this.committedOffsets(admin, this.opts.sinkGroupId);
      this.lastBootstrap = await bootstrapIndex(this.ch, this.redis, this.keys, (msg, detail) =>
        this.log.info(detail ?? {}, msg),
      );
      await this.startFrom(admin, sinkOffsets);
    } finally {
      await admin.disconnect().catch(() => {});
    }
    this.log.info({ ms: Date.now() - t0 }, "serving index bootstrapped");
  }

  /**
   * Waits until the updater's group has no member: other origins stop their updaters within
   * their watch interval, a killed one's member is expired by its session. Gives up waiting (with
   * a warning) after three watch intervals and a minute, then bootstraps all the same.
   */
  private async groupEmptied(admin: Admin): Promise<void> {
    const groupId = this.opts.groupId ?? "serving-index";
    const deadline = Date.now() + 3 * (this.opts.watchMs ?? 5000) + 60_000;
    for (;;) {
      const { groups } = await admin.describeGroups([groupId]);
      const members = groups[0]?.members.length ?? 0;
      if (members === 0) return;
      if (Date.now() > deadline || this.stopped()) {
        this.log.warn({ groupId, members }, "the updater group still has members; bootstrapping all the same");
        return;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  /** A method, not a comparison, so TypeScript does not narrow it away across awaits. */
  private stopped(): boolean {
    return this.state === "stopped";
  }

  private async committedOffsets(admin: Admin, groupId: string) {
    const ns = this.opts.topicNamespace ?? "";
    const topics = ALL_TOPICS.map((t) => ns + t);
    return admin.fetchOffsets({ groupId, topics });
  }

  /**
   * Sets the updater group's offsets to the sink's, partition by partition; where the sink has
   * none yet, to the beginning (ClickHouse then holds nothing from that partition either).
   */
  private async startFrom(admin: Admin, offsets: Awaited<ReturnType<ServingIndex["committedOffsets"]>>) {
    const entries: { topic: string; partition: number; offset: string }[] = [];
    for (const { topic, partitions } of offsets) {
      const low = new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, o.low]));
      for (const p of partitions) {
        entries.push({
          topic,
          partition: p.partition,
          offset: Number(p.offset) >= 0 ? p.offset : (low.get(p.partition) ?? "0"),
        });
      }
    }
    await commitGroupOffsets(this.kafka, this.opts.groupId ?? "serving-index", entries);
  }

  /** The updater's numbers (the metrics read them); none while there is no updater (bootstrapping). */
  get stats(): IndexUpdaterStats | undefined {
    return this.updater?.stats;
  }

  async stop(): Promise<void> {
    this.state = "stopped";
    this.abort.abort();
    if (this.timer) clearInterval(this.timer);
    await this.cycle?.catch(() => {});
    await this.updater?.stop();
  }

  health(): PartHealth {
    return {
      ok: this.state === "serving" || this.state === "bootstrapping",
      detail: {
        state: this.state,
        lastBootstrap: this.lastBootstrap,
        lastError: this.lastError,
        updater: this.updater?.stats,
      },
    };
  }
}

/**
 * Commits offsets for a consumer group that has no running member, all topics at once: what
 * kafkajs's admin.setOffsets does per topic (a paused consumer that seeks, with auto-commit,
 * then stops at its first fetch), in one group join instead of one per topic.
 */
export async function commitGroupOffsets(
  kafka: Kafka,
  groupId: string,
  entries: { topic: string; partition: number; offset: string }[],
): Promise<void> {
  if (entries.length === 0) return;
  const topics = [...new Set(entries.map((e) => e.topic))];
  const consumer = kafka.consumer({ groupId });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      consumer.on(consumer.events.FETCH, () => {
        consumer.stop().then(resolve, reject);
      });
      consumer.run({ eachBatchAutoResolve: false, eachBatch: async () => {} }).catch(reject);
      consumer.pause(topics.map((topic) => ({ topic })));
      for (const e of entries) consumer.seek(e);
    });
  } finally {
    await consumer.disconnect().catch(() => {});
  }
}

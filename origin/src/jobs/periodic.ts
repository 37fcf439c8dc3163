/**
 * A periodic job as a lifecycle part: runs every `intervalMs` (± jitter), and only where it
 * holds the job's Redis leader lock, so several origins side by side run each job once per
 * interval. The lock is taken with SET NX PX for a little less than the interval and is not
 * released after the run: whoever runs first in an interval owns that interval.
 */
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { jobLockKey } from "#core/keys.ts";
import type { Part, PartHealth } from "../lifecycle.ts";
import type { AnyRedis } from "../redis-cluster.ts";

export interface JobStats {
  runs: number;
  failures: number;
  skippedNotLeader: number;
  lastDurationMs: number | null;
  lastRunAt: number | null;
  lastCounts: Record<string, number>;
}

export interface JobSpec {
  name: string;
  intervalMs: number;
  /** Fraction of the interval added or removed at random. Default 0.1. */
  jitter?: number;
  /** Does one run; returns counts for the log line. `signal` aborts when the origin stops. */
  run: (signal: AbortSignal) => Promise<Record<string, number>>;
  /** What a job that repairs (the serving index's reconciliation) repaired so far, by kind. Default none. */
  repairs?: Readonly<Record<string, number>>;
}

export class PeriodicJob implements Part {
  readonly name: string;
  readonly stats: JobStats = {
    runs: 0,
    failures: 0,
    skippedNotLeader: 0,
    lastDurationMs: null,
    lastRunAt: null,
    lastCounts: {},
  };
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> | null = null;
  private stopped = true;
  private abort = new AbortController();
  private readonly owner = randomUUID();

  constructor(
    private readonly spec: JobSpec,
    private readonly redis: AnyRedis,
    private readonly log: Logger,
  ) {
    this.name = `job:${spec.name}`;
  }

  async start(): Promise<void> {
    this.stopped = false;
    this.abort = new AbortController();
    // First run soon after start (jittered), not a whole interval later.
    this.schedule(Math.random() * Math.min(5000, this.spec.intervalMs));
  }

  /** No new runs; a run in progress is told to stop (it finishes the item at hand) and awaited. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    if (this.timer) clearTimeout(this.timer);
    await this.inFlight;
  }

  /** The spec's repairs, by kind (undefined for a job that repairs nothing). */
  get repairs(): Readonly<Record<string, number>> | undefined {
    return this.spec.repairs;
  }

  health(): PartHealth {
    const late = this.stats.lastRunAt !== null && Date.now() - this.stats.lastRunAt > 3 * this.spec.intervalMs;
    return { ok: !this.stopped && !late, detail: this.stats };
  }

  /** Tries the lock and runs once if it is ours; returns whether it ran. */
  async tick(): Promise<boolean> {
    const got = await this.redis.set(
      jobLockKey(this.spec.name),
      this.owner,
      "PX",
      Math.floor(this.spec.intervalMs * 0.9),
      "NX",
    );
    if (got !== "OK") {
      this.stats.skippedNotLeader++;
      return false;
    }
    const t0 = Date.now();
    try {
      const counts = await this.spec.run(this.abort.signal);
      this.stats.runs++;
      this.stats.lastCounts = counts;
      this.log.info({ job: this.spec.name, ms: Date.now() - t0, ...counts }, "job run");
    } catch (err) {
      this.stats.failures++;
      this.log.error({ job: this.spec.name, ms: Date.now() - t0, err: (err as Error).message }, "job failed");
      // Let another origin (or our next tick) retry soon rather than after a whole interval.
      await this.redis.del(jobLockKey(this.spec.name)).catch(() => {});
    } finally {
      this.stats.lastDurationMs = Date.now() - t0;
      this.stats.lastRunAt = Date.now();
    }
    return true;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.inFlight = this.tick()
        .then(() => undefined)
        .catch((err: unknown) => this.log.warn({ job: this.spec.name, err: (err as Error).message }, "job tick failed"))
        .finally(() => {
          this.inFlight = null;
          const j = this.spec.jitter ?? 0.1;
          this.schedule(this.spec.intervalMs * (1 - j + Math.random() * 2 * j));
        });
    }, delayMs);
  }
}

/** Several jobs as one lifecycle part: they start together and stop together (concurrently). */
export class JobGroup implements Part {
  readonly name = "jobs";
  constructor(readonly jobs: PeriodicJob[]) {}
  /** Each job's stats (and repairs) by job name: what the metrics read. */
  get stats(): Record<string, JobStats & { repairs?: Readonly<Record<string, number>> }> {
    return Object.fromEntries(this.jobs.map((j) => [j.name, j.repairs ? { ...j.stats, repairs: j.repairs } : j.stats]));
  }
  async start(): Promise<void> {
    await Promise.all(this.jobs.map((j) => j.start()));
  }
  async stop(): Promise<void> {
    await Promise.all(this.jobs.map((j) => j.stop()));
  }
  health(): PartHealth {
    const each = this.jobs.map((j) => [j.name, j.health()] as const);
    return { ok: each.every(([, h]) => h.ok), detail: Object.fromEntries(each) };
  }
}

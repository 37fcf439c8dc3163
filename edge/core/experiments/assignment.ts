/**
 * Who sees which variant: a deterministic bucket per (experiment, user), the weights that rank
 * a user's feed, and a runtime's refreshed in-memory copy of the running experiments. Pure.
 */
import type { RankingWeights } from "../ranking/score.ts";
import {
  decodeRunningExperiments,
  EXPERIMENTS_REFRESH_MS,
  type RunningExperiment,
  runningExperimentsKey,
  type Variant,
} from "./schema.ts";

/**
 * 32-bit FNV-1a over the UTF-16 code units, then murmur3's finalizer (FNV alone mixes its
 * low bits poorly for inputs that differ only at the end, as user ids of one experiment do).
 * Sync and pure: the same number in workerd and Node.
 */
export function stableHash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The user's bucket in 0..99 for one experiment (by name: it is unique and never changes). */
export function bucketOf(experimentName: string, userId: string): number {
  return stableHash32(`${experimentName}\u0000${userId.toLowerCase()}`) % 100;
}

/**
 * The user's variant: the promoted one once there is one, else the variant whose cumulative
 * share range holds the user's bucket (variants in declared order; a 0 share gets nobody).
 */
export function assignVariant(
  experiment: Pick<RunningExperiment, "name" | "variants" | "promoted">,
  userId: string,
): Variant {
  if (experiment.promoted) {
    const p = experiment.variants.find((v) => v.name === experiment.promoted);
    if (p) return p;
  }
  const bucket = bucketOf(experiment.name, userId);
  let upper = 0;
  for (const v of experiment.variants) {
    upper += v.share;
    if (bucket < upper) return v;
  }
  // Shares are validated to sum to 100; a hand-edited value that does not falls to the last.
  return experiment.variants[experiment.variants.length - 1] as Variant;
}

/** What a feed request records about the experiment it ran under (snapshot, events, explain). */
export interface ExperimentAssignment {
  experiment: string;
  variant: string;
}

/**
 * The experiment that ranks feeds: the earliest started of the running ones (ties by name).
 * Only one runs at a time; this keeps the edge deterministic if Redis ever held two.
 */
export function activeExperiment(experiments: readonly RunningExperiment[]): RunningExperiment | null {
  let best: RunningExperiment | null = null;
  for (const e of experiments) {
    if (!best || e.started_at < best.started_at || (e.started_at === best.started_at && e.name < best.name)) best = e;
  }
  return best;
}

/**
 * The weights that rank this user's feed, and the assignment to record: with no running
 * experiment, the deployment's configured weights and no assignment.
 */
export function rankingWeightsFor(
  experiments: readonly RunningExperiment[],
  userId: string,
  defaults: RankingWeights,
): { weights: RankingWeights; assignment: ExperimentAssignment | null } {
  const e = activeExperiment(experiments);
  if (!e) return { weights: defaults, assignment: null };
  const v = assignVariant(e, userId);
  return { weights: { ...v.weights }, assignment: { experiment: e.name, variant: v.name } };
}

/**
 * A runtime's in-memory copy of the running experiments (the edge per isolate, the origin's
 * fallback-snapshots job per process), read from Redis at most once per `refreshMs`: `due(now)` says whether the
 * next read should carry a GET of `runningExperimentsKey` (the edge adds it to a round trip it
 * makes anyway), `update(raw, now)` takes that GET's reply. A reply equal to the last one is not
 * parsed again. A failed read leaves the copy (and its age) as it was, so the next request
 * tries again. Pure: the caller passes the time.
 */
export class RunningExperimentsCopy {
  private raw: string | null = null;
  private parsed: RunningExperiment[] = [];
  private readAtMs = Number.NEGATIVE_INFINITY;

  constructor(readonly refreshMs: number = EXPERIMENTS_REFRESH_MS) {}

  /** True when the copy is older than refreshMs (or was never read). */
  due(nowMs: number): boolean {
    return nowMs - this.readAtMs >= this.refreshMs || nowMs < this.readAtMs;
  }

  /** Takes the reply of a GET of the key (a string, or null when the key is missing). */
  update(reply: unknown, nowMs: number): void {
    const raw = typeof reply === "string" ? reply : reply == null ? null : JSON.stringify(reply);
    if (raw !== this.raw) {
      this.raw = raw;
      this.parsed = decodeRunningExperiments(raw);
    }
    this.readAtMs = nowMs;
  }

  /** The running experiments as last read ([] before the first read). */
  current(): readonly RunningExperiment[] {
    return this.parsed;
  }
}

/**
 * A runtime's copies of the running experiments, one per Redis key (one key per index
 * namespace): the edge keeps one registry per isolate, the origin one per process.
 */
export class ExperimentCopies {
  private readonly copies = new Map<string, RunningExperimentsCopy>();

  constructor(private readonly refreshMs: number = EXPERIMENTS_REFRESH_MS) {}

  /** The copy for the experiments of `namespace`, and the key it is read from. */
  forNamespace(namespace: string): { key: string; copy: RunningExperimentsCopy } {
    const key = runningExperimentsKey(namespace);
    let copy = this.copies.get(key);
    if (!copy) {
      copy = new RunningExperimentsCopy(this.refreshMs);
      this.copies.set(key, copy);
    }
    return { key, copy };
  }
}

/**
 * One ranking pipeline for every caller (the edge on a miss, the origin's fallback-snapshots job): load the
 * viewer's candidates through a port (the serving index, or ClickHouse on the cold path),
 * rank them with the pure code, and save the result as an immutable snapshot through another
 * port. Only the ports do I/O.
 */

import { rankingWeightsFor } from "../experiments/assignment.ts";
import type { RunningExperiment } from "../experiments/schema.ts";
import { type RankingOptions, rankFeed } from "../ranking/rank.ts";
import { DEFAULT_WEIGHTS } from "../ranking/score.ts";
import type { IndexCandidates } from "../serving/read.ts";
import { newRankingId, type RankingPath, SNAPSHOT_VERSION, type Snapshot } from "../serving/snapshot.ts";

export interface CandidatePort {
  /** The viewer's candidates, and which path they came from. */
  load(viewerId: string, nowMs: number): Promise<{ candidates: IndexCandidates; path: RankingPath }>;
}

export interface SnapshotPort {
  save(snapshot: Snapshot): Promise<void>;
}

export interface BuildOptions {
  ranking?: RankingOptions;
  now: () => number;
  /** The viewer's feed version, read before the candidates (see feedVersionKey). */
  ver: number;
  /**
   * The running experiments (issue 17): the viewer's variant, assigned by rankingWeightsFor,
   * replaces `ranking.weights` (decay included) and is recorded in the snapshot's metadata.
   * None (or absent): the configured weights, `experiment: null`.
   */
  experiments?: readonly RunningExperiment[];
  /** Timings of the parts, for Server-Timing. */
  timings?: { name: string; ms: number; desc?: string }[];
}

export async function buildRanking(
  ports: { candidates: CandidatePort; snapshots: SnapshotPort },
  viewerId: string,
  opts: BuildOptions,
): Promise<Snapshot> {
  const t0 = performance.now();
  const nowMs = opts.now();
  const { candidates, path } = await ports.candidates.load(viewerId, nowMs);
  const t1 = performance.now();
  const { weights, assignment } = rankingWeightsFor(
    opts.experiments ?? [],
    viewerId,
    opts.ranking?.weights ?? DEFAULT_WEIGHTS,
  );
  const items = rankFeed(
    candidates.bySource,
    { viewerId, blockedAuthorIds: candidates.blockedAuthorIds, seenPostIds: candidates.seenPostIds },
    nowMs,
    { ...opts.ranking, weights },
  );
  const snapshot: Snapshot = {
    meta: {
      v: SNAPSHOT_VERSION,
      rankingId: newRankingId(),
      viewerId,
      builtAtMs: nowMs,
      count: items.length,
      path,
      ver: opts.ver,
      experiment: assignment,
    },
    items,
  };
  opts.timings?.push({ name: path === "index" ? "index" : "ch", ms: t1 - t0 });
  opts.timings?.push({ name: "rank", ms: performance.now() - t1 });
  await ports.snapshots.save(snapshot);
  return snapshot;
}

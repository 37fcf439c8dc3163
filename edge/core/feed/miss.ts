/**
 * A feed miss as plans, pure, for every runtime (the edge's Upstash REST, the origin's
 * ioredis): what round trip 1 reads and how its replies parse, where the candidates come from
 * (the serving index, else the cold path's ClickHouse rows), and the writes that save a ranking
 * as one atomic command list. The runtimes differ only in how they execute a command list.
 *
 * Round trip 1: the viewer's snapshot pointer and feed version, the viewer's index keys
 * (serving/read.ts viewerReads) and, when the runtime's copy of the running experiments is due,
 * their key (last, so it shifts nothing). Round trip 2: the posts of the authors the sources
 * need (serving/read.ts authorReads); skipped on the cold path.
 */

import type { RunningExperimentsCopy } from "../experiments/assignment.ts";
import {
  feedVersionKey,
  type IndexKeys,
  SNAPSHOT_PAGING_TTL_S,
  SNAPSHOT_TTL_S,
  seenKey,
  snapshotKey,
  snapshotPointerKey,
} from "../keys.ts";
import type { RankingOptions } from "../ranking/rank.ts";
import { jsonReply } from "../serving/json.ts";
import {
  assembleCandidates,
  authorReads,
  type Command,
  type MissDisplay,
  type PipelineExec,
  parseViewerState,
  planAuthorReads,
  type ViewerState,
  viewerReads,
} from "../serving/read.ts";
import { pointerOf, type Snapshot, type SnapshotPointer, snapshotElements } from "../serving/snapshot.ts";
import { buildRanking, type CandidatePort } from "./build.ts";
import { type CandidateRowLike, candidatesFromQuery } from "./rows.ts";

/** The runtime's copy of the running experiments and the Redis key it is read from. */
export interface ExperimentsSource {
  key: string;
  copy: RunningExperimentsCopy;
}

/** Round trip 1 of a miss, and how many of its replies are the viewer's index keys. */
export interface MissReadPlan {
  commands: Command[];
  viewerReadCount: number;
  readsExperiments: boolean;
}

export function missReads(
  keys: IndexKeys,
  viewerId: string,
  experiments: ExperimentsSource | null,
  nowMs: number,
): MissReadPlan {
  const reads = viewerReads(keys, viewerId, seenKey(viewerId));
  const readsExperiments = experiments ? experiments.copy.due(nowMs) : false;
  return {
    commands: [
      ["GET", snapshotPointerKey(viewerId)],
      ["GET", feedVersionKey(viewerId)],
      ...reads,
      ["ZRANGE", keys.recentLikes(viewerId), "0", "-1"],
      ...(experiments && readsExperiments ? [["GET", experiments.key] as Command] : []),
    ],
    viewerReadCount: reads.length,
    readsExperiments,
  };
}

/** What round trip 1 read, parsed. */
export interface MissState {
  /** The viewer's newest snapshot, if any. */
  pointer: SnapshotPointer | null;
  /** The viewer's feed version (feedVersionKey); 0 when there is none. */
  ver: number;
  viewer: ViewerState;
  /** Posts the viewer liked recently (recentLikes): every liked post the index holds. */
  likedPostIds: Set<string>;
}

/** Parses round trip 1's replies; the experiments' reply (if read) goes into their copy. */
export function parseMissReads(
  plan: MissReadPlan,
  replies: unknown[],
  experiments: ExperimentsSource | null,
  nowMs: number,
): MissState {
  if (experiments && plan.readsExperiments) experiments.copy.update(replies[3 + plan.viewerReadCount], nowMs);
  const liked = replies[2 + plan.viewerReadCount];
  return {
    pointer: jsonReply<SnapshotPointer>(replies[0]),
    ver: Number(replies[1] ?? 0),
    viewer: parseViewerState(replies.slice(2, 2 + plan.viewerReadCount)),
    likedPostIds: new Set(Array.isArray(liked) ? liked.map(String) : []),
  };
}

/** Round trip 1 through `exec`, parsed. */
export async function readMiss(
  exec: PipelineExec,
  keys: IndexKeys,
  viewerId: string,
  experiments: ExperimentsSource | null,
  nowMs: number,
): Promise<MissState> {
  const plan = missReads(keys, viewerId, experiments, nowMs);
  return parseMissReads(plan, await exec(plan.commands), experiments, nowMs);
}

/**
 * Where a miss's candidates come from: the serving index when it is ready (round trip 2 through
 * `exec`), else the cold path (the candidates query's rows, with the seen set round trip 1
 * read, or none when Redis did not answer).
 */
export function missCandidates(
  exec: PipelineExec,
  keys: IndexKeys,
  viewer: ViewerState | null,
  coldRows: (viewerId: string) => Promise<CandidateRowLike[]>,
): CandidatePort {
  return {
    load: async (viewerId, nowMs) => {
      const fromIndex = async (v: ViewerState) => {
        const plan = planAuthorReads(v);
        const replies = plan.authors.length ? await exec(authorReads(keys, plan)) : [];
        return { candidates: assembleCandidates(v, plan, replies, nowMs), path: "index" as const };
      };
      if (viewer?.ready) return fromIndex(viewer);
      if (viewer?.notReady === "viewer") {
        // A viewer the ready index does not hold: ClickHouse knows them, if it answers; if it
        // does not, the index still ranks (the viewer's own keys are missing, not the rest).
        try {
          const rows = await coldRows(viewerId);
          return { candidates: candidatesFromQuery(rows, [...viewer.seenPostIds]), path: "clickhouse" };
        } catch {
          return fromIndex(viewer);
        }
      }
      const rows = await coldRows(viewerId);
      return { candidates: candidatesFromQuery(rows, [...(viewer?.seenPostIds ?? [])]), path: "clickhouse" };
    },
  };
}

/**
 * Saving a ranking: the snapshot LIST (metadata, then one item per element) with its TTL, and
 * the viewer's pointer to it. Run as one transaction (MULTI/EXEC) so no reader sees a pointer
 * to a snapshot that is not all there; both keys carry the viewer's hash tag, so on a Redis
 * Cluster the transaction is one slot.
 */
export function snapshotWrites(s: Snapshot): Command[] {
  const key = snapshotKey(s.meta.viewerId, s.meta.rankingId);
  return [
    ["RPUSH", key, ...snapshotElements(s)],
    ["EXPIRE", key, String(SNAPSHOT_TTL_S)],
    [
      "SET",
      snapshotPointerKey(s.meta.viewerId),
      JSON.stringify(pointerOf(s.meta)),
      "EX",
      String(SNAPSHOT_PAGING_TTL_S),
    ],
  ];
}

export interface RankMissOptions {
  ranking?: RankingOptions;
  nowMs: number;
  experiments: ExperimentsSource | null;
  timings?: { name: string; ms: number; desc?: string }[];
}

/**
 * Ranks a miss from what round trip 1 read (`state`, null when Redis did not answer) and hands
 * the snapshot to `save` (the runtime decides whether to wait for it). `display` is what round
 * trip 2 read to render the ranked posts (null on the cold path).
 */
export async function rankMiss(
  ports: {
    exec: PipelineExec;
    coldRows: (viewerId: string) => Promise<CandidateRowLike[]>;
    save: (snapshot: Snapshot) => Promise<void>;
  },
  keys: IndexKeys,
  viewerId: string,
  state: MissState | null,
  opts: RankMissOptions,
): Promise<{ snapshot: Snapshot; display: MissDisplay | null }> {
  const port = missCandidates(ports.exec, keys, state?.viewer ?? null, ports.coldRows);
  let display: MissDisplay | null = null;
  const snapshot = await buildRanking(
    {
      candidates: {
        load: async (viewerId, nowMs) => {
          const loaded = await port.load(viewerId, nowMs);
          display = loaded.candidates.display ?? null;
          return loaded;
        },
      },
      snapshots: { save: ports.save },
    },
    viewerId,
    {
      ranking: opts.ranking,
      now: () => opts.nowMs,
      ver: state?.ver ?? 0,
      experiments: opts.experiments?.copy.current() ?? [],
      ...(opts.timings ? { timings: opts.timings } : {}),
    },
  );
  return { snapshot, display };
}

/**
 * GET /api/v1/feed as a pipeline over the serving index (README "Read path"):
 * - a cursor pages its own snapshot: one round trip (the page, the snapshot's metadata and a
 *   longer TTL); a cursor that names no snapshot of this viewer is a 400, never a rebuild;
 * - a request without a cursor reads the viewer's index keys (round trip 1) and, unless the
 *   viewer's newest snapshot is under SNAPSHOT_REUSE_MS old, the posts of the authors its
 *   sources need (round trip 2), ranks with the pure code and saves the ranking as a new
 *   immutable snapshot (in waitUntil); the page is served from memory;
 * - when the index is not ready (not bootstrapped, flushed) the candidates come from the one
 *   ClickHouse query (the cold path, named in Server-Timing); when that fails too, the viewer's
 *   last snapshot, else trending, marked STALE.
 * Every outbound call has a timeout (the clients').
 */
import type { ClickHouseClient } from "@clickhouse/client-web";
import type { Redis } from "@upstash/redis/cloudflare";
import type { ExperimentAssignment, RunningExperimentsCopy } from "../../core/experiments.ts";
import {
  ApiError,
  assembleCandidates,
  authorReads,
  buildRanking,
  type CandidatePort,
  type CandidateRowLike,
  type Command,
  candidatesFromQuery,
  FEED_CANDIDATES_SQL,
  FEED_QUERY_LIMITS,
  type FeedCursor,
  feedVersionKey,
  type IndexKeys,
  jsonReply,
  nextCursor,
  type PipelineExec,
  pageFromReplies,
  pageRange,
  parseViewerState,
  planAuthorReads,
  pointerOf,
  type RankedItem,
  type RankingOptions,
  reusable,
  SNAPSHOT_PAGING_TTL_S,
  SNAPSHOT_TTL_S,
  type Snapshot,
  SnapshotError,
  type SnapshotPointer,
  seenKey,
  snapshotElements,
  snapshotExperiment,
  snapshotKey,
  snapshotPointerKey,
  viewerReads,
} from "../../core/index.ts";

export type CacheOutcome = "HIT" | "MISS" | "STALE";

export interface Timing {
  name: string;
  ms: number;
  desc?: string;
}

export interface FeedDeps {
  /** Without automatic JSON parsing (EdgeClients.rawRedis): replies are parsed here. */
  redis: Redis;
  clickhouse: ClickHouseClient;
  keys: IndexKeys;
  ranking: RankingOptions;
  /**
   * The running experiments (issue 17): the isolate's copy and its Redis key. When the copy is
   * due (EXPERIMENTS_REFRESH_MS), a miss adds the key's GET to round trip 1, so reading it
   * costs no round trip of its own; pages of a cursor never read it (their snapshot says).
   */
  experiments?: { key: string; copy: RunningExperimentsCopy };
  now: () => number;
  waitUntil: (p: Promise<unknown>) => void;
  log: Record<string, unknown>;
}

export interface FeedPage {
  items: RankedItem[];
  next: FeedCursor | null;
  cache: CacheOutcome;
  timings: Timing[];
  /** The experiment and variant the served snapshot was ranked under; null outside any. */
  experiment: ExperimentAssignment | null;
}

async function timed<T>(timings: Timing[], name: string, fn: () => Promise<T>, desc?: string): Promise<T> {
  const t0 = performance.now();
  try {
    return await fn();
  } finally {
    timings.push({ name, ms: performance.now() - t0, ...(desc ? { desc } : {}) });
  }
}

/** Runs plain commands as one Upstash pipeline (one HTTP round trip). */
export function upstashExec(redis: Redis): PipelineExec {
  return async (commands: Command[]) => {
    if (commands.length === 0) return [];
    const p = redis.pipeline();
    for (const [verb, key, ...args] of commands) {
      switch (verb) {
        case "GET":
          p.get(key as string);
          break;
        case "SMEMBERS":
          p.smembers(key as string);
          break;
        case "HGETALL":
          p.hgetall(key as string);
          break;
        case "ZRANGE":
          p.zrange(key as string, Number(args[0]), Number(args[1]));
          break;
        case "HMGET":
          p.hmget(key as string, ...args);
          break;
        case "SMISMEMBER":
          p.smismember(key as string, args);
          break;
        case "LINDEX":
          p.lindex(key as string, Number(args[0]));
          break;
        case "LRANGE":
          p.lrange(key as string, Number(args[0]), Number(args[1]));
          break;
        case "EXPIRE":
          p.expire(key as string, Number(args[0]));
          break;
        default:
          throw new Error(`upstashExec: unsupported command ${verb}`);
      }
    }
    return p.exec();
  };
}

/**
 * A page of a snapshot in one round trip of reads only (a read replica next to the edge can
 * answer it); keeping the snapshot for the session (its longer TTL) is a write, sent after the
 * answer in waitUntil, so a page never waits for the primary.
 */
async function readPage(
  exec: PipelineExec,
  waitUntil: (p: Promise<unknown>) => void,
  viewerId: string,
  cursor: FeedCursor,
  limit: number,
): Promise<{ items: RankedItem[]; next: FeedCursor | null; experiment: ExperimentAssignment | null }> {
  const key = snapshotKey(cursor.rankingId);
  const [from, to] = pageRange(cursor.offset, limit);
  const [meta, items] = await exec([
    ["LINDEX", key, "0"],
    ["LRANGE", key, String(from), String(to)],
  ]);
  const page = pageFromReplies(viewerId, cursor, limit, meta, items);
  waitUntil(exec([["EXPIRE", key, String(SNAPSHOT_PAGING_TTL_S)]]).catch(() => {}));
  return { items: page.items, next: page.next, experiment: snapshotExperiment(page.meta) };
}

/** Saves a snapshot and points the viewer at it, in one round trip. */
function saveSnapshot(redis: Redis, s: Snapshot): Promise<unknown> {
  const p = redis.pipeline();
  const key = snapshotKey(s.meta.rankingId);
  p.rpush(key, ...snapshotElements(s));
  p.expire(key, SNAPSHOT_TTL_S);
  p.set(snapshotPointerKey(s.meta.viewerId), JSON.stringify(pointerOf(s.meta)), { ex: SNAPSHOT_PAGING_TTL_S });
  return p.exec();
}

/** The ClickHouse path's candidates (the cold path): the one candidates query. */
async function fromClickHouse(deps: FeedDeps, viewerId: string, seen: Iterable<string>) {
  const rs = await deps.clickhouse.query({
    query: FEED_CANDIDATES_SQL,
    query_params: { viewer: viewerId, ...FEED_QUERY_LIMITS },
    format: "JSONEachRow",
  });
  return candidatesFromQuery(await rs.json<CandidateRowLike>(), [...seen]);
}

function pageOfSnapshot(s: Snapshot, limit: number): { items: RankedItem[]; next: FeedCursor | null } {
  const items = s.items.slice(0, limit);
  return { items, next: nextCursor(s.meta, 0, items.length) };
}

export async function getFeed(
  deps: FeedDeps,
  viewerId: string,
  cursor: FeedCursor | null,
  limit: number,
): Promise<FeedPage> {
  const timings: Timing[] = [];
  const exec = upstashExec(deps.redis);

  if (cursor) {
    try {
      const page = await timed(timings, "redis", () => readPage(exec, deps.waitUntil, viewerId, cursor, limit));
      return { ...page, cache: "HIT", timings };
    } catch (err) {
      if (err instanceof SnapshotError) throw new ApiError("bad_request", err.message);
      deps.log.redis_error = String(err);
      throw new ApiError("unavailable", "feed temporarily unavailable; retry shortly");
    }
  }

  // Round trip 1: the viewer's pointer and version with the viewer's index keys, and the
  // running experiments when the isolate's copy is due (the last command, so it shifts nothing).
  const reads = viewerReads(deps.keys, viewerId, seenKey(viewerId));
  const exp = deps.experiments;
  const readExperiments = exp ? exp.copy.due(deps.now()) : false;
  let replies: unknown[] | null = null;
  try {
    replies = await timed(timings, "redis", () =>
      exec([
        ["GET", snapshotPointerKey(viewerId)],
        ["GET", feedVersionKey(viewerId)],
        ...reads,
        ...(exp && readExperiments ? [["GET", exp.key] as Command] : []),
      ]),
    );
  } catch (err) {
    deps.log.redis_error = String(err); // Redis down: rank from ClickHouse, without snapshots
  }
  const pointer = jsonReply<SnapshotPointer>(replies?.[0]);
  const ver = Number(replies?.[1] ?? 0);
  const state = replies ? parseViewerState(replies.slice(2, 2 + reads.length)) : null;
  const now = deps.now();
  if (exp && readExperiments && replies) exp.copy.update(replies[2 + reads.length], now);

  if (replies && reusable(pointer, ver, now)) {
    try {
      const page = await timed(timings, "snapshot", () =>
        readPage(exec, deps.waitUntil, viewerId, { rankingId: pointer.rankingId, offset: 0 }, limit),
      );
      return { ...page, cache: "HIT", timings };
    } catch (err) {
      deps.log.reuse_error = String(err); // gone in between: build a new one
    }
  }

  const candidates: CandidatePort = {
    load: async (viewer, nowMs) => {
      if (state?.ready) {
        const plan = planAuthorReads(state);
        const second = await exec(authorReads(deps.keys, plan));
        return { candidates: assembleCandidates(state, plan, second, nowMs), path: "index" };
      }
      deps.log.path = "cold";
      return { candidates: await fromClickHouse(deps, viewer, state?.seenPostIds ?? []), path: "clickhouse" };
    },
  };
  try {
    const snapshot = await buildRanking(
      {
        candidates,
        snapshots: {
          save: async (s) => {
            if (!replies) return; // no Redis, no snapshot: this answer has no next page
            deps.waitUntil(saveSnapshot(deps.redis, s).catch((e) => (deps.log.snapshot_write_error = String(e))));
          },
        },
      },
      viewerId,
      { ranking: deps.ranking, now: () => now, ver, timings, experiments: exp?.copy.current() ?? [] },
    );
    for (const t of timings) if (t.name === "ch") t.desc = "cold path";
    const page = pageOfSnapshot(snapshot, limit);
    return {
      items: page.items,
      next: replies ? page.next : null,
      cache: "MISS",
      timings,
      experiment: snapshotExperiment(snapshot.meta),
    };
  } catch (err) {
    deps.log.build_error = String(err);
  }

  // Neither the index nor ClickHouse: the viewer's last snapshot, else trending.
  if (pointer) {
    try {
      const page = await readPage(exec, deps.waitUntil, viewerId, { rankingId: pointer.rankingId, offset: 0 }, limit);
      deps.log.fallback = "last-snapshot";
      return { ...page, cache: "STALE", timings };
    } catch {
      // gone too
    }
  }
  const hot = state?.trending.length ? await hotItems(deps) : [];
  if (hot.length) {
    deps.log.fallback = "trending";
    return {
      items: hot.filter((i) => i.authorId !== viewerId).slice(0, limit),
      next: null,
      cache: "STALE",
      timings,
      experiment: null,
    };
  }
  throw new ApiError("unavailable", "feed temporarily unavailable; retry shortly");
}

async function hotItems(deps: FeedDeps): Promise<RankedItem[]> {
  try {
    return jsonReply<RankedItem[]>(await deps.redis.get(deps.keys.hotPosts)) ?? [];
  } catch {
    return [];
  }
}

/**
 * GET /api/v1/feed over the serving index (docs/read-path.md), running the core's miss plans
 * (edge/core/feed/miss.ts) on Upstash REST:
 * - a cursor pages its own snapshot: one round trip of reads (the page and the snapshot's
 *   metadata); the longer paging TTL is sent after the answer (waitUntil). A cursor that names no
 *   snapshot of this viewer is a 400, never a rebuild;
 * - a request without a cursor reads the viewer's pointer, version and index keys (round trip 1)
 *   and, unless the viewer's newest snapshot is under SNAPSHOT_REUSE_MS old, the posts of the
 *   authors its sources need (round trip 2), ranks with the pure code and saves the ranking as a
 *   new immutable snapshot, one transaction (waitUntil); the page is served from memory;
 * - when the index is not ready (not bootstrapped, flushed), or does not hold this viewer (no
 *   profile: evicted, or not taken in yet), the candidates come from the one ClickHouse query
 *   (the cold path, named in Server-Timing, for that viewer only); when that fails too, the viewer's
 *   last snapshot, else trending, marked STALE.
 * Every outbound call has a timeout (the clients').
 */
import type { ClickHouseClient } from "@clickhouse/client-web";
import type { Redis } from "@upstash/redis/cloudflare";
import { ApiError } from "#core/errors.ts";
import type { ExperimentAssignment } from "#core/experiments/assignment.ts";
import type { FeedCursor } from "#core/feed/cursor.ts";
import { type ExperimentsSource, type MissState, rankMiss, readMiss, snapshotWrites } from "#core/feed/miss.ts";
import { type FeedItemOut, hydrateFromMiss, hydrateFromRead, presentItems } from "#core/feed/present.ts";
import type { CandidateRowLike } from "#core/feed/rows.ts";
import type { IndexKeys } from "#core/keys.ts";
import type { RankedItem, RankingOptions } from "#core/ranking/rank.ts";
import { hydrationReads, parseHydration } from "#core/reads/posts.ts";
import { jsonReply } from "#core/serving/json.ts";
import type { PipelineExec } from "#core/serving/read.ts";
import {
  nextCursor,
  pageFromReplies,
  pageReads,
  pagingTtlWrite,
  reusable,
  type Snapshot,
  SnapshotError,
  snapshotExperiment,
} from "#core/serving/snapshot.ts";
import { FEED_CANDIDATES_SQL, FEED_QUERY_LIMITS } from "#core/sql/queries.ts";
import { upstashAtomic, upstashExec } from "../redis-exec.ts";
import { type Timing, timed } from "../timing.ts";

export type CacheOutcome = "HIT" | "MISS" | "STALE";

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
  experiments?: ExperimentsSource;
  now: () => number;
  waitUntil: (p: Promise<unknown>) => void;
  log: Record<string, unknown>;
}

export interface FeedPage {
  /** The page's items, rendered (hydrated for the viewer). */
  items: FeedItemOut[];
  next: FeedCursor | null;
  cache: CacheOutcome;
  timings: Timing[];
  /** The experiment and variant the served snapshot was ranked under; null outside any. */
  experiment: ExperimentAssignment | null;
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
): Promise<{
  items: RankedItem[];
  next: FeedCursor | null;
  experiment: ExperimentAssignment | null;
  coldRanking: boolean;
}> {
  // The snapshot's key is the authenticated viewer's (snapshotKey), the cursor gives the ranking id.
  const [meta, items] = await exec(pageReads(viewerId, cursor, limit));
  const page = pageFromReplies(viewerId, cursor, limit, meta, items);
  waitUntil(exec([pagingTtlWrite(viewerId, cursor.rankingId)]).catch(() => {}));
  return {
    items: page.items,
    next: page.next,
    experiment: snapshotExperiment(page.meta),
    coldRanking: page.meta.path === "clickhouse",
  };
}

/**
 * Renders ranked items with one hydration read of the index (counts, cards, the viewer's likes,
 * follows and blocks): a page of a snapshot fixes the order, not the numbers.
 */
async function hydrateRead(
  deps: FeedDeps,
  exec: PipelineExec,
  viewerId: string | null,
  items: RankedItem[],
  explain: boolean,
  coldRanking: boolean,
): Promise<FeedItemOut[]> {
  const plan = hydrationReads(
    deps.keys,
    viewerId,
    items.map((i) => ({ postId: i.postId, authorId: i.authorId })),
  );
  const replies = plan.commands.length ? await exec(plan.commands) : [];
  return presentItems(items, explain, hydrateFromRead(parseHydration(plan, replies), viewerId, coldRanking));
}

/** The cold path's rows: the one candidates query on ClickHouse. */
async function coldRows(deps: FeedDeps, viewerId: string): Promise<CandidateRowLike[]> {
  const rs = await deps.clickhouse.query({
    query: FEED_CANDIDATES_SQL,
    query_params: { viewer: viewerId, ...FEED_QUERY_LIMITS },
    format: "JSONEachRow",
  });
  return rs.json<CandidateRowLike>();
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
  explain = false,
): Promise<FeedPage> {
  const timings: Timing[] = [];
  const exec = upstashExec(deps.redis);

  if (cursor) {
    try {
      const page = await timed(timings, "redis", () => readPage(exec, deps.waitUntil, viewerId, cursor, limit));
      const items = await timed(timings, "hydrate", () =>
        hydrateRead(deps, exec, viewerId, page.items, explain, page.coldRanking),
      );
      return { items, next: page.next, experiment: page.experiment, cache: "HIT", timings };
    } catch (err) {
      if (err instanceof SnapshotError) throw new ApiError("bad_request", err.message);
      deps.log.redis_error = String(err);
      throw new ApiError("unavailable", "feed temporarily unavailable; retry shortly");
    }
  }

  // Round trip 1 (edge/core/feed/miss.ts): the viewer's pointer, version, index keys and recent
  // likes, and the running experiments when the isolate's copy is due.
  const exp = deps.experiments ?? null;
  let state: MissState | null = null;
  try {
    const nowRead = deps.now();
    state = await timed(timings, "redis", () => readMiss(exec, deps.keys, viewerId, exp, nowRead));
  } catch (err) {
    deps.log.redis_error = String(err); // Redis down: rank from ClickHouse, without snapshots
  }
  const now = deps.now();
  const pointer = state?.pointer ?? null;

  if (state && reusable(pointer, state.ver, now)) {
    try {
      const page = await timed(timings, "snapshot", () =>
        readPage(exec, deps.waitUntil, viewerId, { rankingId: pointer.rankingId, offset: 0 }, limit),
      );
      const items = await timed(timings, "hydrate", () =>
        hydrateRead(deps, exec, viewerId, page.items, explain, page.coldRanking),
      );
      return { items, next: page.next, experiment: page.experiment, cache: "HIT", timings };
    } catch (err) {
      deps.log.reuse_error = String(err); // gone in between: build a new one
    }
  }

  const atomic = upstashAtomic(deps.redis);
  try {
    const { snapshot, display } = await rankMiss(
      {
        exec,
        coldRows: (viewer) => {
          deps.log.path = "cold";
          deps.log.cold_reason = state ? (state.viewer.notReady ?? "index") : "redis";
          return coldRows(deps, viewer);
        },
        save: async (s) => {
          if (!state) return; // no Redis, no snapshot: this answer has no next page
          deps.waitUntil(atomic(snapshotWrites(s)).catch((e) => (deps.log.snapshot_write_error = String(e))));
        },
      },
      deps.keys,
      viewerId,
      state,
      { ranking: deps.ranking, nowMs: now, experiments: exp, timings },
    );
    const why = state?.viewer.notReady === "viewer" ? " (viewer not in the index)" : "";
    for (const t of timings) if (t.name === "ch") t.desc = `cold path${why}`;
    const page = pageOfSnapshot(snapshot, limit);
    let items: FeedItemOut[];
    if (display && state) {
      // The index path: everything to render was read by round trips 1 and 2.
      const viewer = { id: viewerId, followees: state.viewer.followees, liked: state.likedPostIds };
      items = presentItems(page.items, explain, hydrateFromMiss(display, viewer));
    } else {
      items = await hydrateRead(deps, exec, viewerId, page.items, explain, true).catch(() =>
        presentItems(page.items, explain, hydrateFromMiss(null, null)),
      );
    }
    return {
      items,
      next: state ? page.next : null,
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
      const items = await hydrateRead(deps, exec, viewerId, page.items, explain, true).catch(() =>
        presentItems(page.items, explain, hydrateFromMiss(null, null)),
      );
      return { items, next: page.next, experiment: page.experiment, cache: "STALE", timings };
    } catch {
      // gone too
    }
  }
  const hot = state?.viewer.trending.length ? await hotItems(deps) : [];
  if (hot.length) {
    deps.log.fallback = "trending";
    const mine = hot.filter((i) => i.authorId !== viewerId).slice(0, limit);
    const items = await hydrateRead(deps, exec, viewerId, mine, explain, true).catch(() =>
      presentItems(mine, explain, hydrateFromMiss(null, null)),
    );
    return { items, next: null, cache: "STALE", timings, experiment: null };
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

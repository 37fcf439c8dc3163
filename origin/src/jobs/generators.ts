/**
 * The three generators: hot posts (→ hot:posts:1h and the trending_posts snapshot the feed's F2
 * source reads), suggested users for active users (→ suggest:users:{id}, from the serving index,
 * ClickHouse when it is not ready) and fallback snapshots
 * for the most active users (→ a fresh ranking each, built by the edge's miss plans).
 *
 * Fallback snapshots are not a cache: a new session reuses a snapshot only while it is under
 * SNAPSHOT_REUSE_MS (0.5 s) old, so one built every 120 s almost never serves a normal request.
 * What they serve is the degraded path: when neither the index nor ClickHouse can rank, the edge
 * answers from the viewer's last snapshot (STALE), and a user whose own snapshot has expired (5
 * minutes after it was built unless paged) would get nothing personal. For the most active users
 * this job keeps one at most 120 s old (test/integration/feed-index.test.ts shows the case).
 */
import type { ClickHouseClient } from "@clickhouse/client";
import { ExperimentCopies } from "#core/experiments/assignment.ts";
import { hotPostsWrites, rankHotPosts } from "#core/feed/hot-posts.ts";
import { rankMiss, readMiss, snapshotWrites } from "#core/feed/miss.ts";
import type { CandidateRowLike } from "#core/feed/rows.ts";
import { type IndexKeys, indexKeys, SUGGEST_TTL_S, suggestKey } from "#core/keys.ts";
import type { RankingOptions } from "#core/ranking/rank.ts";
import {
  readSuggestions,
  SUGGESTIONS_PER_USER,
  type SuggestedUser,
  suggestionsFromRows,
} from "#core/reads/suggestions.ts";
import type { Snapshot } from "#core/serving/snapshot.ts";
import { chDateTime64 } from "#core/sql/clickhouse-time.ts";
import {
  ACTIVE_USERS_SQL,
  FEED_CANDIDATES_SQL,
  FEED_QUERY_LIMITS,
  SUGGESTED_USERS_BATCH_SQL,
  TRENDING_CANDIDATES_SQL,
} from "#core/sql/queries.ts";
import { ioredisAtomic, ioredisExec } from "../index/exec.ts";
import { type AnyRedis, pipelineOf } from "../redis-cluster.ts";

export interface GeneratorDeps {
  ch: ClickHouseClient;
  redis: AnyRedis;
  /** Where the hot list goes. Default HOT_POSTS_KEY (tests use their own). */
  hotKey?: string;
  /** The serving index's keys (INDEX_NAMESPACE). Default indexKeys(). */
  keys?: IndexKeys;
  ranking?: RankingOptions;
  now?: () => number;
}

const TRENDING_POOL = 1000;

/**
 * The generators' queries run on one thread each (a SETTINGS clause of the query itself, so no
 * session state changes): they are background work, and on a small ClickHouse a generator
 * query spread over every core makes the edge's misses wait behind it.
 */
export function asBackground(sql: string): string {
  const trimmed = sql.trimEnd();
  return /\bSETTINGS\s+[\w\s=,'.-]+$/i.test(trimmed)
    ? `${trimmed}, max_threads = 1`
    : `${trimmed}\nSETTINGS max_threads = 1`;
}

async function rows<T>(ch: ClickHouseClient, query: string, params: Record<string, unknown>): Promise<T[]> {
  const rs = await ch.query({ query: asBackground(query), query_params: params, format: "JSONEachRow" });
  return rs.json<T>();
}

export async function generateHotPosts(deps: GeneratorDeps): Promise<Record<string, number>> {
  const now = deps.now?.() ?? Date.now();
  const candidates = await rows<CandidateRowLike>(deps.ch, TRENDING_CANDIDATES_SQL, { pool: TRENDING_POOL });
  const hot = rankHotPosts(candidates, now, deps.ranking);
  const hotKey = deps.hotKey ?? (deps.keys ?? indexKeys()).hotPosts;
  // The list (for /trending) and its ids (for feed misses), replaced together (one slot).
  await ioredisAtomic(deps.redis)(hotPostsWrites(hotKey, hot));
  if (hot.length) {
    const computedAt = chDateTime64(now);
    await deps.ch.insert({
      table: "trending_posts",
      values: hot.map((h, rank) => ({
        generation: now,
        rank,
        post_id: h.postId,
        author_id: h.authorId,
        score: h.score,
        computed_at: computedAt,
      })),
      format: "JSONEachRow",
    });
  }
  return { candidates: candidates.length, hot: hot.length };
}

async function activeUsers(deps: GeneratorDeps, hours: number, limit: number): Promise<string[]> {
  return (await rows<{ user_id: string }>(deps.ch, ACTIVE_USERS_SQL, { hours, limit })).map((r) => r.user_id);
}

/** Runs `fn` over `items` with at most `concurrency` at once; stops taking items once aborted. */
async function eachLimited<T>(
  items: T[],
  concurrency: number,
  fn: (item: T) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length && !signal?.aborted) await fn(items[next++] as T);
    }),
  );
}

/**
 * Suggestions for the active users of the last 24 h (→ suggest:users:{id}, SUGGEST_TTL_S), from
 * the serving index (readSuggestions: three pipelines per `indexBatch` users, every command
 * single-key); the users the index cannot answer for (not ready, no follower counts yet, not in
 * the index) from ClickHouse, one set-based query per `batchSize` of them.
 */
export async function generateSuggestions(
  deps: GeneratorDeps,
  opts: { maxUsers: number; batchSize?: number; indexBatch?: number; signal?: AbortSignal },
): Promise<Record<string, number>> {
  const users = await activeUsers(deps, 24, opts.maxUsers);
  const keys = deps.keys ?? indexKeys();
  const exec = ioredisExec(deps.redis);
  const size = opts.batchSize ?? 500;
  const indexSize = opts.indexBatch ?? 100;
  let written = 0;
  let batches = 0;
  let fromIndex = 0;
  const save = async (found: Map<string, SuggestedUser[]>) => {
    const p = pipelineOf(deps.redis); // one key a command: one round trip per node on a Cluster
    for (const [v, list] of found) p.set(suggestKey(v), JSON.stringify(list), "EX", SUGGEST_TTL_S);
    await p.exec();
    written += found.size;
  };
  const cold: string[] = [];
  for (let i = 0; i < users.length && !opts.signal?.aborted; i += indexSize) {
    const viewers = users.slice(i, i + indexSize);
    let read: Map<string, SuggestedUser[] | null>;
    try {
      read = await readSuggestions(exec, keys, viewers);
    } catch {
      read = new Map(); // Redis failing: ClickHouse for these (their write then fails too, as before)
    }
    const found = new Map<string, SuggestedUser[]>();
    for (const v of viewers) {
      const list = read.get(v);
      if (list) found.set(v, list);
      else cold.push(v);
    }
    if (found.size) {
      await save(found);
      fromIndex += found.size;
      batches++;
    }
  }
  // One set-based query per batch (sequential: the generator should leave ClickHouse to the
  // edge's requests), then one Redis pipeline per batch.
  for (let i = 0; i < cold.length && !opts.signal?.aborted; i += size) {
    const viewers = cold.slice(i, i + size);
    const rowsFound = await rows<{ viewer_id: string; user_id: string; score: number | string; reason: string }>(
      deps.ch,
      SUGGESTED_USERS_BATCH_SQL,
      { viewers, limit: SUGGESTIONS_PER_USER },
    );
    const byViewer = new Map<string, typeof rowsFound>();
    for (const r of rowsFound) {
      const list = byViewer.get(r.viewer_id);
      if (list) list.push(r);
      else byViewer.set(r.viewer_id, [r]);
    }
    await save(new Map(viewers.map((v) => [v, suggestionsFromRows(byViewer.get(v) ?? [])])));
    batches++;
  }
  return { users: users.length, written, batches, fromIndex, fromClickHouse: written - fromIndex };
}

/**
 * The process's copies of the running experiments, one per index namespace, read at most once
 * per EXPERIMENTS_REFRESH_MS like the edge's, so a warmed snapshot is ranked under the same
 * assignment (the variant's weights, recorded in the snapshot) as the edge's own miss.
 */
const experimentCopies = new ExperimentCopies();

/**
 * Builds one user's ranking with the edge's miss plans (edge/core/feed/miss.ts: the same round
 * trip 1, the serving index or the ClickHouse query when the index is not ready) and saves it as
 * the viewer's newest snapshot, in one transaction. A new session starts from it only while it
 * is under SNAPSHOT_REUSE_MS old; after that it is the viewer's degraded answer when neither the
 * index nor ClickHouse can serve (the edge's STALE fallback).
 */
export async function buildFallbackSnapshot(deps: GeneratorDeps, userId: string): Promise<Snapshot> {
  const now = deps.now?.() ?? Date.now();
  const keys = deps.keys ?? indexKeys();
  const exec = ioredisExec(deps.redis);
  const experiments = experimentCopies.forNamespace(keys.namespace);
  const state = await readMiss(exec, keys, userId, experiments, now);
  const { snapshot } = await rankMiss(
    {
      exec,
      coldRows: (viewer) => rows<CandidateRowLike>(deps.ch, FEED_CANDIDATES_SQL, { viewer, ...FEED_QUERY_LIMITS }),
      save: async (snapshot) => {
        await ioredisAtomic(deps.redis)(snapshotWrites(snapshot));
      },
    },
    keys,
    userId,
    state,
    { ranking: deps.ranking, nowMs: now, experiments },
  );
  return snapshot;
}

export async function refreshFallbackSnapshots(
  deps: GeneratorDeps,
  opts: { topUsers: number; concurrency?: number; signal?: AbortSignal },
): Promise<Record<string, number>> {
  const users = await activeUsers(deps, 24, opts.topUsers);
  let items = 0;
  // Two at a time: the job should leave most of the stores to the edge.
  await eachLimited(
    users,
    opts.concurrency ?? 2,
    async (userId) => {
      items += (await buildFallbackSnapshot(deps, userId)).items.length;
    },
    opts.signal,
  );
  return { users: users.length, items };
}

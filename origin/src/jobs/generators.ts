/**
 * The three generators: hot posts (→ hot:posts:1h and the trending_posts snapshot the feed's F2
 * source reads), suggested users for active users (→ suggest:users:{id}) and the feed cache
 * warmer for the most active users (→ their newest feed snapshot, built by the edge's pipeline).
 */
import type { ClickHouseClient } from "@clickhouse/client";
import type { Redis } from "ioredis";
import { RunningExperimentsCopy, runningExperimentsKey } from "../../../edge/core/experiments.ts";
import {
  ACTIVE_USERS_SQL,
  buildRanking,
  type CandidateRowLike,
  candidatesFromQuery,
  chDateTime64,
  FEED_CANDIDATES_SQL,
  FEED_QUERY_LIMITS,
  feedVersionKey,
  HOT_POSTS_TTL_S,
  hotPostIds,
  hotPostIdsKey,
  type IndexKeys,
  indexKeys,
  loadFromIndex,
  type RankingOptions,
  rankHotPosts,
  type Snapshot,
  SUGGEST_TTL_S,
  SUGGESTED_USERS_BATCH_SQL,
  SUGGESTIONS_PER_USER,
  seenKey,
  suggestionsFromRows,
  suggestKey,
  TRENDING_CANDIDATES_SQL,
} from "../../../edge/core/index.ts";
import { ioredisExec, saveSnapshot } from "../index/exec.ts";

export interface GeneratorDeps {
  ch: ClickHouseClient;
  redis: Redis;
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
  // The list (for /trending) and its ids (for feed misses), replaced together.
  await deps.redis
    .multi()
    .set(hotKey, JSON.stringify(hot), "EX", HOT_POSTS_TTL_S)
    .set(hotPostIdsKey(hotKey), JSON.stringify(hotPostIds(hot)), "EX", HOT_POSTS_TTL_S)
    .exec();
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

export async function generateSuggestions(
  deps: GeneratorDeps,
  opts: { maxUsers: number; batchSize?: number; signal?: AbortSignal },
): Promise<Record<string, number>> {
  const users = await activeUsers(deps, 24, opts.maxUsers);
  const size = opts.batchSize ?? 500;
  let written = 0;
  let batches = 0;
  // One set-based query per batch (sequential: the generator should leave ClickHouse to the
  // edge's requests), then one Redis pipeline per batch.
  for (let i = 0; i < users.length && !opts.signal?.aborted; i += size) {
    const viewers = users.slice(i, i + size);
    const found = await rows<{ viewer_id: string; user_id: string; score: number | string; reason: string }>(
      deps.ch,
      SUGGESTED_USERS_BATCH_SQL,
      { viewers, limit: SUGGESTIONS_PER_USER },
    );
    const byViewer = new Map<string, typeof found>();
    for (const r of found) {
      const list = byViewer.get(r.viewer_id);
      if (list) list.push(r);
      else byViewer.set(r.viewer_id, [r]);
    }
    const p = deps.redis.pipeline();
    for (const v of viewers) {
      p.set(suggestKey(v), JSON.stringify(suggestionsFromRows(byViewer.get(v) ?? [])), "EX", SUGGEST_TTL_S);
    }
    await p.exec();
    written += viewers.length;
    batches++;
  }
  return { users: users.length, written, batches };
}

/**
 * The process's copies of the running experiments, by Redis key: read at most once per
 * EXPERIMENTS_REFRESH_MS, like the edge's, so a warmed snapshot is ranked under the same
 * assignment (the variant's weights, recorded in the snapshot) as the edge's own miss.
 */
const experimentCopies = new Map<string, RunningExperimentsCopy>();

function experimentsCopy(key: string): RunningExperimentsCopy {
  let copy = experimentCopies.get(key);
  if (!copy) {
    copy = new RunningExperimentsCopy();
    experimentCopies.set(key, copy);
  }
  return copy;
}

/**
 * Builds one user's ranking with the edge's pipeline (buildRanking: the serving index, or the
 * ClickHouse query when the index is not ready) and saves it as the viewer's newest snapshot.
 * A new session starts from it only while it is under SNAPSHOT_REUSE_MS old; after that it is
 * the viewer's degraded answer when neither the index nor ClickHouse can serve.
 */
export async function warmFeed(deps: GeneratorDeps, userId: string): Promise<Snapshot> {
  const now = deps.now?.() ?? Date.now();
  const keys = deps.keys ?? indexKeys();
  // The version is read before the candidates, as the edge does (see feedVersionKey); the
  // running experiments with it when the process's copy is due.
  const expKey = runningExperimentsKey(keys.namespace);
  const copy = experimentsCopy(expKey);
  let ver: number;
  if (copy.due(now)) {
    const replies = (await deps.redis.pipeline().get(feedVersionKey(userId)).get(expKey).exec()) ?? [];
    const [verReply, expReply] = replies;
    if (verReply?.[0]) throw verReply[0];
    ver = Number(verReply?.[1] ?? 0);
    if (expReply && !expReply[0]) copy.update(expReply[1], now);
  } else {
    ver = Number((await deps.redis.get(feedVersionKey(userId))) ?? 0);
  }
  const exec = ioredisExec(deps.redis);
  return buildRanking(
    {
      candidates: {
        load: async (viewer, nowMs) => {
          const fromIndex = await loadFromIndex(exec, keys, viewer, seenKey(viewer), nowMs);
          if (fromIndex) return { candidates: fromIndex, path: "index" };
          const [candidateRows, seen] = await Promise.all([
            rows<CandidateRowLike>(deps.ch, FEED_CANDIDATES_SQL, { viewer, ...FEED_QUERY_LIMITS }),
            deps.redis.zrange(seenKey(viewer), 0, -1),
          ]);
          return { candidates: candidatesFromQuery(candidateRows, seen), path: "clickhouse" };
        },
      },
      snapshots: { save: (s) => saveSnapshot(deps.redis, s) },
    },
    userId,
    { ranking: deps.ranking, now: () => now, ver, experiments: copy.current() },
  );
}

export async function warmFeeds(
  deps: GeneratorDeps,
  opts: { topUsers: number; concurrency?: number; signal?: AbortSignal },
): Promise<Record<string, number>> {
  const users = await activeUsers(deps, 24, opts.topUsers);
  let items = 0;
  // Two at a time: the warmer should leave most of the stores to the edge.
  await eachLimited(
    users,
    opts.concurrency ?? 2,
    async (userId) => {
      items += (await warmFeed(deps, userId)).items.length;
    },
    opts.signal,
  );
  return { users: users.length, items };
}

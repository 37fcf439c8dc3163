/**
 * The safety net under the serving index: a periodic comparison with ClickHouse, repairing what
 * stays different. `reconcileIndex` runs both parts:
 * - `reconcilePostCounters`: every window post's counters (likes, comments, shares,
 *   impressions) against ClickHouse's post_totals, which count the same things by the same rules;
 * - `reconcileReadStructures`: what the reads need (layout 4), compared field by field and member
 *   by member as `check:index` does (check.ts compareIndex): profiles, handles, followers and
 *   following, the authors' post ids, recent likes, comments and their bodies, and in the author
 *   hashes the author card `_u` and the plain totals `{post}:d`.
 * The updater keeps them equal, so in normal operation this repairs nothing; a repair is a bug
 * report, counted in `origin_index_repairs_total{kind}` and logged with the key.
 *
 * The two pipelines lag each other by about a second, so a difference seen once may be in
 * flight: a value is repaired only when the same difference (the same index value and the same
 * ClickHouse value) was already seen by the previous run, and then only if the index still holds
 * the value seen (a compare-and-set script), so a change landing in between is never overwritten.
 */
import type { ClickHouseClient } from "@clickhouse/client";
import {
  decodePlainTotals,
  encodePostCounters,
  INDEX_POST_WINDOW_MS,
  type IndexKeys,
  keyPrefixOf,
} from "#core/keys.ts";
import { type AnyRedis, pipelineOf } from "../redis-cluster.ts";
import { type CheckPart, compareIndex, type DifferenceSink, type IndexDifference } from "./check.ts";
import { IndexWriter, RECENT_LIKES_TTL_S } from "./writer.ts";

const WINDOW_TOTALS = `SELECT toString(p.id) AS pid, toString(p.author_id) AS aid,
    toInt64(ifNull(t.likes, 0)) AS l, toInt64(ifNull(t.comments, 0)) AS c,
    toInt64(ifNull(t.shares, 0)) AS s, toInt64(ifNull(t.impressions, 0)) AS i
  FROM (SELECT id, author_id FROM posts_current
        WHERE deleted_at IS NULL AND created_at >= now64(3) - toIntervalMillisecond({window_ms:UInt64})) AS p
  LEFT JOIN (SELECT post_id, sum(likes) AS likes, sum(comments) AS comments, sum(shares) AS shares,
                    sum(impressions) AS impressions
             FROM post_totals
             WHERE post_id IN (SELECT id FROM posts_current
                               WHERE created_at >= now64(3) - toIntervalMillisecond({window_ms:UInt64}))
             GROUP BY post_id) AS t ON t.post_id = p.id
  SETTINGS join_use_nulls = 1`;

/** The kinds of repair (the `kind` label of origin_index_repairs_total). */
export const REPAIR_KINDS = [
  "post_counters",
  "plain_totals",
  "author_card",
  "profile",
  "handle",
  "followers",
  "following",
  "user_posts",
  "recent_likes",
  "comments",
  "comment_bodies",
] as const;
export type RepairKind = (typeof REPAIR_KINDS)[number];

/** Repairs by kind, kept for the metrics (origin_index_repairs_total). */
export class IndexRepairs {
  readonly byKind: Record<string, number> = Object.fromEntries(REPAIR_KINDS.map((k) => [k, 0]));
  /** Differences seen by the last run, post id → "index|clickhouse". */
  suspects = new Map<string, string>();
  /** Differences of the read structures seen by the last run, "key field" → "index|clickhouse". */
  structureSuspects = new Map<string, string>();
}

export type ReconcileReport = {
  posts: number;
  /** Differences seen this run (repaired or not). */
  differences: number;
  repaired: number;
};

/** Normalizes an author-hash counter value as encodePostCounters writes it ("" when all zero). */
function normal(v: string | null): string {
  if (!v) return "";
  const n = v.split(",").map((x) => Math.max(0, Number(x) || 0));
  return encodePostCounters({ likes: n[0] ?? 0, comments: n[1] ?? 0, shares: n[2] ?? 0, impressions: n[3] ?? 0 }) ?? "";
}

export async function reconcilePostCounters(
  ch: ClickHouseClient,
  redis: AnyRedis,
  keys: IndexKeys,
  repairs: IndexRepairs,
  log: (msg: string, detail: Record<string, unknown>) => void = () => {},
  opts: { batch?: number; signal?: AbortSignal } = {},
): Promise<ReconcileReport> {
  const writer = new IndexWriter(redis, keys);
  const rs = await ch.query({
    query: WINDOW_TOTALS,
    query_params: { window_ms: INDEX_POST_WINDOW_MS },
    format: "JSONEachRow",
  });
  const size = opts.batch ?? 500;
  const report: ReconcileReport = { posts: 0, differences: 0, repaired: 0 };
  const seen = new Map<string, string>();
  type Row = {
    pid: string;
    aid: string;
    l: number | string;
    c: number | string;
    s: number | string;
    i: number | string;
  };
  let batch: Row[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const p = pipelineOf(redis);
    for (const r of batch) p.hget(keys.authorPosts(r.aid), r.pid).hget(keys.authorPosts(r.aid), `${r.pid}:n`);
    const res = (await p.exec()) ?? [];
    for (const [j, r] of batch.entries()) {
      const [baseErr, base] = res[2 * j] ?? [];
      const [nErr, n] = res[2 * j + 1] ?? [];
      if (baseErr || nErr) throw baseErr ?? nErr;
      // A post the index does not hold (trimmed, not yet upserted) is the bootstrap's business.
      if (base === null || base === undefined) continue;
      report.posts++;
      const have = normal(n as string | null);
      const want =
        encodePostCounters({
          likes: Number(r.l),
          comments: Number(r.c),
          shares: Number(r.s),
          impressions: Number(r.i),
        }) ?? "";
      if (have === want) continue;
      report.differences++;
      const diff = `${have}|${want}`;
      seen.set(r.pid, diff);
      if (repairs.suspects.get(r.pid) !== diff) continue;
      // The post hash owns the counters (scripts.ts): the repair goes there, while it still holds
      // what the author hash showed, and reaches the author hash by version.
      const nums = (v: string) => (v ? v.split(",").map(Number) : [0, 0, 0, 0]);
      const ok = await writer.setPostCounts(r.pid, r.aid, 1, nums(have), nums(want));
      if (ok) {
        report.repaired++;
        repairs.byKind.post_counters = (repairs.byKind.post_counters ?? 0) + 1;
        log("index post counters repaired from ClickHouse", {
          post: r.pid,
          author: r.aid,
          index: have,
          clickhouse: want,
        });
      }
    }
    batch = [];
  };
  for await (const rows of rs.stream<Row>()) {
    for (const row of rows) {
      batch.push(row.json());
      if (batch.length >= size) {
        await flush();
        if (opts.signal?.aborted) {
          repairs.suspects = seen;
          return report;
        }
      }
    }
  }
  await flush();
  repairs.suspects = seen;
  return report;
}

/** What the read-structure reconciliation compares (check.ts parts). */
const STRUCTURE_PARTS: readonly CheckPart[] = [
  "authorPosts",
  "profiles",
  "handles",
  "followers",
  "following",
  "userPosts",
  "recentLikes",
  "comments",
];

/**
 * Sets one value only while it still holds the value the comparison saw.
 * KEYS: the key. ARGV: type (hash, zset, string), field or member, seen present (1/0), seen
 * value, wanted present (1/0), wanted value, ttl s (0: none; set on a key without one), guard
 * ('' none, '*' the key exists, else a hash field that must exist: an author hash's post).
 * A sorted set's scores are compared as numbers.
 */
const CAS_VALUE_LUA = `
local k, t, f = KEYS[1], ARGV[1], ARGV[2]
local had, was, put, val, ttl, guard = ARGV[3] == '1', ARGV[4], ARGV[5] == '1', ARGV[6], tonumber(ARGV[7]), ARGV[8]
local cur
if t == 'hash' then cur = redis.call('HGET', k, f)
elseif t == 'zset' then cur = redis.call('ZSCORE', k, f)
else cur = redis.call('GET', k) end
if (cur ~= false) ~= had then return 0 end
if had then
  if t == 'zset' then
    if tonumber(cur) ~= tonumber(was) then return 0 end
  elseif cur ~= was then return 0 end
end
if put and guard == '*' and redis.call('EXISTS', k) == 0 then return 0 end
if put and guard ~= '' and guard ~= '*' and redis.call('HEXISTS', k, guard) == 0 then return 0 end
if t == 'hash' then
  if put then redis.call('HSET', k, f, val) else redis.call('HDEL', k, f) end
elseif t == 'zset' then
  if put then redis.call('ZADD', k, val, f) else redis.call('ZREM', k, f) end
else
  if put then redis.call('SET', k, val) else redis.call('DEL', k) end
end
if put and ttl > 0 and redis.call('TTL', k) == -1 then redis.call('EXPIRE', k, ttl) end
return 1
`;

export type StructuresReport = {
  keys: number;
  /** Differences seen this run (repaired or not). */
  differences: number;
  repaired: number;
  /** Differences beyond `maxDifferences`, left to a later run. */
  skipped: number;
};

/**
 * Repairs the read structures (layout 4) where they stay different from ClickHouse: a difference
 * seen by two runs in a row, with the index still holding the value seen. At most
 * `maxDifferences` are kept per run (the rest wait for a later one). In the author hashes only
 * `_u` and `{post}:d` are this part's (the counters are reconcilePostCounters', the posts the
 * updater's and the bootstrap's); an author card goes only into a hash that holds a post, plain
 * totals only beside their post.
 */
export async function reconcileReadStructures(
  ch: ClickHouseClient,
  redis: AnyRedis,
  keys: IndexKeys,
  repairs: IndexRepairs,
  log: (msg: string, detail: Record<string, unknown>) => void = () => {},
  opts: { maxDifferences?: number; nowMs?: number; signal?: AbortSignal } = {},
): Promise<StructuresReport> {
  const max = opts.maxDifferences ?? 10_000;
  const kindOf = (d: IndexDifference): RepairKind | null => {
    const k = d.key;
    const f = d.field ?? "";
    if (k.startsWith(keyPrefixOf(keys.authorPosts))) {
      if (f === "_u") return "author_card";
      if (f.endsWith(":d")) return "plain_totals";
      return null;
    }
    const prefixes: [string, RepairKind][] = [
      [keyPrefixOf(keys.profile), "profile"],
      [keyPrefixOf(keys.handle), "handle"],
      [keyPrefixOf(keys.followers), "followers"],
      [keyPrefixOf(keys.following), "following"],
      [keyPrefixOf(keys.userPosts), "user_posts"],
      [keyPrefixOf(keys.recentLikes), "recent_likes"],
      [keyPrefixOf(keys.comments), "comments"],
      [keyPrefixOf(keys.commentBodies), "comment_bodies"],
    ];
    return prefixes.find(([p]) => k.startsWith(p))?.[1] ?? null;
  };
  const found: { d: IndexDifference; kind: RepairKind }[] = [];
  let skipped = 0;
  // Posts an author hash holds and ClickHouse's window does not (aged out, not trimmed yet; or
  // gone): their plain totals, and the card of a hash holding them, are the trim's and the
  // key's expiry's business, not a repair.
  const stale = new Set<string>();
  const staleHashes = new Set<string>();
  const sink: DifferenceSink = {
    compared: 0,
    add(d) {
      const f = d.field ?? "";
      if (
        d.clickhouse === null &&
        d.key.startsWith(keyPrefixOf(keys.authorPosts)) &&
        !f.includes(":") &&
        !f.startsWith("_")
      ) {
        stale.add(`${d.key} ${f}`);
        staleHashes.add(d.key);
      }
      const kind = kindOf(d);
      if (!kind) return;
      if (found.length >= max) skipped++;
      else found.push({ d, kind });
    },
  };
  await compareIndex(ch, redis, keys, sink, { parts: STRUCTURE_PARTS, nowMs: opts.nowMs, signal: opts.signal });
  // Stopped part-way: what was not compared this run is not a difference, so nothing is repaired
  // and the suspects stay as the last complete run left them.
  if (opts.signal?.aborted) return { keys: sink.compared, differences: found.length + skipped, repaired: 0, skipped };
  const kept = found.filter(
    ({ d, kind }) =>
      !(kind === "plain_totals" && stale.has(`${d.key} ${(d.field ?? "").slice(0, -2)}`)) &&
      !(kind === "author_card" && d.clickhouse === null && staleHashes.has(d.key)),
  );
  const report: StructuresReport = { keys: sink.compared, differences: kept.length + skipped, repaired: 0, skipped };
  const seen = new Map<string, string>();
  const writer = new IndexWriter(redis, keys);
  const idOf = (d: IndexDifference) => `${d.key} ${d.field ?? ""}`;
  const valuesOf = (d: IndexDifference) => `${d.index ?? "\u0000"}|${d.clickhouse ?? "\u0000"}`;
  for (const { d, kind } of kept) {
    const id = idOf(d);
    const diff = valuesOf(d);
    seen.set(id, diff);
    if (repairs.structureSuspects.get(id) !== diff) continue;
    if (kind === "plain_totals" && d.clickhouse !== null) {
      // The post hash owns the plain totals too (scripts.ts), as the counters above.
      const pid = (d.field ?? "").slice(0, -2);
      const author = /\{([^}]*)\}$/.exec(d.key)?.[1] ?? "";
      const t = (v: string | null) => {
        const x = decodePlainTotals(v);
        return [x.likes, x.comments];
      };
      if (!(await writer.setPostCounts(pid, author, 5, t(d.index), t(d.clickhouse)))) continue;
    } else {
      const type = d.type === "zset" ? "zset" : d.type === "string" ? "string" : "hash";
      const guard = kind === "author_card" ? "*" : "";
      const ok = await redis.eval(
        CAS_VALUE_LUA,
        1,
        d.key,
        type,
        d.field ?? "",
        d.index === null ? 0 : 1,
        d.index ?? "",
        d.clickhouse === null ? 0 : 1,
        d.clickhouse ?? "",
        kind === "recent_likes" ? RECENT_LIKES_TTL_S : 0,
        guard,
      );
      if (Number(ok) !== 1) continue;
    }
    report.repaired++;
    repairs.byKind[kind] = (repairs.byKind[kind] ?? 0) + 1;
    log("index value repaired from ClickHouse", {
      kind,
      key: d.key,
      field: d.field,
      index: d.index,
      clickhouse: d.clickhouse,
    });
  }
  repairs.structureSuspects = seen;
  return report;
}

/** Both parts of the reconciliation, one after the other (the periodic `index-reconcile` job's work). */
export async function reconcileIndex(
  ch: ClickHouseClient,
  redis: AnyRedis,
  keys: IndexKeys,
  repairs: IndexRepairs,
  log: (msg: string, detail: Record<string, unknown>) => void = () => {},
  opts: { batch?: number; signal?: AbortSignal; maxDifferences?: number } = {},
): Promise<{ postCounters: ReconcileReport; structures: StructuresReport | null }> {
  const postCounters = await reconcilePostCounters(ch, redis, keys, repairs, log, opts);
  if (opts.signal?.aborted) return { postCounters, structures: null };
  const structures = await reconcileReadStructures(ch, redis, keys, repairs, log, opts);
  return { postCounters, structures };
}

/**
 * Bench phase 9: distance, modelled (issue 13). Every figure above is taken on loopback, where
 * a single-region service pays no distance; the product exists because users are far from the
 * data region and close to an edge. Here each hop goes through a delay proxy
 * (scripts/bench/delay-proxy.ts) with the one-way delays of PROFILE, and both sides are driven
 * by the same load: the baseline's clients pay the user → region distance, ours pay user → edge
 * plus whatever hops our path really takes (Redis reads at a replica next to the edge, Redis
 * writes, ClickHouse and the origin in the data region).
 */

import { dirname } from "node:path";
import { BENCH_RATE_LIMITS } from "../../lib/ratelimits.ts";
import { startPlainWorkerd } from "../../lib/workerd.ts";
import { type Bench, log, round } from "../context.ts";
import { startDelayProxy, upstashRequestWrites } from "../delay-proxy.ts";
import { closedLoop, type LoadResult, zipf } from "../load.ts";
import { info, latency } from "../report.ts";

/** One-way delays in ms. The assumptions are the report's (details.distance.profile). */
export const PROFILE = {
  userToEdge: 5,
  userToRegion: 80,
  /** An Upstash read region in the edge's location (Global database): reads. */
  edgeToRedisReplica: 1.5,
  /** Writes go to the primary in the data region. */
  edgeToRedisPrimary: 80,
  edgeToClickHouse: 80,
  edgeToOrigin: 80,
} as const;

export async function distancePhase(b: Bench): Promise<void> {
  const { edgeVars, baseline, sample, active, auth, tokenOf, rand, figures, details, phaseSeconds } = b;
  log(`distance profile ${JSON.stringify(PROFILE)}: the built bundle under plain workerd behind delay proxies`);
  const stops: (() => Promise<void>)[] = [];
  try {
    const redisHop = await startDelayProxy({
      target: edgeVars.UPSTASH_REDIS_REST_URL as string,
      oneWayMs: (req, body) =>
        upstashRequestWrites(req.url ?? "/", body) ? PROFILE.edgeToRedisPrimary : PROFILE.edgeToRedisReplica,
    });
    stops.push(() => redisHop.close());
    const chHop = await startDelayProxy({
      target: edgeVars.CLICKHOUSE_URL as string,
      oneWayMs: PROFILE.edgeToClickHouse,
    });
    stops.push(() => chHop.close());
    const originHop = await startDelayProxy({ target: edgeVars.ORIGIN_URL as string, oneWayMs: PROFILE.edgeToOrigin });
    stops.push(() => originHop.close());
    const worker = await startPlainWorkerd(
      {
        ...edgeVars,
        UPSTASH_REDIS_REST_URL: redisHop.url,
        CLICKHOUSE_URL: chHop.url,
        ORIGIN_URL: originHop.url,
        CLICKHOUSE_USER: "default",
        REDIS_TIMEOUT_MS: "1000",
        CLICKHOUSE_TIMEOUT_MS: "3000",
      },
      { bundleDir: dirname(b.bundleEntry), rateLimits: BENCH_RATE_LIMITS },
    );
    stops.push(() => worker.stop());
    const edge = await startDelayProxy({ target: worker.url, oneWayMs: PROFILE.userToEdge });
    stops.push(() => edge.close());
    const region = await startDelayProxy({ target: baseline.url, oneWayMs: PROFILE.userToRegion });
    stops.push(() => region.close());

    const feed = (base: string, u: string, cursor?: string) => ({
      url: `${base}/api/v1/feed?limit=20${cursor ? `&cursor=${cursor}` : ""}`,
      init: { headers: auth(u) },
    });
    // Warm the isolate (outside the measured viewers), as the loopback phase does.
    for (const u of sample.slice(300)) await (await fetch(feed(edge.url, u).url, feed(edge.url, u).init)).arrayBuffer();

    // New sessions (MISS) and their next pages (HIT), 1 client; the baseline on the same viewers.
    const viewers = sample.slice(0, 60);
    const miss = await closedLoop({
      concurrency: 1,
      requests: viewers.length,
      keepBody: true,
      request: (i) => feed(edge.url, viewers[i] as string),
    });
    const pages = miss.shots
      .map((s, i) => ({
        u: viewers[i] as string,
        c: (JSON.parse(s.body ?? "{}") as { next_cursor?: string }).next_cursor,
      }))
      .filter((p): p is { u: string; c: string } => typeof p.c === "string");
    const hit = await closedLoop({
      concurrency: 1,
      requests: pages.length,
      request: (i) => feed(edge.url, (pages[i] as { u: string }).u, (pages[i] as { c: string }).c),
    });
    const base = await closedLoop({
      concurrency: 1,
      requests: viewers.length,
      request: (i) => feed(region.url, viewers[i] as string),
    });

    // The Zipf(1.1) mix over users by activity, 4 clients, both sides.
    const draw = zipf(active.length, 1.1, rand);
    const zipfUsers = Array.from({ length: 20_000 }, () => active[draw()] as string);
    for (const u of new Set(zipfUsers)) await tokenOf(u);
    const mix = (url: string) =>
      closedLoop({
        concurrency: 4,
        durationMs: phaseSeconds * 1000,
        request: (i) => feed(url, zipfUsers[i % zipfUsers.length] as string),
      });
    const oursMix = await mix(edge.url);
    const baseMix = await mix(region.url);

    // Event intake: one batch of 20 events per request, 1 client, until accepted (202).
    const writers = sample.slice(0, 40);
    const { rows } = await b.pool.query<{ id: string }>(
      "SELECT id::text FROM posts ORDER BY created_at DESC LIMIT 200",
    );
    const batch = () =>
      JSON.stringify({
        events: Array.from({ length: 20 }, () => ({
          type: "impression",
          post_id: rows[Math.floor(rand() * rows.length)]?.id,
          ts: Date.now(),
        })),
      });
    const intake = (url: string) =>
      closedLoop({
        concurrency: 1,
        requests: writers.length,
        request: (i) => ({
          url: `${url}/api/v1/events`,
          init: {
            method: "POST",
            headers: { ...auth(writers[i] as string), "content-type": "application/json" },
            body: batch(),
          },
        }),
      });
    const oursIntake = await intake(edge.url);
    const baseIntake = await intake(region.url);

    // A write through the origin (a post): ours only; the baseline has no write API.
    const posts = await closedLoop({
      concurrency: 1,
      requests: 20,
      request: (i) => ({
        url: `${edge.url}/api/v1/posts`,
        init: {
          method: "POST",
          headers: { ...auth(writers[i % writers.length] as string), "content-type": "application/json" },
          body: JSON.stringify({ text: `written from far away ${i}` }),
        },
      }),
    });

    const ok = (r: LoadResult, status: string) => (r.status[status] ?? 0) === r.requests;
    details.distance = {
      profile: PROFILE,
      assumptions:
        "one-way delays per hop, propagation only (no bandwidth, no loss); Redis reads at a read replica in the edge's location, any request holding a write at the primary in the data region; ClickHouse and the origin in the data region; the baseline entirely in the data region",
      feed_miss: miss.result,
      feed_hit: hit.result,
      baseline_feed: base.result,
      zipf: { ours: oursMix.result, baseline: baseMix.result },
      intake: { ours: oursIntake.result, baseline: baseIntake.result, all_accepted: ok(oursIntake.result, "202") },
      post_write: posts.result,
      redis_requests_by_one_way_ms: Object.fromEntries(redisHop.counts),
    };
    const L = (label: string, ours: LoadResult, theirs: LoadResult) => [
      latency(`${label} p50 (ms), distance profile`, ours.p50_ms, theirs.p50_ms),
      latency(`${label} p95 (ms), distance profile`, ours.p95_ms, theirs.p95_ms),
      latency(`${label} p99 (ms), distance profile`, ours.p99_ms, theirs.p99_ms),
    ];
    const x = baseMix.result.p95_ms / Math.max(oursMix.result.p95_ms, 0.001);
    figures.push(
      ...L("feed MISS", miss.result, base.result),
      ...L("feed HIT", hit.result, base.result),
      ...L("feed under Zipf mix (4 clients)", oursMix.result, baseMix.result),
      {
        name: "feed p95 under Zipf mix, distance profile: baseline ÷ ours (×)",
        ours: round(x, 2),
        baseline: null,
        ratio: null,
        target: "≥ 5×",
        met: x >= 5,
      },
      ...L("event intake (a batch of 20)", oursIntake.result, baseIntake.result),
      {
        name: "event intake p50, distance profile: not worse than the baseline",
        ours: oursIntake.result.p50_ms,
        baseline: baseIntake.result.p50_ms,
        ratio: round(baseIntake.result.p50_ms / Math.max(oursIntake.result.p50_ms, 0.001), 2),
        target: "≤ baseline",
        met: oursIntake.result.p50_ms <= baseIntake.result.p50_ms,
      },
      info("post write through the origin p50 (ms), distance profile (ours only)", posts.result.p50_ms),
      info("post write through the origin p95 (ms), distance profile (ours only)", posts.result.p95_ms),
    );
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {});
  }
}

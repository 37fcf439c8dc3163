/**
 * Bench phase 9: distance, modelled. Every figure above is taken on loopback, where
 * a single-region service pays no distance; the product exists because users are far from the
 * data region and close to an edge. Here each hop goes through a delay proxy
 * (scripts/bench/delay-proxy.ts) with the one-way delays of PROFILE, and both sides are driven
 * by the same load: the baseline's clients pay the user → region distance, ours pay user → edge
 * plus whatever hops our path really takes (Redis reads at a replica next to the edge, Redis
 * writes, ClickHouse and the origin in the data region).
 */

import { dirname } from "node:path";
import { SNAPSHOT_REUSE_MS } from "#core/serving/snapshot.ts";
import { BENCH_RATE_LIMITS } from "../../lib/ratelimits.ts";
import { rng } from "../../lib/rng.ts";
import { startPlainWorkerd } from "../../lib/workerd.ts";
import { type Bench, log, round, sleep } from "../context.ts";
import { startDelayProxy, upstashRequestWrites } from "../delay-proxy.ts";
import { closedLoop, type LoadResult, percentile, type Shot, summarize, zipf } from "../load.ts";
import { info, infoRounds, latencyRounds, ratioRounds, serverTotals, stageMeans, stageRounds } from "../report.ts";
import { interleavedRounds, ROUNDS, recording, roundOrder } from "../rounds.ts";
import { byCache, feedSessions, type SessionsRun, type TimedRun } from "../sessions.ts";

const SIDES = ["ours", "baseline"] as const;
type Side = (typeof SIDES)[number];

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

    const url: Record<Side, string> = { ours: edge.url, baseline: region.url };
    // Ours shares the serving index (and its snapshots) with the other runtimes: its new
    // sessions must come after the last side's snapshots are past their reuse window.
    const pause = async (side: Side) => {
      if (side === "ours") await sleep(SNAPSHOT_REUSE_MS + 100);
    };
    const order = roundOrder(SIDES, ROUNDS).map((s) => `${s.round + 1}:${s.side}`);

    // New sessions (MISS) and their next pages (HIT), 1 client; the baseline's feed on the same
    // viewers in the same order; ROUNDS interleaved rounds.
    const viewers = sample.slice(0, 60);
    log(`distance: feed, 1 client, ${ROUNDS} rounds over the same ${viewers.length} viewers`);
    const feedRounds = await interleavedRounds<Side, { sessions?: SessionsRun; first?: TimedRun }>({
      what: "feed, distance profile",
      sides: SIDES,
      before: pause,
      run: async (side) => {
        if (side === "ours") {
          const sessions = await feedSessions({
            viewers,
            clients: 1,
            hitPasses: 1,
            request: (v, c) => feed(url.ours, v, c),
          });
          return { value: { sessions }, asked: sessions.asked };
        }
        const rec = recording(
          (i) => viewers[i] as string,
          (i) => feed(url.baseline, viewers[i] as string),
        );
        const first = await closedLoop({ concurrency: 1, requests: viewers.length, request: rec.request });
        return { value: { first }, asked: rec.asked };
      },
    });
    const missRuns = feedRounds.ours.map((r) => byCache(r.sessions?.miss as TimedRun, "MISS"));
    const hitRuns = feedRounds.ours.map((r) => byCache(r.sessions?.hit as TimedRun, "HIT"));
    const baseFeed = feedRounds.baseline.map((r) => (r.first as TimedRun).result);

    // The Zipf(1.1) mix over users by activity, 4 clients, both sides: the same requests.
    const mixRequests = 10 * phaseSeconds;
    const draw = zipf(active.length, 1.1, rand);
    const zipfUsers = Array.from({ length: mixRequests }, () => active[draw()] as string);
    for (const u of new Set(zipfUsers)) await tokenOf(u);
    log(`distance: Zipf mix, 4 clients, ${ROUNDS} rounds of the same ${mixRequests} requests`);
    const mixShots: Shot[][] = [];
    const mixRounds = await interleavedRounds({
      what: "Zipf mix, distance profile",
      sides: SIDES,
      before: pause,
      run: async (side) => {
        const rec = recording(
          (i) => zipfUsers[i] as string,
          (i) => feed(url[side], zipfUsers[i] as string),
        );
        const run = await closedLoop({ concurrency: 4, requests: mixRequests, request: rec.request });
        if (side === "ours") mixShots.push(run.shots);
        return { value: run.result, asked: rec.asked };
      },
    });
    // Where ours' time goes under the mix: inside the handler (Server-Timing, by stage) against
    // what the client measured; the rest is outside the handler (the isolate's queue with 4
    // clients, the user → edge hop).
    const mixInside = mixShots.map((shots) => serverTotals(shots));

    // Event intake: one batch of 20 events per request, 1 client, until accepted (202); request
    // i the same writer and batch (posts drawn by a PRNG seeded by i) on both sides.
    const writers = sample.slice(0, 40);
    const { rows } = await b.pool.query<{ id: string }>(
      "SELECT id::text FROM posts ORDER BY created_at DESC LIMIT 200",
    );
    const batch = (i: number) => {
      const pick = rng(2000 + i);
      return JSON.stringify({
        events: Array.from({ length: 20 }, () => ({
          type: "impression",
          post_id: rows[Math.floor(pick() * rows.length)]?.id,
          ts: Date.now(),
        })),
      });
    };
    log(`distance: event intake, 1 client, ${ROUNDS} rounds of the same ${writers.length} batches`);
    const intakeRounds = await interleavedRounds({
      what: "event intake, distance profile",
      sides: SIDES,
      run: async (side) => {
        const rec = recording(
          (i) => `${writers[i]}#${i}`,
          (i) => ({
            url: `${url[side]}/api/v1/events`,
            init: {
              method: "POST",
              headers: { ...auth(writers[i] as string), "content-type": "application/json" },
              body: batch(i),
            },
          }),
        );
        const run = await closedLoop({ concurrency: 1, requests: writers.length, request: rec.request });
        return { value: run.result, asked: rec.asked };
      },
    });

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
      order,
      feed_miss: feedRounds.ours.map((r, k) => ({ ...r.sessions?.miss.result, not_miss: missRuns[k]?.leftOut })),
      feed_hit: feedRounds.ours.map((r, k) => ({ ...r.sessions?.hit.result, not_hit: hitRuns[k]?.leftOut })),
      baseline_feed: baseFeed,
      zipf: {
        requests_per_round: mixRequests,
        ours: mixRounds.ours,
        baseline: mixRounds.baseline,
        ours_stage_means_ms: mixShots.map(stageMeans),
        ours_x_cache: mixShots.map((shots) => summarize(shots, 1).cache),
      },
      intake: {
        ours: intakeRounds.ours,
        baseline: intakeRounds.baseline,
        all_accepted: intakeRounds.ours.every((r) => ok(r, "202")),
      },
      post_write: posts.result,
      redis_requests_by_one_way_ms: Object.fromEntries(redisHop.counts),
    };
    type K = "p50_ms" | "p95_ms" | "p99_ms";
    const L = (label: string, ours: LoadResult[], theirs: LoadResult[]) =>
      (["p50_ms", "p95_ms", "p99_ms"] as K[]).map((k) =>
        latencyRounds(
          `${label} ${k.slice(0, 3)} (ms), distance profile`,
          ours.map((r) => r[k]),
          theirs.map((r) => r[k]),
        ),
      );
    const leftOut = [...missRuns, ...hitRuns].reduce((a, r) => a + r.leftOut, 0);
    const intakeP50 = latencyRounds(
      "event intake p50, distance profile: not worse than the baseline",
      intakeRounds.ours.map((r) => r.p50_ms),
      intakeRounds.baseline.map((r) => r.p50_ms),
    );
    figures.push(
      ...L(
        "feed MISS",
        missRuns.map((r) => r.kept),
        baseFeed,
      ),
      ...L(
        "feed HIT",
        hitRuns.map((r) => r.kept),
        baseFeed,
      ),
      {
        name: `feed runs, distance profile: answers not X-Cache MISS/HIT, left out (of ${[...missRuns, ...hitRuns].reduce((a, r) => a + r.shots.length + r.leftOut, 0)})`,
        ours: leftOut,
        baseline: null,
        ratio: null,
        target: "0",
        met: leftOut === 0,
      },
      ...L("feed under Zipf mix (4 clients)", mixRounds.ours, mixRounds.baseline),
      ratioRounds(
        "feed p95 under Zipf mix, distance profile: baseline ÷ ours (×)",
        mixRounds.baseline.map((r) => r.p95_ms),
        mixRounds.ours.map((r) => r.p95_ms),
        5,
      ),
      infoRounds(
        "feed under Zipf mix (4 clients) p50 inside the worker (ms, Server-Timing total), distance profile",
        mixInside.map((xs) => round(percentile(xs, 0.5), 2)),
      ),
      infoRounds(
        "feed under Zipf mix (4 clients) p95 inside the worker (ms, Server-Timing total), distance profile",
        mixInside.map((xs) => round(percentile(xs, 0.95), 2)),
      ),
      ...stageRounds("feed under Zipf mix (4 clients), distance profile", mixShots.map(stageMeans)),
      ...L("event intake (a batch of 20)", intakeRounds.ours, intakeRounds.baseline),
      { ...intakeP50, target: "≤ baseline", met: intakeP50.ours <= (intakeP50.baseline ?? 0) },
      info("post write through the origin p50 (ms), distance profile (ours only)", posts.result.p50_ms),
      info("post write through the origin p95 (ms), distance profile (ours only)", posts.result.p95_ms),
    );
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {});
  }
}

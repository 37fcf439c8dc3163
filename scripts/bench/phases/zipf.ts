/** Bench phase 6: the feed under a Zipf(1.1) mix of users: requests touching no ClickHouse, snapshot reuse, latency. */

import type { Bench } from "../context.ts";
import { log, round } from "../context.ts";
import { closedLoop, zipf } from "../load.ts";
import { idealHitRatio, info, latency, ratioFigure, throughput } from "../report.ts";

export async function zipfPhase(b: Bench): Promise<void> {
  const { edge, plain, baseline, active, auth, tokenOf, rand, figures, details, phaseSeconds: PHASE_S } = b;
  const zipfSeconds = PHASE_S * 4;
  log(`cache hit ratio: Zipf(1.1) over ${active.length} users by activity, ${zipfSeconds} s, warmer running`);
  const draw = zipf(active.length, 1.1, rand);
  const zipfUsers: string[] = [];
  for (let i = 0; i < 200_000; i++) zipfUsers.push(active[draw()] as string);
  for (const u of new Set(zipfUsers)) await tokenOf(u);
  const asked: { at: number; user: string }[] = [];
  const zipfRun = await closedLoop({
    concurrency: 4,
    durationMs: zipfSeconds * 1000,
    request: (i) => {
      const u = zipfUsers[i % zipfUsers.length] as string;
      asked.push({ at: performance.now(), user: u });
      return { url: `${edge.url}/api/v1/feed?limit=20`, init: { headers: auth(u) } };
    },
  });
  // The same request stream through the production runtime (the headline): the built bundle
  // under plain workerd, without wrangler dev's proxy hop.
  log(`the same Zipf stream through plain workerd, ${zipfSeconds} s`);
  const plainRun = await closedLoop({
    concurrency: 4,
    durationMs: zipfSeconds * 1000,
    request: (i) => ({
      url: `${plain.url}/api/v1/feed?limit=20`,
      init: { headers: auth(zipfUsers[i % zipfUsers.length] as string) },
    }),
  });
  const hits = zipfRun.result.cache.HIT ?? 0;
  const second = zipfRun.shots.slice(Math.floor(zipfRun.shots.length / 2));
  const hitsSecond = second.filter((s) => s.cache === "HIT").length;
  const baseZipf = await closedLoop({
    concurrency: 4,
    durationMs: PHASE_S * 1000,
    request: (i) => ({
      url: `${baseline.url}/api/v1/feed?limit=20`,
      init: { headers: auth(zipfUsers[i % zipfUsers.length] as string) },
    }),
  });
  details.zipf = {
    ours: zipfRun.result,
    ours_plain_workerd: plainRun.result,
    baseline: baseZipf.result,
    distinct_users: new Set(zipfUsers.slice(0, zipfRun.result.requests)).size,
    hit_ratio_second_half: round((hitsSecond / Math.max(1, second.length)) * 100, 1),
    // What a perfect cache would have scored on this exact request stream: every user's first
    // request and every request more than TTL after the one that filled the entry miss.
    ideal_hit_ratio_ttl_60s: round(idealHitRatio(asked, 60_000) * 100, 1),
    ideal_hit_ratio_ttl_600s: round(idealHitRatio(asked, 600_000) * 100, 1),
    ideal_hit_ratio_no_expiry: round(idealHitRatio(asked, Number.POSITIVE_INFINITY) * 100, 1),
  };
  const noClickHouse = zipfRun.shots.filter((x) => x.status === 200 && !/\bch;/.test(x.timing ?? "")).length;
  const okShots = zipfRun.shots.filter((x) => x.status === 200).length;
  figures.push(
    {
      name: "feed requests touching no ClickHouse, Zipf(1.1) (%)",
      ours: round((noClickHouse / Math.max(1, okShots)) * 100, 1),
      baseline: null,
      ratio: null,
      target: "≥ 95%",
      met: noClickHouse / Math.max(1, okShots) >= 0.95,
    },
    info(
      "snapshot reuse (X-Cache HIT) under Zipf(1.1) (%)",
      round((hits / Math.max(1, zipfRun.result.requests)) * 100, 1),
    ),
    latency("feed under Zipf mix p50 (ms), plain workerd", plainRun.result.p50_ms, baseZipf.result.p50_ms),
    latency("feed under Zipf mix p95 (ms), plain workerd", plainRun.result.p95_ms, baseZipf.result.p95_ms),
    latency("feed under Zipf mix p99 (ms), plain workerd", plainRun.result.p99_ms, baseZipf.result.p99_ms),
    ratioFigure(
      "feed p95 under Zipf mix, plain workerd: baseline ÷ ours (×)",
      baseZipf.result.p95_ms,
      plainRun.result.p95_ms,
      2,
    ),
    throughput("feed under Zipf mix (req/s, 4 clients), plain workerd", plainRun.result.rps, baseZipf.result.rps),
    latency("feed under Zipf mix p50 (ms), wrangler dev", zipfRun.result.p50_ms, baseZipf.result.p50_ms),
    latency("feed under Zipf mix p95 (ms), wrangler dev", zipfRun.result.p95_ms, baseZipf.result.p95_ms),
    throughput("feed under Zipf mix (req/s, 4 clients), wrangler dev", zipfRun.result.rps, baseZipf.result.rps),
  );
}

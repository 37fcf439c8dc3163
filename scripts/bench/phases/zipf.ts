/** Bench phase 6: the feed under a Zipf(1.1) mix of users: requests touching no ClickHouse, snapshot reuse, latency. */

import { SNAPSHOT_REUSE_MS } from "#core/serving/snapshot.ts";
import type { Bench } from "../context.ts";
import { log, round, sleep } from "../context.ts";
import { closedLoop, zipf } from "../load.ts";
import { idealHitRatio, info, latencyRounds, ratioRounds, throughputRounds } from "../report.ts";
import { interleavedRounds, ROUNDS, recording, roundOrder } from "../rounds.ts";

/** Requests per side and round, per --seconds (600 at the default 15 s). */
const REQUESTS_PER_SECOND_ARG = 40;

type Side = "plain" | "wrangler" | "baseline";

export async function zipfPhase(b: Bench): Promise<void> {
  const { edge, plain, baseline, active, auth, tokenOf, rand, figures, details, phaseSeconds: PHASE_S } = b;
  const requests = REQUESTS_PER_SECOND_ARG * PHASE_S;
  const sides: Side[] = ["plain", "wrangler", "baseline"];
  log(
    `Zipf(1.1) over ${active.length} users by activity, 4 clients, warmer running: ${sides.join(", ")}; ${ROUNDS} rounds of the same ${requests} requests`,
  );
  const draw = zipf(active.length, 1.1, rand);
  const zipfUsers: string[] = [];
  for (let i = 0; i < requests; i++) zipfUsers.push(active[draw()] as string);
  for (const u of new Set(zipfUsers)) await tokenOf(u);
  const url: Record<Side, string> = { plain: plain.url, wrangler: edge.url, baseline: baseline.url };
  // wrangler dev's requests with their times, all rounds: what an ideal cache would have scored.
  const asked: { at: number; user: string }[] = [];
  const byRound = await interleavedRounds({
    what: "feed under the Zipf mix",
    sides,
    // Both runtimes of ours share the serving index: a side's first requests must not reuse the
    // snapshots the previous side built in its last half second.
    before: async (side) => {
      if (side !== "baseline") await sleep(SNAPSHOT_REUSE_MS + 100);
    },
    run: async (side) => {
      const rec = recording(
        (i) => zipfUsers[i] as string,
        (i) => {
          const u = zipfUsers[i] as string;
          if (side === "wrangler") asked.push({ at: performance.now(), user: u });
          return { url: `${url[side]}/api/v1/feed?limit=20`, init: { headers: auth(u) } };
        },
      );
      const run = await closedLoop({ concurrency: 4, requests, request: rec.request });
      return { value: run, asked: rec.asked };
    },
  });
  const results = (side: Side) => byRound[side].map((r) => r.result);
  const pick = (side: Side, k: "p50_ms" | "p95_ms" | "p99_ms" | "rps") => results(side).map((r) => r[k]);
  // The cache figures from wrangler dev's rounds, one after another (as one stream).
  const shots = byRound.wrangler.flatMap((r) => r.shots);
  const hits = shots.filter((s) => s.cache === "HIT").length;
  const second = shots.slice(Math.floor(shots.length / 2));
  const hitsSecond = second.filter((s) => s.cache === "HIT").length;
  details.zipf = {
    requests_per_round: requests,
    order: roundOrder(sides, ROUNDS).map((s) => `${s.round + 1}:${s.side}`),
    ours: results("wrangler"),
    ours_plain_workerd: results("plain"),
    baseline: results("baseline"),
    distinct_users: new Set(zipfUsers).size,
    hit_ratio_second_half: round((hitsSecond / Math.max(1, second.length)) * 100, 1),
    // What a perfect cache would have scored on this exact request stream: every user's first
    // request and every request more than TTL after the one that filled the entry miss.
    ideal_hit_ratio_ttl_60s: round(idealHitRatio(asked, 60_000) * 100, 1),
    ideal_hit_ratio_ttl_600s: round(idealHitRatio(asked, 600_000) * 100, 1),
    ideal_hit_ratio_no_expiry: round(idealHitRatio(asked, Number.POSITIVE_INFINITY) * 100, 1),
  };
  const noClickHouse = shots.filter((x) => x.status === 200 && !/\bch;/.test(x.timing ?? "")).length;
  const okShots = shots.filter((x) => x.status === 200).length;
  figures.push(
    {
      name: "feed requests touching no ClickHouse, Zipf(1.1) (%)",
      ours: round((noClickHouse / Math.max(1, okShots)) * 100, 1),
      baseline: null,
      ratio: null,
      target: "≥ 95%",
      met: noClickHouse / Math.max(1, okShots) >= 0.95,
    },
    info("snapshot reuse (X-Cache HIT) under Zipf(1.1) (%)", round((hits / Math.max(1, shots.length)) * 100, 1)),
    latencyRounds("feed under Zipf mix p50 (ms), plain workerd", pick("plain", "p50_ms"), pick("baseline", "p50_ms")),
    latencyRounds("feed under Zipf mix p95 (ms), plain workerd", pick("plain", "p95_ms"), pick("baseline", "p95_ms")),
    latencyRounds("feed under Zipf mix p99 (ms), plain workerd", pick("plain", "p99_ms"), pick("baseline", "p99_ms")),
    ratioRounds(
      "feed p95 under Zipf mix, plain workerd: baseline ÷ ours (×)",
      pick("baseline", "p95_ms"),
      pick("plain", "p95_ms"),
      2,
    ),
    throughputRounds(
      "feed under Zipf mix (req/s, 4 clients), plain workerd",
      pick("plain", "rps"),
      pick("baseline", "rps"),
    ),
    latencyRounds("feed under Zipf mix p50 (ms), wrangler dev", pick("wrangler", "p50_ms"), pick("baseline", "p50_ms")),
    latencyRounds("feed under Zipf mix p95 (ms), wrangler dev", pick("wrangler", "p95_ms"), pick("baseline", "p95_ms")),
    throughputRounds(
      "feed under Zipf mix (req/s, 4 clients), wrangler dev",
      pick("wrangler", "rps"),
      pick("baseline", "rps"),
    ),
  );
}

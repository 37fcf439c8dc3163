/**
 * Bench phase 2: suggestions: MISS, HIT and the baseline, on the same viewers, in rounds. Ours is
 * the built bundle under plain workerd (the production runtime, as the feed's headline);
 * `wrangler dev`'s local proxy adds ~10 ms per request that no deployed worker pays.
 */

import { suggestKey } from "#core/keys.ts";
import { buildRequest } from "../../../edge/client/index.ts";
import type { Bench } from "../context.ts";
import { log } from "../context.ts";
import { closedLoop } from "../load.ts";
import { latencyRounds, ratioRounds, stageMeans, stageRounds } from "../report.ts";
import { interleavedRounds, ROUNDS, recording, roundOrder } from "../rounds.ts";
import { byCache, type TimedRun } from "../sessions.ts";

type Side = "ours" | "baseline";

export async function suggestionsPhase(b: Bench): Promise<void> {
  const { plain, baseline, redis, sample, auth, figures, details } = b;
  const viewers = sample;
  log(
    `suggestions, 1 client: ${ROUNDS} rounds of ours (MISS then HIT) and the baseline, the same ${viewers.length} viewers`,
  );
  // Built by the typed client (edge/client), sent and timed by closedLoop.
  const suggestions = (base: string, user: string) =>
    buildRequest({ baseUrl: base }, "getSuggestedUsers", { query: { limit: 20 }, headers: auth(user) });
  const pass = async (base: string) => {
    const rec = recording(
      (i) => viewers[i] as string,
      (i) => suggestions(base, viewers[i] as string),
    );
    const run = await closedLoop({ concurrency: 1, requests: viewers.length, request: rec.request });
    return { run, asked: rec.asked };
  };
  const byRound = await interleavedRounds<Side, { miss: TimedRun; hit?: TimedRun }>({
    what: "suggestions",
    sides: ["ours", "baseline"],
    run: async (side) => {
      if (side === "baseline") {
        const { run, asked } = await pass(baseline.url);
        return { value: { miss: run }, asked };
      }
      // Every round's MISS pass starts from no cached suggestions; the HIT pass reads them back.
      await redis.del(...viewers.map((u) => suggestKey(u)));
      const miss = await pass(plain.url);
      const hit = await pass(plain.url);
      return { value: { miss: miss.run, hit: hit.run }, asked: miss.asked };
    },
  });
  const miss = byRound.ours.map((r) => byCache(r.miss, "MISS"));
  const hit = byRound.ours.map((r) => byCache(r.hit as TimedRun, "HIT"));
  const base = byRound.baseline.map((r) => r.miss.result);
  details.suggestions = {
    viewers: viewers.length,
    order: roundOrder(["ours", "baseline"], ROUNDS).map((s) => `${s.round + 1}:${s.side}`),
    runtime: "plain workerd",
    miss: byRound.ours.map((r, k) => ({
      ...r.miss.result,
      stage_means_ms: stageMeans(miss[k]?.shots ?? []),
      not_miss: miss[k]?.leftOut,
    })),
    hit: byRound.ours.map((r, k) => ({
      ...r.hit?.result,
      stage_means_ms: stageMeans(hit[k]?.shots ?? []),
      not_hit: hit[k]?.leftOut,
    })),
    baseline: base,
  };
  const p = (rs: { kept: { p50_ms: number; p95_ms: number } }[], k: "p50_ms" | "p95_ms") => rs.map((r) => r.kept[k]);
  const pb = (k: "p50_ms" | "p95_ms") => base.map((r) => r[k]);
  const leftOut = [...miss, ...hit].reduce((a, r) => a + r.leftOut, 0);
  figures.push(
    latencyRounds("suggestions MISS p50 (ms), plain workerd, 1 client", p(miss, "p50_ms"), pb("p50_ms")),
    latencyRounds("suggestions MISS p95 (ms), plain workerd, 1 client", p(miss, "p95_ms"), pb("p95_ms"), 50),
    ratioRounds("suggestions MISS p95, plain workerd: baseline ÷ ours (×)", pb("p95_ms"), p(miss, "p95_ms"), 1),
    latencyRounds("suggestions HIT p50 (ms), plain workerd, 1 client", p(hit, "p50_ms"), pb("p50_ms")),
    latencyRounds("suggestions HIT p95 (ms), plain workerd, 1 client", p(hit, "p95_ms"), pb("p95_ms"), 50),
    ...stageRounds(
      "suggestions MISS, plain workerd, 1 client",
      miss.map((m) => stageMeans(m.shots)),
    ),
    {
      name: `suggestions runs: answers not the X-Cache MISS/HIT meant, left out (of ${2 * viewers.length * ROUNDS})`,
      ours: leftOut,
      baseline: null,
      ratio: null,
      target: "0",
      met: leftOut === 0,
    },
  );
}

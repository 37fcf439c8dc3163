/** Bench phase 2: suggestions: MISS, HIT and the baseline. */

import { buildRequest } from "../../../edge/client/index.ts";
import { suggestKey } from "../../../edge/core/index.ts";
import type { Bench } from "../context.ts";
import { log } from "../context.ts";
import { closedLoop } from "../load.ts";
import { latency } from "../report.ts";

export async function suggestionsPhase(b: Bench): Promise<void> {
  const { edge, baseline, redis, sample, auth, figures, details, phaseSeconds: PHASE_S } = b;
  log("suggestions MISS / HIT / baseline, 1 client");
  await redis.del(...sample.map((u) => suggestKey(u)));
  // Built by the typed client (edge/client), sent and timed by closedLoop.
  const suggestions = (base: string, user: string) =>
    buildRequest({ baseUrl: base }, "getSuggestedUsers", { query: { limit: 20 }, headers: auth(user) });
  const sugMiss = await closedLoop({
    concurrency: 1,
    requests: sample.length,
    request: (i) => suggestions(edge.url, sample[i] as string),
  });
  const sugHit = await closedLoop({
    concurrency: 1,
    durationMs: PHASE_S * 1000,
    request: (i) => suggestions(edge.url, sample[i % sample.length] as string),
  });
  const sugBase = await closedLoop({
    concurrency: 1,
    requests: sample.length,
    durationMs: PHASE_S * 4000,
    request: (i) => suggestions(baseline.url, sample[i % sample.length] as string),
  });
  details.suggestions = { miss: sugMiss.result, hit: sugHit.result, baseline: sugBase.result };
  figures.push(
    latency("suggestions MISS p50 (ms), 1 client", sugMiss.result.p50_ms, sugBase.result.p50_ms),
    latency("suggestions MISS p95 (ms), 1 client", sugMiss.result.p95_ms, sugBase.result.p95_ms, 50),
    latency("suggestions HIT p50 (ms), 1 client", sugHit.result.p50_ms, sugBase.result.p50_ms),
    latency("suggestions HIT p95 (ms), 1 client", sugHit.result.p95_ms, sugBase.result.p95_ms, 50),
  );
}

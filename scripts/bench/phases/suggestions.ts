/** Bench phase 2: suggestions: MISS, HIT and the baseline. */

import { suggestKey } from "../../../edge/core/index.ts";
import type { Bench } from "../context.ts";
import { log } from "../context.ts";
import { closedLoop } from "../load.ts";
import { latency } from "../report.ts";

export async function suggestionsPhase(b: Bench): Promise<void> {
  const { edge, baseline, redis, sample, auth, figures, details, phaseSeconds: PHASE_S } = b;
  log("suggestions MISS / HIT / baseline, 1 client");
  await redis.del(...sample.map((u) => suggestKey(u)));
  const sugMiss = await closedLoop({
    concurrency: 1,
    requests: sample.length,
    request: (i) => ({
      url: `${edge.url}/api/v1/discover/suggested-users?limit=20`,
      init: { headers: auth(sample[i] as string) },
    }),
  });
  const sugHit = await closedLoop({
    concurrency: 1,
    durationMs: PHASE_S * 1000,
    request: (i) => ({
      url: `${edge.url}/api/v1/discover/suggested-users?limit=20`,
      init: { headers: auth(sample[i % sample.length] as string) },
    }),
  });
  const sugBase = await closedLoop({
    concurrency: 1,
    requests: sample.length,
    durationMs: PHASE_S * 4000,
    request: (i) => ({
      url: `${baseline.url}/api/v1/discover/suggested-users?limit=20`,
      init: { headers: auth(sample[i % sample.length] as string) },
    }),
  });
  details.suggestions = { miss: sugMiss.result, hit: sugHit.result, baseline: sugBase.result };
  figures.push(
    latency("suggestions MISS p50 (ms), 1 client", sugMiss.result.p50_ms, sugBase.result.p50_ms),
    latency("suggestions MISS p95 (ms), 1 client", sugMiss.result.p95_ms, sugBase.result.p95_ms, 50),
    latency("suggestions HIT p50 (ms), 1 client", sugHit.result.p50_ms, sugBase.result.p50_ms),
    latency("suggestions HIT p95 (ms), 1 client", sugHit.result.p95_ms, sugBase.result.p95_ms, 50),
  );
}

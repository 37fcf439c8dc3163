/**
 * Bench phase profile: where a feed miss spends its CPU inside workerd. A V8 sampling profile
 * (scripts/lib/cpu-profile.ts, through plain workerd's inspector) over MISS_REQUESTS new
 * sessions at 1 client, summed by stage of the miss and by function. Timers in the worker
 * cannot show this (workerd moves its clock only across I/O); Server-Timing shows the I/O.
 */
import { buildRequest } from "../../../edge/client/index.ts";
import { profile, summarize } from "../../lib/cpu-profile.ts";
import type { Bench } from "../context.ts";
import { log, round } from "../context.ts";
import { closedLoop, percentile, type Shot } from "../load.ts";
import { info, only, serverTotals } from "../report.ts";

const MISS_REQUESTS = 200;
/** The profiler's sampling interval (µs). */
const SAMPLE_US = 100;

/**
 * The stages of a miss by the functions that do them (the bundle keeps the source names).
 * A sample counts for the innermost frame that names a stage.
 */
export const MISS_STAGES: Record<string, readonly string[]> = {
  "round trip 1: parse": ["parseMissReads", "parseViewerState"],
  "round trip 2: assemble candidates": [
    "assembleCandidates",
    "postsOfAuthor",
    "hashEntries",
    "authorCardIn",
    "countsOf",
    "newest",
    "candidate",
  ],
  "rank (merge, filter, score, sort, diversify)": [
    "mergeCandidates",
    "filterCandidates",
    "exclusionReason",
    "rankFeed",
    "scorePost",
    "compareRanked",
    "diversify",
    "liftFolloweeNewPosts",
    "isFolloweeNewPost",
  ],
  "snapshot encode and save": ["snapshotElements", "snapshotWrites", "pointerOf", "newRankingId"],
  "render items (hydrate, present)": ["presentItems", "presentItem", "hydrateFromMiss"],
  "Upstash client (request, JSON decode)": [
    "exec",
    "request",
    "deserialize",
    "parseRecursive",
    "parseResponse",
    "mergeHeaders",
    "queue",
    "runner",
  ],
  "routing, auth, validation, response": ["dispatch", "compose", "verify", "jwtVerify", "safeParse", "json"],
};

export async function profilePhase(b: Bench): Promise<void> {
  const { plain, sample, auth, figures, details } = b;
  if (!plain.inspectorPort) {
    log("profile: plain workerd has no inspector port; skipped");
    return;
  }
  const viewers = sample.slice(0, MISS_REQUESTS);
  const feed = (viewer: string) =>
    buildRequest({ baseUrl: plain.url }, "getFeed", { query: { limit: 20 }, headers: auth(viewer) });
  // Warm the isolate on other viewers (compilation is not what a miss costs).
  for (const viewer of sample.slice(MISS_REQUESTS, MISS_REQUESTS + 30)) {
    const r = feed(viewer);
    await (await fetch(r.url, r.init)).arrayBuffer();
  }
  log(`profile: ${viewers.length} feed MISS on plain workerd under the V8 sampling profiler`);
  let all: Shot[] = [];
  const p = await profile(
    plain.inspectorPort,
    async () => {
      const run = await closedLoop({
        concurrency: 1,
        requests: viewers.length,
        request: (i) => feed(viewers[i] as string),
      });
      all = run.shots;
    },
    SAMPLE_US,
  );
  const shots = only(all, "MISS");
  const s = summarize(p, MISS_STAGES);
  const misses = Math.max(shots.length, 1);
  const perMissMs = s.busyUs / 1000 / misses;
  const totals = serverTotals(shots);
  const stages = Object.entries(s.byStage)
    .sort((a, b) => b[1] - a[1])
    .map(([stage, us]) => ({ stage, ms_per_miss: round(us / 1000 / misses, 2), share: round(us / s.busyUs, 3) }));
  for (const st of stages) log(`  ${st.stage}: ${st.ms_per_miss} ms per miss (${round(st.share * 100)} %)`);
  const top = s.byFunction.slice(0, 30).map((f) => ({
    name: f.name,
    self_ms_per_miss: round(f.selfUs / 1000 / misses, 3),
    total_ms_per_miss: round(f.totalUs / 1000 / misses, 3),
  }));
  details.profile = {
    misses: shots.length,
    requests: viewers.length,
    cpu_ms_per_miss: round(perMissMs, 2),
    stages,
    top,
  };
  figures.push(
    info("feed MISS CPU inside workerd per miss (ms, sampled), plain workerd, 1 client", round(perMissMs, 2)),
    info(
      "feed MISS inside-worker total p50 (ms, Server-Timing), plain workerd, 1 client",
      round(percentile(totals, 0.5), 2),
    ),
  );
}

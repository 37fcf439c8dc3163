/**
 * Bench phase: what a running ranking experiment costs a feed MISS. Under plain
 * workerd (the production runtime), 1 client, the same viewers alternately with no experiment
 * and with one running (started and stopped through the origin's operator API, as an operator
 * would: a request the edge-side secret signs for `operator:bench`; CDC and the projection put
 * it into Redis, each edge reads it within EXPERIMENTS_REFRESH_MS). A MISS with an experiment
 * adds one GET to round trip 1 at most every EXPERIMENTS_REFRESH_MS per isolate, the
 * assignment (a hash) and ranking with the variant's weights: the difference should be noise.
 */
import { randomUUID } from "node:crypto";
import { signRequest } from "#core/auth/origin-auth.ts";
import { EXPERIMENTS_REFRESH_MS } from "#core/experiments/schema.ts";
import { SNAPSHOT_REUSE_MS } from "#core/serving/snapshot.ts";
import { buildRequest } from "../../../edge/client/index.ts";
import type { Bench } from "../context.ts";
import { log, round, sleep } from "../context.ts";
import { closedLoop, percentile, type Shot, summarize } from "../load.ts";
import { info, only, serverTotals } from "../report.ts";

const ROUNDS = 3;
const VIEWERS = 100;

export async function experimentsPhase(b: Bench): Promise<void> {
  const { plain, sample, auth, figures, details, edgeVars } = b;
  const originUrl = edgeVars.ORIGIN_URL as string;
  const secret = edgeVars.ORIGIN_SHARED_SECRET as string;
  const viewers = sample.slice(0, VIEWERS);
  const probe = sample[sample.length - 1] as string;

  const operator = async (method: string, path: string, body?: unknown): Promise<void> => {
    const raw = body === undefined ? new Uint8Array() : new TextEncoder().encode(JSON.stringify(body));
    const headers = await signRequest(secret, {
      method,
      pathWithQuery: `/v1/experiments${path}`,
      userId: "operator:bench",
      timestampMs: Date.now(),
      requestId: randomUUID(),
      body: raw,
    });
    const res = await fetch(`${originUrl}/v1/experiments${path}`, {
      method,
      headers: { ...headers, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? null : raw,
    });
    if (!res.ok) throw new Error(`operator ${method} ${path}: ${res.status} ${await res.text()}`);
  };
  const feedRequest = (viewer: string) =>
    buildRequest({ baseUrl: plain.url }, "getFeed", { query: { limit: 20 }, headers: auth(viewer) });
  const assignmentOf = async (viewer: string): Promise<string | null> => {
    const { url, init } = feedRequest(viewer);
    const body = (await (await fetch(url, init)).json()) as { experiment?: { name: string } | null };
    return body.experiment?.name ?? null;
  };
  /** Until the edge answers new sessions with (or without) the experiment. */
  const edgeShows = async (name: string | null) => {
    const t0 = Date.now();
    while ((await assignmentOf(probe)) !== name) {
      if (Date.now() - t0 > 120_000) throw new Error(`the edge did not show experiment ${name} within 120 s`);
      await sleep(250);
    }
    return Date.now() - t0;
  };
  const run = async () =>
    closedLoop({
      concurrency: 1,
      requests: viewers.length,
      keepBody: true,
      request: (i) => feedRequest(viewers[i] as string),
    });

  const shots: Record<"off" | "on", Shot[]> = { off: [], on: [] };
  const seconds = { off: 0, on: 0 };
  let assigned = 0;
  const lags: number[] = [];
  // Warm the isolate up on viewers outside the measured ones.
  for (const v of sample.slice(VIEWERS + 200, VIEWERS + 230)) await assignmentOf(v);
  for (let r = 0; r < ROUNDS; r++) {
    log(`experiments round ${r + 1}/${ROUNDS}: feed MISS without an experiment, plain workerd, 1 client`);
    await edgeShows(null);
    await sleep(SNAPSHOT_REUSE_MS + 100); // past SNAPSHOT_REUSE_MS: every request below builds a new snapshot
    const off = await run();
    shots.off.push(...only(off.shots, "MISS"));
    seconds.off += off.result.seconds;

    const name = `bench-${Date.now().toString(36)}-${r}`;
    await operator("POST", "", {
      name,
      description: "bench: the cost of a running experiment",
      variants: [
        {
          name: "control",
          share: 50,
          weights: { freshness: 0.3, engagement: 0.4, affinity: 0.3, freshnessDecayPerHour: 0.1 },
        },
        {
          name: "candidate",
          share: 50,
          weights: { freshness: 0.2, engagement: 0.6, affinity: 0.2, freshnessDecayPerHour: 0.05 },
        },
      ],
      candidate: "candidate",
    });
    const t0 = Date.now();
    await operator("POST", `/${name}/start`);
    await edgeShows(name);
    lags.push(Date.now() - t0);
    log(
      `experiments round ${r + 1}/${ROUNDS}: ${name} running (start → edge ${Date.now() - t0} ms); feed MISS with it`,
    );
    await sleep(1100);
    const on = await run();
    const onMiss = only(on.shots, "MISS");
    shots.on.push(...onMiss);
    seconds.on += on.result.seconds;
    for (const s of onMiss) if ((JSON.parse(s.body ?? "{}") as { experiment?: unknown }).experiment) assigned++;
    await operator("POST", `/${name}/stop`);
  }
  await edgeShows(null);

  const off = summarize(shots.off, seconds.off);
  const on = summarize(shots.on, seconds.on);
  const inside = (s: Shot[]) => serverTotals(s);
  const offIn = inside(shots.off);
  const onIn = inside(shots.on);
  details.experiments = {
    rounds: ROUNDS,
    refresh_interval_ms: EXPERIMENTS_REFRESH_MS,
    viewers: viewers.length,
    without: off,
    with: on,
    assigned_with: assigned,
    start_to_edge_ms: lags,
    inside_worker_ms: {
      without: { p50: round(percentile(offIn, 0.5), 2), p95: round(percentile(offIn, 0.95), 2) },
      with: { p50: round(percentile(onIn, 0.5), 2), p95: round(percentile(onIn, 0.95), 2) },
    },
  };
  figures.push(
    info("feed MISS p50 (ms), plain workerd, no experiment", off.p50_ms),
    info("feed MISS p50 (ms), plain workerd, an experiment running", on.p50_ms),
    info("feed MISS p95 (ms), plain workerd, no experiment", off.p95_ms),
    info("feed MISS p95 (ms), plain workerd, an experiment running", on.p95_ms),
    info("feed MISS p95 cost of a running experiment (ms, with − without)", round(on.p95_ms - off.p95_ms, 1)),
    info("feed MISS p50 cost of a running experiment (ms, with − without)", round(on.p50_ms - off.p50_ms, 1)),
    info(
      "feed MISS p95 inside the worker, cost of a running experiment (ms)",
      round(percentile(onIn, 0.95) - percentile(offIn, 0.95), 2),
    ),
    info("experiment start → every edge's new sessions (ms, max of rounds)", Math.max(...lags)),
  );
  if (assigned !== shots.on.length) log(`warning: ${shots.on.length - assigned} MISS answers without an assignment`);
}

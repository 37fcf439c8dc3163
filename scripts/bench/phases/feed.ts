/** Bench phase 1: feed MISS / HIT: new sessions from the index, their next pages from the snapshot; wrangler dev, plain workerd and the cold path. */

import { buildRequest } from "../../../edge/client/index.ts";
import type { Bench } from "../context.ts";
import { log, round } from "../context.ts";
import { closedLoop, type LoadResult, percentile, type Shot, summarize } from "../load.ts";
import { info, latency, only, ratioFigure, serverTotals, stageMeans, throughput } from "../report.ts";

export async function feedPhase(b: Bench): Promise<void> {
  const { edge, plain, cold, baseline, sample, auth, figures, details, phaseSeconds: PHASE_S } = b;
  // MISS: a new session (no cursor) of a viewer not seen in this phase: built from the serving
  // index. HIT: the next page of that session (its cursor), read from the snapshot. Each at 1
  // client (latency without queueing) and 4 (throughput, and latency with the 2 cores shared),
  // through `wrangler dev` and (1 client) the built bundle under plain workerd.
  // Requests built by the typed client (edge/client), sent and timed by closedLoop.
  const feedRequest = (base: string, viewer: string, cursor?: string) =>
    buildRequest({ baseUrl: base }, "getFeed", { query: { limit: 20, cursor }, headers: auth(viewer) });
  const cursorOf = (shot: Shot) => {
    try {
      return (JSON.parse(shot.body ?? "{}") as { next_cursor?: string | null }).next_cursor ?? null;
    } catch {
      return null;
    }
  };
  // A fresh worker isolate compiles its code on the first requests; the baseline's process has
  // served earlier phases by then. Each runtime first serves viewers outside the measured ones.
  const warmUp = async (base: string) => {
    for (const viewer of sample.slice(300)) {
      const first = feedRequest(base, viewer);
      const res = await fetch(first.url, first.init);
      const cursor = (JSON.parse(await res.text()) as { next_cursor?: string | null }).next_cursor;
      if (cursor) {
        const next = feedRequest(base, viewer, cursor);
        await (await fetch(next.url, next.init)).arrayBuffer();
      }
    }
  };
  const feedPhase = async (base: string, viewers: string[], clients: number) => {
    await warmUp(base);
    const missRun = await closedLoop({
      concurrency: clients,
      requests: viewers.length,
      keepBody: true,
      request: (i) => feedRequest(base, viewers[i] as string),
    });
    const pages: { viewer: string; cursor: string }[] = [];
    missRun.shots.forEach((shot, i) => {
      const cursor = cursorOf(shot);
      if (cursor) pages.push({ viewer: viewers[i] as string, cursor });
    });
    const hitRun = await closedLoop({
      concurrency: clients,
      durationMs: PHASE_S * 1000,
      request: (i) => {
        const p = pages[i % pages.length] as { viewer: string; cursor: string };
        return feedRequest(base, p.viewer, p.cursor);
      },
    });
    return { missRun, hitRun };
  };
  const byClients: Record<
    number,
    { miss: Shot[]; missRun: LoadResult; hitRun: LoadResult; hit: Shot[]; base: LoadResult }
  > = {};
  const thirds = [sample.slice(0, 100), sample.slice(100, 200), sample.slice(200, 300)];
  for (const [k, clients] of [1, 4].entries()) {
    const viewers = thirds[k] as string[];
    log(`feed MISS (new sessions, from the index) then HIT (their next pages), ${clients} client(s)`);
    const { missRun, hitRun } = await feedPhase(edge.url, viewers, clients);
    log(`baseline feed, ${clients} client(s): the same viewers`);
    const base = await closedLoop({
      concurrency: clients,
      requests: viewers.length * 2,
      durationMs: PHASE_S * 1000,
      request: (i) => feedRequest(baseline.url, viewers[i % viewers.length] as string),
    });
    byClients[clients] = {
      miss: only(missRun.shots, "MISS"),
      missRun: missRun.result,
      hit: only(hitRun.shots, "HIT"),
      hitRun: hitRun.result,
      base: base.result,
    };
    details[`feed_${clients}_client`] = {
      miss: { ...missRun.result, stage_means_ms: stageMeans(only(missRun.shots, "MISS")) },
      hit: { ...hitRun.result, stage_means_ms: stageMeans(only(hitRun.shots, "HIT")) },
      baseline: base.result,
    };
  }
  log("feed MISS and HIT under plain workerd (the built bundle), 1 client");
  const plainRun = await feedPhase(plain.url, thirds[2] as string[], 1);
  log("cold-path feed MISS (index absent: the ClickHouse query), 1 client");
  await warmUp(cold.url);
  const coldRun = await closedLoop({
    concurrency: 1,
    requests: 100,
    request: (i) => feedRequest(cold.url, sample[i % sample.length] as string),
  });
  details.feed_plain_workerd = {
    miss: { ...plainRun.missRun.result, stage_means_ms: stageMeans(only(plainRun.missRun.shots, "MISS")) },
    hit: plainRun.hitRun.result,
  };
  details.feed_cold_path = { ...coldRun.result, stage_means_ms: stageMeans(only(coldRun.shots, "MISS")) };
  const base1 = (byClients[1] as (typeof byClients)[number]).base;
  {
    const miss = summarize(only(plainRun.missRun.shots, "MISS"), plainRun.missRun.result.seconds);
    const hit = summarize(only(plainRun.hitRun.shots, "HIT"), plainRun.hitRun.result.seconds);
    const coldMiss = summarize(only(coldRun.shots, "MISS"), coldRun.result.seconds);
    figures.push(
      latency("feed MISS p50 (ms), plain workerd, 1 client", miss.p50_ms, base1.p50_ms),
      latency("feed MISS p95 (ms), plain workerd, 1 client", miss.p95_ms, base1.p95_ms),
      ratioFigure("feed MISS p95, plain workerd: baseline ÷ ours (×)", base1.p95_ms, miss.p95_ms, 2),
      latency("feed HIT p50 (ms), plain workerd, 1 client", hit.p50_ms, base1.p50_ms),
      latency("feed HIT p95 (ms), plain workerd, 1 client", hit.p95_ms, base1.p95_ms),
      ratioFigure("feed HIT p95, plain workerd: baseline ÷ ours (×)", base1.p95_ms, hit.p95_ms, 3),
      latency("cold-path feed MISS p50 (ms), 1 client", coldMiss.p50_ms, base1.p50_ms),
      latency("cold-path feed MISS p95 (ms), 1 client", coldMiss.p95_ms, base1.p95_ms, 150),
    );
  }
  for (const clients of [1, 4]) {
    const r = byClients[clients] as (typeof byClients)[number];
    const miss = summarize(r.miss, r.missRun.seconds);
    const hit = summarize(r.hit, r.hitRun.seconds);
    const t = clients === 1;
    const c = `${clients} client${clients > 1 ? "s" : ""}`;
    figures.push(
      latency(`feed MISS p50 (ms), wrangler dev, ${c}`, miss.p50_ms, r.base.p50_ms),
      latency(`feed MISS p95 (ms), wrangler dev, ${c}`, miss.p95_ms, r.base.p95_ms),
      latency(`feed MISS p99 (ms), wrangler dev, ${c}`, miss.p99_ms, r.base.p99_ms),
      throughput(`feed MISS throughput (req/s), ${c}`, r.missRun.rps, r.base.rps),
      latency(`feed HIT p50 (ms), wrangler dev, ${c}`, hit.p50_ms, r.base.p50_ms),
      latency(`feed HIT p95 (ms), wrangler dev, ${c}`, hit.p95_ms, r.base.p95_ms),
      latency(`feed HIT p99 (ms), wrangler dev, ${c}`, hit.p99_ms, r.base.p99_ms),
      throughput(`feed HIT throughput (req/s), ${c}`, r.hitRun.rps, r.base.rps),
    );
    if (t) {
      // The same answers timed inside the worker (Server-Timing total): what remains once the
      // local proxy of `wrangler dev` and the client are taken out.
      for (const [label, shots] of [
        ["MISS", r.miss],
        ["HIT", r.hit],
      ] as const) {
        const inside = serverTotals(shots);
        figures.push(
          info(`feed ${label} p50 inside the worker (ms), 1 client`, round(percentile(inside, 0.5), 2)),
          info(`feed ${label} p95 inside the worker (ms), 1 client`, round(percentile(inside, 0.95), 2)),
        );
      }
      figures.push(
        ratioFigure("feed MISS p95, wrangler dev: baseline ÷ ours (×), 1 client", r.base.p95_ms, miss.p95_ms, 2),
        ratioFigure("feed HIT p95, wrangler dev: baseline ÷ ours (×), 1 client", r.base.p95_ms, hit.p95_ms, 3),
      );
    }
  }
}

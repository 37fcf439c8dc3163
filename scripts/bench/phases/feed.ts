/** Bench phase 1: feed MISS / HIT: new sessions from the index, their next pages from the snapshot; wrangler dev, plain workerd and the cold path. */

import { SNAPSHOT_REUSE_MS } from "#core/serving/snapshot.ts";
import { buildRequest } from "../../../edge/client/index.ts";
import type { Bench } from "../context.ts";
import { log, round, sleep } from "../context.ts";
import { closedLoop, type LoadResult, percentile } from "../load.ts";
import {
  type Figure,
  infoRounds,
  latencyRounds,
  ratioRounds,
  serverTotals,
  stageMeans,
  stageRounds,
  throughputRounds,
  withUpperTarget,
} from "../report.ts";
import { interleavedRounds, ROUNDS, recording, roundOrder } from "../rounds.ts";
import { byCache, feedSessions, type SessionsRun, type TimedRun } from "../sessions.ts";

/** The measured viewers: sample[0..100], on every side of every round, in this order. */
const VIEWERS = 100;
/** Passes over the sessions' next pages (HIT) per round. */
const HIT_PASSES = 3;

type Side = "plain" | "wrangler" | "cold" | "baseline";
/** One side's round: new sessions and (ours, index present) their next pages; the baseline's feed. */
type FeedRound = { sessions: SessionsRun } | { first: TimedRun };

export async function feedPhase(b: Bench): Promise<void> {
  const { edge, plain, cold, baseline, sample, auth, figures, details } = b;
  // MISS: a new session (no cursor): built from the serving index. HIT: the next page of that
  // session (its cursor), read from the snapshot. At 1 client (latency without queueing) under
  // the built bundle in plain workerd (the headline), wrangler dev and the cold path (an index
  // never bootstrapped: the ClickHouse query), and at 4 clients (throughput, and latency with the
  // 2 cores shared) under wrangler dev; the baseline on the same viewers, in the same order, in
  // the same rounds (rounds.ts). Requests built by the typed client (edge/client).
  const feedRequest = (base: string, viewer: string, cursor?: string) =>
    buildRequest({ baseUrl: base }, "getFeed", { query: { limit: 20, cursor }, headers: auth(viewer) });
  const url: Record<Side, string> = { plain: plain.url, wrangler: edge.url, cold: cold.url, baseline: baseline.url };
  const viewers = sample.slice(0, VIEWERS);

  // A fresh worker isolate compiles its code on the first requests; the baseline's process has
  // served earlier phases by then. Each runtime first serves viewers outside the measured ones.
  for (const side of ["plain", "wrangler", "cold"] as const) {
    await feedSessions({
      viewers: sample.slice(300),
      clients: 1,
      hitPasses: 1,
      request: (v, c) => feedRequest(url[side], v, c),
    });
  }

  /** One round of one side: ours' sessions (the cold path: their first pages only), the baseline's feed. */
  const runSide = async (side: Side, clients: number) => {
    if (side === "baseline" || side === "cold") {
      const rec = recording(
        (i) => viewers[i] as string,
        (i) => feedRequest(url[side], viewers[i] as string),
      );
      const first = await closedLoop({ concurrency: clients, requests: viewers.length, request: rec.request });
      return { value: { first } as FeedRound, asked: rec.asked };
    }
    const sessions = await feedSessions({
      viewers,
      clients,
      hitPasses: HIT_PASSES,
      request: (v, c) => feedRequest(url[side], v, c),
    });
    return { value: { sessions } as FeedRound, asked: sessions.asked };
  };
  // plain workerd and wrangler dev share the serving index, so their snapshots: a viewer's new
  // session on the next side must come after the last one's snapshot is past its reuse window
  // (else it would be a reuse, not a MISS; the X-Cache check would leave it out and count it).
  const pause = async (side: Side) => {
    if (side !== "baseline") await sleep(SNAPSHOT_REUSE_MS + 100);
  };

  const comparisons = [
    { clients: 1, sides: ["plain", "wrangler", "cold", "baseline"] as Side[] },
    { clients: 4, sides: ["wrangler", "baseline"] as Side[] },
  ];
  const measured: Record<number, Record<Side, FeedRound[]>> = {};
  for (const { clients, sides } of comparisons) {
    log(
      `feed, ${clients} client(s): ${sides.join(", ")}; ${ROUNDS} rounds over the same ${viewers.length} viewers (new sessions, then ${HIT_PASSES} passes over their next pages)`,
    );
    measured[clients] = (await interleavedRounds({
      what: `feed, ${clients} client(s)`,
      sides,
      run: (side) => runSide(side, clients),
      before: pause,
    })) as Record<Side, FeedRound[]>;
  }

  // ---------------------------------------------------------------- per round
  const sessionsOf = (rs: FeedRound[]) => rs.map((r) => (r as { sessions: SessionsRun }).sessions);
  const firstOf = (rs: FeedRound[]) => rs.map((r) => (r as { first: TimedRun }).first);
  const misses = (rs: FeedRound[]) => sessionsOf(rs).map((s) => byCache(s.miss, "MISS"));
  const hits = (rs: FeedRound[]) => sessionsOf(rs).map((s) => byCache(s.hit, "HIT"));
  const pick = (rs: LoadResult[], k: "p50_ms" | "p95_ms" | "p99_ms" | "rps") => rs.map((r) => r[k]);
  let leftOutMiss = 0;
  let leftOutHit = 0;
  let missShots = 0;
  let hitShots = 0;
  for (const bySide of Object.values(measured)) {
    for (const side of ["plain", "wrangler"] as const) {
      if (!bySide[side]) continue;
      for (const m of misses(bySide[side])) {
        leftOutMiss += m.leftOut;
        missShots += m.shots.length + m.leftOut;
      }
      for (const h of hits(bySide[side])) {
        leftOutHit += h.leftOut;
        hitShots += h.shots.length + h.leftOut;
      }
    }
  }
  const coldMisses = (measured[1]?.cold ?? []).map((r) => byCache((r as { first: TimedRun }).first, "MISS"));
  const leftOutCold = coldMisses.reduce((a, m) => a + m.leftOut, 0);

  // Every round of every side in the JSON, in the order they ran.
  for (const { clients, sides } of comparisons) {
    const bySide = measured[clients] as Record<Side, FeedRound[]>;
    details[clients === 1 ? "feed_1_client" : "feed_4_clients"] = {
      viewers: viewers.length,
      hit_passes: HIT_PASSES,
      order: roundOrder(sides, ROUNDS).map((s) => `${s.round + 1}:${s.side}`),
      sides: Object.fromEntries(
        sides.map((side) => [
          side,
          (bySide[side] ?? []).map((r) => {
            if ("first" in r) {
              return side === "cold"
                ? { miss: r.first.result, stage_means_ms: stageMeans(byCache(r.first, "MISS").shots) }
                : r.first.result;
            }
            const m = byCache(r.sessions.miss, "MISS");
            const h = byCache(r.sessions.hit, "HIT");
            return {
              miss: { ...r.sessions.miss.result, stage_means_ms: stageMeans(m.shots), not_miss: m.leftOut },
              hit: { ...r.sessions.hit.result, stage_means_ms: stageMeans(h.shots), not_hit: h.leftOut },
              viewers_without_next_page: r.sessions.noNextPage,
            };
          }),
        ]),
      ),
    };
  }

  // ---------------------------------------------------------------- figures
  const one = measured[1] as Record<Side, FeedRound[]>;
  const base1 = firstOf(one.baseline).map((r) => r.result);
  const ours = (side: "plain" | "wrangler", bySide: Record<Side, FeedRound[]>) => ({
    miss: misses(bySide[side]).map((m) => m.kept),
    hit: hits(bySide[side]).map((h) => h.kept),
  });
  const plainR = ours("plain", one);
  const coldR = coldMisses.map((m) => m.kept);
  // Where a plain-workerd miss and a cold-path miss spend their time inside the worker.
  const plainMissShots = misses(one.plain).map((m) => m.shots);
  const plainInside = plainMissShots.map((shots) => serverTotals(shots));
  const whereTimeGoes: Figure[] = [
    withUpperTarget(
      infoRounds(
        "feed MISS p50 inside the worker (ms, Server-Timing total), plain workerd, 1 client",
        plainInside.map((xs) => round(percentile(xs, 0.5), 2)),
      ),
      10,
    ),
    ...stageRounds("feed MISS, plain workerd, 1 client", plainMissShots.map(stageMeans)),
    ...stageRounds(
      "cold-path feed MISS, 1 client",
      coldMisses.map((m) => stageMeans(m.shots)),
    ),
  ];
  figures.push(
    latencyRounds("feed MISS p50 (ms), plain workerd, 1 client", pick(plainR.miss, "p50_ms"), pick(base1, "p50_ms")),
    latencyRounds("feed MISS p95 (ms), plain workerd, 1 client", pick(plainR.miss, "p95_ms"), pick(base1, "p95_ms")),
    ratioRounds(
      "feed MISS p95, plain workerd: baseline ÷ ours (×)",
      pick(base1, "p95_ms"),
      pick(plainR.miss, "p95_ms"),
      2.5,
    ),
    latencyRounds("feed HIT p50 (ms), plain workerd, 1 client", pick(plainR.hit, "p50_ms"), pick(base1, "p50_ms")),
    latencyRounds("feed HIT p95 (ms), plain workerd, 1 client", pick(plainR.hit, "p95_ms"), pick(base1, "p95_ms")),
    ratioRounds(
      "feed HIT p95, plain workerd: baseline ÷ ours (×)",
      pick(base1, "p95_ms"),
      pick(plainR.hit, "p95_ms"),
      3,
    ),
    latencyRounds("cold-path feed MISS p50 (ms), 1 client", pick(coldR, "p50_ms"), pick(base1, "p50_ms")),
    latencyRounds("cold-path feed MISS p95 (ms), 1 client", pick(coldR, "p95_ms"), pick(base1, "p95_ms"), 150),
  );
  figures.push(...whereTimeGoes);
  for (const { clients } of comparisons) {
    const bySide = measured[clients] as Record<Side, FeedRound[]>;
    const base = firstOf(bySide.baseline).map((r) => r.result);
    const w = ours("wrangler", bySide);
    const c = `${clients} client${clients > 1 ? "s" : ""}`;
    const rows: Figure[] = [];
    for (const [label, rs] of [
      ["MISS", w.miss],
      ["HIT", w.hit],
    ] as const) {
      rows.push(
        latencyRounds(`feed ${label} p50 (ms), wrangler dev, ${c}`, pick(rs, "p50_ms"), pick(base, "p50_ms")),
        latencyRounds(`feed ${label} p95 (ms), wrangler dev, ${c}`, pick(rs, "p95_ms"), pick(base, "p95_ms")),
        latencyRounds(`feed ${label} p99 (ms), wrangler dev, ${c}`, pick(rs, "p99_ms"), pick(base, "p99_ms")),
        throughputRounds(`feed ${label} throughput (req/s), ${c}`, pick(rs, "rps"), pick(base, "rps")),
      );
    }
    figures.push(...rows);
    if (clients !== 1) continue;
    // The same answers timed inside the worker (Server-Timing total): what remains once the
    // local proxy of `wrangler dev` and the client are taken out.
    for (const [label, runs] of [
      ["MISS", misses(bySide.wrangler)],
      ["HIT", hits(bySide.wrangler)],
    ] as const) {
      const inside = runs.map((r) => serverTotals(r.shots));
      figures.push(
        infoRounds(
          `feed ${label} p50 inside the worker (ms), 1 client`,
          inside.map((xs) => round(percentile(xs, 0.5), 2)),
        ),
        infoRounds(
          `feed ${label} p95 inside the worker (ms), 1 client`,
          inside.map((xs) => round(percentile(xs, 0.95), 2)),
        ),
      );
    }
    figures.push(
      ratioRounds(
        "feed MISS p95, wrangler dev: baseline ÷ ours (×), 1 client",
        pick(base, "p95_ms"),
        pick(w.miss, "p95_ms"),
        2,
      ),
      ratioRounds(
        "feed HIT p95, wrangler dev: baseline ÷ ours (×), 1 client",
        pick(base, "p95_ms"),
        pick(w.hit, "p95_ms"),
        3,
      ),
    );
  }
  // The X-Cache check: answers of a MISS run that were not a MISS (a snapshot reused, an error)
  // and of a HIT run that were not a HIT are left out of the figures above; how many.
  figures.push(
    {
      name: `feed MISS runs: answers not X-Cache MISS, left out (of ${missShots}, plain workerd and wrangler dev, all rounds)`,
      ours: leftOutMiss,
      baseline: null,
      ratio: null,
      target: "0",
      met: leftOutMiss === 0,
    },
    {
      name: `feed HIT runs: answers not X-Cache HIT, left out (of ${hitShots})`,
      ours: leftOutHit,
      baseline: null,
      ratio: null,
      target: "0",
      met: leftOutHit === 0,
    },
    {
      name: `cold-path runs: answers not X-Cache MISS, left out (of ${coldMisses.reduce((a, m) => a + m.shots.length + m.leftOut, 0)})`,
      ours: leftOutCold,
      baseline: null,
      ratio: null,
      target: "0",
      met: leftOutCold === 0,
    },
  );
}

/** Bench phase 3–4: event intake throughput (pipeline running, and edge + Redis alone), then event → ClickHouse visibility. */

import { randomUUID } from "node:crypto";
import { dirname } from "node:path";
import { EVENTS_STREAM_KEY } from "#core/keys.ts";
import { BENCH_RATE_LIMITS } from "../../lib/ratelimits.ts";
import { rng } from "../../lib/rng.ts";
import { startPlainWorkerd } from "../../lib/workerd.ts";
import { startWranglerDev } from "../../lib/wrangler.ts";
import type { Bench } from "../context.ts";
import { log, round, sleep } from "../context.ts";
import { closedLoop, type LoadResult, percentile, type Shot } from "../load.ts";
import { latency, latencyRounds, throughputRounds } from "../report.ts";
import { interleavedRounds, ROUNDS, recording, roundOrder } from "../rounds.ts";

/** The sides of the intake comparison: ours with the pipeline running, the baseline, ours alone. */
const SIDES = ["plain", "wrangler", "baseline", "plain_alone", "wrangler_alone"] as const;
type Side = (typeof SIDES)[number];
type Run = { result: LoadResult; shots: Shot[] };

export async function intakePhase(b: Bench): Promise<void> {
  const {
    edge,
    plain,
    baseline,
    redis,
    pool,
    ch,
    active,
    auth,
    tokenOf,
    pickDistinct,
    figures,
    details,
    phaseSeconds: PHASE_S,
    name,
    jwtSecret: JWT_SECRET,
    bridgeUrl: BRIDGE_URL,
    bridgeToken: BRIDGE_TOKEN,
    bundleEntry,
  } = b;
  const { rows: postRows } = await pool.query<{ id: string }>(
    "SELECT id::text FROM posts ORDER BY created_at DESC LIMIT 5000",
  );
  const postIds = postRows.map((r) => r.id);
  const intakeUsers = pickDistinct(active, 2000);
  // Each side's run per round: a third of --seconds (5 s at the default), so the 3 rounds of the
  // 5 sides take about as long as the single 15 s runs did.
  const ROUND_MS = Math.max(3000, Math.round((PHASE_S * 1000) / 3));
  await Promise.all(intakeUsers.map(tokenOf));
  // Request i is the same on every side: its user, and a batch of 100 impressions whose posts are
  // drawn from a PRNG seeded by i (only `ts` is the moment it is sent).
  const batch = (i: number) => {
    const draw = rng(1000 + i);
    return JSON.stringify({
      events: Array.from({ length: 100 }, () => ({
        type: "impression",
        post_id: postIds[Math.floor(draw() * postIds.length)],
        ts: Date.now(),
      })),
    });
  };
  const intake = async (base: string) => {
    const rec = recording(
      (i) => `${intakeUsers[i % intakeUsers.length]}#${i}`,
      (i) => ({
        url: `${base}/api/v1/events`,
        init: {
          method: "POST",
          headers: { ...auth(intakeUsers[i % intakeUsers.length] as string), "content-type": "application/json" },
          body: batch(i),
        },
      }),
    );
    const run = await closedLoop({ concurrency: 8, durationMs: ROUND_MS, request: rec.request });
    return { value: run, asked: rec.asked };
  };
  // The edge's own intake capacity: a second worker of each runtime writing to a stream nothing
  // reads, so the relay, Kafka, the sink and ClickHouse do not share the 2 cores with it.
  const probeStream = `${name}:intake-probe`;
  const probeVars = {
    JWT_SECRET,
    UPSTASH_REDIS_REST_URL: BRIDGE_URL,
    UPSTASH_REDIS_REST_TOKEN: BRIDGE_TOKEN,
    EVENTS_STREAM: probeStream,
  };
  const stops: (() => Promise<void>)[] = [];
  let byRound: Record<Side, Run[]>;
  try {
    const edgeAlone = await startWranglerDev({
      config: "wrangler.toml",
      script: bundleEntry,
      vars: probeVars,
      rateLimits: BENCH_RATE_LIMITS,
      timeoutMs: 120_000,
    });
    stops.push(() => edgeAlone.stop());
    // Plain workerd has no wrangler.toml [vars]: everything the worker reads is passed.
    const plainAlone = await startPlainWorkerd(
      {
        ...b.edgeVars,
        ...probeVars,
        CLICKHOUSE_USER: "default",
        REDIS_TIMEOUT_MS: "300",
        CLICKHOUSE_TIMEOUT_MS: "1500",
      },
      { bundleDir: dirname(bundleEntry), rateLimits: BENCH_RATE_LIMITS },
    );
    stops.push(() => plainAlone.stop());
    const url: Record<Side, string> = {
      plain: plain.url,
      wrangler: edge.url,
      baseline: baseline.url,
      plain_alone: plainAlone.url,
      wrangler_alone: edgeAlone.url,
    };
    log(
      `event intake: batches of 100, 8 clients, ${SIDES.join(", ")}; ${ROUNDS} rounds of ${ROUND_MS / 1000} s each, the same request stream`,
    );
    byRound = await interleavedRounds({
      what: "event intake",
      sides: SIDES,
      run: (side) => intake(url[side]),
      // Time-bound (a throughput): each side sends the same requests, as many as it can.
      prefix: true,
    });
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    await redis.del(probeStream);
  }
  const results = (side: Side) => byRound[side].map((r) => r.result);
  if (results("plain_alone").some((r) => (r.status["202"] ?? 0) === 0)) {
    log(
      `WARNING: the intake probe under plain workerd accepted nothing in a round: ${JSON.stringify(results("plain_alone").map((r) => r.status))}`,
    );
  }
  const evs = (side: Side) => results(side).map((r) => round(((r.status["202"] ?? 0) * 100) / r.seconds, 0));
  const p95 = (side: Side) => results(side).map((r) => r.p95_ms);
  const p50 = (side: Side) => results(side).map((r) => r.p50_ms);
  details.intake = {
    round_seconds: ROUND_MS / 1000,
    order: roundOrder(SIDES, ROUNDS).map((s) => `${s.round + 1}:${s.side}`),
    ours_plain_workerd: results("plain"),
    ours: results("wrangler"),
    edge_alone_plain_workerd: results("plain_alone"),
    edge_alone: results("wrangler_alone"),
    baseline: results("baseline"),
  };
  const notBelow = (name: string, ours: number[], base: number[]) => {
    const f = throughputRounds(name, ours, base);
    return { ...f, target: "≥ baseline", met: f.ours >= (f.baseline ?? 0) };
  };
  figures.push(
    notBelow(
      "event intake (events/s, batches of 100, 8 clients), plain workerd, pipeline running",
      evs("plain"),
      evs("baseline"),
    ),
    notBelow(
      "event intake (events/s, batches of 100, 8 clients), plain workerd, edge + Redis alone",
      evs("plain_alone"),
      evs("baseline"),
    ),
    throughputRounds(
      "event intake (events/s, batches of 100, 8 clients), wrangler dev, pipeline running",
      evs("wrangler"),
      evs("baseline"),
      10_000,
    ),
    throughputRounds(
      "event intake (events/s, batches of 100, 8 clients), wrangler dev, edge + Redis alone",
      evs("wrangler_alone"),
      evs("baseline"),
      10_000,
    ),
    latencyRounds("event intake batch p50 (ms), plain workerd", p50("plain"), p50("baseline")),
    latencyRounds("event intake batch p95 (ms), plain workerd", p95("plain"), p95("baseline")),
  );

  // ------------------------------------------------------------ 4. event → ClickHouse
  log("waiting for the intake backlog to drain, then event → ClickHouse visibility");
  const drainStart = Date.now();
  for (;;) {
    const len = await redis.xlen(EVENTS_STREAM_KEY);
    if (len === 0 || Date.now() - drainStart > 300_000) break;
    await sleep(500);
  }
  details.intake_drain_s = round((Date.now() - drainStart) / 1000);
  const visible: number[] = [];
  const visibleBase: number[] = [];
  for (let k = 0; k < 40; k++) {
    const u = intakeUsers[k] as string;
    const id = randomUUID();
    const body = JSON.stringify({ events: [{ event_id: id, type: "view", post_id: postIds[k], ts: Date.now() }] });
    const headers = { ...auth(u), "content-type": "application/json" };
    const s = performance.now();
    const res = await fetch(`${edge.url}/api/v1/events`, { method: "POST", headers, body });
    if (res.status !== 202) throw new Error(`event intake answered ${res.status}: ${await res.text()}`);
    for (;;) {
      const rs = await ch.query({
        query: "SELECT count() AS n FROM events_raw WHERE event_id = {id:UUID}",
        query_params: { id },
        format: "JSONEachRow",
      });
      if (Number((await rs.json<{ n: string }>())[0]?.n) > 0) break;
      if (performance.now() - s > 30_000) throw new Error("event not visible in ClickHouse after 30 s");
      await sleep(20);
    }
    visible.push(performance.now() - s);
    const id2 = randomUUID();
    const s2 = performance.now();
    await fetch(`${baseline.url}/api/v1/events`, {
      method: "POST",
      headers,
      body: JSON.stringify({ events: [{ event_id: id2, type: "view", post_id: postIds[k], ts: Date.now() }] }),
    });
    for (;;) {
      const { rows } = await pool.query("SELECT 1 FROM bench_events WHERE event_id = $1", [id2]);
      if (rows.length) break;
      if (performance.now() - s2 > 30_000) throw new Error("baseline event not visible after 30 s");
      await sleep(5);
    }
    visibleBase.push(performance.now() - s2);
    await sleep(100);
  }
  visible.sort((a, b) => a - b);
  visibleBase.sort((a, b) => a - b);
  figures.push(
    latency(
      "event → ClickHouse visible p50 (ms)",
      round(percentile(visible, 0.5)),
      round(percentile(visibleBase, 0.5)),
    ),
    latency(
      "event → ClickHouse visible p95 (ms)",
      round(percentile(visible, 0.95)),
      round(percentile(visibleBase, 0.95)),
      2000,
    ),
  );
}

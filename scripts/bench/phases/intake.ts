/** Bench phase 3–4: event intake throughput (pipeline running, and edge + Redis alone), then event → ClickHouse visibility. */

import { randomUUID } from "node:crypto";
import { dirname } from "node:path";
import { EVENTS_STREAM_KEY } from "../../../edge/core/index.ts";
import { BENCH_RATE_LIMITS } from "../../lib/ratelimits.ts";
import { startPlainWorkerd } from "../../lib/workerd.ts";
import { startWranglerDev } from "../../lib/wrangler.ts";
import type { Bench } from "../context.ts";
import { log, round, sleep } from "../context.ts";
import { closedLoop, type LoadResult, percentile } from "../load.ts";
import { latency, throughput } from "../report.ts";

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
    rand,
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
  await Promise.all(intakeUsers.map(tokenOf));
  const batch = () =>
    JSON.stringify({
      events: Array.from({ length: 100 }, () => ({
        type: "impression",
        post_id: postIds[Math.floor(rand() * postIds.length)],
        ts: Date.now(),
      })),
    });
  const intake = async (base: string) =>
    closedLoop({
      concurrency: 8,
      durationMs: PHASE_S * 1000,
      request: (i) => ({
        url: `${base}/api/v1/events`,
        init: {
          method: "POST",
          headers: { ...auth(intakeUsers[i % intakeUsers.length] as string), "content-type": "application/json" },
          body: batch(),
        },
      }),
    });
  log("event intake: batches of 100, 8 clients (plain workerd, wrangler dev, baseline)");
  const plainIntake = await intake(plain.url);
  const ourIntake = await intake(edge.url);
  const baseIntake = await intake(baseline.url);
  // The edge's own intake capacity: a second worker writing to a stream nothing reads, so the
  // relay, Kafka, the sink and ClickHouse do not share the 2 cores with it.
  log("event intake into an unread stream (edge + Redis only), 8 clients");
  const probeStream = `${name}:intake-probe`;
  const edgeAlone = await startWranglerDev({
    config: "wrangler.toml",
    script: bundleEntry,
    vars: {
      JWT_SECRET,
      UPSTASH_REDIS_REST_URL: BRIDGE_URL,
      UPSTASH_REDIS_REST_TOKEN: BRIDGE_TOKEN,
      EVENTS_STREAM: probeStream,
    },
    rateLimits: BENCH_RATE_LIMITS,
    timeoutMs: 120_000,
  });
  const probeVars = {
    JWT_SECRET,
    UPSTASH_REDIS_REST_URL: BRIDGE_URL,
    UPSTASH_REDIS_REST_TOKEN: BRIDGE_TOKEN,
    EVENTS_STREAM: probeStream,
  };
  let aloneIntake: Awaited<ReturnType<typeof intake>>;
  let alonePlain: Awaited<ReturnType<typeof intake>>;
  try {
    aloneIntake = await intake(edgeAlone.url);
    await edgeAlone.stop();
    // Plain workerd has no wrangler.toml [vars]: everything the worker reads is passed.
    const w = await startPlainWorkerd(
      {
        ...b.edgeVars,
        ...probeVars,
        CLICKHOUSE_USER: "default",
        REDIS_TIMEOUT_MS: "300",
        CLICKHOUSE_TIMEOUT_MS: "1500",
      },
      { bundleDir: dirname(bundleEntry), rateLimits: BENCH_RATE_LIMITS },
    );
    try {
      alonePlain = await intake(w.url);
    } finally {
      await w.stop();
    }
  } finally {
    await edgeAlone.stop().catch(() => {});
    await redis.del(probeStream);
  }
  if ((alonePlain.result.status["202"] ?? 0) === 0) {
    log(`WARNING: the intake probe under plain workerd accepted nothing: ${JSON.stringify(alonePlain.result.status)}`);
  }
  const evs = (r: LoadResult) => round(((r.status["202"] ?? 0) * 100) / r.seconds, 0);
  details.intake = {
    ours_plain_workerd: plainIntake.result,
    ours: ourIntake.result,
    edge_alone_plain_workerd: alonePlain.result,
    edge_alone: aloneIntake.result,
    baseline: baseIntake.result,
  };
  const notBelow = (name: string, ours: number, base: number) => ({
    ...throughput(name, ours, base),
    target: "≥ baseline",
    met: ours >= base,
  });
  figures.push(
    notBelow(
      "event intake (events/s, batches of 100, 8 clients), plain workerd, pipeline running",
      evs(plainIntake.result),
      evs(baseIntake.result),
    ),
    notBelow(
      "event intake (events/s, batches of 100, 8 clients), plain workerd, edge + Redis alone",
      evs(alonePlain.result),
      evs(baseIntake.result),
    ),
    throughput(
      "event intake (events/s, batches of 100, 8 clients), wrangler dev, pipeline running",
      evs(ourIntake.result),
      evs(baseIntake.result),
      10_000,
    ),
    throughput(
      "event intake (events/s, batches of 100, 8 clients), wrangler dev, edge + Redis alone",
      evs(aloneIntake.result),
      evs(baseIntake.result),
      10_000,
    ),
    latency("event intake batch p95 (ms), plain workerd", plainIntake.result.p95_ms, baseIntake.result.p95_ms),
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

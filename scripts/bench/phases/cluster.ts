/**
 * Bench phase: the serving index on a Redis Cluster beside the single node, same run, same data.
 *
 * The stack's opt-in 3-master Redis Cluster (7001–7003) and its cluster-mode REST bridge (8078)
 * are brought up if they are not; the run's index is bootstrapped from the same ClickHouse into
 * the cluster (layout 5: every write script on one slot), with what a feed miss reads besides
 * (the hot posts of the moment, the measured viewers' seen sets) copied over; the same bundle
 * then serves feeds under a second plain workerd whose Redis is the cluster bridge. Both sides
 * answer the same viewers in the same order, in interleaved rounds (rounds.ts): new sessions
 * (MISS, from the index) and their next pages (HIT, from the snapshot) at 1 client, and new
 * sessions at 4 clients. Figures: cluster vs single node, the single node in the "baseline"
 * column. The cluster's copy of the index is removed afterwards.
 */
import { spawnSync } from "node:child_process";
import { dirname, resolve } from "node:path";
import type { Cluster } from "ioredis";
import { SNAPSHOT_REUSE_MS } from "#core/serving/snapshot.ts";
import { buildRequest } from "../../../edge/client/index.ts";
import { bootstrapIndex } from "../../../origin/src/index/bootstrap.ts";
import { unlinkByPrefix } from "../../../origin/src/index/exec.ts";
import { clusterFromNodes, clusterReady, pipelineOf, scanAll } from "../../../origin/src/redis-cluster.ts";
import { BENCH_RATE_LIMITS } from "../../lib/ratelimits.ts";
import { startPlainWorkerd } from "../../lib/workerd.ts";
import { CLUSTER_BRIDGE_URL } from "../../lib/world.ts";
import type { Bench } from "../context.ts";
import { log, round, sleep } from "../context.ts";
import { type LoadResult, percentile } from "../load.ts";
import { info, infoRounds, latencyRounds, serverTotals, throughputRounds } from "../report.ts";
import { interleavedRounds } from "../rounds.ts";
import { byCache, feedSessions, type SessionsRun } from "../sessions.ts";

const ROOT = resolve(import.meta.dirname, "../../..");
const SEEDS = process.env.BENCH_REDIS_CLUSTER ?? "127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003";
/** The measured viewers: sample[0..100], as the feed phase. */
const VIEWERS = 100;
/** How long the copies of the hot posts and the seen sets live on the cluster (the phase's length). */
const COPY_TTL_S = 3600;

type Side = "single" | "cluster";

/** Every master's used_memory (bytes), summed. */
async function usedMemory(cluster: Cluster): Promise<number> {
  let sum = 0;
  for (const node of cluster.nodes("master")) {
    const m = /used_memory:(\d+)/.exec(await node.info("memory"));
    sum += Number(m?.[1] ?? 0);
  }
  return sum;
}

export async function clusterPhase(b: Bench): Promise<void> {
  const { redis, ch, keys, plain, sample, auth, figures, details } = b;
  const up = spawnSync(
    resolve(ROOT, "node_modules/.bin/tsx"),
    ["scripts/local/stack/cli.ts", "up", "--quiet", "redis-cluster", "redis-bridge-cluster"],
    { cwd: ROOT, stdio: "inherit", env: { ...process.env, REDIS_CLUSTER: "1" } },
  );
  if (up.status !== 0) throw new Error("cluster phase: the Redis Cluster did not come up");
  const cluster = clusterFromNodes(SEEDS, { lazyConnect: false });
  await clusterReady(cluster);
  const viewers = sample.slice(0, VIEWERS);
  let worker: Awaited<ReturnType<typeof startPlainWorkerd>> | null = null;
  try {
    await unlinkByPrefix(cluster, keys.namespace);
    // ------------------------------------------------------------ the index on the cluster
    const before = await usedMemory(cluster);
    const t0 = Date.now();
    const report = await bootstrapIndex(ch, cluster, keys, (msg) => log(`cluster: ${msg}`));
    const bootstrapS = (Date.now() - t0) / 1000;
    const indexBytes = (await usedMemory(cluster)) - before;
    let keysOnCluster = 0;
    const perMaster: Record<string, number> = {};
    for (const node of cluster.nodes("master")) perMaster[`${node.options.port}`] = await node.dbsize();
    for await (const page of scanAll(cluster, `${keys.namespace}*`)) keysOnCluster += page.length;
    const single = details.index as { bootstrap?: { ms?: number }; memory?: { total_bytes?: number } } | undefined;
    // Per user as the single node's figure is (run.ts divides by the scale's users; the
    // bootstrap writes one profile per live user).
    const users = Math.max(1, report.profiles);
    figures.push(
      info("cluster: serving index bootstrap from ClickHouse into 3 masters (s)", round(bootstrapS, 1)),
      info(
        "cluster: serving index bootstrap, single node in the same run (s)",
        round((single?.bootstrap?.ms ?? 0) / 1000, 1),
      ),
      info("cluster: index memory per user, 3 masters (used_memory delta, bytes)", round(indexBytes / users, 0)),
      info(
        "cluster: index memory per user, single node (MEMORY USAGE sum, bytes)",
        round((single?.memory?.total_bytes ?? 0) / users, 0),
      ),
    );
    details.cluster = {
      seeds: SEEDS,
      bootstrap: { ...report, seconds: round(bootstrapS, 1) },
      used_memory_delta_bytes: indexBytes,
      index_keys: keysOnCluster,
      keys_per_master: perMaster,
      users,
    };
    log(
      `cluster: index bootstrapped in ${bootstrapS.toFixed(1)} s, ${keysOnCluster} keys, ${JSON.stringify(perMaster)}`,
    );

    // What a miss reads besides the index: the hot posts (the origin's generator writes the
    // single node's every minute) and the measured viewers' seen sets, copied as they are now.
    const copy = [keys.hotPosts, keys.hotPostIds, ...viewers.map((v) => `seen:${v}`)];
    const dumps = pipelineOf(redis);
    for (const k of copy) dumps.dumpBuffer(k);
    const res = (await dumps.exec()) ?? [];
    const restores = pipelineOf(cluster);
    copy.forEach((k, i) => {
      const blob = res[i]?.[1] as Buffer | null;
      if (blob) restores.restore(k, COPY_TTL_S * 1000, blob, "REPLACE");
    });
    for (const [err] of (await restores.exec()) ?? []) if (err) throw err;

    // ------------------------------------------------------------ the same bundle on the cluster
    worker = await startPlainWorkerd(
      {
        ...b.edgeVars,
        UPSTASH_REDIS_REST_URL: CLUSTER_BRIDGE_URL,
        CLICKHOUSE_USER: "default",
        REDIS_TIMEOUT_MS: "300",
        CLICKHOUSE_TIMEOUT_MS: "1500",
      },
      { bundleDir: dirname(b.bundleEntry), rateLimits: BENCH_RATE_LIMITS },
    );
    const url: Record<Side, string> = { single: plain.url, cluster: worker.url };
    const feedRequest = (base: string, viewer: string, cursor?: string) =>
      buildRequest({ baseUrl: base }, "getFeed", { query: { limit: 20, cursor }, headers: auth(viewer) });
    // A fresh isolate compiles on its first requests: both serve viewers outside the measured ones first.
    for (const side of ["single", "cluster"] as const) {
      await feedSessions({
        viewers: sample.slice(300),
        clients: 1,
        hitPasses: 1,
        request: (v, c) => feedRequest(url[side], v, c),
      });
    }
    const measured: Record<number, Record<Side, SessionsRun[]>> = {};
    for (const clients of [1, 4]) {
      log(`cluster: feed, ${clients} client(s), single node vs cluster, over the same ${viewers.length} viewers`);
      measured[clients] = await interleavedRounds({
        what: `cluster feed, ${clients} client(s)`,
        sides: ["single", "cluster"] as Side[],
        run: async (side) => {
          const s = await feedSessions({
            viewers,
            clients,
            hitPasses: clients === 1 ? 2 : 1,
            request: (v, c) => feedRequest(url[side], v, c),
          });
          return { value: s, asked: s.asked };
        },
        // A viewer's new session must not reuse the snapshot of the round before (a MISS each).
        before: () => sleep(SNAPSHOT_REUSE_MS + 100),
      });
    }
    const kept = (rs: SessionsRun[], which: "miss" | "hit") =>
      rs.map((s) => byCache(s[which], which === "miss" ? "MISS" : "HIT"));
    const pick = (rs: LoadResult[], k: "p50_ms" | "p95_ms" | "rps") => rs.map((r) => r[k]);
    const one = measured[1] as Record<Side, SessionsRun[]>;
    const four = measured[4] as Record<Side, SessionsRun[]>;
    let leftOut = 0;
    for (const bySide of [one, four])
      for (const side of ["single", "cluster"] as const)
        for (const r of kept(bySide[side], "miss")) leftOut += r.leftOut;
    const m1 = { single: kept(one.single, "miss"), cluster: kept(one.cluster, "miss") };
    const h1 = { single: kept(one.single, "hit"), cluster: kept(one.cluster, "hit") };
    const m4 = { single: kept(four.single, "miss"), cluster: kept(four.cluster, "miss") };
    const k = (xs: { kept: LoadResult }[]) => xs.map((x) => x.kept);
    figures.push(
      latencyRounds(
        "cluster: feed MISS p50 (ms), plain workerd, 1 client (cluster | single node)",
        pick(k(m1.cluster), "p50_ms"),
        pick(k(m1.single), "p50_ms"),
      ),
      latencyRounds(
        "cluster: feed MISS p95 (ms), plain workerd, 1 client (cluster | single node)",
        pick(k(m1.cluster), "p95_ms"),
        pick(k(m1.single), "p95_ms"),
      ),
      infoRounds(
        "cluster: feed MISS p50 inside the worker (ms, Server-Timing total), cluster",
        m1.cluster.map((r) => round(percentile(serverTotals(r.shots), 0.5), 2)),
      ),
      infoRounds(
        "cluster: feed MISS p50 inside the worker (ms, Server-Timing total), single node",
        m1.single.map((r) => round(percentile(serverTotals(r.shots), 0.5), 2)),
      ),
      latencyRounds(
        "cluster: feed HIT p95 (ms), plain workerd, 1 client (cluster | single node)",
        pick(k(h1.cluster), "p95_ms"),
        pick(k(h1.single), "p95_ms"),
      ),
      latencyRounds(
        "cluster: feed MISS p95 (ms), plain workerd, 4 clients (cluster | single node)",
        pick(k(m4.cluster), "p95_ms"),
        pick(k(m4.single), "p95_ms"),
      ),
      throughputRounds(
        "cluster: feed MISS throughput (req/s), plain workerd, 4 clients (cluster | single node)",
        pick(k(m4.cluster), "rps"),
        pick(k(m4.single), "rps"),
      ),
      {
        name: "cluster: feed MISS runs, answers not X-Cache MISS, left out (both sides, all rounds)",
        ours: leftOut,
        baseline: null,
        ratio: null,
        target: "0",
        met: leftOut === 0,
      },
    );
    (details.cluster as Record<string, unknown>).feed = Object.fromEntries(
      ([1, 4] as const).map((c) => [
        `${c}_client${c > 1 ? "s" : ""}`,
        Object.fromEntries(
          (["single", "cluster"] as const).map((side) => [
            side,
            (measured[c] as Record<Side, SessionsRun[]>)[side].map((s) => ({ miss: s.miss.result, hit: s.hit.result })),
          ]),
        ),
      ]),
    );
  } finally {
    await worker?.stop();
    await unlinkByPrefix(cluster, keys.namespace).catch(() => 0);
    for (const v of viewers) await cluster.unlink(`seen:${v}`).catch(() => 0);
    cluster.disconnect();
  }
}

/**
 * `npm run bench -- [--scale S|M|L] [--users N] [--keep] [--load-only] [--seconds N] [--only phase,…]`:
 * the end-to-end benchmark (--only runs some of the phases, in their order; --users shrinks a
 * scale's user count, and with it posts and events, when the machine or the time cannot hold it:
 * the report says so).
 *
 * 1. A dataset of its own (a world, scripts/lib/world.ts: PostgreSQL database, ClickHouse
 *    database, Kafka topic namespace, connector and slot all named bench_<scale>), bulk-loaded
 *    (scripts/lib/bulk.ts), with CDC taking over afterwards.
 * 2. The real system: the origin (all parts: write API, connector watcher, sink, relay,
 *    generators) and the edge under `wrangler dev`; and the baseline a team would otherwise
 *    write (scripts/bench/baseline.ts: the straightforward PostgreSQL queries behind the same
 *    HTTP contract).
 * 3. Closed-loop HTTP load (scripts/bench/load.ts) through both, phase by phase
 *    (scripts/bench/phases/*.ts, each owning its setup, load and figures, given the running
 *    system as a Bench: context.ts); every figure is reported as ours vs baseline with their
 *    ratio by the one report writer (report.ts), in docs/bench-results/bench-<scale>.json and .md,
 *    with the machine, date and commit (a run of some phases: bench-<scale>-partial, git-ignored;
 *    one that ran the reads phase also as reads-<scale>, the live phase as live-<scale>, the
 *    cluster phase as cluster-<scale>).
 *
 * Needs the local stack (started if down) and no dev origin running (the edge's Redis keys
 * and event stream are shared). Drops its databases at the end unless --keep.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, openSync, readFileSync } from "node:fs";
import os from "node:os";
import { dirname, join, resolve } from "node:path";
import { Redis } from "ioredis";
import { HOT_POSTS_KEY, hotPostIdsKey, indexKeys, jobLockKey } from "#core/keys.ts";
import { readConfig } from "../../origin/src/config.ts";
import { type BulkResult, bulkLoad } from "../lib/bulk.ts";
import { buildEdgeBundle } from "../lib/bundle.ts";
import { argsOrExit, intArg, parseCli, UsageError } from "../lib/cli.ts";
import { applyConnector } from "../lib/connector.ts";
import { progress } from "../lib/progress.ts";
import { BENCH_RATE_LIMITS } from "../lib/ratelimits.ts";
import { startRevision } from "../lib/revision.ts";
import { rng } from "../lib/rng.ts";
import { startPlainWorkerd } from "../lib/workerd.ts";
import {
  createWorld,
  dropWorld,
  LOCAL_SERVICES,
  type Services,
  type World,
  type WorldSpec,
  workerVars,
  worldEnv,
  worldNames,
} from "../lib/world.ts";
import { freePort, startWranglerDev } from "../lib/wrangler.ts";
import { type AofRewrite, rewriteAof } from "../local/stack/redis.ts";
import { devToken } from "../token.ts";
import { BASELINE_FEED_SQL, BASELINE_READS_SQL, prepareBaselineData, startBaseline } from "./baseline.ts";
import { type Bench, log, round, sleep } from "./context.ts";
import { writeGrowth } from "./growth.ts";
import { clusterPhase } from "./phases/cluster.ts";
import { distancePhase } from "./phases/distance.ts";
import { experimentsPhase } from "./phases/experiments.ts";
import { feedPhase } from "./phases/feed.ts";
import { followeePhase } from "./phases/followee.ts";
import { intakePhase } from "./phases/intake.ts";
import { likePhase } from "./phases/like.ts";
import { livePhase } from "./phases/live.ts";
import { pagingPhase } from "./phases/paging.ts";
import { profilePhase } from "./phases/profile.ts";
import { readsPhase } from "./phases/reads.ts";
import { suggestionsPhase } from "./phases/suggestions.ts";
import { zipfPhase } from "./phases/zipf.ts";
import { type Figure, info, writeReport } from "./report.ts";
import { storeSizes } from "./stores.ts";

/**
 * The phases in the order they run; each owns its setup, load and figures. The CPU profile runs
 * before the live phase: the thousands of channel objects that phase leaves in the same workerd
 * keep firing their heartbeat alarms, which the sampled profile would count (at M they were
 * 15.9 of the 22.9 ms per miss it reported when it ran last).
 */
const PHASES: Record<string, (b: Bench) => Promise<void>> = {
  feed: feedPhase,
  suggestions: suggestionsPhase,
  intake: intakePhase,
  like: likePhase,
  zipf: zipfPhase,
  followee: followeePhase,
  paging: pagingPhase,
  distance: distancePhase,
  experiments: experimentsPhase,
  reads: readsPhase,
  profile: profilePhase,
  live: livePhase,
  cluster: clusterPhase,
};

const ROOT = resolve(import.meta.dirname, "../..");
const SCALES = {
  S: { users: 10_000, postsPerUser: 10, eventsPerUser: 100 },
  M: { users: 100_000, postsPerUser: 10, eventsPerUser: 100 },
  L: { users: 1_000_000, postsPerUser: 10, eventsPerUser: 100 },
} as const;

/** Thrown to stop after loading (--load-only). */
class LoadOnly extends Error {}

// ---------------------------------------------------------------- arguments
const USAGE = `npm run bench -- [--scale S|M|L] [--users N] [--seconds N] [--only ${Object.keys(PHASES).join(",")}] [--keep] [--load-only]`;
const args = argsOrExit("[bench]", () => {
  const { values } = parseCli(USAGE, {
    scale: { type: "string", default: "S" },
    users: { type: "string" },
    seconds: { type: "string" },
    keep: { type: "boolean", default: false },
    "load-only": { type: "boolean", default: false },
    only: { type: "string" },
  });
  const asked = values.only === undefined ? Object.keys(PHASES) : values.only.split(",").map((p) => p.trim());
  const unknown = asked.filter((p) => !(p in PHASES));
  const only = Object.keys(PHASES).filter((p) => asked.includes(p));
  if (unknown.length) throw new UsageError(`--only: no phase ${unknown.join(", ")}\nusage: ${USAGE}`);
  const scale = values.scale.toUpperCase();
  if (!(scale in SCALES)) throw new UsageError(`--scale must be S, M or L, not '${values.scale}'\nusage: ${USAGE}`);
  const full = SCALES[scale as keyof typeof SCALES].users;
  return {
    scale: scale as keyof typeof SCALES,
    users: Math.min(intArg(USAGE, "--users", values.users, full, 1000), full),
    loadOnly: values["load-only"],
    keep: values.keep,
    seconds: intArg(USAGE, "--seconds", values.seconds, 15, 1),
    phases: only,
  };
});
const scale = args.scale;
const LOAD_ONLY = args.loadOnly;
const KEEP = args.keep || LOAD_ONLY;
const PHASE_S = args.seconds;
const shape = { ...SCALES[scale], users: args.users };
const reducedFrom = args.users < SCALES[scale].users ? SCALES[scale].users : null;
const name = `bench_${scale.toLowerCase()}`;

// The bench's world: databases, slot, topics, groups and serving index all named bench_<scale>,
// with a fresh connector name per run (Kafka Connect keeps a deleted connector's offsets, which
// would point a new connector of the same name at WAL of a dropped slot); and the cold path's
// index namespace, never bootstrapped.
const COLD_NAMESPACE = `${name}-cold:`;
const services: Services = { ...LOCAL_SERVICES, chUrl: process.env.CLICKHOUSE_URL ?? LOCAL_SERVICES.chUrl };
const worldSpec: WorldSpec = {
  names: worldNames(name, { connector: `${name.replace("_", "-")}-${randomBytes(3).toString("hex")}` }),
  services,
  chRequestTimeoutMs: 600_000,
  extraIndexNamespaces: [COLD_NAMESPACE],
};
const ORIGIN_SECRET = "local-dev-origin-secret-0123456789";
const JWT_SECRET = randomBytes(24).toString("hex");

// ---------------------------------------------------------------- preconditions
const devOriginPid = resolve(ROOT, ".stack/run/origin.pid");
if (existsSync(devOriginPid)) {
  const pid = Number(readFileSync(devOriginPid, "utf8").trim());
  let alive = false;
  try {
    process.kill(pid, 0);
    alive = true;
  } catch {}
  if (alive) {
    console.error(
      `[bench] the dev origin is running (pid ${pid}); stop \`npm run dev\` first: the edge's event stream and hot list are shared`,
    );
    process.exit(2);
  }
}
// BENCH_STACK=external: the services run already, started from another checkout of the repo
// (a worktree that benchmarks a fixed commit while work goes on in the main one); this
// checkout's stack manager would not recognise them as its own.
if (process.env.BENCH_STACK === "external") {
  log(`scale ${scale}: ${JSON.stringify(shape)}; using the running services (BENCH_STACK=external)`);
} else {
  log(`scale ${scale}: ${JSON.stringify(shape)}; stack up`);
  const up = spawnSync(resolve(ROOT, "node_modules/.bin/tsx"), ["scripts/local/stack/cli.ts", "up", "--quiet"], {
    cwd: ROOT,
    stdio: "inherit",
  });
  if (up.status !== 0) process.exit(1);
}

const originPort = await freePort();
// The plain workerd's port, chosen now: the origin's live publisher posts to it (LIVE_EDGE_URL).
const plainPort = await freePort();
const env: Record<string, string> = {
  LIVE_EDGE_URL: `http://127.0.0.1:${plainPort}`,
  ...worldEnv(worldSpec),
  CDC_SNAPSHOT_MODE: "no_data",
  ORIGIN_PORT: String(originPort),
  ORIGIN_SHARED_SECRET: ORIGIN_SECRET,
  LOG_LEVEL: "warn",
};
const cfg = readConfig({ ...process.env, ...env });
const APP_URL = cfg.databaseUrl;

/** Removes everything named after this scale (dropWorld), then compacts Redis's AOF. */
async function dropAll(): Promise<void> {
  await dropWorld(worldSpec);
  // The machine's Redis keeps an AOF (the stack turns it on): a bulk load and its deletion
  // leave it gigabytes long; rewrite it so the next run (or CI) does not replay all of that.
  await compactAof("after dropping the previous dataset");
}

/** BGREWRITEAOF and wait for it (a failure is logged, not fatal: the run's figures stand). */
async function compactAof(when: string): Promise<AofRewrite | null> {
  try {
    const r = await rewriteAof(redis);
    if (r.rewritten) {
      const mib = (b: number | null) => (b === null ? "?" : (b / 2 ** 20).toFixed(1));
      log(`Redis AOF rewritten ${when}: ${mib(r.beforeBytes)} → ${mib(r.afterBytes)} MiB in ${r.ms} ms`);
    }
    return r;
  } catch (err) {
    log(`WARNING: Redis AOF rewrite ${when} failed: ${(err as Error).message}`);
    return null;
  }
}

const children: ChildProcess[] = [];
const stops: (() => Promise<void>)[] = [];
let exitCode = 0;
const t0 = Date.now();
const revision = startRevision(ROOT);
const redis = new Redis(services.redisUrl);
let world: World | null = null;
const figures: Figure[] = [];
const details: Record<string, unknown> = {};
let loaded: BulkResult | null = null;
let loadSeconds = 0;
let complete = false;

try {
  // ------------------------------------------------------------ dataset
  log(`preparing ${name} (dropping any previous one)`);
  await dropAll();
  world = await createWorld(worldSpec);
  const { pool, ch } = world;
  // Shared Redis keys the dev data may have left: the hot list and the generators' locks.
  await redis.del(
    HOT_POSTS_KEY,
    hotPostIdsKey(HOT_POSTS_KEY),
    jobLockKey("hot-posts"),
    jobLockKey("suggested-users"),
    jobLockKey("fallback-snapshots"),
  );

  const tLoad = Date.now();
  loaded = await bulkLoad(
    { users: shape.users, seed: 42, postsPerUser: shape.postsPerUser, eventsPerUser: shape.eventsPerUser },
    { pool, ch, progress, slotName: cfg.cdc.slotName, startCdc: () => applyConnector(cfg) },
  );
  loadSeconds = (Date.now() - tLoad) / 1000;
  log(`loaded in ${loadSeconds.toFixed(1)} s: ${JSON.stringify(loaded)}`);
  // The baseline's own tables (events, counted keys, per-post counters, interactions by day,
  // trending views) from the same data, as its intake would have written them.
  const tPrep = Date.now();
  const prep = await prepareBaselineData(pool, ch, { log });
  details.baseline_prepare = { ...prep, seconds: round((Date.now() - tPrep) / 1000) };
  log(`baseline data prepared in ${((Date.now() - tPrep) / 1000).toFixed(1)} s: ${JSON.stringify(prep)}`);
  if (LOAD_ONLY) throw new LoadOnly();

  // ------------------------------------------------------------ processes
  const originLog = resolve(ROOT, `.stack/logs/${name}-origin.log`);
  mkdirSync(resolve(ROOT, ".stack/logs"), { recursive: true });
  const out = openSync(originLog, "w");
  const origin = spawn(resolve(ROOT, "node_modules/.bin/node"), ["--import", "tsx", "origin/main.ts"], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", out, out],
  });
  children.push(origin);
  stops.push(async () => {
    if (origin.exitCode !== null) return;
    origin.kill("SIGTERM");
    await Promise.race([new Promise((r) => origin.once("exit", r)), sleep(20_000)]);
    if (origin.exitCode === null) origin.kill("SIGKILL");
  });
  const originUrl = `http://127.0.0.1:${originPort}`;
  for (let i = 0; ; i++) {
    if (origin.exitCode !== null) throw new Error(`origin exited (${origin.exitCode}); see ${originLog}`);
    const ok = await fetch(`${originUrl}/readyz`, { signal: AbortSignal.timeout(2000) })
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) break;
    if (i > 240) throw new Error(`origin not ready after 120 s; see ${originLog}`);
    await sleep(500);
  }
  log(`origin ready at ${originUrl}; waiting for the serving index (bootstrap from ClickHouse)`);
  const keys = indexKeys(env.INDEX_NAMESPACE);
  const bootT0 = Date.now();
  for (;;) {
    if (await redis.exists(keys.ready)) break;
    if (origin.exitCode !== null) throw new Error(`origin exited (${origin.exitCode}); see ${originLog}`);
    // About 90 s per 100k users here; give it three times that, at least 15 min.
    const bootLimitMs = Math.max(900_000, (shape.users / 100_000) * 270_000);
    if (Date.now() - bootT0 > bootLimitMs) {
      throw new Error(`serving index not ready after ${Math.round(bootLimitMs / 60_000)} min; see ${originLog}`);
    }
    await sleep(500);
  }
  const bootstrap = JSON.parse((await redis.get(keys.ready)) as string) as Record<string, number>;
  log(`serving index ready (${((Date.now() - bootT0) / 1000).toFixed(1)} s): ${JSON.stringify(bootstrap)}`);
  // The bootstrap is the bulk load's Redis side (the whole index, written once): rewrite the AOF
  // now, before the measurements, so it holds the index once and not every write that built it.
  const aof = await compactAof("after the serving-index bootstrap");
  const mem = await indexMemory(redis, env.INDEX_NAMESPACE as string);
  details.index = { bootstrap, memory: mem, aof_rewrite: aof };
  const total = mem.total_bytes ?? 0;
  figures.push(
    info("serving index bootstrap from ClickHouse (s)", round((bootstrap.ms ?? 0) / 1000, 1)),
    info("serving index memory, total (MiB)", round(total / 2 ** 20, 1)),
    info("serving index memory per user (bytes)", round(total / shape.users, 0)),
    info("serving index memory per post (bytes)", round((mem.post_bytes ?? 0) / Math.max(1, bootstrap.posts ?? 0), 0)),
  );
  const stores = await storeSizes({
    pool,
    ch,
    redis,
    database: name,
    topicNamespace: cfg.kafka.topicNamespace,
    indexBytes: total,
    ...(origin.pid ? { originPid: origin.pid } : {}),
  });
  details.stores = stores;
  log(`stores: ${JSON.stringify(stores)}`);
  figures.push(
    info("PostgreSQL on disk, write store (MiB)", stores.postgres_product_mib),
    info("PostgreSQL on disk, the baseline's own tables and indexes (MiB)", stores.postgres_baseline_only_mib),
    info("ClickHouse parts on disk (MiB)", stores.clickhouse_disk_mib),
    ...(stores.kafka_topics_mib === null
      ? []
      : [info("Kafka topics of the run on disk (MiB)", stores.kafka_topics_mib)]),
    info("Redis resident memory, whole server (MiB)", stores.redis_rss_mib),
  );
  const edgeVars = workerVars(worldSpec, { jwtSecret: JWT_SECRET, originUrl, originSecret: ORIGIN_SECRET });
  // Both wrangler dev instances serve the built bundle (what ships), not the sources: an edit
  // during a run cannot reload the worker under measurement.
  const bundleEntry = join(buildEdgeBundle(), "index.js");
  // The benchmark's own per-key limits (BENCH_RATE_LIMITS), not the production defaults a
  // person gets: the load is a few accounts making thousands of requests.
  const edge = await startWranglerDev({
    config: "wrangler.toml",
    script: bundleEntry,
    vars: edgeVars,
    rateLimits: BENCH_RATE_LIMITS,
    timeoutMs: 120_000,
  });
  stops.push(() => edge.stop());
  // The production runtime: the built bundle under one plain workerd (no wrangler proxy hop).
  const plain = await startPlainWorkerd(
    {
      ...edgeVars,
      CLICKHOUSE_USER: "default",
      REDIS_TIMEOUT_MS: "300",
      CLICKHOUSE_TIMEOUT_MS: "1500",
    },
    // The inspector is only used by the profile phase (idle, it costs nothing).
    { bundleDir: dirname(bundleEntry), rateLimits: BENCH_RATE_LIMITS, port: plainPort, inspector: true },
  );
  stops.push(() => plain.stop());
  // The cold path: an index namespace that was never bootstrapped, so every miss is the
  // ClickHouse query.
  const cold = await startWranglerDev({
    config: "wrangler.toml",
    script: bundleEntry,
    vars: { ...edgeVars, INDEX_NAMESPACE: COLD_NAMESPACE },
    rateLimits: BENCH_RATE_LIMITS,
    timeoutMs: 120_000,
  });
  stops.push(() => cold.stop());
  const baseline = await startBaseline({ databaseUrl: APP_URL, jwtSecret: JWT_SECRET, port: 0 });
  stops.push(() => baseline.close());
  log(`edge ${edge.url}, baseline ${baseline.url}`);

  // ------------------------------------------------------------ users and tokens
  const active = (
    await (
      await ch.query({
        query:
          "SELECT toString(user_id) AS u FROM events_raw GROUP BY user_id ORDER BY count() DESC, user_id LIMIT 1000000",
        format: "JSONEachRow",
      })
    ).json<{ u: string }>()
  ).map((r) => r.u);
  const tokens = new Map<string, string>();
  const tokenOf = async (u: string) => {
    let t = tokens.get(u);
    if (!t) {
      t = await devToken(u, 3 * 3600, JWT_SECRET);
      tokens.set(u, t);
    }
    return t;
  };
  const rand = rng(7);
  const pickDistinct = (from: string[], n: number) => {
    const seen = new Set<string>();
    while (seen.size < Math.min(n, from.length)) seen.add(from[Math.floor(rand() * from.length)] as string);
    return [...seen];
  };
  // Viewers for the latency phases: outside the 100 most active (the warmer keeps those).
  const SAMPLE = 330;
  const sample = pickDistinct(active.slice(200), SAMPLE);
  await Promise.all(sample.map(tokenOf));
  const auth = (u: string) => ({ authorization: `Bearer ${tokens.get(u)}` });

  // ------------------------------------------------------------ phases
  const bench: Bench = {
    name,
    phaseSeconds: PHASE_S,
    redis,
    pool,
    ch,
    keys,
    edge,
    plain,
    cold,
    baseline,
    edgeVars,
    bundleEntry,
    jwtSecret: JWT_SECRET,
    bridgeUrl: services.bridgeUrl,
    bridgeToken: services.bridgeToken,
    active,
    sample,
    rand,
    auth,
    tokenOf,
    pickDistinct,
    figures,
    details,
  };
  // The machine's 1-minute load average around each phase: on 2 cores anything else running
  // (tests, a build) shows here and in the figures.
  const load: Record<string, { before: number; after: number; seconds: number }> = {};
  details.load_average_1m = load;
  for (const phase of args.phases) {
    const before = round(os.loadavg()[0] ?? 0, 2);
    const tPhase = Date.now();
    await (PHASES[phase] as (b: Bench) => Promise<void>)(bench);
    load[phase] = { before, after: round(os.loadavg()[0] ?? 0, 2), seconds: round((Date.now() - tPhase) / 1000) };
  }

  complete = true;
} catch (err) {
  if (err instanceof LoadOnly) {
    log(`--load-only: ${name} kept (PostgreSQL ${APP_URL}, ClickHouse database ${name}); CDC connector left running`);
  } else {
    console.error(`[bench] failed: ${(err as Error).stack ?? err}`);
    exitCode = 1;
  }
} finally {
  if (figures.length) {
    const partial = args.phases.length < Object.keys(PHASES).length;
    const report = {
      scale,
      complete,
      startedAtMs: t0,
      commit: revision.label(),
      dataset: loaded ?? {},
      loadSeconds,
      ...(reducedFrom ? { reducedFrom } : {}),
      figures,
      details,
      extra: {
        baseline_sql: BASELINE_FEED_SQL.trim(),
        baseline_reads_sql: Object.fromEntries(Object.entries(BASELINE_READS_SQL).map(([k, v]) => [k, v.trim()])),
      },
      ...(partial ? { partial: args.phases } : {}),
    };
    writeReport(report);
    // A partial report is not kept (bench-<scale>-partial is git-ignored); one that ran the reads
    // or the live phase is also written as reads-<scale> / live-<scale>, kept with the work.
    if (partial && args.phases.includes("reads")) writeReport({ ...report, file: `reads-${scale}` });
    if (partial && args.phases.includes("live")) writeReport({ ...report, file: `live-${scale}` });
    if (partial && args.phases.includes("cluster")) writeReport({ ...report, file: `cluster-${scale}` });
    if (complete && args.phases.length === Object.keys(PHASES).length && writeGrowth()) {
      log("wrote docs/bench-results/growth.md and growth.svg");
    }
  }
  for (const stop of stops.reverse()) await stop().catch(() => {});
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  await world?.close();
  if (!KEEP) await dropAll().catch((e: Error) => console.error(`[bench] cleanup: ${e.message}`));
  redis.disconnect();
  log(`done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  process.exit(exitCode);
}

/** Redis memory of the serving index by key class (MEMORY USAGE over every key of the namespace). */
async function indexMemory(r: Redis, ns: string): Promise<Record<string, number>> {
  const by: Record<string, number> = {};
  const count: Record<string, number> = {};
  let cursor = "0";
  do {
    const [next, found] = await r.scan(cursor, "MATCH", `${ns}*`, "COUNT", 5000);
    cursor = next;
    if (found.length === 0) continue;
    const p = r.pipeline();
    for (const k of found) p.memory("USAGE", k, "SAMPLES", "0");
    const res = (await p.exec()) ?? [];
    found.forEach((k, i) => {
      const cls = /fi:([a-z]+):?/.exec(k.slice(ns.length))?.[1] ?? k.slice(ns.length);
      by[cls] = (by[cls] ?? 0) + Number(res[i]?.[1] ?? 0);
      count[cls] = (count[cls] ?? 0) + 1;
    });
  } while (cursor !== "0");
  const total = Object.values(by).reduce((a, b) => a + b, 0);
  return {
    total_bytes: total,
    post_bytes: (by.ap ?? 0) + (by.p ?? 0),
    ...Object.fromEntries(Object.entries(by).map(([k, v]) => [`${k}_bytes`, v])),
    ...Object.fromEntries(Object.entries(count).map(([k, v]) => [`${k}_keys`, v])),
  };
}

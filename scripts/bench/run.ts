/**
 * `npm run bench -- [--scale S|M] [--keep] [--load-only] [--seconds N]`: the end-to-end benchmark.
 *
 * 1. A dataset of its own (PostgreSQL database, ClickHouse database, Kafka topic namespace,
 *    connector and slot all named bench_<scale>), bulk-loaded (scripts/lib/bulk.ts), with CDC
 *    taking over afterwards.
 * 2. The real system: the origin (all parts: write API, connector watcher, sink, relay,
 *    generators) and the edge under `wrangler dev`; and the baseline a team would otherwise
 *    write (scripts/bench/baseline.ts: the straightforward PostgreSQL queries behind the same
 *    HTTP contract).
 * 3. Closed-loop HTTP load (scripts/bench/load.ts) through both, phase by phase; every figure
 *    is reported as ours vs baseline with their ratio, in bench-results/bench-<scale>.json and
 *    .md, with the machine, date and commit.
 *
 * Needs the local stack (started if down) and no dev origin running (the edge's Redis keys
 * and event stream are shared). Drops its databases at the end unless --keep.
 */
import { type ChildProcess, execSync, spawn, spawnSync } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join, resolve } from "node:path";
import { createClient } from "@clickhouse/client";
import { Redis } from "ioredis";
import { Kafka, logLevel } from "kafkajs";
import pg from "pg";
import {
  DEFAULT_MAX_RANKED,
  EVENTS_STREAM_KEY,
  HOT_POSTS_KEY,
  hotPostIdsKey,
  indexKeys,
  jobLockKey,
  scorePost,
  snapshotKey,
  snapshotPointerKey,
  suggestKey,
} from "../../edge/core/index.ts";
import { migrateClickHouse } from "../../origin/ch/migrate.ts";
import { migrate } from "../../origin/db/migrate.ts";
import { readConfig } from "../../origin/src/config.ts";
import { ConnectClient } from "../../origin/src/connect/manager.ts";
import { type BulkResult, bulkLoad } from "../lib/bulk.ts";
import { buildEdgeBundle } from "../lib/bundle.ts";
import { argsOrExit, intArg, parseCli, UsageError } from "../lib/cli.ts";
import { applyConnector } from "../lib/connector.ts";
import { progress } from "../lib/progress.ts";
import { rng } from "../lib/rng.ts";
import { startPlainWorkerd } from "../lib/workerd.ts";
import { freePort, startWranglerDev } from "../lib/wrangler.ts";
import { devToken } from "../token.ts";
import { BASELINE_FEED_SQL, startBaseline } from "./baseline.ts";
import { closedLoop, type LoadResult, percentile, type Shot, summarize, zipf } from "./load.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const SCALES = {
  S: { users: 10_000, postsPerUser: 10, eventsPerUser: 100 },
  M: { users: 100_000, postsPerUser: 10, eventsPerUser: 100 },
} as const;

/** Thrown to stop after loading (--load-only). */
class LoadOnly extends Error {}

// ---------------------------------------------------------------- arguments
const USAGE = "npm run bench -- [--scale S|M] [--seconds N] [--keep] [--load-only]";
const args = argsOrExit("[bench]", () => {
  const { values } = parseCli(USAGE, {
    scale: { type: "string", default: "S" },
    seconds: { type: "string" },
    keep: { type: "boolean", default: false },
    "load-only": { type: "boolean", default: false },
  });
  const scale = values.scale.toUpperCase();
  if (!(scale in SCALES)) throw new UsageError(`--scale must be S or M, not '${values.scale}'\nusage: ${USAGE}`);
  return {
    scale: scale as keyof typeof SCALES,
    loadOnly: values["load-only"],
    keep: values.keep,
    seconds: intArg(USAGE, "--seconds", values.seconds, 15, 1),
  };
});
const scale = args.scale;
const LOAD_ONLY = args.loadOnly;
const KEEP = args.keep || LOAD_ONLY;
const PHASE_S = args.seconds;
const shape = SCALES[scale];
const name = `bench_${scale.toLowerCase()}`;

const PG_ADMIN_URL = process.env.PG_ADMIN_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const APP_URL = `postgres://feed_app:feed_app@127.0.0.1:5432/${name}`;
const CH_URL = process.env.CLICKHOUSE_URL ?? "http://127.0.0.1:8123";
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const BRIDGE_URL = `http://127.0.0.1:${process.env.REDIS_BRIDGE_PORT ?? 8079}`;
const BRIDGE_TOKEN = process.env.REDIS_BRIDGE_TOKEN ?? "local-dev-token";
const ORIGIN_SECRET = "local-dev-origin-secret-0123456789";
const JWT_SECRET = randomBytes(24).toString("hex");

const log = (msg: string) => console.log(`[bench] ${msg}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

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
log(`scale ${scale}: ${JSON.stringify(shape)}; stack up`);
const up = spawnSync(resolve(ROOT, "node_modules/.bin/tsx"), ["scripts/local/stack/cli.ts", "up", "--quiet"], {
  cwd: ROOT,
  stdio: "inherit",
});
if (up.status !== 0) process.exit(1);

const originPort = await freePort();
const env: Record<string, string> = {
  DATABASE_URL: APP_URL,
  CLICKHOUSE_URL: CH_URL,
  CLICKHOUSE_DATABASE: name,
  KAFKA_TOPIC_NAMESPACE: `${name}.`,
  // A fresh connector name per run: Kafka Connect keeps a deleted connector's offsets, which
  // would point a new connector of the same name at WAL of a dropped slot.
  CDC_CONNECTOR_NAME: `${name.replace("_", "-")}-${randomBytes(3).toString("hex")}`,
  CDC_SLOT_NAME: name,
  CDC_TOPIC_PREFIX: name,
  CDC_SNAPSHOT_MODE: "no_data",
  SINK_GROUP_ID: `${name}-sink`,
  // The bench's own serving index, next to whatever the dev stack keeps in Redis.
  INDEX_NAMESPACE: `${name}:`,
  INDEX_GROUP_ID: `${name}-index`,
  ORIGIN_PORT: String(originPort),
  ORIGIN_SHARED_SECRET: ORIGIN_SECRET,
  LOG_LEVEL: "warn",
};
const cfg = readConfig({ ...process.env, ...env });
const connect = new ConnectClient(cfg.cdc.connectUrl);
const kafka = new Kafka({ clientId: "bench", brokers: cfg.kafka.brokers, logLevel: logLevel.NOTHING });
const admin = kafka.admin();
await admin.connect();

async function pgAdmin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: PG_ADMIN_URL });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** Stops the connector, deletes its offsets (KIP-875), then the connector itself. */
async function removeConnector(connector: string): Promise<void> {
  const base = `${cfg.cdc.connectUrl}/connectors/${encodeURIComponent(connector)}`;
  const call = (method: string, path = "") =>
    fetch(base + path, { method, signal: AbortSignal.timeout(10_000) }).catch(() => null);
  const res = await call("PUT", "/stop");
  if (!res || res.status === 404) return;
  for (let i = 0; i < 60; i++) {
    const st = await call("GET", "/status");
    if (st?.ok && ((await st.json()) as { connector: { state: string } }).connector.state === "STOPPED") break;
    await sleep(500);
  }
  await call("DELETE", "/offsets");
  await connect.delete(connector).catch(() => {});
}

/** Removes everything named after this scale: connector, slot, topics, both databases. */
async function dropAll(): Promise<void> {
  // Every connector reading this database (a --load-only run leaves one running).
  const res = await fetch(`${cfg.cdc.connectUrl}/connectors?expand=info`, { signal: AbortSignal.timeout(10_000) });
  if (res.ok) {
    const all = (await res.json()) as Record<string, { info: { config: Record<string, string> } }>;
    for (const [connector, c] of Object.entries(all)) {
      if (c.info.config["database.dbname"] === name) await removeConnector(connector);
    }
  }
  await pgAdmin(async (c) => {
    for (let i = 0; i < 60; i++) {
      const { rows } = await c.query<{ active: boolean }>(
        "SELECT active FROM pg_replication_slots WHERE slot_name = $1",
        [cfg.cdc.slotName],
      );
      if (rows.length === 0) break;
      if (!rows[0]?.active) {
        await c.query("SELECT pg_drop_replication_slot($1)", [cfg.cdc.slotName]);
        break;
      }
      await sleep(500);
    }
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  });
  const topics = (await admin.listTopics()).filter((t) => t.startsWith(cfg.kafka.topicNamespace));
  if (topics.length) await admin.deleteTopics({ topics }).catch(() => {});
  const ch = createClient({ url: CH_URL });
  await ch.command({ query: `DROP DATABASE IF EXISTS ${name}` });
  await ch.close();
  // The bench's serving index (both namespaces) and its consumer group.
  for (const ns of [`${name}:`, `${name}-cold:`]) {
    let cursor = "0";
    do {
      const [next, found] = await redis.scan(cursor, "MATCH", `${ns}*`, "COUNT", 5000);
      cursor = next;
      if (found.length) await redis.unlink(...found);
    } while (cursor !== "0");
  }
  await admin.deleteGroups([`${name}-index`, `${name}-sink`]).catch(() => {});
}

const children: ChildProcess[] = [];
const stops: (() => Promise<void>)[] = [];
let exitCode = 0;
const t0 = Date.now();
const redis = new Redis(REDIS_URL);
const pool = new pg.Pool({ connectionString: APP_URL, max: 4 });
const ch = createClient({ url: CH_URL, database: name, request_timeout: 600_000 });
const figures: Figure[] = [];
const details: Record<string, unknown> = {};
let loaded: BulkResult | null = null;
let loadSeconds = 0;
let complete = false;

try {
  // ------------------------------------------------------------ dataset
  log(`preparing ${name} (dropping any previous one)`);
  await dropAll();
  await pgAdmin((c) => c.query(`CREATE DATABASE ${name} OWNER feed_app`));
  {
    const c = await pool.connect();
    try {
      await migrate(c);
    } finally {
      c.release();
    }
  }
  const chAdmin = createClient({ url: CH_URL });
  await migrateClickHouse(chAdmin, ch, name);
  await chAdmin.close();
  // Shared Redis keys the dev data may have left: the hot list and the generators' locks.
  await redis.del(
    HOT_POSTS_KEY,
    hotPostIdsKey(HOT_POSTS_KEY),
    jobLockKey("hot-posts"),
    jobLockKey("suggested-users"),
    jobLockKey("feed-warmer"),
  );

  const tLoad = Date.now();
  loaded = await bulkLoad(
    { users: shape.users, seed: 42, postsPerUser: shape.postsPerUser, eventsPerUser: shape.eventsPerUser },
    { pool, ch, progress, slotName: cfg.cdc.slotName, startCdc: () => applyConnector(cfg) },
  );
  loadSeconds = (Date.now() - tLoad) / 1000;
  log(`loaded in ${loadSeconds.toFixed(1)} s: ${JSON.stringify(loaded)}`);
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
    if (Date.now() - bootT0 > 900_000) throw new Error(`serving index not ready after 15 min; see ${originLog}`);
    await sleep(500);
  }
  const bootstrap = JSON.parse((await redis.get(keys.ready)) as string) as Record<string, number>;
  log(`serving index ready (${((Date.now() - bootT0) / 1000).toFixed(1)} s): ${JSON.stringify(bootstrap)}`);
  const mem = await indexMemory(redis, env.INDEX_NAMESPACE as string);
  details.index = { bootstrap, memory: mem };
  const total = mem.total_bytes ?? 0;
  figures.push(
    info("serving index bootstrap from ClickHouse (s)", round((bootstrap.ms ?? 0) / 1000, 1)),
    info("serving index memory, total (MiB)", round(total / 2 ** 20, 1)),
    info("serving index memory per user (bytes)", round(total / shape.users, 0)),
    info("serving index memory per post (bytes)", round((mem.post_bytes ?? 0) / Math.max(1, bootstrap.posts ?? 0), 0)),
  );
  const edgeVars = {
    JWT_SECRET,
    UPSTASH_REDIS_REST_URL: BRIDGE_URL,
    UPSTASH_REDIS_REST_TOKEN: BRIDGE_TOKEN,
    CLICKHOUSE_URL: CH_URL,
    CLICKHOUSE_DATABASE: name,
    ORIGIN_URL: originUrl,
    ORIGIN_SHARED_SECRET: ORIGIN_SECRET,
    INDEX_NAMESPACE: env.INDEX_NAMESPACE as string,
  };
  // Both wrangler dev instances serve the built bundle (what ships), not the sources: an edit
  // during a run cannot reload the worker under measurement.
  const bundleEntry = join(buildEdgeBundle(), "index.js");
  const edge = await startWranglerDev({
    config: "wrangler.toml",
    script: bundleEntry,
    vars: edgeVars,
    timeoutMs: 120_000,
  });
  stops.push(() => edge.stop());
  // The production runtime: the built bundle under one plain workerd (no wrangler proxy hop).
  const plain = await startPlainWorkerd({
    ...edgeVars,
    CLICKHOUSE_USER: "default",
    REDIS_TIMEOUT_MS: "300",
    CLICKHOUSE_TIMEOUT_MS: "1500",
  });
  stops.push(() => plain.stop());
  // The cold path: an index namespace that was never bootstrapped, so every miss is the
  // ClickHouse query.
  const cold = await startWranglerDev({
    config: "wrangler.toml",
    script: bundleEntry,
    vars: { ...edgeVars, INDEX_NAMESPACE: `${name}-cold:` },
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

  // ------------------------------------------------------------ 1. feed MISS / HIT
  // MISS: a new session (no cursor) of a viewer not seen in this phase: built from the serving
  // index. HIT: the next page of that session (its cursor), read from the snapshot. Each at 1
  // client (latency without queueing) and 4 (throughput, and latency with the 2 cores shared),
  // through `wrangler dev` and (1 client) the built bundle under plain workerd.
  const feedUrl = (base: string) => `${base}/api/v1/feed?limit=20`;
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
      const res = await fetch(feedUrl(base), { headers: auth(viewer) });
      const cursor = (JSON.parse(await res.text()) as { next_cursor?: string | null }).next_cursor;
      if (cursor) await (await fetch(`${feedUrl(base)}&cursor=${cursor}`, { headers: auth(viewer) })).arrayBuffer();
    }
  };
  const feedPhase = async (base: string, viewers: string[], clients: number) => {
    await warmUp(base);
    const missRun = await closedLoop({
      concurrency: clients,
      requests: viewers.length,
      keepBody: true,
      request: (i) => ({ url: feedUrl(base), init: { headers: auth(viewers[i] as string) } }),
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
        return { url: `${feedUrl(base)}&cursor=${p.cursor}`, init: { headers: auth(p.viewer) } };
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
      request: (i) => ({ url: feedUrl(baseline.url), init: { headers: auth(viewers[i % viewers.length] as string) } }),
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
    request: (i) => ({ url: feedUrl(cold.url), init: { headers: auth(sample[i % sample.length] as string) } }),
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

  // ------------------------------------------------------------ 2. suggestions
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

  // ------------------------------------------------------------ 3. event intake
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
  log("event intake: batches of 100, 8 clients");
  const ourIntake = await intake(edge.url);
  const baseIntake = await intake(baseline.url);
  // The edge's own intake capacity: a second worker writing to a stream nothing reads, so the
  // relay, Kafka, the sink and ClickHouse do not share the 2 cores with it.
  log("event intake into an unread stream (edge + Redis only), 8 clients");
  const probeStream = `${name}:intake-probe`;
  const edgeAlone = await startWranglerDev({
    config: "wrangler.toml",
    vars: {
      JWT_SECRET,
      UPSTASH_REDIS_REST_URL: BRIDGE_URL,
      UPSTASH_REDIS_REST_TOKEN: BRIDGE_TOKEN,
      EVENTS_STREAM: probeStream,
    },
    timeoutMs: 120_000,
  });
  let aloneIntake: Awaited<ReturnType<typeof intake>>;
  try {
    aloneIntake = await intake(edgeAlone.url);
  } finally {
    await edgeAlone.stop();
    await redis.del(probeStream);
  }
  const evs = (r: LoadResult) => round(((r.status["202"] ?? 0) * 100) / r.seconds, 0);
  details.intake = { ours: ourIntake.result, edge_alone: aloneIntake.result, baseline: baseIntake.result };
  figures.push(
    throughput(
      "event intake (events/s, batches of 100, 8 clients), pipeline running",
      evs(ourIntake.result),
      evs(baseIntake.result),
      10_000,
    ),
    throughput(
      "event intake (events/s, batches of 100, 8 clients), edge + Redis alone",
      evs(aloneIntake.result),
      evs(baseIntake.result),
      10_000,
    ),
    latency("event intake batch p95 (ms)", ourIntake.result.p95_ms, baseIntake.result.p95_ms),
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

  // ------------------------------------------------------------ 5. like → feed
  log("like → the liker's next feed");
  const fresh: number[] = [];
  const freshBase: number[] = [];
  type Item = { post_id: string; score: number; explain?: { engagement: number } };
  const feedOf = async (base: string, u: string) => {
    const q = base === edge.url ? "limit=100&explain=1" : "limit=100";
    const res = await fetch(`${base}/api/v1/feed?${q}`, { headers: auth(u) });
    if (!res.ok) throw new Error(`${base} feed answered ${res.status}: ${await res.text()}`);
    return ((await res.json()) as { items: Item[] }).items;
  };
  for (const u of sample.slice(0, 20)) {
    const items = await feedOf(edge.url, u);
    // A post the viewer has not liked yet (liking again would change nothing).
    const { rows: likedRows } = await pool.query<{ id: string }>(
      "SELECT post_id::text AS id FROM likes WHERE user_id = $1 AND post_id = ANY($2::uuid[]) AND deleted_at IS NULL",
      [u, items.map((i) => i.post_id)],
    );
    const liked = new Set(likedRows.map((r) => r.id));
    const target = items.find((i) => i.explain && !liked.has(i.post_id));
    if (!target) continue;
    const before = target.explain?.engagement ?? 0;
    const res = await fetch(`${edge.url}/api/v1/posts/${target.post_id}/like`, { method: "PUT", headers: auth(u) });
    if (!res.ok) throw new Error(`like answered ${res.status}: ${await res.text()}`);
    const s = performance.now();
    for (;;) {
      const now = (await feedOf(edge.url, u)).find((i) => i.post_id === target.post_id);
      if ((now?.explain?.engagement ?? 0) > before) break;
      if (performance.now() - s > 30_000) throw new Error("like not reflected in the feed after 30 s");
      await sleep(25);
    }
    fresh.push(performance.now() - s);
    // Baseline: the same kind of like written to PostgreSQL, then the baseline feed.
    const bItems = await feedOf(baseline.url, u);
    const bTarget = bItems.find((i) => i.post_id !== target.post_id);
    if (!bTarget) continue;
    const { rowCount } = await pool.query(
      "INSERT INTO likes (user_id, post_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
      [u, bTarget.post_id],
    );
    if (!rowCount) continue;
    const s2 = performance.now();
    for (;;) {
      const now = (await feedOf(baseline.url, u)).find((i) => i.post_id === bTarget.post_id);
      if ((now?.score ?? 0) > bTarget.score) break;
      if (performance.now() - s2 > 30_000) throw new Error("baseline like not reflected after 30 s");
      await sleep(5);
    }
    freshBase.push(performance.now() - s2);
  }
  fresh.sort((a, b) => a - b);
  freshBase.sort((a, b) => a - b);
  figures.push(
    latency("like → liker's feed p50 (ms)", round(percentile(fresh, 0.5)), round(percentile(freshBase, 0.5))),
    latency("like → liker's feed p95 (ms)", round(percentile(fresh, 0.95)), round(percentile(freshBase, 0.95)), 2000),
  );
  details.like_to_feed = { samples: fresh.length, baseline_samples: freshBase.length };

  // ------------------------------------------------------------ 6. Zipf(1.1) hit ratio
  const zipfSeconds = PHASE_S * 4;
  log(`cache hit ratio: Zipf(1.1) over ${active.length} users by activity, ${zipfSeconds} s, warmer running`);
  const draw = zipf(active.length, 1.1, rand);
  const zipfUsers: string[] = [];
  for (let i = 0; i < 200_000; i++) zipfUsers.push(active[draw()] as string);
  for (const u of new Set(zipfUsers)) await tokenOf(u);
  const asked: { at: number; user: string }[] = [];
  const zipfRun = await closedLoop({
    concurrency: 4,
    durationMs: zipfSeconds * 1000,
    request: (i) => {
      const u = zipfUsers[i % zipfUsers.length] as string;
      asked.push({ at: performance.now(), user: u });
      return { url: `${edge.url}/api/v1/feed?limit=20`, init: { headers: auth(u) } };
    },
  });
  const hits = zipfRun.result.cache.HIT ?? 0;
  const second = zipfRun.shots.slice(Math.floor(zipfRun.shots.length / 2));
  const hitsSecond = second.filter((s) => s.cache === "HIT").length;
  const baseZipf = await closedLoop({
    concurrency: 4,
    durationMs: PHASE_S * 1000,
    request: (i) => ({
      url: `${baseline.url}/api/v1/feed?limit=20`,
      init: { headers: auth(zipfUsers[i % zipfUsers.length] as string) },
    }),
  });
  details.zipf = {
    ours: zipfRun.result,
    baseline: baseZipf.result,
    distinct_users: new Set(zipfUsers.slice(0, zipfRun.result.requests)).size,
    hit_ratio_second_half: round((hitsSecond / Math.max(1, second.length)) * 100, 1),
    // What a perfect cache would have scored on this exact request stream: every user's first
    // request and every request more than TTL after the one that filled the entry miss.
    ideal_hit_ratio_ttl_60s: round(idealHitRatio(asked, 60_000) * 100, 1),
    ideal_hit_ratio_ttl_600s: round(idealHitRatio(asked, 600_000) * 100, 1),
    ideal_hit_ratio_no_expiry: round(idealHitRatio(asked, Number.POSITIVE_INFINITY) * 100, 1),
  };
  const noClickHouse = zipfRun.shots.filter((x) => x.status === 200 && !/\bch;/.test(x.timing ?? "")).length;
  const okShots = zipfRun.shots.filter((x) => x.status === 200).length;
  figures.push(
    {
      name: "feed requests touching no ClickHouse, Zipf(1.1) (%)",
      ours: round((noClickHouse / Math.max(1, okShots)) * 100, 1),
      baseline: null,
      ratio: null,
      target: "≥ 95%",
      met: noClickHouse / Math.max(1, okShots) >= 0.95,
    },
    info(
      "snapshot reuse (X-Cache HIT) under Zipf(1.1) (%)",
      round((hits / Math.max(1, zipfRun.result.requests)) * 100, 1),
    ),
    latency("feed under Zipf mix p50 (ms)", zipfRun.result.p50_ms, baseZipf.result.p50_ms),
    latency("feed under Zipf mix p95 (ms)", zipfRun.result.p95_ms, baseZipf.result.p95_ms),
    throughput("feed under Zipf mix (req/s, 4 clients)", zipfRun.result.rps, baseZipf.result.rps),
  );

  // ------------------------------------------------------------ 7. followee post → follower
  log("a followee's new post → the follower's next new session");
  const { rows: pairs } = await pool.query<{ follower: string; followee: string }>(
    `SELECT f.follower_id::text AS follower, f.followee_id::text AS followee FROM follows f
     WHERE f.deleted_at IS NULL AND f.follower_id = ANY($1::uuid[]) ORDER BY f.follower_id, f.followee_id`,
    [sample.slice(0, 60)],
  );
  const onePer = new Map<string, string>();
  for (const r of pairs)
    if (!onePer.has(r.followee) && ![...onePer.values()].includes(r.follower)) onePer.set(r.followee, r.follower);
  const postToFeed: number[] = [];
  const postMissing: Record<string, unknown>[] = [];
  const postToIndex: number[] = [];
  for (const [followee, follower] of [...onePer].slice(0, 30)) {
    await tokenOf(followee);
    await tokenOf(follower);
    const res = await fetch(`${edge.url}/api/v1/posts`, {
      method: "POST",
      headers: { ...auth(followee), "content-type": "application/json" },
      body: JSON.stringify({ text: "fresh from the bench" }),
    });
    if (res.status !== 201) throw new Error(`post answered ${res.status}: ${await res.text()}`);
    const id = ((await res.json()) as { post: { id: string } }).post.id;
    const s0 = performance.now();
    // Anywhere in the new session's ranking (a fresh post without engagement may rank past
    // the first page): the session's pages, read through its cursors.
    const inSession = async () => {
      let cursor: string | null = null;
      do {
        const q: string = cursor ? `&cursor=${cursor}` : "";
        let r = await fetch(`${edge.url}/api/v1/feed?limit=100${q}`, { headers: auth(follower) });
        for (let k = 0; !r.ok && cursor && k < 10; k++) {
          await sleep(20); // its snapshot still being saved
          r = await fetch(`${edge.url}/api/v1/feed?limit=100${q}`, { headers: auth(follower) });
        }
        if (!r.ok) throw new Error(`feed answered ${r.status}: ${await r.text()}`);
        const page = (await r.json()) as { items: { post_id: string }[]; next_cursor: string | null };
        if (page.items.some((i) => i.post_id === id)) return true;
        cursor = page.next_cursor;
      } while (cursor);
      return false;
    };
    // Beside it, when the post reached the index at all (whatever its rank).
    void (async () => {
      while (performance.now() - s0 < 30_000) {
        if (await redis.hexists(keys.authorPosts(followee), id)) {
          postToIndex.push(performance.now() - s0);
          return;
        }
        await sleep(5);
      }
    })();
    let seen = false;
    while (!seen && performance.now() - s0 < 30_000) {
      seen = await inSession();
      if (!seen) await sleep(20);
    }
    if (seen) {
      postToFeed.push(performance.now() - s0);
      continue;
    }
    // Not there after 30 s: say why (what the index holds, and whether the formula ranks it
    // below the session's last item: its best possible score against the 500th's), and go on.
    const sessionScores: number[] = [];
    for (let cursor: string | null = null, first = true; first || cursor; first = false) {
      const q: string = cursor ? `&cursor=${cursor}` : "";
      const page = (await (
        await fetch(`${edge.url}/api/v1/feed?limit=100${q}`, { headers: auth(follower) })
      ).json()) as {
        items: { score: number }[];
        next_cursor: string | null;
      };
      sessionScores.push(...page.items.map((i) => i.score));
      cursor = page.next_cursor;
    }
    const affinityWithAuthor = Number((await redis.hget(keys.affinity(follower), followee)) ?? 0);
    const bestScore = scorePost(
      {
        createdAtMs: Date.now() - (performance.now() - s0),
        likes: 0,
        comments: 0,
        shares: 0,
        impressions: 0,
        authorInteractions90d: affinityWithAuthor,
      },
      Date.now(),
    ).score;
    const lastScore = Math.min(...sessionScores);
    const why = {
      session_items: sessionScores.length,
      post_best_score: round(bestScore, 4),
      session_last_score: round(lastScore, 4),
      below_the_cap: sessionScores.length >= DEFAULT_MAX_RANKED && bestScore < lastScore,
      post_in_author_hash: await redis.hexists(keys.authorPosts(followee), id),
      follow_in_index: await redis.sismember(keys.followees(follower), followee),
      blocked:
        (await redis.sismember(keys.blocksOut(follower), followee)) +
        (await redis.sismember(keys.blocksIn(follower), followee)),
      author_hash_fields: await redis.hlen(keys.authorPosts(followee)),
    };
    log(`followee post ${id} not in ${follower}'s new session after 30 s: ${JSON.stringify(why)}`);
    postMissing.push({ follower, followee, post: id, ...why });
  }
  postToFeed.sort((a, b) => a - b);
  postToIndex.sort((a, b) => a - b);
  details.post_to_follower = { samples: postToFeed.length, missing: postMissing };
  const belowCap = postMissing.filter((m) => m.below_the_cap).length;
  figures.push(
    info("followee post → in the serving index p50 (ms)", round(percentile(postToIndex, 0.5))),
    info("followee post → in the serving index p95 (ms)", round(percentile(postToIndex, 0.95))),
    info("followee post → follower's new session p50 (ms)", round(percentile(postToFeed, 0.5))),
    {
      name: "followee post → follower's new session p95 (ms)",
      ours: round(percentile(postToFeed, 0.95)),
      baseline: null,
      ratio: null,
      target: "≤ 2000",
      met: percentile(postToFeed, 0.95) <= 2000 && postMissing.length === belowCap,
    },
    // In the index and the candidates, but the formula ranks it below the ranking's 500 items
    // (its best possible score, before the diversity pass, is under the 500th item's score).
    info("followee posts ranked below a full ranking's 500th item (never served, by the formula)", belowCap),
    {
      name: "followee posts missing from the follower's new session after 30 s for any other reason",
      ours: postMissing.length - belowCap,
      baseline: null,
      ratio: null,
      target: "0",
      met: postMissing.length === belowCap,
    },
  );

  // ------------------------------------------------------------ 8. paging while things change
  log("paging at limit=20 through whole snapshots while followees post and the generators run");
  let repeats = 0;
  let skips = 0;
  let pagesRead = 0;
  const PAGING_SESSIONS = 10;
  for (const u of sample.slice(60, 60 + PAGING_SESSIONS)) {
    const first = await fetch(`${edge.url}/api/v1/feed?limit=20`, { headers: auth(u) });
    let body = (await first.json()) as { items: { post_id: string }[]; next_cursor: string | null };
    await sleep(50); // the snapshot is saved after the answer
    const pointer = JSON.parse((await redis.get(snapshotPointerKey(u))) ?? "{}") as { rankingId?: string };
    const want = pointer.rankingId
      ? (await redis.lrange(snapshotKey(pointer.rankingId), 1, -1)).map(
          (i) => (JSON.parse(i) as { postId: string }).postId,
        )
      : [];
    const served = body.items.map((i) => i.post_id);
    let k = 0;
    while (body.next_cursor) {
      if (k++ % 3 === 0) {
        const author = onePer.keys().next().value as string;
        await fetch(`${edge.url}/api/v1/posts`, {
          method: "POST",
          headers: { ...auth(author), "content-type": "application/json" },
          body: JSON.stringify({ text: "written while someone pages" }),
        });
      }
      await fetch(`${edge.url}/api/v1/feed?limit=3`, { headers: auth(u) }); // a second device
      const r = await fetch(`${edge.url}/api/v1/feed?limit=20&cursor=${body.next_cursor}`, { headers: auth(u) });
      body = (await r.json()) as typeof body;
      served.push(...body.items.map((i) => i.post_id));
      pagesRead++;
    }
    repeats += served.length - new Set(served).size;
    const servedSet = new Set(served);
    skips += want.filter((id) => !servedSet.has(id)).length;
  }
  details.paging = { sessions: PAGING_SESSIONS, pages: pagesRead, repeats, skips };
  figures.push(
    {
      name: `paging: repeated items (${PAGING_SESSIONS} whole sessions, ${pagesRead} pages)`,
      ours: repeats,
      baseline: null,
      ratio: null,
      target: "0",
      met: repeats === 0,
    },
    {
      name: `paging: skipped items (${PAGING_SESSIONS} whole sessions)`,
      ours: skips,
      baseline: null,
      ratio: null,
      target: "0",
      met: skips === 0,
    },
  );

  complete = true;
} catch (err) {
  if (err instanceof LoadOnly) {
    log(`--load-only: ${name} kept (PostgreSQL ${APP_URL}, ClickHouse database ${name}); CDC connector left running`);
  } else {
    console.error(`[bench] failed: ${(err as Error).stack ?? err}`);
    exitCode = 1;
  }
} finally {
  if (figures.length) writeReport();
  for (const stop of stops.reverse()) await stop().catch(() => {});
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  await pool.end().catch(() => {});
  await ch.close().catch(() => {});
  if (!KEEP) await dropAll().catch((e: Error) => console.error(`[bench] cleanup: ${e.message}`));
  await admin.disconnect().catch(() => {});
  redis.disconnect();
  log(`done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  process.exit(exitCode);
}

/** Writes what was measured (also after a failure, marked incomplete). */
function writeReport(): void {
  const commit = execSync("git rev-parse --short HEAD", { cwd: ROOT }).toString().trim();
  const dirty = execSync("git status --porcelain", { cwd: ROOT }).toString().trim() !== "";
  const cpus = os.cpus();
  const report = {
    scale,
    complete,
    date: new Date().toISOString(),
    commit: dirty ? `${commit}+dirty` : commit,
    machine: {
      cpus: cpus.length,
      cpu_model: cpus[0]?.model ?? "unknown",
      memory_gib: round(os.totalmem() / 2 ** 30, 1),
      os: `${os.type()} ${os.release()}`,
      node: process.version,
    },
    dataset: loaded ?? {},
    load_seconds: round(loadSeconds),
    total_seconds: round((Date.now() - t0) / 1000),
    figures,
    details,
    baseline_sql: BASELINE_FEED_SQL.trim(),
  };
  mkdirSync(resolve(ROOT, "bench-results"), { recursive: true });
  const jsonPath = resolve(ROOT, `bench-results/bench-${scale}.json`);
  const mdPath = resolve(ROOT, `bench-results/bench-${scale}.md`);
  writeFileSync(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(mdPath, markdown(report));
  console.log(markdown(report));
  log(`wrote ${jsonPath} and ${mdPath}`);
}

// ---------------------------------------------------------------- helpers

interface Figure {
  name: string;
  ours: number;
  baseline: number | null;
  /** For latencies baseline/ours (how many times faster we are); for throughputs ours/baseline. */
  ratio: number | null;
  target: string | null;
  met: boolean | null;
}

function latency(name: string, ours: number, baseline: number, targetMs?: number): Figure {
  return {
    name,
    ours,
    baseline,
    ratio: round(baseline / Math.max(ours, 0.001), 2),
    target: targetMs === undefined ? null : `≤ ${targetMs} ms`,
    met: targetMs === undefined ? null : ours <= targetMs,
  };
}

function throughput(name: string, ours: number, baseline: number, target?: number): Figure {
  return {
    name,
    ours,
    baseline,
    ratio: round(ours / Math.max(baseline, 0.001), 2),
    target: target === undefined ? null : `≥ ${target}`,
    met: target === undefined ? null : ours >= target,
  };
}

/** Hit ratio of an ideal cache (fill on miss, entries live `ttlMs`) over a request stream. */
function idealHitRatio(stream: { at: number; user: string }[], ttlMs: number): number {
  const until = new Map<string, number>();
  let hits = 0;
  for (const r of stream) {
    if ((until.get(r.user) ?? Number.NEGATIVE_INFINITY) > r.at) hits++;
    else until.set(r.user, r.at + ttlMs);
  }
  return hits / Math.max(1, stream.length);
}

/** A figure of ours alone (no baseline equivalent, no target). */
/** How many times faster than the baseline (baseline ÷ ours), against a ≥ target. */
function ratioFigure(name: string, baselineMs: number, oursMs: number, atLeast: number): Figure {
  const x = baselineMs / Math.max(oursMs, 0.001);
  return { name, ours: round(x, 2), baseline: null, ratio: null, target: `≥ ${atLeast}×`, met: x >= atLeast };
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

function info(name: string, ours: number): Figure {
  return { name, ours, baseline: null, ratio: null, target: null, met: null };
}

/** Sorted Server-Timing `total` durations of the answers that carry one. */
function serverTotals(shots: Shot[]): number[] {
  return shots
    .map((s) => /(?:^|,\s*)total;dur=([\d.]+)/.exec(s.timing ?? "")?.[1])
    .filter((v): v is string => v !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

function only(shots: Shot[], cache: string): Shot[] {
  return shots.filter((s) => s.cache === cache);
}

/** Mean of each Server-Timing stage over the answers that carry one. */
function stageMeans(shots: Shot[]): Record<string, number> {
  const sums: Record<string, { total: number; n: number }> = {};
  for (const s of shots) {
    for (const part of (s.timing ?? "").split(",")) {
      const m = /^\s*([\w-]+);dur=([\d.]+)/.exec(part);
      if (!m) continue;
      const key = m[1] as string;
      const e = sums[key] ?? { total: 0, n: 0 };
      e.total += Number(m[2]);
      e.n++;
      sums[key] = e;
    }
  }
  return Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, round(v.total / v.n, 2)]));
}

function markdown(r: {
  scale: string;
  complete: boolean;
  date: string;
  commit: string;
  machine: Record<string, unknown>;
  dataset: object;
  load_seconds: number;
  total_seconds: number;
  figures: Figure[];
}): string {
  const fmt = (x: number | null) => (x === null ? "–" : String(x));
  const lines = [
    `# Benchmark, scale ${r.scale}${r.complete ? "" : " (incomplete: the run failed part way)"}`,
    "",
    `${r.date} · commit ${r.commit} · ${r.machine.cpus}× ${r.machine.cpu_model}, ${r.machine.memory_gib} GiB, ${r.machine.os}, Node ${r.machine.node}`,
    "",
    `Dataset: ${Object.entries(r.dataset)
      .filter(([k]) => k !== "timingsMs" && k !== "demoUser")
      .map(([k, v]) => `${v} ${k}`)
      .join(", ")}; bulk load ${r.load_seconds} s; whole run ${r.total_seconds} s.`,
    "",
    "Ours: the edge under `wrangler dev` (Redis via the REST bridge, ClickHouse via the chDB gateway) with the origin running. Baseline: the straightforward PostgreSQL service (scripts/bench/baseline.ts) behind the same HTTP contract. Ratio: for latencies baseline ÷ ours (× faster), for throughputs ours ÷ baseline.",
    "",
    "| figure | ours | baseline | ratio | target | met |",
    "|---|---:|---:|---:|---|---|",
    ...r.figures.map(
      (f) =>
        `| ${f.name} | ${fmt(f.ours)} | ${fmt(f.baseline)} | ${fmt(f.ratio)} | ${f.target ?? "–"} | ${f.met === null ? "–" : f.met ? "yes" : "**no**"} |`,
    ),
    "",
  ];
  return lines.join("\n");
}

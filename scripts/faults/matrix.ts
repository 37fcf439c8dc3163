/**
 * The fault matrix (issue 14): while a steady stream of events (POST /api/v1/events through the
 * real worker) and writes (the origin write API, through the worker) is accepted, SIGKILL and
 * restart, one at a time, the components named in `faults`; afterwards check that every event
 * answered 202 is in ClickHouse exactly once and that PostgreSQL ≡ ClickHouse.
 *
 * Everything runs on a stack instance of its own, never on the shared one: its own state dir
 * (STACK_STATE_DIR-style config), its own redis-server on a free port (started by the stack's
 * Redis component, AOF on), its own Redis bridge, and its own origin processes (write API +
 * connector watcher, relay, sink: three processes so each can be killed alone), its own
 * `wrangler dev`. Kafka + Connect and the ClickHouse gateway are the fault run's own when they
 * are among the faults (a second broker and Connect worker: two more JVMs); otherwise the shared
 * ones are used with a topic namespace, connector, slot and ClickHouse database of the run's own,
 * none of which is ever restarted. PostgreSQL is the machine's cluster with a database of the
 * run's own. `cleanup()` removes all of it.
 *
 * Restarts go the stack's way: a stack component's `up()` (what `npm run stack:up` runs), an
 * origin process started again with the same environment.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { type ClickHouseClient, createClient } from "@clickhouse/client";
import { Redis } from "ioredis";
import { Kafka, logLevel } from "kafkajs";
import pg from "pg";
import { indexKeys } from "../../edge/core/keys.ts";
import { checkConsistency, differences } from "../../origin/ch/consistency.ts";
import { checkDerived } from "../../origin/ch/derived.ts";
import { migrateClickHouse } from "../../origin/ch/migrate.ts";
import { migrate } from "../../origin/db/migrate.ts";
import { checkIndex } from "../../origin/src/index/check.ts";
import { BENCH_RATE_LIMITS } from "../lib/ratelimits.ts";
import { freePort, startWranglerDev, type WranglerDev } from "../lib/wrangler.ts";
import type { Component } from "../local/stack/component.ts";
import { readStackConfig, type StackConfig } from "../local/stack/config.ts";
import { connect as connectComponent } from "../local/stack/connect.ts";
import { ensureJars } from "../local/stack/jars.ts";
import { kafka as kafkaComponent } from "../local/stack/kafka.ts";
import { chGateway, redisBridge } from "../local/stack/node-services.ts";
import { ourPid } from "../local/stack/proc.ts";
import { redis as redisComponent } from "../local/stack/redis.ts";
import { devToken } from "../token.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const ZERO_UUID = "00000000-0000-0000-0000-000000000000";

export const ALL_FAULTS = [
  "relay",
  "sink",
  "kafka",
  "connect",
  "redis-bridge",
  "ch-gateway",
  "origin",
  "redis",
] as const;
export type Fault = (typeof ALL_FAULTS)[number];

export interface FaultRow {
  component: string;
  /** Events answered 202 while this phase ran (kill → recovered → settle). */
  accepted: number;
  /** Requests that were refused (non-202 or no answer) in the phase: not accepted, not owed. */
  refused: number;
  lost: number;
  duplicated: number;
  writesOk: number;
  writesFailed: number;
  /** Entries in the Redis stream (not yet relayed) at the moment of the kill. */
  streamAtKill: number;
  /** SIGKILL → the component healthy again (restarted at once). */
  restartMs: number;
  /** SIGKILL → an event accepted after the kill is visible in ClickHouse. */
  recoveryMs: number;
}

export interface MatrixResult {
  rows: FaultRow[];
  /** Events in ClickHouse whose id was never answered 202 (e.g. the 202 was lost with the bridge). */
  unacknowledgedInClickHouse: number;
  consistency: { differences: number; report: string };
  /** The serving index (run by the sink process, killed with it) against ClickHouse: check:index. */
  index: { differences: number; report: string };
  /** ClickHouse's derived data against the counting rules (check:consistency's derived rules). */
  derived: { violations: number; zeroAuthors: number; report: string };
  drainMs: number;
  totalMs: number;
  table: string;
}

export interface MatrixOptions {
  faults: readonly Fault[];
  /** Load before each kill and after each recovery, ms. */
  settleMs?: number;
  log?: (msg: string) => void;
  /** Write the table (Markdown) and JSON here. */
  outFile?: string;
}

const PG_ADMIN_URL = process.env.PG_ADMIN_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

interface OriginProc {
  name: "origin" | "relay" | "sink";
  port: number;
  child: ChildProcess | null;
  env: Record<string, string>;
  logFile: string;
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {}
  }
}

async function waitUntil(what: string, probe: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (await probe().catch(() => false)) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(200);
  }
}

async function http200(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.body?.cancel();
    return res.status === 200;
  } catch {
    return false;
  }
}

export async function runFaultMatrix(opts: MatrixOptions): Promise<MatrixResult> {
  const log = opts.log ?? ((m: string) => console.log(`[faults] ${m}`));
  const settleMs = opts.settleMs ?? 6000;
  const t0 = Date.now();
  const id = randomBytes(4).toString("hex");
  const name = `faults_${id}`;
  const ownKafka = opts.faults.includes("kafka") || opts.faults.includes("connect");
  const ownGateway = opts.faults.includes("ch-gateway");
  const stateDir = mkdtempSync(join(tmpdir(), "edge-feed-faults-"));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    STACK_STATE_DIR: stateDir,
    REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
    REDIS_BRIDGE_PORT: String(await freePort()),
    KAFKA_PORT: ownKafka ? String(await freePort()) : process.env.KAFKA_PORT || "9092",
    KAFKA_CONTROLLER_PORT: ownKafka ? String(await freePort()) : process.env.KAFKA_CONTROLLER_PORT || "9093",
    CONNECT_PORT: ownKafka ? String(await freePort()) : process.env.CONNECT_PORT || "8083",
    CH_GATEWAY_PORT: ownGateway ? String(await freePort()) : process.env.CH_GATEWAY_PORT || "8123",
  };
  const cfg: StackConfig = readStackConfig(env);
  // The stack's components read their child's environment from process.env.
  const saved = { ...process.env };
  Object.assign(process.env, {
    STACK_STATE_DIR: env.STACK_STATE_DIR,
    REDIS_URL: env.REDIS_URL,
    REDIS_BRIDGE_PORT: env.REDIS_BRIDGE_PORT,
    CH_GATEWAY_PORT: env.CH_GATEWAY_PORT,
    LOG_LEVEL: "warn",
  });
  const restoreEnv = () => {
    for (const k of ["STACK_STATE_DIR", "REDIS_URL", "REDIS_BRIDGE_PORT", "CH_GATEWAY_PORT", "LOG_LEVEL"]) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  };

  const kafkaJars = () => ensureJars(cfg, "kafka");
  const components: Partial<Record<Fault, Component>> = {
    redis: redisComponent(cfg),
    "redis-bridge": redisBridge(cfg),
  };
  if (ownKafka) {
    components.kafka = kafkaComponent(cfg, kafkaJars);
    components.connect = connectComponent(cfg, () => kafkaJars().then(() => ensureJars(cfg, "connect")));
  }
  if (ownGateway) components["ch-gateway"] = chGateway(cfg);
  const stackOrder: Fault[] = ["redis", "kafka", "ch-gateway", "connect", "redis-bridge"];
  const brokers = [`127.0.0.1:${cfg.ports.kafka}`];
  const connectUrl = `http://127.0.0.1:${cfg.ports.connect}`;
  const chUrl = `http://127.0.0.1:${cfg.ports.chGateway}`;
  const bridgeUrl = `http://127.0.0.1:${cfg.ports.redisBridge}`;
  const appUrl = `postgres://feed_app:feed_app@127.0.0.1:5432/${name}`;
  const jwtSecret = randomBytes(24).toString("hex");
  const originSecret = randomBytes(24).toString("hex");
  const namespace = `${name}.`;

  const procs: OriginProc[] = [];
  let edge: WranglerDev | null = null;
  let pool: pg.Pool | null = null;
  let ch: ClickHouseClient | null = null;
  let dbCreated = false;
  let stopLoad = () => {};
  let loadDone: Promise<unknown> = Promise.resolve();

  const pgAdmin = async <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => {
    const c = new pg.Client({ connectionString: PG_ADMIN_URL });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  };

  const startProc = (p: OriginProc) => {
    const out = openSync(p.logFile, "a");
    p.child = spawn(join(ROOT, "node_modules/.bin/node"), ["--import", "tsx", "origin/main.ts"], {
      cwd: ROOT,
      env: { ...process.env, ...p.env },
      stdio: ["ignore", out, out],
      detached: true,
    });
    p.child.on("error", () => {});
  };
  const procHealthy = (p: OriginProc) => http200(`http://127.0.0.1:${p.port}/readyz`);

  const cleanup = async () => {
    stopLoad();
    await loadDone.catch(() => {});
    await edge?.stop().catch(() => {});
    for (const p of procs) {
      if (p.child?.pid && p.child.exitCode === null) {
        killGroup(p.child.pid, "SIGTERM");
        for (let i = 0; i < 50 && p.child.exitCode === null; i++) await sleep(200);
        if (p.child.exitCode === null) killGroup(p.child.pid, "SIGKILL");
      }
    }
    await pool?.end().catch(() => {});
    // The connector (on the shared Connect when not ours), then its slot, topics, databases.
    const connector = `${name.replace("_", "-")}`;
    await fetch(`${connectUrl}/connectors/${connector}`, { method: "DELETE", signal: AbortSignal.timeout(10_000) })
      .then((r) => r.body?.cancel())
      .catch(() => {});
    if (!ownKafka) {
      const kafka = new Kafka({ clientId: name, brokers, logLevel: logLevel.NOTHING });
      const admin = kafka.admin();
      await admin.connect().catch(() => {});
      const topics = (await admin.listTopics().catch(() => [] as string[])).filter((t) => t.startsWith(namespace));
      if (topics.length) await admin.deleteTopics({ topics }).catch(() => {});
      await admin.deleteGroups([`${name}-sink`]).catch(() => {});
      await admin.disconnect().catch(() => {});
    }
    if (!ownGateway && ch) await ch.command({ query: `DROP DATABASE IF EXISTS ${name}` }).catch(() => {});
    await ch?.close().catch(() => {});
    await pgAdmin(async (c) => {
      for (let i = 0; i < 60; i++) {
        const { rows } = await c.query<{ active: boolean }>(
          "SELECT active FROM pg_replication_slots WHERE slot_name = $1",
          [name],
        );
        if (rows.length === 0) break;
        if (!rows[0]?.active) {
          await c.query("SELECT pg_drop_replication_slot($1)", [name]).catch(() => {});
          break;
        }
        await sleep(500);
      }
      if (dbCreated) await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    }).catch((err) => log(`cleanup: PostgreSQL: ${(err as Error).message}`));
    for (const f of [...stackOrder].reverse()) await components[f]?.down().catch(() => {});
    restoreEnv();
    rmSync(stateDir, { recursive: true, force: true });
  };

  try {
    // ------------------------------------------------------------ the fault run's stack
    log(
      `state ${stateDir}; own: redis, redis-bridge${ownKafka ? ", kafka, connect" : ""}${ownGateway ? ", ch-gateway" : ""}`,
    );
    for (const f of stackOrder) {
      const c = components[f];
      if (!c) continue;
      const t = Date.now();
      await c.up();
      log(`${f}: up (${Date.now() - t} ms)`);
    }
    await pgAdmin((c) => c.query(`CREATE DATABASE ${name} OWNER feed_app`));
    dbCreated = true;
    pool = new pg.Pool({ connectionString: appUrl, max: 3 });
    {
      const c = await pool.connect();
      try {
        await migrate(c);
      } finally {
        c.release();
      }
    }
    const chAdmin = createClient({ url: chUrl });
    ch = createClient({ url: chUrl, database: name, request_timeout: 60_000 });
    await migrateClickHouse(chAdmin, ch, name);
    await chAdmin.close();

    const logsDir = join(stateDir, "logs");
    mkdirSync(logsDir, { recursive: true });
    const common: Record<string, string> = {
      DATABASE_URL: appUrl,
      CLICKHOUSE_URL: chUrl,
      CLICKHOUSE_DATABASE: name,
      KAFKA_BROKERS: brokers.join(","),
      KAFKA_CONNECT_URL: connectUrl,
      KAFKA_TOPIC_NAMESPACE: namespace,
      CDC_CONNECTOR_NAME: name.replace("_", "-"),
      CDC_SLOT_NAME: name,
      CDC_TOPIC_PREFIX: name,
      CDC_WATCH_INTERVAL_MS: "1000",
      SINK_GROUP_ID: `${name}-sink`,
      INDEX_GROUP_ID: `${name}-index`,
      INDEX_NAMESPACE: `${name}:`,
      REDIS_URL: cfg.redisUrl,
      ORIGIN_SHARED_SECRET: originSecret,
      // A killed relay's pending entries are claimed after this; 30 s by default.
      RELAY_CLAIM_IDLE_MS: "5000",
      STARTUP_TIMEOUT_MS: "120000",
      LOG_LEVEL: "warn",
    };
    // The serving index runs beside the sink: a kill of the sink process kills both consumers.
    const parts = { origin: "http,connector", relay: "http,relay", sink: "http,sink,index" } as const;
    for (const procName of ["origin", "sink", "relay"] as const) {
      const port = await freePort();
      procs.push({
        name: procName,
        port,
        child: null,
        env: { ...common, ORIGIN_PARTS: parts[procName], ORIGIN_PORT: String(port) },
        logFile: join(logsDir, `${procName}.log`),
      });
    }
    // The origin first: its connector manager creates the topics the sink and relay use.
    for (const p of procs) {
      startProc(p);
      const ms = await waitUntil(`${p.name} ready (log ${p.logFile})`, () => procHealthy(p), 180_000);
      log(`${p.name}: ready (${ms} ms)`);
    }
    const origin = procs.find((p) => p.name === "origin") as OriginProc;
    edge = await startWranglerDev({
      config: "wrangler.toml",
      timeoutMs: 120_000,
      vars: {
        JWT_SECRET: jwtSecret,
        ORIGIN_SHARED_SECRET: originSecret,
        ORIGIN_URL: `http://127.0.0.1:${origin.port}`,
        UPSTASH_REDIS_REST_URL: bridgeUrl,
        UPSTASH_REDIS_REST_TOKEN: process.env.REDIS_BRIDGE_TOKEN ?? "local-dev-token",
        CLICKHOUSE_URL: chUrl,
        CLICKHOUSE_DATABASE: name,
        INDEX_NAMESPACE: `${name}:`,
      },
      // A load, not a person: the benchmark's limits.
      rateLimits: BENCH_RATE_LIMITS,
    });
    const edgeUrl = edge.url;
    log(`edge ${edgeUrl}`);

    // ------------------------------------------------------------ users and the load
    const users = Array.from({ length: 8 }, () => randomUUID());
    const tokens = new Map<string, string>();
    for (const u of users) tokens.set(u, await devToken(u, 3 * 3600, jwtSecret));
    const call = async (user: string, method: string, path: string, body?: unknown) =>
      fetch(`${edgeUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${tokens.get(user)}`, "content-type": "application/json" },
        body: body === undefined ? null : JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      });
    for (const [i, u] of users.entries()) {
      const res = await call(u, "PUT", "/api/v1/users/me", { handle: `f${id}_${i}` });
      if (res.status !== 200) throw new Error(`PUT /users/me: ${res.status} ${await res.text()}`);
    }

    let phase = "warm-up";
    const accepted = new Map<string, string>(); // event_id → phase
    const stats = new Map<string, { refused: number; writesOk: number; writesFailed: number }>();
    const stat = (p: string) => {
      const s = stats.get(p) ?? { refused: 0, writesOk: 0, writesFailed: 0 };
      stats.set(p, s);
      return s;
    };
    let running = true;
    stopLoad = () => {
      running = false;
    };
    const posts: string[] = [];
    const eventsLoop = async () => {
      let n = 0;
      while (running) {
        const user = users[n++ % users.length] as string;
        const events = Array.from({ length: 10 }, () => ({
          event_id: randomUUID(),
          type: "view",
          post_id: randomUUID(), // one post per event: post_metrics_1h.views then counts its inserts
        }));
        const p = phase;
        try {
          const res = await call(user, "POST", "/api/v1/events", { events });
          const body = (await res.json().catch(() => ({}))) as { accepted?: number };
          if (res.status === 202 && body.accepted === events.length)
            for (const e of events) accepted.set(e.event_id, p);
          else stat(p).refused++;
        } catch {
          stat(p).refused++;
        }
        await sleep(100);
      }
    };
    const writesLoop = async () => {
      let n = 0;
      while (running) {
        const user = users[n++ % users.length] as string;
        const p = phase;
        try {
          let res: Response;
          const r = n % 4;
          if (r === 0 || posts.length === 0) {
            res = await call(user, "POST", "/api/v1/posts", { text: `fault post ${n}` });
            if (res.status === 201) posts.push(((await res.json()) as { post: { id: string } }).post.id);
          } else if (r === 1) res = await call(user, "PUT", `/api/v1/posts/${posts[n % posts.length]}/like`);
          else if (r === 2)
            res = await call(user, "POST", `/api/v1/posts/${posts[n % posts.length]}/comments`, { text: `c${n}` });
          else res = await call(user, "PUT", `/api/v1/follows/${users[(n + 3) % users.length]}`);
          await res.body?.cancel().catch(() => {});
          if (res.status >= 200 && res.status < 300) stat(p).writesOk++;
          else stat(p).writesFailed++;
        } catch {
          stat(p).writesFailed++;
        }
        await sleep(250);
      }
    };
    loadDone = Promise.all([eventsLoop(), writesLoop()]);

    const inClickHouse = async (eventId: string) => {
      const rs = await (ch as ClickHouseClient).query({
        query: "SELECT count() AS n FROM events_raw WHERE event_id = {id:UUID}",
        query_params: { id: eventId },
        format: "JSONEachRow",
      });
      return Number((await rs.json<{ n: string }>())[0]?.n ?? 0) > 0;
    };
    /** An event accepted from now on, then visible in ClickHouse. */
    const endToEnd = async (deadlineMs: number) => {
      const start = Date.now();
      let probe: string | null = null;
      for (;;) {
        if (Date.now() - start > deadlineMs) throw new Error("no accepted event reached ClickHouse in time");
        if (probe === null) {
          const ev = { event_id: randomUUID(), type: "view", post_id: randomUUID() };
          const res = await call(users[0] as string, "POST", "/api/v1/events", { events: [ev] }).catch(() => null);
          if (res?.status === 202) {
            accepted.set(ev.event_id, phase);
            probe = ev.event_id;
          }
          await res?.body?.cancel().catch(() => {});
        }
        if (probe !== null && (await inClickHouse(probe).catch(() => false))) return;
        await sleep(200);
      }
    };
    await endToEnd(120_000);
    await sleep(settleMs);

    // ------------------------------------------------------------ the matrix
    const timings = new Map<string, { restartMs: number; recoveryMs: number; streamAtKill: number }>();
    const withStream = async <T>(fn: (r: Redis) => Promise<T>): Promise<T> => {
      const r = new Redis(cfg.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      r.on("error", () => {});
      try {
        await r.connect();
        return await fn(r);
      } finally {
        r.disconnect();
      }
    };
    for (const fault of opts.faults) {
      phase = fault;
      await sleep(settleMs / 2);
      const proc = procs.find((p) => p.name === fault);
      const component = components[fault];
      const relay = procs.find((p) => p.name === "relay") as OriginProc;
      // Redis: with the relay keeping up, the stream is nearly empty at any moment, so the kill
      // would prove little. The relay is paused (SIGSTOP) first so a backlog of accepted events
      // sits in the stream when Redis dies, and resumed once Redis is back.
      if (fault === "redis") {
        killGroup(relay.child?.pid as number, "SIGSTOP");
        await sleep(settleMs / 2);
      }
      const streamAtKill = await withStream((r) => r.xlen("events:ingest")).catch(() => -1);
      const tKill = Date.now();
      if (proc) {
        const pid = proc.child?.pid as number;
        killGroup(pid, "SIGKILL");
        await new Promise((r) => (proc.child?.exitCode !== null ? r(null) : proc.child?.once("exit", r)));
        startProc(proc);
        await waitUntil(`${fault} ready again`, () => procHealthy(proc), 180_000);
      } else if (component) {
        const pid = ourPid(cfg, fault, fault === "redis" ? "redis-server" : "");
        if (pid === null) throw new Error(`${fault}: no PID of ours to kill`);
        killGroup(pid, "SIGKILL");
        for (let i = 0; i < 100; i++) {
          try {
            process.kill(pid, 0);
          } catch {
            break;
          }
          await sleep(50);
        }
        await component.up();
      } else throw new Error(`unknown fault ${fault}`);
      const restartMs = Date.now() - tKill;
      if (fault === "redis") {
        const after = await withStream((r) => r.xlen("events:ingest")).catch(() => -1);
        log(`redis: ${streamAtKill} entries in the stream at the kill, ${after} after the restart`);
        killGroup(relay.child?.pid as number, "SIGCONT");
      }
      await endToEnd(240_000);
      const recoveryMs = Date.now() - tKill;
      timings.set(fault, { restartMs, recoveryMs, streamAtKill });
      log(`${fault}: SIGKILLed; healthy after ${restartMs} ms, end to end after ${recoveryMs} ms`);
      await sleep(settleMs);
    }
    phase = "after";
    await sleep(1000);
    stopLoad();
    await loadDone;

    // ------------------------------------------------------------ drain and check
    const tDrain = Date.now();
    const counts = async () => {
      const rs = await (ch as ClickHouseClient).query({
        // An event that came before its post has a second row once settled (its author then known;
        // events_raw replaces by event_id): the zero-author row it replaced is not a copy.
        query: `SELECT toString(event_id) AS id,
                  count() - if(countIf(author_id = toUUID('${ZERO_UUID}')) > 0 AND countIf(author_id != toUUID('${ZERO_UUID}')) > 0,
                               countIf(author_id = toUUID('${ZERO_UUID}')), 0) AS n
                FROM events_raw GROUP BY event_id`,
        format: "JSONEachRow",
      });
      return new Map((await rs.json<{ id: string; n: string }>()).map((r) => [r.id, Number(r.n)]));
    };
    let seen = await counts();
    let lastChange = Date.now();
    let lastSize = seen.size;
    while ([...accepted.keys()].some((k) => !seen.has(k)) && Date.now() - lastChange < 60_000) {
      await sleep(1000);
      seen = await counts();
      if (seen.size !== lastSize) {
        lastSize = seen.size;
        lastChange = Date.now();
      }
    }
    const views = async () => {
      const rs = await (ch as ClickHouseClient).query({
        query: "SELECT toString(post_id) AS id, sum(views) AS n FROM post_metrics_1h GROUP BY post_id",
        format: "JSONEachRow",
      });
      return new Map((await rs.json<{ id: string; n: string }>()).map((r) => [r.id, Number(r.n)]));
    };
    const counted = await views();
    const drainMs = Date.now() - tDrain;
    // PostgreSQL ≡ ClickHouse: the CDC side may still be catching up after the last restart.
    let consistencyReport = "";
    let diff = -1;
    const tCons = Date.now();
    for (;;) {
      const reports = await checkConsistency(pool, ch);
      diff = reports.reduce((s, r) => s + differences(r), 0);
      consistencyReport = reports
        .map((r) => `${r.table}: pg ${r.pg.live} live / ch ${r.ch.live} live, ${differences(r)} differences`)
        .join("; ");
      if (diff === 0 || Date.now() - tCons > 90_000) break;
      await sleep(2000);
    }

    // The serving index ≡ ClickHouse, and ClickHouse's derived data by the rules, once settled.
    const indexRedis = new Redis(cfg.redisUrl, { maxRetriesPerRequest: 2 });
    let indexReport = "";
    let indexDiff = -1;
    let derivedReport = "";
    let violations = -1;
    let zeroAuthors = -1;
    try {
      const tIndex = Date.now();
      for (;;) {
        const r = await checkIndex(ch, indexRedis, indexKeys(`${name}:`), 10);
        indexDiff = r.total;
        indexReport = r.differences
          .map((d) => `${d.key} ${d.field ?? ""}: index ${d.index} | clickhouse ${d.clickhouse}`)
          .join("; ");
        const derived = await checkDerived(ch, 3);
        violations = derived.reduce((n, d) => n + d.violations, 0);
        zeroAuthors = derived.find((d) => d.rule === "events_raw.author_id")?.violations ?? -1;
        derivedReport = derived
          .filter((d) => d.violations > 0)
          .map((d) => `${d.rule}: ${d.violations} (${d.examples.map((e) => `${e.key} ${e.detail}`).join(", ")})`)
          .join("; ");
        if ((indexDiff === 0 && violations === 0) || Date.now() - tIndex > 60_000) break;
        await sleep(2000);
      }
    } finally {
      indexRedis.disconnect();
    }

    // The post of each accepted event, to read its view count.
    const postOf = new Map<string, string>();
    {
      const rs = await ch.query({
        query: "SELECT toString(event_id) AS e, toString(post_id) AS p FROM events_raw",
        format: "JSONEachRow",
      });
      for (const r of await rs.json<{ e: string; p: string }>()) postOf.set(r.e, r.p);
    }
    const rowsOut: FaultRow[] = [];
    const phases = ["warm-up", ...opts.faults, "after"];
    for (const p of phases) {
      const ids = [...accepted.entries()].filter(([, ph]) => ph === p).map(([e]) => e);
      const lost = ids.filter((e) => !seen.has(e)).length;
      const duplicated = ids.filter((e) => {
        const post = postOf.get(e);
        return (seen.get(e) ?? 0) > 1 || (post !== undefined && (counted.get(post) ?? 0) > 1);
      }).length;
      const s = stat(p);
      const t = timings.get(p);
      rowsOut.push({
        component: p,
        accepted: ids.length,
        refused: s.refused,
        lost,
        duplicated,
        writesOk: s.writesOk,
        writesFailed: s.writesFailed,
        streamAtKill: t?.streamAtKill ?? 0,
        restartMs: t?.restartMs ?? 0,
        recoveryMs: t?.recoveryMs ?? 0,
      });
    }
    const unacknowledgedInClickHouse = [...seen.keys()].filter((e) => !accepted.has(e)).length;
    const table = formatTable(rowsOut, {
      unacknowledgedInClickHouse,
      consistency: [
        diff === 0 ? "PostgreSQL ≡ ClickHouse (0 differences)" : `${diff} differences: ${consistencyReport}`,
        indexDiff === 0
          ? "serving index ≡ ClickHouse (0 differences)"
          : `index: ${indexDiff} differences: ${indexReport}`,
        violations === 0
          ? "ClickHouse's derived data keeps the counting rules (0 violations, 0 zero authors of known posts)"
          : `derived: ${violations} violations: ${derivedReport}`,
      ].join(". "),
      own: `own: redis, redis-bridge, origin/relay/sink processes, wrangler dev${ownKafka ? ", kafka, connect" : " (shared kafka/connect, own topics)"}${ownGateway ? ", ch-gateway" : " (shared ch-gateway, own database)"}`,
    });
    const result: MatrixResult = {
      rows: rowsOut,
      unacknowledgedInClickHouse,
      consistency: { differences: diff, report: consistencyReport },
      index: { differences: indexDiff, report: indexReport },
      derived: { violations, zeroAuthors, report: derivedReport },
      drainMs,
      totalMs: Date.now() - t0,
      table,
    };
    if (opts.outFile) {
      mkdirSync(resolve(opts.outFile, ".."), { recursive: true });
      writeFileSync(opts.outFile, `${table}\n`);
      writeFileSync(opts.outFile.replace(/\.md$/, ".json"), `${JSON.stringify(result, null, 2)}\n`);
    }
    return result;
  } finally {
    await cleanup();
  }
}

function formatTable(
  rows: FaultRow[],
  extra: { unacknowledgedInClickHouse: number; consistency: string; own: string },
): string {
  const s = (ms: number) => (ms ? `${(ms / 1000).toFixed(1)} s` : "–");
  const head = [
    "component",
    "events accepted",
    "lost",
    "duplicated",
    "refused requests",
    "writes ok / failed",
    "in stream at kill",
    "restart (healthy)",
    "recovery (end to end)",
  ];
  const body = rows.map((r) => [
    r.component,
    String(r.accepted),
    String(r.lost),
    String(r.duplicated),
    String(r.refused),
    `${r.writesOk} / ${r.writesFailed}`,
    r.restartMs ? String(r.streamAtKill) : "–",
    s(r.restartMs),
    s(r.recoveryMs),
  ]);
  // Aligned as the formatter (biome) prints Markdown tables: first column left, the rest right.
  const width = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] as string).length)));
  const cell = (v: string, i: number) => (i === 0 ? v.padEnd(width[i] as number) : v.padStart(width[i] as number));
  const line = (cells: string[]) => `| ${cells.map(cell).join(" | ")} |`;
  const rule = `| ${width.map((w, i) => (i === 0 ? "-".repeat(w) : `${"-".repeat(w - 1)}:`)).join(" | ")} |`;
  const lines = [
    line(head),
    rule,
    ...body.map(line),
    "",
    `Events in ClickHouse never answered 202: ${extra.unacknowledgedInClickHouse}. ${extra.consistency}.`,
    `${new Date().toISOString()}; ${extra.own}. Recovery = SIGKILL → an event accepted after it is in ClickHouse.`,
  ];
  return lines.join("\n");
}

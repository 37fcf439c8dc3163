/**
 * Provision: everything a fault run stands on, of its own and never the shared stack's. A stack
 * instance (its own state dir, redis-server on a free port with AOF on, Redis bridge; Kafka +
 * Connect and the ClickHouse gateway too when they are among the faults: otherwise the shared
 * ones, never restarted), a world on it (scripts/lib/world.ts: databases, topic namespace,
 * connector, slot, groups, index namespace), the three origin processes and `wrangler dev`.
 * `cleanup()` removes all of it in reverse, also after a provision that failed half-way.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BENCH_RATE_LIMITS } from "../lib/ratelimits.ts";
import { waitFor } from "../lib/wait.ts";
import { BRIDGE_TOKEN, createWorld, PG_ADMIN_URL, type World, workerVars, worldNames } from "../lib/world.ts";
import { freePort, startWranglerDev, type WranglerDev } from "../lib/wrangler.ts";
import type { Component } from "../local/stack/component.ts";
import { readStackConfig, type StackConfig } from "../local/stack/config.ts";
import { connect as connectComponent } from "../local/stack/connect.ts";
import { ensureJars } from "../local/stack/jars.ts";
import { kafka as kafkaComponent } from "../local/stack/kafka.ts";
import { chGateway, redisBridge } from "../local/stack/node-services.ts";
import { redis as redisComponent } from "../local/stack/redis.ts";
import type { Fault } from "./matrix.ts";
import { type OriginProc, originReady, startOriginProc, stopOriginProc } from "./processes.ts";

export interface FaultRun {
  id: string;
  stack: StackConfig;
  /** The stack components of the run's own, by the fault that kills them. */
  components: Partial<Record<Fault, Component>>;
  own: { kafka: boolean; gateway: boolean };
  world: World;
  procs: OriginProc[];
  edge: WranglerDev;
  jwtSecret: string;
  cleanup(): Promise<void>;
}

/** The order stack components come up in (down in reverse). */
const STACK_ORDER: Fault[] = ["redis", "kafka", "ch-gateway", "connect", "redis-bridge"];
/**
 * The origin parts of each process; the serving index runs beside the sink and dies with it, and
 * `sink2` is a second such process, in the same consumer groups.
 */
const PARTS = {
  origin: "http,connector",
  sink: "http,sink,index",
  relay: "http,relay",
  sink2: "http,sink,index",
} as const;

/** The faults that need the second sink + serving-index process. */
export const CONSUMER_GROUP_FAULTS: readonly Fault[] = ["updater-join", "updater-mid-batch", "sink-mid-batch"];

export async function provision(faults: readonly Fault[], log: (msg: string) => void): Promise<FaultRun> {
  const id = randomBytes(4).toString("hex");
  const undo: (() => Promise<unknown>)[] = [];
  const cleanup = async () => {
    for (const step of undo.reverse()) await step().catch((err: Error) => log(`cleanup: ${err.message}`));
  };
  try {
    const stack = await stackInstance(faults, undo);
    log(
      `state ${stack.cfg.stateDir}; own: redis (appendfsync ${stack.cfg.redisAppendfsync}), redis-bridge${stack.own.kafka ? ", kafka, connect" : ""}${stack.own.gateway ? ", ch-gateway" : ""}`,
    );
    for (const f of STACK_ORDER) {
      const c = stack.components[f];
      if (!c) continue;
      undo.push(() => c.down());
      const t = Date.now();
      await c.up();
      log(`${f}: up (${Date.now() - t} ms)`);
    }
    const world = await worldOn(stack.cfg, `faults_${id}`);
    undo.push(() => world.drop());
    const originSecret = randomBytes(24).toString("hex");
    const second = faults.some((f) => CONSUMER_GROUP_FAULTS.includes(f));
    const procs = await startOrigin(stack.cfg, world, originSecret, undo, log, second);
    const jwtSecret = randomBytes(24).toString("hex");
    const origin = procs.find((p) => p.name === "origin") as OriginProc;
    const edge = await startWranglerDev({
      config: "wrangler.toml",
      timeoutMs: 120_000,
      vars: workerVars(world, { jwtSecret, originSecret, originUrl: `http://127.0.0.1:${origin.port}` }),
      // A load, not a person: the benchmark's limits.
      rateLimits: BENCH_RATE_LIMITS,
    });
    undo.push(() => edge.stop());
    log(`edge ${edge.url}`);
    return {
      id,
      stack: stack.cfg,
      components: stack.components,
      own: stack.own,
      world,
      procs,
      edge,
      jwtSecret,
      cleanup,
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/**
 * The run's stack configuration on free ports and a fresh state dir, and the components of its
 * own. The stack's components read their child's environment from process.env: it holds the
 * run's values until the undo step puts it back.
 */
async function stackInstance(faults: readonly Fault[], undo: (() => Promise<unknown>)[]) {
  const own = { kafka: faults.includes("kafka") || faults.includes("connect"), gateway: faults.includes("ch-gateway") };
  const stateDir = mkdtempSync(join(tmpdir(), "edge-feed-faults-"));
  const shared = process.env;
  const port = async (mine: boolean, name: string, fallback: string) =>
    mine ? String(await freePort()) : shared[name] || fallback;
  const env: NodeJS.ProcessEnv = {
    ...shared,
    STACK_STATE_DIR: stateDir,
    REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
    REDIS_BRIDGE_PORT: String(await freePort()),
    // The matrix proves "nothing answered is lost through a Redis SIGKILL", which needs every
    // acknowledged write on disk first: with everysec, Redis holds back its AOF write(2) while a
    // background fsync runs (up to 2 s on a busy disk) and replies meanwhile, so a kill then
    // loses acknowledged stream entries and index writes (docs/delivery-and-faults.md).
    // REDIS_APPENDFSYNC=everysec runs it the other way.
    REDIS_APPENDFSYNC: shared.REDIS_APPENDFSYNC || "always",
    KAFKA_PORT: await port(own.kafka, "KAFKA_PORT", "9092"),
    KAFKA_CONTROLLER_PORT: await port(own.kafka, "KAFKA_CONTROLLER_PORT", "9093"),
    CONNECT_PORT: await port(own.kafka, "CONNECT_PORT", "8083"),
    CH_GATEWAY_PORT: await port(own.gateway, "CH_GATEWAY_PORT", "8123"),
  };
  const cfg = readStackConfig(env);
  const swapped = [
    "STACK_STATE_DIR",
    "REDIS_URL",
    "REDIS_BRIDGE_PORT",
    "REDIS_APPENDFSYNC",
    "CH_GATEWAY_PORT",
    "LOG_LEVEL",
  ];
  const saved = Object.fromEntries(swapped.map((k) => [k, process.env[k]]));
  Object.assign(process.env, { ...Object.fromEntries(swapped.map((k) => [k, env[k]])), LOG_LEVEL: "warn" });
  undo.push(async () => {
    for (const k of swapped) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
    rmSync(stateDir, { recursive: true, force: true });
  });
  const kafkaJars = () => ensureJars(cfg, "kafka");
  const components: Partial<Record<Fault, Component>> = {
    redis: redisComponent(cfg),
    "redis-bridge": redisBridge(cfg),
  };
  if (own.kafka) {
    components.kafka = kafkaComponent(cfg, kafkaJars);
    components.connect = connectComponent(cfg, () => kafkaJars().then(() => ensureJars(cfg, "connect")));
  }
  if (own.gateway) components["ch-gateway"] = chGateway(cfg);
  return { cfg, components, own };
}

/** The run's world on its stack instance (PostgreSQL is the machine's cluster). */
function worldOn(cfg: StackConfig, name: string): Promise<World> {
  return createWorld({
    names: worldNames(name),
    services: {
      pgAdminUrl: PG_ADMIN_URL,
      chUrl: `http://127.0.0.1:${cfg.ports.chGateway}`,
      kafkaBrokers: [`127.0.0.1:${cfg.ports.kafka}`],
      connectUrl: `http://127.0.0.1:${cfg.ports.connect}`,
      redisUrl: cfg.redisUrl,
      bridgeUrl: `http://127.0.0.1:${cfg.ports.redisBridge}`,
      bridgeToken: BRIDGE_TOKEN,
    },
    poolSize: 3,
    chRequestTimeoutMs: 60_000,
  });
}

/** The origin first: its connector manager creates the topics the sink and relay use. */
async function startOrigin(
  cfg: StackConfig,
  world: World,
  originSecret: string,
  undo: (() => Promise<unknown>)[],
  log: (msg: string) => void,
  /** Whether the run has `sink2` (started by its first phase, kill.ts, not here). */
  second: boolean,
): Promise<OriginProc[]> {
  const logsDir = join(cfg.stateDir, "logs");
  mkdirSync(logsDir, { recursive: true });
  const common: Record<string, string> = {
    ...world.env,
    CDC_WATCH_INTERVAL_MS: "1000",
    ORIGIN_SHARED_SECRET: originSecret,
    // A killed relay's pending entries are claimed after this; 30 s by default.
    RELAY_CLAIM_IDLE_MS: "5000",
    // A killed consumer part's partitions go to its restart after this (6 s by default; the
    // stack's broker accepts down to 1 s): the recovery a deployment gets with a 3 s session.
    KAFKA_SESSION_TIMEOUT_MS: "3000",
    STARTUP_TIMEOUT_MS: "120000",
    LOG_LEVEL: "warn",
  };
  const procs: OriginProc[] = [];
  undo.push(async () => {
    for (const p of procs) await stopOriginProc(p);
  });
  const names = second ? (["origin", "sink", "relay", "sink2"] as const) : (["origin", "sink", "relay"] as const);
  for (const name of names) {
    const port = await freePort();
    const p: OriginProc = {
      name,
      port,
      child: null,
      env: {
        ...common,
        ORIGIN_PARTS: PARTS[name],
        ORIGIN_PORT: String(port),
        // The mid-batch rows arm it (origin/src/kafka/failpoint.ts); off for the other processes.
        ...(name === "sink" || name === "sink2" ? { FAULT_INJECTION_FILE: join(logsDir, `${name}.failpoint`) } : {}),
      },
      logFile: join(logsDir, `${name}.log`),
    };
    procs.push(p);
    if (name === "sink2") continue;
    startOriginProc(p);
    const ms = await waitFor(() => originReady(p), 180_000, `${p.name} ready (log ${p.logFile})`, 200);
    log(`${p.name}: ready (${ms} ms)`);
  }
  return procs;
}

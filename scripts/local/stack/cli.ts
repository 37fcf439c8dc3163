/**
 * The local stack manager: `tsx scripts/local/stack/cli.ts up | down | status [--quiet]`
 * (npm run stack:up / stack:down / stack:status).
 *
 * - up: brings every component to healthy, leaving already-healthy ones alone, starting
 *   independent ones concurrently (the whole stack should be up in about a minute from stopped;
 *   the first run also downloads jars with Maven). Exits 0 only when all are healthy.
 * - down: stops every process the stack started (by recorded PID, SIGTERM then SIGKILL) and
 *   drops the `feed` database's replication slots. The machine's PostgreSQL and Redis keep running.
 * - status: one line per component; exit 0 only when all are healthy. `--quiet` prints nothing
 *   (scripts/test.sh uses it to decide whether it must start and stop the stack itself).
 *
 * - `up|down|status <component>…` acts on the named components only, e.g.
 *   `up redis-cluster redis-bridge-cluster` (naming one of those two enables the cluster).
 * - The Redis Cluster (3 masters, 7001–7003) and its bridge (8078) are opt-in: only
 *   `REDIS_CLUSTER=1` makes `up` start them; `status` lists them as skipped otherwise; `down`
 *   stops them whenever they run. See redis-cluster.ts.
 *
 * PostgreSQL is the machine's own cluster (what CI has), reconfigured by `up` to
 * wal_level=logical and restarted once if needed; see postgres.ts.
 *
 * Logs, data and PID files: .stack/{logs,data,run}. Jars: ${EDGE_FEED_CACHE:-~/.cache/edge-feed}/jars.
 */
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { parseCli, UsageError } from "../../lib/cli.ts";
import type { Component, ComponentStatus, UpOutcome } from "./component.ts";
import { readStackConfig, type StackConfig } from "./config.ts";
import { connect } from "./connect.ts";
import { ensureJars } from "./jars.ts";
import { kafka } from "./kafka.ts";
import { withLock } from "./lock.ts";
import { chGateway, redisBridge, redisBridgeCluster } from "./node-services.ts";
import { postgres } from "./postgres.ts";
import { isAlive, runsIn, say, seconds, stopGroup } from "./proc.ts";
import { redis } from "./redis.ts";
import { nodeName as clusterNodeName, redisCluster } from "./redis-cluster.ts";

function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => {
    p ??= fn();
    return p;
  };
}

function components(cfg: StackConfig) {
  const kafkaJars = once(() => ensureJars(cfg, "kafka"));
  // Maven runs one at a time (a shared ~/.m2); Connect's jars resolve while Kafka starts.
  const connectJars = once(() => kafkaJars().then(() => ensureJars(cfg, "connect")));
  return {
    kafkaJars,
    connectJars,
    postgres: postgres(cfg),
    redis: redis(cfg),
    kafka: kafka(cfg, kafkaJars),
    connect: connect(cfg, connectJars),
    redisBridge: redisBridge(cfg),
    chGateway: chGateway(cfg),
    redisCluster: redisCluster(cfg),
    redisBridgeCluster: redisBridgeCluster(cfg),
  };
}

/** Every component's name, in the order status and summaries list them. */
const NAMES = [
  "postgres",
  "redis",
  "kafka",
  "connect",
  "redis-bridge",
  "ch-gateway",
  "redis-cluster",
  "redis-bridge-cluster",
];

/** Only the named components (all when none are named). */
function selected(only: string[], name: string): boolean {
  return only.length === 0 || only.includes(name);
}

interface Result {
  name: string;
  outcome?: UpOutcome;
  ms: number;
  error?: string;
}

async function up(cfg: StackConfig, only: string[]): Promise<boolean> {
  const t0 = Date.now();
  const c = components(cfg);
  const results: Result[] = [];

  const run = (component: Component, deps: Promise<boolean>[] = []): Promise<boolean> =>
    (async () => {
      if (!selected(only, component.name)) return true;
      const depsOk = (await Promise.all(deps)).every(Boolean);
      const started = Date.now();
      if (!depsOk) {
        results.push({ name: component.name, ms: 0, error: "not started: a component it needs failed" });
        return false;
      }
      try {
        const outcome = await component.up();
        const ms = Date.now() - started;
        results.push({ name: component.name, outcome, ms });
        say(`${component.name}: ${outcome === "skipped" ? "skipped" : `${outcome}, healthy`} (${seconds(ms)})`);
        return true;
      } catch (err) {
        const error = (err as Error).message;
        results.push({ name: component.name, ms: Date.now() - started, error });
        say(`${component.name}: FAILED: ${error}`);
        return false;
      }
    })();

  // Start jar resolution at once so a first-run Maven download overlaps PostgreSQL and Redis.
  if (selected(only, "kafka")) c.kafkaJars().catch(() => {}); // its error surfaces through kafka's own start
  if (selected(only, "connect")) c.connectJars().catch(() => {});
  const pg = run(c.postgres);
  const rd = run(c.redis);
  const kf = run(c.kafka);
  const ch = run(c.chGateway);
  const br = run(c.redisBridge, [rd]);
  const cn = run(c.connect, [kf]);
  // Opt-in (REDIS_CLUSTER=1); when not enabled the cluster is left as it is, running or not.
  const rc = cfg.redisCluster.enabled ? run(c.redisCluster) : Promise.resolve(true);
  const bc = run(c.redisBridgeCluster, [rc]);
  const ok = (await Promise.all([pg, rd, kf, ch, br, cn, rc, bc])).every(Boolean);

  results.sort((a, b) => NAMES.indexOf(a.name) - NAMES.indexOf(b.name));
  say(`up ${ok ? "done" : "FAILED"} in ${seconds(Date.now() - t0)}:`);
  for (const r of results) {
    const what = r.error ? `FAILED (${r.error.split("\n")[0]})` : r.outcome;
    console.log(`  ${r.name.padEnd(20)} ${seconds(r.ms).padStart(7)}  ${what}`);
  }
  if (!ok) say("logs: .stack/logs/<component>.log");
  return ok;
}

/** PID files in .stack/run that no component owns (e.g. the origin that scripts/dev.sh starts). */
async function stopOthers(cfg: StackConfig, known: string[]): Promise<void> {
  let files: string[] = [];
  try {
    files = readdirSync(cfg.runDir).filter((f) => f.endsWith(".pid"));
  } catch {
    return;
  }
  for (const file of files) {
    const name = file.slice(0, -".pid".length);
    if (known.includes(name)) continue;
    const path = join(cfg.runDir, file);
    const pid = Number.parseInt(readFileSync(path, "utf8"), 10);
    // Only a live process running in this checkout counts as ours; anything else is a stale file.
    if (Number.isInteger(pid) && pid > 1 && isAlive(pid) && runsIn(pid, cfg.repoRoot)) {
      const how = await stopGroup(pid, 15_000);
      say(`${name}: pid ${pid} ${how}`);
    }
    rmSync(path, { force: true });
  }
}

async function down(cfg: StackConfig, only: string[]): Promise<boolean> {
  const t0 = Date.now();
  const c = components(cfg);
  const known = [...NAMES, ...cfg.redisCluster.ports.map(clusterNodeName)];
  const stop = async (...list: Component[]) => {
    await Promise.all(list.filter((x) => selected(only, x.name)).map((x) => x.down()));
  };
  // Clients first (origin, bridges, Connect), so nothing holds a slot or writes to Kafka while it
  // stops; slots can only be dropped once Connect's walsender is gone.
  if (only.length === 0) await stopOthers(cfg, known);
  await stop(c.redisBridge, c.redisBridgeCluster, c.chGateway, c.connect);
  await stop(c.postgres, c.kafka);
  await stop(c.redis, c.redisCluster);
  say(`down done in ${seconds(Date.now() - t0)}`);
  return true;
}

async function status(cfg: StackConfig, quiet: boolean, only: string[]): Promise<boolean> {
  const c = components(cfg);
  const list = [
    c.postgres,
    c.redis,
    c.kafka,
    c.connect,
    c.redisBridge,
    c.chGateway,
    c.redisCluster,
    c.redisBridgeCluster,
  ].filter((x) => selected(only, x.name));
  const states: [string, ComponentStatus][] = await Promise.all(
    list.map(async (x) => [x.name, await x.status()] as [string, ComponentStatus]),
  );
  const ok = states.every(([, s]) => s.state === "healthy" || s.state === "skipped");
  if (!quiet) {
    for (const [name, s] of states) {
      const pid = s.pid ? `pid ${s.pid}` : "";
      const ports = s.ports?.length ? `${cfg.host}:${s.ports.join(",")}` : "";
      console.log(`${name.padEnd(20)} ${s.state.padEnd(9)} ${pid.padEnd(12)} ${ports.padEnd(20)} ${s.note ?? ""}`);
    }
    console.log(ok ? "stack: healthy" : "stack: NOT healthy (npm run stack:up)");
  }
  return ok;
}

const USAGE = `tsx scripts/local/stack/cli.ts up | down | status [--quiet] [component…] (components: ${NAMES.join(", ")})`;

async function main(argv: string[]): Promise<number> {
  let command: string | undefined;
  let quiet: boolean;
  let only: string[];
  try {
    // --quiet only changes `status`; `up --quiet` is accepted (the benchmark passes it).
    const { values, positionals } = parseCli(
      USAGE,
      { quiet: { type: "boolean", default: false } },
      {
        args: argv,
        positionals: 1 + NAMES.length,
      },
    );
    [command, ...only] = positionals;
    const unknown = only.find((n) => !NAMES.includes(n));
    if (unknown !== undefined) throw new UsageError(`unknown component '${unknown}'\nusage: ${USAGE}`);
    quiet = values.quiet;
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`[stack] ${err.message}`);
    return 2;
  }
  const cfg = readStackConfig();
  // Naming the cluster or its bridge is opting in.
  if (only.some((n) => n === "redis-cluster" || n === "redis-bridge-cluster")) cfg.redisCluster.enabled = true;
  switch (command) {
    case "up":
      return (await withLock(cfg, "up", () => up(cfg, only))) ? 0 : 1;
    case "down":
      return (await withLock(cfg, "down", () => down(cfg, only))) ? 0 : 1;
    case "status":
      return (await status(cfg, quiet, only)) ? 0 : 1;
    default:
      console.error(`usage: ${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`[stack] ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);

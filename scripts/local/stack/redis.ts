/**
 * Redis, made durable. The edge's event stream lives in Redis until the relay has it in Kafka,
 * so a Redis that keeps nothing on disk loses every accepted event still in the stream when it
 * restarts. The machine already runs Redis 7 on 127.0.0.1:6379 (CI too), started by the OS with
 * `--save "" --appendonly no` and not supervised (nothing restarts it when it dies). So `up`:
 *
 * - when a Redis answers at REDIS_URL: turns the append-only file on in it (CONFIG SET
 *   appendonly yes, appendfsync everysec or REDIS_APPENDFSYNC=always), waits for the first AOF
 *   rewrite to finish, and records the server's own `dir` (CONFIG GET; Redis 7 refuses CONFIG
 *   SET dir) and AOF names in <state>/data/redis-aof.json;
 * - when nothing answers: starts a redis-server of its own on the same port with AOF on, in the
 *   recorded `dir` (else REDIS_DATA_DIR, default <state>/data/redis), so a Redis that was killed
 *   comes back with every entry its AOF holds. Its PID is recorded; `down` stops only that one.
 *
 * Loss window: with everysec, a crash of Redis (SIGKILL) loses at most about the last second of
 * writes (Redis fsyncs the AOF once a second); with always, none that Redis acknowledged. The
 * kernel keeps written-but-unsynced data across a process crash, so on this machine only a host
 * crash or power loss can hit that window.
 *
 * One trap: a Redis started without AOF (e.g. by the OS after a reboot) does not load an AOF left
 * in its dir, and turning AOF on makes it rewrite the file from its current (empty) data. So
 * before turning AOF on, an AOF already in that dir is moved aside (`<name>.unloaded-<time>`)
 * and the way to load it is printed.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import {
  type Component,
  type ComponentStatus,
  ensureProcess,
  type ProcessSpec,
  stopProcess,
  type UpOutcome,
} from "./component.ts";
import type { StackConfig } from "./config.ts";
import { ourPid, say } from "./proc.ts";

const MARKER = "redis-server";

function client(url: string): Redis {
  const c = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 1000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  c.on("error", () => {}); // reported through the rejected commands
  return c;
}

async function withRedis<T>(url: string, fn: (c: Redis) => Promise<T>): Promise<T> {
  const c = client(url);
  try {
    await c.connect();
    return await fn(c);
  } finally {
    c.disconnect();
  }
}

/** PING plus the server's PID (INFO server), or null when nothing answers (or it is still loading). */
export async function pingRedis(url: string): Promise<{ pid: number } | null> {
  try {
    return await withRedis(url, async (c) => {
      if ((await c.ping()) !== "PONG") return null;
      const info = await c.info("server");
      return { pid: Number(/process_id:(\d+)/.exec(info)?.[1] ?? 0) };
    });
  } catch {
    return null;
  }
}

export interface RedisPersistence {
  appendonly: boolean;
  appendfsync: string;
  dir: string;
  appenddirname: string;
  appendfilename: string;
  /** An AOF rewrite runs or is scheduled (the first one, right after AOF is turned on). */
  rewriting: boolean;
  /** Last AOF write and rewrite succeeded. */
  writesOk: boolean;
  /** INFO persistence: the AOF's size in bytes (base and increments) and its base's; null with AOF off. */
  aofCurrentBytes: number | null;
  aofBaseBytes: number | null;
  /** INFO persistence `aof_rewrites`: rewrites since the server started. */
  aofRewrites: number;
}

async function configGet(c: Redis, name: string): Promise<string> {
  const reply = (await c.call("CONFIG", "GET", name)) as string[];
  return reply[1] ?? "";
}

function infoField(info: string, name: string): string {
  return new RegExp(`^${name}:(.*)$`, "m").exec(info)?.[1]?.trim() ?? "";
}

export async function readPersistence(c: Redis): Promise<RedisPersistence> {
  const info = await c.info("persistence");
  return {
    appendonly: (await configGet(c, "appendonly")) === "yes",
    appendfsync: await configGet(c, "appendfsync"),
    dir: await configGet(c, "dir"),
    appenddirname: await configGet(c, "appenddirname"),
    appendfilename: await configGet(c, "appendfilename"),
    rewriting: infoField(info, "aof_rewrite_in_progress") === "1" || infoField(info, "aof_rewrite_scheduled") === "1",
    writesOk:
      infoField(info, "aof_last_write_status") !== "err" && infoField(info, "aof_last_bgrewrite_status") !== "err",
    aofCurrentBytes: bytesField(info, "aof_current_size"),
    aofBaseBytes: bytesField(info, "aof_base_size"),
    aofRewrites: Number(infoField(info, "aof_rewrites") || 0),
  };
}

function bytesField(info: string, name: string): number | null {
  const v = infoField(info, name);
  return /^[0-9]+$/.test(v) ? Number(v) : null;
}

/** The bytes of the AOF directory's files on disk (Redis 7: base, increments, manifest), or null if unreadable. */
export function aofDiskBytes(p: Pick<RedisPersistence, "dir" | "appenddirname">): number | null {
  try {
    const dir = join(p.dir, p.appenddirname);
    return readdirSync(dir).reduce((sum, f) => sum + statSync(join(dir, f)).size, 0);
  } catch {
    return null;
  }
}

/** 1536 → "1.5 KiB". */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** What the status line says of the AOF's size: on disk when the dir is readable, else Redis's own figure. */
export function aofSizeNote(p: RedisPersistence, diskBytes: number | null): string {
  const parts: string[] = [];
  if (diskBytes !== null) parts.push(`${formatBytes(diskBytes)} on disk`);
  if (p.aofCurrentBytes !== null) {
    const base = p.aofBaseBytes !== null ? `, base ${formatBytes(p.aofBaseBytes)}` : "";
    parts.push(`aof_current_size ${formatBytes(p.aofCurrentBytes)}${base}`);
  }
  return parts.length ? `AOF ${parts.join(", ")}` : "AOF size unknown";
}

/** What rewriteAof did. */
export interface AofRewrite {
  /** False when the server has AOF off (nothing to rewrite). */
  rewritten: boolean;
  /** aof_current_size before and after, bytes (null with AOF off). */
  beforeBytes: number | null;
  afterBytes: number | null;
  ms: number;
}

/** The commands rewriteAof needs (an ioredis client has them). */
export interface AofClient {
  info(section: "persistence"): Promise<string>;
  call(command: string, ...args: string[]): Promise<unknown>;
}

/**
 * BGREWRITEAOF, then waits for the rewrite to finish (polls INFO persistence until
 * aof_rewrite_in_progress and aof_rewrite_scheduled are both 0 and aof_rewrites has counted it,
 * so a rewrite only scheduled behind a save is waited for too) and checks it succeeded. After a bulk load
 * or a namespace's deletion the AOF holds every write and delete since its last rewrite (1.5 GB
 * after three benchmarks); the rewrite leaves only the current data. A server with AOF off is
 * left alone. Throws when the rewrite fails or outlasts `timeoutMs`.
 */
export async function rewriteAof(
  c: AofClient,
  opts: { timeoutMs?: number; pollMs?: number } = {},
): Promise<AofRewrite> {
  const t0 = Date.now();
  const timeoutMs = opts.timeoutMs ?? 600_000;
  const before = await c.info("persistence");
  if (infoField(before, "aof_enabled") !== "1") return { rewritten: false, beforeBytes: null, afterBytes: null, ms: 0 };
  // Refused while another rewrite runs: that one may have started before our writes ended, so
  // it is waited out and ours asked for after it.
  const ask = async (): Promise<boolean> => {
    try {
      await c.call("BGREWRITEAOF");
      return true;
    } catch (err) {
      if (/already in progress/i.test(String(err))) return false;
      throw err;
    }
  };
  const rewrites = (info: string) => Number(infoField(info, "aof_rewrites") || 0);
  let baseline = rewrites(before);
  let asked = await ask();
  for (;;) {
    const info = await c.info("persistence");
    const running =
      infoField(info, "aof_rewrite_in_progress") === "1" || infoField(info, "aof_rewrite_scheduled") === "1";
    if (!running && !asked) {
      baseline = rewrites(info);
      asked = await ask();
      continue;
    }
    // aof_rewrites (Redis 7) tells ours from none having started yet; without it, not running is done.
    const counted = /^aof_rewrites:/m.test(info);
    if (!running && (!counted || rewrites(info) > baseline)) {
      if (infoField(info, "aof_last_bgrewrite_status") === "err")
        throw new Error("redis: BGREWRITEAOF failed (aof_last_bgrewrite_status:err; see the Redis log)");
      return {
        rewritten: true,
        beforeBytes: bytesField(before, "aof_current_size"),
        afterBytes: bytesField(info, "aof_current_size"),
        ms: Date.now() - t0,
      };
    }
    if (Date.now() - t0 > timeoutMs) throw new Error(`redis: AOF rewrite not finished after ${timeoutMs} ms`);
    await sleep(opts.pollMs ?? 200);
  }
}

/** The AOF manifest Redis 7 keeps in <dir>/<appenddirname>/; it exists once the AOF has a base. */
function manifestPath(p: Pick<RedisPersistence, "dir" | "appenddirname" | "appendfilename">): string {
  return join(p.dir, p.appenddirname, `${p.appendfilename}.manifest`);
}

/**
 * Turns AOF on in the Redis at `url` (idempotent) and waits until its AOF has a base on disk.
 * Never weakens a stricter setting: appendfsync `always` stays, `no` becomes `fsync`.
 */
export async function makeDurable(
  url: string,
  fsync: "everysec" | "always",
  timeoutMs = 120_000,
): Promise<{ changed: boolean; persistence: RedisPersistence }> {
  return withRedis(url, async (c) => {
    let p = await readPersistence(c);
    let changed = false;
    if (p.appendfsync === "no" || (fsync === "always" && p.appendfsync !== "always")) {
      await c.call("CONFIG", "SET", "appendfsync", fsync);
      changed = true;
    }
    if (!p.appendonly) {
      const aofDir = join(p.dir, p.appenddirname);
      if (existsSync(manifestPath(p))) {
        const aside = `${aofDir}.unloaded-${new Date().toISOString().replace(/[:.]/g, "-")}`;
        renameSync(aofDir, aside);
        say(
          `redis: WARNING: ${aofDir} held an AOF this Redis (started without AOF) never loaded; moved it to ${aside}. ` +
            `To load it: stop this Redis, move it back to ${aofDir}, and run npm run stack:up.`,
        );
      }
      await c.call("CONFIG", "SET", "appendonly", "yes");
      changed = true;
    }
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      p = await readPersistence(c);
      if (!p.writesOk) throw new Error(`redis: AOF write failed in ${p.dir} (see the Redis log)`);
      if (p.appendonly && !p.rewriting && existsSync(manifestPath(p))) break;
      if (Date.now() > deadline) throw new Error(`redis: AOF not written after ${timeoutMs} ms (${manifestPath(p)})`);
      await sleep(100);
    }
    return { changed, persistence: p };
  });
}

interface AofRecord {
  port: number;
  dir: string;
  appenddirname: string;
  appendfilename: string;
}

export function redis(cfg: StackConfig): Component {
  const url = new URL(cfg.redisUrl);
  const port = Number(url.port || 6379);
  const recordFile = join(cfg.dataDir, "redis-aof.json");
  const readRecord = (): AofRecord | null => {
    try {
      const r = JSON.parse(readFileSync(recordFile, "utf8")) as AofRecord;
      return r.port === port && r.dir ? r : null;
    } catch {
      return null;
    }
  };
  const record = (p: RedisPersistence) => {
    mkdirSync(cfg.dataDir, { recursive: true });
    const r: AofRecord = { port, dir: p.dir, appenddirname: p.appenddirname, appendfilename: p.appendfilename };
    writeFileSync(recordFile, `${JSON.stringify(r, null, 2)}\n`);
  };
  let startIn: AofRecord | null = null;

  const spec: ProcessSpec = {
    name: "redis",
    marker: MARKER,
    ports: [["REDIS_URL", port]],
    healthy: async () => (await pingRedis(cfg.redisUrl)) !== null,
    prepare: async () => {
      startIn = readRecord();
      mkdirSync(startIn?.dir ?? cfg.redisDataDir, { recursive: true });
    },
    command: () => {
      const r = startIn;
      return {
        command: "redis-server",
        // Foreground (no --daemonize) so the PID we record is the server's own. The AOF's dir
        // and names are the ones the last Redis on this port used, so its AOF is what loads.
        args: [
          ...["--bind", cfg.host, "--port", String(port), "--save", ""],
          ...["--appendonly", "yes", "--appendfsync", cfg.redisAppendfsync],
          ...["--dir", r?.dir ?? cfg.redisDataDir],
          ...(r ? ["--appenddirname", r.appenddirname, "--appendfilename", r.appendfilename] : []),
        ],
      };
    },
    // Loading a large AOF takes a while; PING answers LOADING until it is done.
    startTimeoutMs: 120_000,
    stopTimeoutMs: 10_000,
  };
  return {
    name: "redis",
    async up(): Promise<UpOutcome> {
      let outcome: UpOutcome;
      if (ourPid(cfg, spec.name, MARKER) === null && (await pingRedis(cfg.redisUrl))) outcome = "already running";
      else outcome = await ensureProcess(cfg, spec);
      const { changed, persistence } = await makeDurable(cfg.redisUrl, cfg.redisAppendfsync);
      record(persistence);
      if (changed) {
        say(`redis: AOF turned on (appendfsync ${persistence.appendfsync}) in ${persistence.dir}`);
        if (outcome === "already running") outcome = "reconfigured";
      }
      return outcome;
    },
    async status(): Promise<ComponentStatus> {
      const pong = await pingRedis(cfg.redisUrl);
      const mine = ourPid(cfg, spec.name, MARKER);
      if (!pong) return { state: mine ? "unhealthy" : "stopped", pid: mine ?? undefined, ports: [port] };
      const who = mine ? "started by the stack" : "machine's Redis";
      const p = await withRedis(cfg.redisUrl, readPersistence).catch(() => null);
      let note: string;
      let state: ComponentStatus["state"] = "healthy";
      if (!p) note = `${who}; persistence unknown`;
      else if (!p.writesOk) {
        state = "unhealthy";
        note = `${who}; AOF write FAILING in ${p.dir}`;
      } else if (!p.appendonly) {
        // Still reachable and serving: reported, not failed (npm test would otherwise take the
        // whole shared stack down and up again); `up` turns AOF on.
        note = `${who}; NOT durable: appendonly no, a restart loses the event stream (npm run stack:up turns AOF on)`;
      } else {
        note = `${who}; durable: AOF on, appendfsync ${p.appendfsync}, ${join(p.dir, p.appenddirname)}; ${aofSizeNote(p, aofDiskBytes(p))}`;
      }
      return { state, pid: mine ?? (pong.pid || undefined), ports: [port], note };
    },
    down: () => stopProcess(cfg, spec.name, MARKER, spec.stopTimeoutMs),
  };
}

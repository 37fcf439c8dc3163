/**
 * Issue 14 item 9: the events stream survives a SIGKILL of Redis followed by the stack's `up`.
 *
 * Never touches the shared Redis on 6379: a redis-server of the test's own on a free port plays
 * "the machine's Redis" (started like the OS starts it: `--save "" --appendonly no`), and the
 * stack's Redis component runs on it through the same code path as `npm run stack:up`, with
 * REDIS_URL and STACK_STATE_DIR pointing at the test's own port and state directory.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../scripts/lib/wrangler.ts";
import { readStackConfig } from "../../scripts/local/stack/config.ts";
import { pingRedis, redis as redisComponent } from "../../scripts/local/stack/redis.ts";

const STREAM = "events:ingest";
const GROUP = "relay";

let root: string;
let port: number;
let url: string;
let machineDir: string;
let machine: ChildProcess | null = null;
let stack: ReturnType<typeof redisComponent>;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z ");
  } catch {
    return false;
  }
}

async function sigkill(pid: number): Promise<void> {
  process.kill(pid, "SIGKILL");
  for (let i = 0; i < 100 && alive(pid); i++) await sleep(50);
  expect(alive(pid)).toBe(false);
  expect(await pingRedis(url)).toBeNull();
}

/** A redis-server as the OS runs it here: nothing on disk, not supervised. */
async function startMachineRedis(): Promise<ChildProcess> {
  const child = spawn(
    "redis-server",
    ["--bind", "127.0.0.1", "--port", String(port), "--save", "", "--appendonly", "no", "--dir", machineDir],
    { stdio: "ignore" },
  );
  for (let i = 0; i < 200 && !(await pingRedis(url)); i++) await sleep(50);
  expect(await pingRedis(url)).not.toBeNull();
  return child;
}

/** Appends `n` entries (each acknowledged by Redis, as the bridge's XADD is before the 202). */
async function append(client: Redis, n: number, tag: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i += 100) {
    const p = client.pipeline();
    for (let j = i; j < Math.min(n, i + 100); j++) p.xadd(STREAM, "*", "batch", `${tag}-${j}`);
    for (const [err, id] of (await p.exec()) ?? []) {
      expect(err).toBeNull();
      ids.push(id as string);
    }
  }
  return ids;
}

async function streamIds(): Promise<string[]> {
  const c = new Redis(url);
  try {
    return (await c.xrange(STREAM, "-", "+")).map(([id]) => id);
  } finally {
    c.disconnect();
  }
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "redis-durable-"));
  machineDir = join(root, "machine-redis");
  mkdirSync(machineDir);
  port = await freePort();
  url = `redis://127.0.0.1:${port}`;
  const cfg = readStackConfig({ ...process.env, REDIS_URL: url, STACK_STATE_DIR: join(root, "state") });
  expect(cfg.stateDir).toBe(join(root, "state"));
  stack = redisComponent(cfg);
  machine = await startMachineRedis();
});

afterAll(async () => {
  await stack?.down().catch(() => {});
  if (machine?.pid && alive(machine.pid)) machine.kill("SIGKILL");
  rmSync(root, { recursive: true, force: true });
});

describe("durable Redis for the events stream (stack manager)", () => {
  it("turns AOF on in a running non-persistent Redis; after SIGKILL, `up` restarts it on the same port and dir with every entry", async () => {
    const before = await stack.status();
    expect(before.state).toBe("healthy");
    expect(before.note).toMatch(/NOT durable: appendonly no/);

    expect(await stack.up()).toBe("reconfigured");
    const after = await stack.status();
    expect(after.note).toMatch(/durable: AOF on, appendfsync everysec/);
    expect(after.note).toContain(join(machineDir, "appendonlydir"));
    expect(await stack.up()).toBe("already running"); // idempotent

    const c = new Redis(url);
    const ids = await append(c, 3000, "a");
    // The relay's consumer group with entries read but not acknowledged must survive too.
    await c.xgroup("CREATE", STREAM, GROUP, "0");
    await c.xreadgroup("GROUP", GROUP, "relay-1", "COUNT", 500, "STREAMS", STREAM, ">");
    c.disconnect();

    await sigkill(machine?.pid as number);
    expect((await stack.status()).state).toBe("stopped");

    const t0 = Date.now();
    expect(await stack.up()).toBe("started");
    const recoveryMs = Date.now() - t0;
    console.log(`[redis-durable] up after SIGKILL: ${recoveryMs} ms for 3000 entries`);
    expect(await streamIds()).toEqual(ids);
    const c2 = new Redis(url);
    const pending = (await c2.xpending(STREAM, GROUP)) as [number, ...unknown[]];
    expect(pending[0]).toBe(500);
    c2.disconnect();
    const st = await stack.status();
    expect(st.note).toMatch(/^started by the stack; durable: AOF on/);
    expect(st.note).toContain(join(machineDir, "appendonlydir"));
  });

  it("the stack's own redis-server survives a SIGKILL and `up` too", async () => {
    const c = new Redis(url);
    const before = await streamIds();
    const more = await append(c, 2000, "b");
    c.disconnect();
    const pid = (await stack.status()).pid as number;
    expect(pid).toBeGreaterThan(0);
    await sigkill(pid);
    expect(await stack.up()).toBe("started");
    expect(await streamIds()).toEqual([...before, ...more]);
  });

  it("a Redis restarted without AOF does not overwrite the AOF it never loaded: `up` moves it aside", async () => {
    const kept = await streamIds();
    await stack.down();
    expect(await pingRedis(url)).toBeNull();
    machine = await startMachineRedis(); // empty: it ignores the AOF in its dir
    expect(await streamIds()).toEqual([]);
    expect(await stack.up()).toBe("reconfigured");
    const aside = readdirSync(machineDir).filter((f) => f.startsWith("appendonlydir.unloaded-"));
    expect(aside).toHaveLength(1);
    expect(existsSync(join(machineDir, aside[0] as string, "appendonly.aof.manifest"))).toBe(true);

    // Recovery as printed: stop this Redis, move the AOF back, `up`.
    await sigkill(machine.pid as number);
    rmSync(join(machineDir, "appendonlydir"), { recursive: true, force: true });
    renameSync(join(machineDir, aside[0] as string), join(machineDir, "appendonlydir"));
    expect(await stack.up()).toBe("started");
    expect(await streamIds()).toEqual(kept);
  });
});

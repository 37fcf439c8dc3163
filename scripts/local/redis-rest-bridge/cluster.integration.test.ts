/**
 * The bridge in cluster mode against a real 3-master Redis Cluster, and the stack's cluster
 * component. Self-contained: the file starts a cluster of its own through the stack CLI
 * (`up redis-cluster redis-bridge-cluster`) with its own state dir and ports (CLUSTER_TEST_PORTS,
 * default 7301-7303; bridge on CLUSTER_TEST_BRIDGE_PORT, default 8278), so neither the shared
 * stack nor a cluster on 7001-7003 is touched, and stops it and removes its dir at the end.
 * Every case drives the bridge through @upstash/redis and checks with a direct ioredis Cluster.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { Redis } from "@upstash/redis";
import { Cluster } from "ioredis";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { portOpen } from "../stack/proc.ts";
import { createRedisBridge, type RedisBridge } from "./app.ts";
import { CROSSSLOT_MESSAGE, keySlot } from "./cluster.ts";
import { readBridgeConfig } from "./config.ts";

const repo = resolve(import.meta.dirname, "..", "..", "..");
const ports = (process.env.CLUSTER_TEST_PORTS || "7301,7302,7303").split(",").map(Number);
const stackBridgePort = Number(process.env.CLUSTER_TEST_BRIDGE_PORT || 8278);
const stateDir = mkdtempSync(join(tmpdir(), "edge-feed-cluster-test-"));
/**
 * Both bridges (the stack's and this file's in-process one) log in as the same ACL user, so they
 * share its password: with two, each provisioning would reset the user to its own and lock the
 * other out (WRONGPASS).
 */
const aclPasswordFile = join(stateDir, "redis-bridge", "acl-password");
const stackEnv = {
  ...process.env,
  STACK_STATE_DIR: stateDir,
  REDIS_BRIDGE_ACL_PASSWORD_FILE: aclPasswordFile,
  REDIS_CLUSTER_PORTS: ports.join(","),
  REDIS_BRIDGE_CLUSTER_PORT: String(stackBridgePort),
  LOG_LEVEL: "warn",
};

/** Runs the stack CLI on this file's private state dir; resolves with its exit code and output. */
async function stack(...args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(
      join(repo, "node_modules", ".bin", "tsx"),
      ["scripts/local/stack/cli.ts", ...args],
      { cwd: repo, env: stackEnv, timeout: 90_000 },
    );
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string; message: string };
    return { code: typeof e.code === "number" ? e.code : 1, out: `${e.stdout ?? ""}${e.stderr ?? e.message}` };
  }
}

let direct: Cluster;
let bridge: RedisBridge;
let client: Redis;
let token: string;
/** master `host:port` → a hash tag whose slot that master serves. */
let tagOn: Map<string, string>;

/** Keys a case created, deleted after it (one DEL per key: they sit on different nodes). */
const made = new Set<string>();
const run = randomBytes(4).toString("hex");
function key(tag: string, name: string): string {
  const k = `t:cluster:${run}:{${tag}}:${name}`;
  made.add(k);
  return k;
}

function masterOf(slot: number): string {
  return direct.slots[slot]?.[0] as string;
}

beforeAll(async () => {
  const up = await stack("up", "redis-cluster", "redis-bridge-cluster");
  if (up.code !== 0) throw new Error(`stack up redis-cluster failed:\n${up.out}`);
  direct = new Cluster(
    ports.map((port) => ({ host: "127.0.0.1", port })),
    { redisOptions: { maxRetriesPerRequest: 1 } },
  );
  await new Promise<void>((ok, fail) => {
    direct.once("ready", ok);
    direct.once("error", fail);
  });
  // One tag per master, found by hashing candidates against the live slot map.
  tagOn = new Map();
  for (let i = 0; tagOn.size < ports.length && i < 10_000; i++) {
    const tag = `${run}-${i}`;
    const node = masterOf(keySlot(tag));
    if (!tagOn.has(node)) tagOn.set(node, tag);
  }
  token = `test-${randomBytes(12).toString("hex")}`;
  const config = readBridgeConfig({
    REDIS_BRIDGE_CLUSTER: ports.map((p) => `127.0.0.1:${p}`).join(","),
    REDIS_BRIDGE_PORT: "0",
    REDIS_BRIDGE_TOKEN: token,
    REDIS_BRIDGE_ACL_PASSWORD_FILE: aclPasswordFile,
    REDIS_BRIDGE_COMMAND_TIMEOUT_MS: "3000",
    LOG_LEVEL: "silent",
  });
  bridge = createRedisBridge(config, pino({ level: "silent" }));
  const { url } = await bridge.start();
  client = new Redis({ url, token });
}, 120_000);

afterEach(async () => {
  await Promise.all([...made].map((k) => direct.del(k)));
  made.clear();
});

afterAll(async () => {
  await bridge?.stop();
  direct?.disconnect();
  await stack("down", "redis-cluster", "redis-bridge-cluster");
  rmSync(stateDir, { recursive: true, force: true });
}, 60_000);

describe("bridge in cluster mode", () => {
  it("serves single commands on keys held by each of the 3 masters", async () => {
    expect(tagOn.size).toBe(3);
    for (const [node, tag] of tagOn) {
      const k = key(tag, "s");
      expect(await client.set(k, `v-${node}`)).toBe("OK");
      expect(await client.get(k)).toBe(`v-${node}`);
      expect(await client.incr(key(tag, "n"))).toBe(1);
      await client.hset(key(tag, "h"), { a: "1", b: "2" });
      expect(await client.hgetall(key(tag, "h"))).toEqual({ a: 1, b: 2 });
      // The key really lives on that master.
      const slot = Number(await direct.cluster("KEYSLOT", k));
      expect(masterOf(slot)).toBe(node);
      expect(await direct.get(k)).toBe(`v-${node}`);
    }
  });

  it("answers a pipeline across all masters' slots in order", async () => {
    const tags = [...tagOn.values()];
    const p = client.pipeline();
    for (let round = 0; round < 3; round++) {
      for (const tag of tags) p.set(key(tag, `p${round}`), `${tag}:${round}`);
    }
    for (let round = 0; round < 3; round++) {
      for (const tag of tags) p.get(key(tag, `p${round}`));
    }
    p.incr(key(tags[0] as string, "c"));
    p.incr(key(tags[1] as string, "c"));
    p.incr(key(tags[0] as string, "c"));
    const results = await p.exec();
    const expected: unknown[] = [];
    for (let r = 0; r < 3; r++) for (const _ of tags) expected.push("OK");
    for (let r = 0; r < 3; r++) for (const tag of tags) expected.push(`${tag}:${r}`);
    expected.push(1, 1, 2);
    expect(results).toEqual(expected);
    // Auto-pipelined calls (one /pipeline request from the client) land in order too.
    const got = await Promise.all(tags.map((tag) => client.get(key(tag, "p1"))));
    expect(got).toEqual(tags.map((tag) => `${tag}:1`));
  });

  it("passes a cross-slot multi-key command's CROSSSLOT through, per command", async () => {
    const [a, b] = [...tagOn.values()] as [string, string];
    await client.set(key(a, "x"), "1");
    await expect(client.mget(key(a, "x"), key(b, "x"))).rejects.toThrow(CROSSSLOT_MESSAGE);
    const p = client.pipeline();
    p.get(key(a, "x"));
    p.mget(key(a, "x"), key(b, "x"));
    p.get(key(a, "x"));
    const res = await p.exec({ keepErrors: true });
    expect(res[0]).toEqual({ result: 1, error: undefined });
    expect(res[1]?.error).toBe(CROSSSLOT_MESSAGE);
    expect(res[2]).toEqual({ result: 1, error: undefined });
  });

  it("runs a MULTI whose keys share one hash tag", async () => {
    for (const tag of tagOn.values()) {
      const tx = client.multi();
      tx.set(key(tag, "m1"), "a");
      tx.incr(key(tag, "m2"));
      tx.incr(key(tag, "m2"));
      tx.mget(key(tag, "m1"), key(tag, "m2"));
      expect(await tx.exec()).toEqual(["OK", 1, 2, ["a", 2]]);
    }
  });

  it("refuses a MULTI across slots with CROSSSLOT, running none of it", async () => {
    const [a, b] = [...tagOn.values()] as [string, string];
    const tx = client.multi();
    tx.set(key(a, "cx"), "1");
    tx.set(key(b, "cx"), "1");
    await expect(tx.exec()).rejects.toThrow(CROSSSLOT_MESSAGE);
    // Two slots on the same master are still two slots: Redis would refuse it too.
    const sameNode = `${a}-other`;
    const tx2 = client.multi();
    tx2.set(key(a, "cy"), "1");
    tx2.set(key(sameNode, "cy"), "1");
    if (keySlot(a) !== keySlot(sameNode)) await expect(tx2.exec()).rejects.toThrow(CROSSSLOT_MESSAGE);
    expect(await direct.exists(key(a, "cx"), key(a, "cy"))).toBe(0);
    expect(await direct.exists(key(b, "cx"))).toBe(0);
  });

  it("runs scripts on one slot, answers CROSSSLOT for keys across slots, and EVALSHA works on every master", async () => {
    const script = "redis.call('set', KEYS[1], ARGV[1]); return redis.call('incr', KEYS[2])";
    for (const tag of tagOn.values()) {
      expect(await client.eval(script, [key(tag, "e1"), key(tag, "e2")], ["v"])).toBe(1);
    }
    const [a, b] = [...tagOn.values()] as [string, string];
    await expect(client.eval(script, [key(a, "e3"), key(b, "e3")], ["v"])).rejects.toThrow(CROSSSLOT_MESSAGE);
    expect(await direct.exists(key(a, "e3"))).toBe(0);
    // SCRIPT LOAD reaches every master, so EVALSHA finds it wherever its keys live.
    const sha = await client.scriptLoad(`return redis.call('get', KEYS[1]) .. '${run}'`);
    expect(await client.scriptExists(sha)).toEqual([1]);
    for (const tag of tagOn.values()) {
      await client.set(key(tag, "g"), "x");
      expect(await client.evalsha(sha, [key(tag, "g")], [])).toBe(`x${run}`);
    }
  });

  it("sums DBSIZE over the masters and reports cluster mode in /healthz", async () => {
    const before = await client.dbsize();
    for (const tag of tagOn.values()) await client.set(key(tag, "d"), "1");
    expect(await client.dbsize()).toBe(before + 3);
    const health = await bridge.app.request("/healthz");
    expect(await health.json()).toMatchObject({ status: "ok", mode: "cluster", pool: { masters: 3 } });
  });
});

describe("the stack's cluster", () => {
  it("status reports 3 healthy masters and the cluster bridge, which serves the same protocol", async () => {
    const s = await stack("status", "redis-cluster", "redis-bridge-cluster");
    expect(s.code).toBe(0);
    expect(s.out).toMatch(/redis-cluster\s+healthy .*cluster_state ok, 3 masters/);
    expect(s.out).toMatch(/redis-bridge-cluster\s+healthy/);
    for (const p of ports) expect(await direct.nodes("master").some((n) => n.options.port === p)).toBe(true);
    const aof = await Promise.all(direct.nodes("master").map((n) => n.config("GET", "appendonly")));
    expect(aof.map((r) => (r as string[])[1])).toEqual(["yes", "yes", "yes"]);
    const viaStack = new Redis({ url: `http://127.0.0.1:${stackBridgePort}`, token: "local-dev-token" });
    const [a, b] = [...tagOn.values()] as [string, string];
    const p = viaStack.pipeline();
    p.set(key(a, "sb"), "1");
    p.set(key(b, "sb"), "2");
    p.get(key(a, "sb"));
    p.get(key(b, "sb"));
    expect(await p.exec()).toEqual(["OK", "OK", 1, 2]);
  });

  it("down stops it, status says stopped, and up brings it back with its data and membership", async () => {
    const tag = tagOn.values().next().value as string;
    const k = key(tag, "survives");
    await direct.set(k, "still here");
    direct.disconnect();
    const down = await stack("down", "redis-cluster");
    expect(down.code, down.out).toBe(0);
    for (const p of ports) expect(await portOpen("127.0.0.1", p)).toBe(false);
    const s = await stack("status", "redis-cluster");
    expect(s.code).toBe(1);
    expect(s.out).toMatch(/redis-cluster\s+stopped/);
    const up = await stack("up", "redis-cluster");
    expect(up.code, up.out).toBe(0);
    expect(up.out).not.toMatch(/creating the cluster/);
    direct = new Cluster(ports.map((port) => ({ host: "127.0.0.1", port })));
    expect(await direct.get(k)).toBe("still here");
  });
});

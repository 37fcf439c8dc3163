/**
 * The origin's Redis helpers on the stack's opt-in Redis Cluster (3 masters, 127.0.0.1:7001-7003,
 * or INDEX_REDIS_CLUSTER) and on the single Redis (REDIS_URL): origin/src/redis-cluster.ts and
 * origin/src/index/exec.ts. Pins: `pipelineOf` runs one batch over keys of every master with the
 * replies in queue order, one command's error in its own entry, commands of one slot in order,
 * scripts from `defineCommand`, EVAL and cross-slot commands without failing their neighbours;
 * `scanAll` sees every master; `unlinkByPrefix` removes keys on every master and keeps what it is
 * told to; `ioredisAtomic` keeps the one-slot rule. And why the wrapper exists: ioredis's own
 * `cluster.pipeline()` refuses keys on two nodes.
 *
 * The cluster half is skipped when the cluster does not answer and INDEX_REDIS_CLUSTER is unset
 * (`REDIS_CLUSTER=1 npm run stack:up -- redis-cluster redis-bridge-cluster` starts it); with
 * INDEX_REDIS_CLUSTER set (scripts/test.sh's cluster stage) an unreachable cluster fails.
 */
import { randomBytes } from "node:crypto";
import { Cluster, Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ioredisAtomic, ioredisExec, unlinkByPrefix } from "../../origin/src/index/exec.ts";
import {
  type AnyRedis,
  clusterFromNodes,
  clusterReady,
  isCluster,
  keySlot,
  parseClusterNodes,
  pipelineFromCommands,
  pipelineOf,
  scanAll,
} from "../../origin/src/redis-cluster.ts";
import { REDIS_CLUSTER_NODES, REDIS_URL } from "../../scripts/lib/world.ts";

const SEEDS = REDIS_CLUSTER_NODES || "127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003";

/** Whether the first seed answers and says `cluster_state:ok`. */
async function clusterAnswers(): Promise<boolean> {
  const [seed] = parseClusterNodes(SEEDS).nodes;
  const probe = new Redis({
    host: seed?.host,
    port: seed?.port,
    lazyConnect: true,
    connectTimeout: 1000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  probe.on("error", () => {});
  try {
    await probe.connect();
    return /cluster_state:ok/.test(String(await probe.call("CLUSTER", "INFO")));
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

const CLUSTER_UP = await clusterAnswers();
const SKIP_CLUSTER = !CLUSTER_UP && !REDIS_CLUSTER_NODES;

const id = randomBytes(4).toString("hex");

/** A batch's shape that both clients must answer alike. */
type Battery = { prefix: string; keys: [string, string, string] };

/** A key in the slot of `key` (a hash tag of its whole name): on a Cluster, on the same master. */
const at = (key: string, suffix: string) => `{${key}}:${suffix}`;

/** Script of the tests: SETs KEYS[1] to ARGV[1], returns it and INCR of KEYS[2]. */
const SCRIPT = {
  numberOfKeys: 2,
  lua: `-- redis-cluster-exec ${id}\nredis.call('SET', KEYS[1], ARGV[1])\nreturn {redis.call('GET', KEYS[1]), redis.call('INCR', KEYS[2])}`,
};
type Scripted = ReturnType<typeof pipelineOf> & { rcTest(k1: string, k2: string, v: string): unknown };

/** The same assertions on any client; `keys` are on three different masters of a Cluster. */
function pipelineCases(name: string, client: () => AnyRedis, battery: () => Battery) {
  describe(`pipelineOf on ${name}`, () => {
    it("runs a mixed batch with the replies in queue order (chained, call, Buffer replies, length)", async () => {
      const r = client();
      const { prefix, keys } = battery();
      const [a, b, c] = keys;
      const p = pipelineOf(r);
      p.set(a, "1").set(b, "2").set(c, "3");
      p.hset(at(a, "h"), { f: "x", g: "y" }).expire(at(a, "h"), 60);
      p.call("SET", at(b, "call"), "called");
      p.get(a).get(b).get(c);
      p.hgetall(at(a, "h"));
      p.getBuffer(c);
      p.get(at(b, "call"));
      p.incrby(at(c, "n"), 7);
      expect(p.length).toBe(13);
      const res = await p.exec();
      expect(res).toEqual([
        [null, "OK"],
        [null, "OK"],
        [null, "OK"],
        [null, 2],
        [null, 1],
        [null, "OK"],
        [null, "1"],
        [null, "2"],
        [null, "3"],
        [null, { f: "x", g: "y" }],
        [null, Buffer.from("3")],
        [null, "called"],
        [null, 7],
      ]);
      expect(await r.get(`${prefix}never`)).toBeNull();
    });

    it("gives a failing command its error in its own entry; the others succeed", async () => {
      const r = client();
      const [a, b, c] = battery().keys;
      await r.set(at(a, "str"), "a string");
      const res = await pipelineOf(r)
        .set(at(a, "ok"), "before")
        .hset(at(a, "str"), "f", "v") // WRONGTYPE, on a's node among its neighbours
        .set(at(b, "ok"), "b")
        .incr(at(a, "str")) // ERR not an integer
        .get(at(a, "ok"))
        .set(at(c, "ok"), "c")
        .exec();
      expect(res).toHaveLength(6);
      expect(res?.[1]?.[0]?.message).toMatch(/^WRONGTYPE/);
      expect(res?.[3]?.[0]?.message).toMatch(/not an integer/);
      expect(res?.[0]).toEqual([null, "OK"]);
      expect(res?.[2]).toEqual([null, "OK"]);
      expect(res?.[4]).toEqual([null, "before"]);
      expect(res?.[5]).toEqual([null, "OK"]);
    });

    it("keeps the order of commands on one slot, between commands on other nodes", async () => {
      const r = client();
      const [a, b, c] = battery().keys;
      const tagged = `{t${id}}:a`;
      const p = pipelineOf(r);
      for (let i = 0; i < 5; i++) p.incr(tagged).set(at([a, b, c][i % 3] as string, `o${i}`), String(i));
      p.get(tagged).del(tagged).get(tagged);
      const res = await p.exec();
      expect(res?.filter((_, i) => i < 10 && i % 2 === 0)).toEqual([1, 2, 3, 4, 5].map((n) => [null, n]));
      expect(res?.slice(10)).toEqual([
        [null, "5"],
        [null, 1],
        [null, null],
      ]);
    });

    it("runs a defineCommand script through it (keys of one slot a call, calls on every node)", async () => {
      const r = client();
      r.defineCommand("rcTest", SCRIPT);
      const [a, b, c] = battery().keys;
      const p = pipelineOf(r) as Scripted;
      // Each call's two keys share a's, b's or c's slot (a hash tag).
      for (const k of [a, b, c, a]) p.rcTest(at(k, "s"), at(k, "sn"), `v-${k}`);
      p.get(at(a, "s"));
      const res = await (p as ReturnType<typeof pipelineOf>).exec();
      expect(res).toEqual([
        [null, [`v-${a}`, 1]],
        [null, [`v-${b}`, 1]],
        [null, [`v-${c}`, 1]],
        [null, [`v-${a}`, 2]],
        [null, `v-${a}`],
      ]);
    });

    it("runs EVAL (its first argument is not a key) and a cross-slot MGET without failing their neighbours", async () => {
      const r = client();
      const [a, b, c] = battery().keys;
      const lua = "return redis.call('INCRBY', KEYS[1], ARGV[1])";
      const res = await pipelineOf(r)
        .set(at(a, "e"), "10")
        .eval(lua, 1, at(a, "e"), 5)
        .set(at(b, "e"), "b")
        .eval(lua, 1, at(c, "e"), 2)
        .mget(at(a, "e"), at(b, "e")) // CROSSSLOT on a cluster, two values on one node
        .get(at(a, "e"))
        .exec();
      expect(res?.[0]).toEqual([null, "OK"]);
      expect(res?.[1]).toEqual([null, 15]);
      expect(res?.[2]).toEqual([null, "OK"]);
      expect(res?.[3]).toEqual([null, 2]);
      if (isCluster(r)) expect(res?.[4]?.[0]?.message).toMatch(/^CROSSSLOT/);
      else expect(res?.[4]).toEqual([null, ["15", "b"]]);
      expect(res?.[5]).toEqual([null, "15"]);
    });

    it("answers a cross-slot MGET with its own error in a batch of plain commands", async () => {
      const r = client();
      const [a, b, c] = battery().keys;
      const res = await pipelineOf(r)
        .set(at(a, "g"), "1")
        .set(at(b, "g"), "2")
        .mget(at(a, "g"), at(b, "g"))
        .mget(at(c, "g"), at(c, "g2"))
        .get(at(b, "g"))
        .exec();
      expect(res?.[0]).toEqual([null, "OK"]);
      expect(res?.[1]).toEqual([null, "OK"]);
      if (isCluster(r)) expect(res?.[2]?.[0]?.message).toMatch(/^CROSSSLOT/);
      else expect(res?.[2]).toEqual([null, ["1", "2"]]);
      expect(res?.[3]).toEqual([null, [null, null]]);
      expect(res?.[4]).toEqual([null, "2"]);
    });

    it("resolves an empty batch to [] and runs a command plan through ioredisExec / pipelineFromCommands", async () => {
      const r = client();
      const [a, b, c] = battery().keys;
      expect(await pipelineOf(r).exec()).toEqual([]);
      const exec = ioredisExec(r);
      expect(await exec([])).toEqual([]);
      expect(
        await exec([
          ["SET", at(a, "x"), "1"],
          ["INCR", at(b, "x")],
          ["EXPIRE", at(b, "x"), "60"],
          ["GET", at(a, "x")],
          ["ZADD", at(c, "z"), "1", "m"],
        ]),
      ).toEqual(["OK", 1, 1, "1", 1]);
      await expect(exec([["HSET", at(a, "x"), "f", "v"]])).rejects.toThrow(/WRONGTYPE/);
      const p = pipelineFromCommands(r, [
        ["get", at(a, "x")],
        ["get", at(b, "x")],
      ]);
      expect(await p.exec()).toEqual([
        [null, "1"],
        [null, "1"],
      ]);
    });

    it("ioredisAtomic: a transaction on one slot runs; one across slots is refused before anything runs", async () => {
      const r = client();
      const [a, b] = battery().keys;
      const atomic = ioredisAtomic(r);
      expect(
        await atomic([
          ["SET", at(a, "m1"), "x"],
          ["INCR", at(a, "m2")],
          ["GET", at(a, "m1")],
        ]),
      ).toEqual(["OK", 1, "x"]);
      if (isCluster(r)) {
        await expect(
          atomic([
            ["SET", at(a, "m3"), "x"],
            ["SET", at(b, "m3"), "y"],
          ]),
        ).rejects.toThrow(/^CROSSSLOT/);
        expect(await r.exists(at(a, "m3"))).toBe(0);
        expect(await r.exists(at(b, "m3"))).toBe(0);
      }
    });

    it("scanAll finds every key of a pattern; unlinkByPrefix removes them and keeps what keep says", async () => {
      const r = client();
      const { prefix } = battery();
      const base = `${prefix}scan:`;
      const written = Array.from({ length: 60 }, (_, i) => `${base}${i}${i % 10 === 0 ? ":keep" : ""}`);
      // Some of one slot too, so one UNLINK there holds several keys.
      written.push(...Array.from({ length: 5 }, (_, i) => `${base}{same}:${i}`));
      await ioredisExec(r)(written.map((k) => ["SET", k, "1"]));
      const seen = new Set<string>();
      for await (const page of scanAll(r, `${base}*`, 7)) {
        expect(page.length).toBeGreaterThan(0);
        for (const k of page) seen.add(k);
      }
      expect([...seen].sort()).toEqual([...written].sort());
      if (isCluster(r)) {
        // One master's SCAN is not the cluster's: every master holds some of them.
        const masters = r.nodes("master");
        expect(masters).toHaveLength(3);
        for (const m of masters) {
          const [, found] = await m.scan("0", "MATCH", `${base}*`, "COUNT", 10_000);
          expect(found.length).toBeGreaterThan(0);
          expect(found.length).toBeLessThan(written.length);
        }
      }
      const kept = written.filter((k) => k.endsWith(":keep"));
      expect(await unlinkByPrefix(r, base, (k) => k.endsWith(":keep"))).toBe(written.length - kept.length);
      const left: string[] = [];
      for await (const page of scanAll(r, `${base}*`)) left.push(...page);
      expect(left.sort()).toEqual([...kept].sort());
      expect(await unlinkByPrefix(r, base)).toBe(kept.length);
      for await (const page of scanAll(r, `${base}*`)) expect(page).toEqual([]);
    });
  });
}

describe("pipelineOf on the single Redis (REDIS_URL)", () => {
  let redis: Redis;
  const prefix = `t:rcx:${id}:single:`;
  beforeAll(() => {
    redis = new Redis(REDIS_URL);
  });
  afterAll(async () => {
    await unlinkByPrefix(redis, prefix);
    await unlinkByPrefix(redis, `{t${id}}`);
    await unlinkByPrefix(redis, `{${prefix}`);
    redis.disconnect();
  });

  it("is ioredis's own pipeline there", () => {
    expect(isCluster(redis)).toBe(false);
    expect(pipelineOf(redis).constructor.name).toBe("Pipeline");
  });

  pipelineCases(
    "the single Redis",
    () => redis,
    () => ({ prefix, keys: [`${prefix}a`, `${prefix}b`, `${prefix}c`] }),
  );
});

/** One key under `prefix` on each master (by the slot table the Cluster learnt). */
function keysOnEveryMaster(cluster: Cluster, prefix: string): [string, string, string] {
  const byNode = new Map<string, string>();
  for (let i = 0; byNode.size < 3 && i < 10_000; i++) {
    const k = `${prefix}k${i}`;
    const node = cluster.slots[keySlot(k)]?.[0];
    if (node && !byNode.has(node)) byNode.set(node, k);
  }
  if (byNode.size < 3) throw new Error(`found keys on ${byNode.size} masters only`);
  return [...byNode.values()] as [string, string, string];
}

describe.skipIf(SKIP_CLUSTER)(
  SKIP_CLUSTER
    ? "Redis Cluster: SKIPPED, nothing answers at 127.0.0.1:7001 (start it: REDIS_CLUSTER=1 npm run stack:up -- redis-cluster redis-bridge-cluster; INDEX_REDIS_CLUSTER=<seeds> makes this a failure)"
    : `Redis Cluster at ${SEEDS}`,
  () => {
    let cluster: Cluster;
    const prefix = `t:rcx:${id}:cluster:`;
    let keys: [string, string, string];

    beforeAll(async () => {
      expect(CLUSTER_UP, `the Redis Cluster at ${SEEDS} (INDEX_REDIS_CLUSTER) does not answer cluster_state:ok`).toBe(
        true,
      );
      cluster = clusterFromNodes(SEEDS);
      cluster.on("error", () => {});
      await cluster.connect();
      keys = keysOnEveryMaster(cluster, prefix);
    });
    afterAll(async () => {
      if (!cluster) return;
      for (const p of [prefix, `{t${id}}`, `{${prefix}`]) await unlinkByPrefix(cluster, p);
      cluster.disconnect();
    });

    it("the keys of the batch are on three different masters, and ioredis's own cluster.pipeline() refuses them", async () => {
      const [a, b] = keys;
      const owners = new Set(keys.map((k) => cluster.slots[keySlot(k)]?.[0]));
      expect(owners.size).toBe(3);
      await expect(cluster.pipeline().set(a, "x").set(b, "y").exec()).rejects.toThrow(
        "All keys in the pipeline should belong to the same slots allocation group",
      );
      expect(await cluster.exists(a)).toBe(0); // nothing of it ran
      expect(await cluster.exists(b)).toBe(0);
    });

    it("sends a batch through auto-pipelining in one tick (one pipeline per node)", async () => {
      const [a, b, c] = keys;
      const p = pipelineOf(cluster).set(a, "1").set(b, "2").set(c, "3").get(a);
      const before = cluster.autoPipelineQueueSize;
      const done = p.exec();
      // Queued, not yet written: every command waits in its node's auto-pipeline for this tick's end.
      expect(cluster.autoPipelineQueueSize - before).toBe(4);
      expect(await done).toEqual([
        [null, "OK"],
        [null, "OK"],
        [null, "OK"],
        [null, "1"],
      ]);
    });

    it("ioredis's auto-pipelining alone files EVAL by its script text, and fails the neighbours of that node: pipelineOf and clusterFromNodes's client do not", async () => {
      const [a, b, c] = keys;
      // A Cluster as ioredis makes it with auto-pipelining, without clusterFromNodes's settings.
      const plain = new Cluster(parseClusterNodes(SEEDS).nodes, { enableAutoPipelining: true });
      plain.on("error", () => {});
      const owner = (k: string) => cluster.slots[keySlot(k)]?.[0];
      // A script text whose slot is on another master than its key, and a key on the text's master.
      let lua = "";
      let key = "";
      let neighbour = "";
      for (let i = 0; !lua; i++) {
        const text = `return redis.call('GET', KEYS[1]) -- ${i}`;
        const textNode = owner(text);
        const k = keys.find((x) => owner(x) !== textNode);
        const n = keys.find((x) => owner(x) === textNode);
        if (k && n) [lua, key, neighbour] = [text, k, n];
      }
      await cluster.set(key, "v");
      try {
        await plain.ping(); // connected: the slot table is known
        const raw = await Promise.allSettled([plain.eval(lua, 1, key), plain.set(at(neighbour, "nb"), "x")]);
        expect(raw.map((s) => s.status)).toEqual(["rejected", "rejected"]);
        expect(String((raw[1] as PromiseRejectedResult).reason)).toMatch(/same slots allocation group/);
      } finally {
        plain.disconnect();
      }
      // clusterFromNodes keeps EVAL out of auto-pipelining: the same two calls succeed.
      expect(await Promise.all([cluster.eval(lua, 1, key), cluster.set(at(neighbour, "nb"), "x")])).toEqual([
        "v",
        "OK",
      ]);
      const res = await pipelineOf(cluster).eval(lua, 1, key).set(at(neighbour, "nb"), "x").get(a).get(b).get(c).exec();
      expect(res?.slice(0, 2)).toEqual([
        [null, "v"],
        [null, "OK"],
      ]);
      expect(cluster.options.enableAutoPipelining).toBe(true); // switched back after the batch
    });

    it("clusterReady resolves again right after it first did (a fresh client), so a scan of every master runs at once", async () => {
      // ioredis's delayUntilReady answered the first call while the status was still "connect";
      // a second call (scanAll's) then waited for a "ready" already missed: the bench's cluster
      // bootstrap hung there.
      const fresh = clusterFromNodes(SEEDS, { lazyConnect: false });
      fresh.on("error", () => {});
      try {
        await clusterReady(fresh);
        await clusterReady(fresh);
        let pages = 0;
        for await (const _ of scanAll(fresh, `${prefix}nothing-here:*`)) pages++;
        expect(pages).toBe(0);
        expect(fresh.status).toBe("ready");
      } finally {
        fresh.disconnect();
      }
    }, 10_000);

    it("refuses MULTI inside a cluster pipeline (use cluster.multi / ioredisAtomic)", () => {
      expect(() => (pipelineOf(cluster) as unknown as { multi(): unknown }).multi()).toThrow(/cluster\.multi/);
    });

    pipelineCases(
      "a Cluster (keys on three masters)",
      () => cluster,
      () => ({ prefix, keys }),
    );
  },
);

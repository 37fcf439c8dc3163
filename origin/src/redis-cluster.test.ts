/**
 * The parts of redis-cluster.ts that need no Redis: slots, seed lists, REDIS_CLUSTER_NODES in the
 * config and which client `redis()` builds (nothing connects: both are lazy). The behaviour
 * on a real cluster is pinned by test/integration/redis-cluster-exec.test.ts.
 */
import { Cluster, Redis } from "ioredis";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { clientFactory } from "./clients.ts";
import { readConfig } from "./config.ts";
import { clusterFromNodes, groupBySlot, isCluster, keySlot, parseClusterNodes } from "./redis-cluster.ts";

describe("keySlot", () => {
  it("is Redis Cluster's CRC16 slot, hashing only a non-empty hash tag", () => {
    expect(keySlot("123456789")).toBe(0x31c3 % 16384); // the CRC16/XMODEM check value
    expect(keySlot("foo")).toBe(12182); // CLUSTER KEYSLOT foo
    expect(keySlot("x:{42}:a")).toBe(keySlot("42"));
    expect(keySlot("y:{42}")).toBe(keySlot("42"));
    expect(keySlot("a{}b")).toBe(keySlot("a{}b")); // empty tag: the whole name
    expect(keySlot("a{}{b}")).not.toBe(keySlot("b"));
    expect(keySlot(Buffer.from("foo"))).toBe(12182);
  });

  it("groupBySlot keeps each slot's keys in order", () => {
    expect(groupBySlot(["{a}1", "{b}1", "{a}2", "{b}2"])).toEqual([
      ["{a}1", "{a}2"],
      ["{b}1", "{b}2"],
    ]);
  });
});

describe("parseClusterNodes / clusterFromNodes", () => {
  it("reads host:port lists and redis:// URLs, the first credentials for every node", () => {
    expect(parseClusterNodes(" 127.0.0.1:7001, 127.0.0.1:7002 ,")).toEqual({
      nodes: [
        { host: "127.0.0.1", port: 7001 },
        { host: "127.0.0.1", port: 7002 },
      ],
      tls: false,
    });
    expect(parseClusterNodes("redis://u%40x:p%3Aw@h1:7001,redis://h2,[::1]:7003")).toEqual({
      nodes: [
        { host: "h1", port: 7001 },
        { host: "h2", port: 6379 },
        { host: "::1", port: 7003 },
      ],
      username: "u@x",
      password: "p:w",
      tls: false,
    });
    expect(parseClusterNodes("rediss://h:7001").tls).toBe(true);
  });

  it("refuses an empty list and bad entries", () => {
    for (const bad of ["", " , ", "h", "h:0", "h:99999", ":7001", "http://h:1", "h:x"]) {
      expect(() => parseClusterNodes(bad), bad).toThrow();
    }
  });

  it("builds a lazy Cluster with auto-pipelining, master reads and one retry (none when blocking waits)", () => {
    const c = clusterFromNodes("redis://u:p@127.0.0.1:7001,127.0.0.1:7002");
    expect(c.status).toBe("wait");
    expect(isCluster(c)).toBe(true);
    expect(c.options).toMatchObject({ lazyConnect: true, enableAutoPipelining: true, scaleReads: "master" });
    expect(c.options.redisOptions).toMatchObject({ maxRetriesPerRequest: 1, username: "u", password: "p" });
    expect(c.options.autoPipeliningIgnoredCommands).toEqual(expect.arrayContaining(["eval", "evalsha", "xreadgroup"]));
    expect(
      clusterFromNodes("127.0.0.1:7001", { blocking: true }).options.redisOptions?.maxRetriesPerRequest,
    ).toBeNull();
    expect(clusterFromNodes("127.0.0.1:7001", { scaleReads: "all" }).options.scaleReads).toBe("all");
    expect(isCluster(new Redis({ lazyConnect: true }))).toBe(false);
  });
});

describe("REDIS_CLUSTER_NODES", () => {
  const log = pino({ level: "silent" });

  it("is empty by default, and redis() is then the standalone REDIS_URL", () => {
    const config = readConfig({});
    expect(config.redisClusterNodes).toBe("");
    const r = clientFactory(config, log).redis();
    expect(r).toBeInstanceOf(Redis);
    expect(r.status).toBe("wait");
  });

  it("set, redis() is a lazy Cluster on it, the blocking one too", () => {
    const config = readConfig({ REDIS_CLUSTER_NODES: "127.0.0.1:7001,127.0.0.1:7002" });
    expect(config.redisClusterNodes).toBe("127.0.0.1:7001,127.0.0.1:7002");
    const clients = clientFactory(config, log);
    const r = clients.redis({ blocking: true });
    expect(r).toBeInstanceOf(Cluster);
    expect(r.status).toBe("wait");
    expect((r as Cluster).options.redisOptions?.maxRetriesPerRequest).toBeNull();
    const plain = clients.redis();
    expect(plain).toBeInstanceOf(Cluster);
    expect((plain as Cluster).options.redisOptions?.maxRetriesPerRequest).toBe(1);
  });

  it("refuses a value that is not a seed list", () => {
    expect(() => readConfig({ REDIS_CLUSTER_NODES: "not a node" })).toThrow(/REDIS_CLUSTER_NODES: must be host:port/);
  });
});

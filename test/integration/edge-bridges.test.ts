import { randomBytes, randomUUID } from "node:crypto";
import { type ClickHouseClient, createClient } from "@clickhouse/client";
import { Redis as IORedis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BRIDGE_TOKEN, BRIDGE_URL, CH_URL, REDIS_URL } from "../../scripts/lib/world.ts";
import { startWranglerDev, type WranglerDev } from "../../scripts/lib/wrangler.ts";

describe("a worker under wrangler dev reads and writes through both HTTP front doors", () => {
  let worker: WranglerDev;
  let redis: IORedis;
  let ch: ClickHouseClient;
  const prefix = `t:edge-bridges:${randomBytes(4).toString("hex")}`;
  const table = `edge_bridges_${randomBytes(4).toString("hex")}`;

  beforeAll(async () => {
    for (const [name, url] of [
      ["Redis REST bridge", `${BRIDGE_URL}/healthz`],
      ["ClickHouse gateway", `${CH_URL}/ping`],
    ] as const) {
      const ok = await fetch(url).then(
        (r) => r.ok,
        () => false,
      );
      if (!ok) throw new Error(`${name} is not answering at ${url}; run \`npm run stack:up\` first`);
    }
    redis = new IORedis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    ch = createClient({ url: CH_URL });
    await ch.command({ query: `CREATE TABLE ${table} (id UUID, note String, n UInt64) ENGINE = MergeTree ORDER BY n` });
    worker = await startWranglerDev({
      config: "test/integration/fixtures/bridges-worker/wrangler.toml",
      vars: {
        UPSTASH_REDIS_REST_URL: BRIDGE_URL,
        UPSTASH_REDIS_REST_TOKEN: BRIDGE_TOKEN,
        CLICKHOUSE_URL: CH_URL,
        CLICKHOUSE_DATABASE: "default",
      },
    });
  }, 120_000);

  afterAll(async () => {
    await worker?.stop();
    if (redis) {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length) await redis.del(...keys);
      redis.disconnect();
    }
    await ch?.command({ query: `DROP TABLE IF EXISTS ${table}` });
    await ch?.close();
  });

  it("writes a unicode value through the bridge that Redis then holds byte for byte", async () => {
    const value = "héllo — 世界 🚀 'quotes' \"and\" \\ back\nslash";
    const res = await fetch(`${worker.url}/redis/${encodeURIComponent(`${prefix}:greeting`)}`, {
      method: "PUT",
      body: value,
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ set: "OK", len: Buffer.byteLength(value) });
    expect(await redis.get(`${prefix}:greeting`)).toBe(value);
  });

  it("reads a value Redis was given directly, and increments a counter", async () => {
    await redis.set(`${prefix}:direct`, "from-tcp");
    const first = await (await fetch(`${worker.url}/redis/${encodeURIComponent(`${prefix}:direct`)}`)).json();
    const second = await (await fetch(`${worker.url}/redis/${encodeURIComponent(`${prefix}:direct`)}`)).json();
    expect(first).toEqual({ value: "from-tcp", counter: 1 });
    expect(second).toEqual({ value: "from-tcp", counter: 2 });
    expect(await redis.get(`${prefix}:direct:reads`)).toBe("2");
  });

  it("inserts rows through the gateway and reads them back with a bound parameter", async () => {
    const rows = [
      { id: randomUUID(), note: 'it\'s a "test"\twith\\escapes\nand 🚀', n: 1 },
      { id: randomUUID(), note: "second", n: 2 },
      { id: randomUUID(), note: "third", n: 3 },
    ];
    const ins = await fetch(`${worker.url}/ch/${table}`, { method: "POST", body: JSON.stringify(rows) });
    expect(ins.status).toBe(200);
    // Seen by a Node client talking to the same gateway:
    const direct = await ch.query({ query: `SELECT count() AS c FROM ${table}`, format: "JSONEachRow" });
    // 64-bit integers come as JSON numbers from a 25.8+ server (and the gateway), as text before.
    expect((await direct.json<{ c: unknown }>()).map((r) => Number(r.c))).toEqual([3]);
    const res = await fetch(`${worker.url}/ch/${table}?min=2`);
    const body = (await res.json()) as { rows: unknown[] };
    expect((body.rows as { n: unknown }[]).map((r) => ({ ...r, n: Number(r.n) }))).toEqual([
      { id: rows[1]?.id, note: "second", n: 2 },
      { id: rows[2]?.id, note: "third", n: 3 },
    ]);
    const all = await (await fetch(`${worker.url}/ch/${table}?min=0`)).json();
    expect((all as { rows: { note: string }[] }).rows[0]?.note).toBe(rows[0]?.note);
  });
});

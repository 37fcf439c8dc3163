/**
 * The origin as a real process (tsx origin/main.ts) on the real stack: the relay killed
 * mid-batch and restarted, Kafka stopped and restarted, SIGTERM under load, and two origins
 * side by side running each generator once per interval. Events flow edge stream → relay →
 * Kafka → the harness's sink → ClickHouse, where exactly-once is checked.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EVENT_STREAM_FIELD } from "#core/events/schema.ts";
import { waitFor } from "../../scripts/lib/wait.ts";
import { type CdcHarness, startCdcHarness } from "./support/cdc.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

interface OriginProc {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

describe("origin process on the real stack", () => {
  let h: CdcHarness;
  let redis: Redis;
  const stream = `t:events:${randomBytes(4).toString("hex")}`;

  function startOrigin(env: Record<string, string>): OriginProc {
    // node --import tsx: signals reach the origin itself, not a wrapper. (Production runs the
    // bundle of `npm run build:origin`; origin-production-install.test.ts covers that.)
    const child = spawn(resolve(ROOT, "node_modules/.bin/node"), ["--import", "tsx", "origin/main.ts"], {
      cwd: ROOT,
      env: {
        ...process.env,
        PATH: `${resolve(ROOT, "node_modules/.bin")}:${process.env.PATH}`,
        DATABASE_URL: h.config.databaseUrl,
        CLICKHOUSE_DATABASE: h.config.clickhouse.database,
        KAFKA_TOPIC_NAMESPACE: h.config.kafka.topicNamespace,
        RELAY_STREAM: stream,
        INDEX_NAMESPACE: `t${h.id}:`,
        RELAY_CLAIM_IDLE_MS: "1000",
        RELAY_BATCH_SIZE: "200",
        LOG_LEVEL: "info",
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout?.on("data", (d) => (out += String(d)));
    child.stderr?.on("data", (d) => (out += String(d)));
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    return { child, output: () => out, exited };
  }

  const addEvents = async (n: number) => {
    const ids: string[] = [];
    for (let i = 0; i < n; i += 1000) {
      const p = redis.pipeline();
      for (let k = i; k < Math.min(n, i + 1000); k++) {
        const e = {
          event_id: randomUUID(),
          user_id: randomUUID(),
          post_id: randomUUID(),
          type: "impression",
          client_ts: Date.now(),
          received_at: Date.now(),
          dwell_ms: 0,
        };
        ids.push(e.event_id);
        p.xadd(stream, "*", EVENT_STREAM_FIELD, JSON.stringify(e));
      }
      await p.exec();
    }
    return ids;
  };
  const chStats = async () => {
    const rs = await h.ch.query({
      query: "SELECT count() AS rows, uniqExact(event_id) AS ids FROM events_raw",
      format: "JSONEachRow",
    });
    const imp = await h.ch.query({ query: "SELECT sum(impressions) AS n FROM post_metrics_1h", format: "JSONEachRow" });
    const pending = await h.ch.query({ query: "SELECT count() AS n FROM events_pending FINAL", format: "JSONEachRow" });
    const r = (await rs.json<{ rows: string; ids: string }>())[0];
    return {
      rows: Number(r?.rows),
      ids: Number(r?.ids),
      impressions: Number((await imp.json<{ n: string }>())[0]?.n ?? 0),
      pending: Number((await pending.json<{ n: string }>())[0]?.n ?? 0),
    };
  };

  beforeAll(async () => {
    h = await startCdcHarness();
    redis = new Redis(REDIS_URL);
  }, 180_000);

  afterAll(async () => {
    await redis?.del(
      stream,
      "lock:job:hot-posts",
      "lock:job:suggested-users",
      "lock:job:fallback-snapshots",
      "lock:job:index-affinity",
    );
    const left = h && redis ? await redis.keys(`t${h.id}:*`) : [];
    if (left.length) await redis?.del(...left);
    redis?.disconnect();
    await h?.teardown();
  }, 60_000);

  it("relay killed mid-batch and restarted: every event reaches ClickHouse exactly once", async () => {
    const before = await chStats();
    await addEvents(20_000);
    const first = startOrigin({ ORIGIN_PARTS: "relay" });
    await waitFor(async () => (await redis.xlen(stream)) < 15_000, 60_000, "the relay to start moving events");
    first.child.kill("SIGKILL"); // mid-batch: produced but not acknowledged entries stay pending
    await first.exited;
    const second = startOrigin({ ORIGIN_PARTS: "relay" });
    try {
      await waitFor(async () => (await chStats()).ids - before.ids === 20_000, 90_000, "all events in ClickHouse");
      await new Promise((r) => setTimeout(r, 1000)); // anything doubled would show up by now
      const after = await chStats();
      expect(after.rows - before.rows).toBe(20_000);
      // These events name posts that do not exist: none counts, each waits once for its post.
      expect(after.impressions - before.impressions).toBe(0);
      expect(after.pending - before.pending).toBe(20_000);
      expect(await redis.xlen(stream)).toBe(0);
    } finally {
      second.child.kill("SIGTERM");
      await second.exited;
    }
  }, 180_000);

  it("with Kafka stopped events accumulate in the stream; after it is back all of them arrive", async () => {
    const before = await chStats();
    const origin = startOrigin({ ORIGIN_PARTS: "relay" });
    const kafkaPid = Number(readFileSync(resolve(ROOT, ".stack/run/kafka.pid"), "utf8").trim());
    try {
      await waitFor(async () => origin.output().includes('"part":"relay"'), 30_000, "the relay to start");
      process.kill(kafkaPid, "SIGTERM");
      await waitFor(async () => !alive(kafkaPid), 30_000, "Kafka to stop");
      await addEvents(500);
      await new Promise((r) => setTimeout(r, 3000));
      expect(await redis.xlen(stream)).toBe(500); // nothing acknowledged while Kafka is down
      const up = spawnSync(resolve(ROOT, "node_modules/.bin/tsx"), ["scripts/local/stack/cli.ts", "up"], {
        cwd: ROOT,
        encoding: "utf8",
        timeout: 180_000,
      });
      expect(up.status, up.stdout + up.stderr).toBe(0);
      await waitFor(async () => (await chStats()).ids - before.ids === 500, 120_000, "the held events in ClickHouse");
      expect((await chStats()).rows - before.rows).toBe(500);
    } finally {
      origin.child.kill("SIGTERM");
      await origin.exited;
    }
  }, 300_000);

  it("SIGTERM under load acknowledges no entry that is not in Kafka, and exits cleanly", async () => {
    const before = await chStats();
    const ids = await addEvents(10_000);
    const origin = startOrigin({ ORIGIN_PARTS: "relay" });
    await waitFor(async () => (await redis.xlen(stream)) < 8_000, 60_000, "the relay to be busy");
    origin.child.kill("SIGTERM");
    expect(await origin.exited).toBe(0);
    const left = await redis.xlen(stream);
    const gone = 10_000 - left; // acknowledged and deleted by the relay
    // Everything it acknowledged was in Kafka, so the sink brings exactly that much (or more,
    // if a produced batch was cut before its acknowledgement) to ClickHouse.
    await waitFor(async () => (await chStats()).ids - before.ids >= gone, 60_000, "acknowledged events in ClickHouse");
    const restart = startOrigin({ ORIGIN_PARTS: "relay" });
    try {
      await waitFor(async () => (await chStats()).ids - before.ids === ids.length, 90_000, "the rest after a restart");
      expect((await chStats()).rows - before.rows).toBe(ids.length);
    } finally {
      restart.child.kill("SIGTERM");
      await restart.exited;
    }
  }, 240_000);

  it("two origin processes side by side run each generator once per interval", async () => {
    const env = {
      ORIGIN_PARTS: "jobs",
      HOT_POSTS_INTERVAL_MS: "2000",
      SUGGEST_INTERVAL_MS: "2000",
      FALLBACK_SNAPSHOT_INTERVAL_MS: "2000",
      // Short runs, so that each fits in its 2 s interval and the count is about time / interval.
      SUGGEST_MAX_USERS: "5",
      FALLBACK_SNAPSHOT_USERS: "5",
    };
    await redis.del("lock:job:hot-posts", "lock:job:suggested-users", "lock:job:fallback-snapshots");
    const a = startOrigin(env);
    const b = startOrigin(env);
    await new Promise((r) => setTimeout(r, 11_000));
    a.child.kill("SIGTERM");
    b.child.kill("SIGTERM");
    const codes = await Promise.race([
      Promise.all([a.exited, b.exited]),
      new Promise((r) => setTimeout(() => r("did not exit within 10 s of SIGTERM"), 10_000)),
    ]);
    expect(codes).toEqual([0, 0]);
    const runs = (out: string) =>
      out
        .split("\n")
        .filter((l) => l.includes('"msg":"job run"') || l.includes('"msg":"job failed"'))
        .map((l) => JSON.parse(l) as { job: string; time: number });
    const all = [...runs(a.output()), ...runs(b.output())];
    for (const job of ["hot-posts", "suggested-users", "fallback-snapshots"]) {
      const times = all
        .filter((r) => r.job === job)
        .map((r) => r.time)
        .sort((x, y) => x - y);
      expect(times.length, `${job} runs`).toBeGreaterThanOrEqual(3);
      expect(times.length, `${job} runs`).toBeLessThanOrEqual(7);
      for (let i = 1; i < times.length; i++)
        expect((times[i] as number) - (times[i - 1] as number)).toBeGreaterThanOrEqual(1700);
    }
  }, 60_000);
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

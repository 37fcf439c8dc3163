/**
 * Latency of the Redis REST bridge against the direct TCP path, per request: GET and SET of a
 * small value, and a 10-command pipeline. The bridge runs in this process on a free port (the same
 * event loop also drives the client, so figures include both sides' JS work, as in an edge worker
 * calling a nearby bridge). Writes docs/bench-results/redis-bridge.json.
 *
 *   tsx scripts/bench/redis-bridge.ts [iterations]
 */
import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { pathToFileURL } from "node:url";
import { Redis } from "@upstash/redis";
import { Redis as IORedis } from "ioredis";
import { pino } from "pino";
import { argsOrExit, intArg, parseCli } from "../lib/cli.ts";
import { createRedisBridge } from "../local/redis-rest-bridge/app.ts";
import { readBridgeConfig } from "../local/redis-rest-bridge/config.ts";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const RESULTS_FILE = "docs/bench-results/redis-bridge.json";
/** Whole run stays well under a minute even with slow machines. */
const TIME_BUDGET_MS = 40_000;

interface Stats {
  p50: number;
  p95: number;
  mean: number;
  n: number;
}

function stats(samplesMs: number[]): Stats {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const at = (q: number) => (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0) * 1000;
  const mean = (sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length)) * 1000;
  return { p50: at(0.5), p95: at(0.95), mean, n: sorted.length };
}

async function measure(iterations: number, deadline: number, op: () => Promise<unknown>): Promise<Stats> {
  const warmup = Math.max(20, Math.floor(iterations / 10));
  for (let i = 0; i < warmup; i++) await op();
  const samples: number[] = [];
  for (let i = 0; i < iterations && Date.now() < deadline; i++) {
    const t0 = performance.now();
    await op();
    samples.push(performance.now() - t0);
  }
  return stats(samples);
}

export async function benchRedisBridge(opts: { iterations?: number } = {}): Promise<Record<string, number | string>> {
  const iterations = opts.iterations ?? 2000;
  const token = randomBytes(16).toString("hex");
  const config = readBridgeConfig({
    REDIS_URL,
    REDIS_BRIDGE_PORT: "0",
    REDIS_BRIDGE_TOKEN: token,
    LOG_LEVEL: "silent",
  });
  const bridge = createRedisBridge(config, pino({ level: "silent" }));
  const { url } = await bridge.start();
  const direct = new IORedis(REDIS_URL, { maxRetriesPerRequest: 1 });
  // One HTTP request per call, so the figure is the per-request cost of the bridge.
  const viaBridge = new Redis({ url, token, enableAutoPipelining: false });
  const prefix = `bench:redis-bridge:${randomBytes(4).toString("hex")}`;
  const key = `${prefix}:k`;
  const value = "v".repeat(64);
  const deadline = Date.now() + TIME_BUDGET_MS;
  const perCase = (d: number) => Date.now() + (d - Date.now()) / 3;

  try {
    await direct.set(key, value);
    const cases: Array<[string, () => Promise<unknown>, () => Promise<unknown>]> = [
      ["set", () => viaBridge.set(key, value), () => direct.set(key, value)],
      ["get", () => viaBridge.get(key), () => direct.get(key)],
      [
        "pipeline10",
        () => {
          const p = viaBridge.pipeline();
          for (let i = 0; i < 5; i++) p.set(`${key}:${i}`, value).get(`${key}:${i}`);
          return p.exec();
        },
        () => {
          const p = direct.pipeline();
          for (let i = 0; i < 5; i++) p.set(`${key}:${i}`, value).get(`${key}:${i}`);
          return p.exec();
        },
      ],
    ];
    const out: Record<string, number | string> = {
      iterations,
      value_bytes: value.length,
      node: process.version,
      measured_at: new Date().toISOString(),
    };
    const rows: string[] = [];
    for (const [name, bridged, tcp] of cases) {
      const caseDeadline = perCase(deadline);
      const b = await measure(iterations, (caseDeadline + Date.now()) / 2, bridged);
      const d = await measure(iterations, caseDeadline, tcp);
      const round = (x: number) => Math.round(x * 10) / 10;
      out[`${name}_bridge_p50_us`] = round(b.p50);
      out[`${name}_bridge_p95_us`] = round(b.p95);
      out[`${name}_bridge_mean_us`] = round(b.mean);
      out[`${name}_direct_p50_us`] = round(d.p50);
      out[`${name}_direct_p95_us`] = round(d.p95);
      out[`${name}_direct_mean_us`] = round(d.mean);
      out[`${name}_ratio_p50`] = round(b.p50 / d.p50);
      out[`${name}_overhead_p50_us`] = round(b.p50 - d.p50);
      out[`${name}_samples`] = Math.min(b.n, d.n);
      rows.push(
        [
          name.padEnd(11),
          `${round(b.p50)}`.padStart(9),
          `${round(b.p95)}`.padStart(9),
          `${round(b.mean)}`.padStart(9),
          `${round(d.p50)}`.padStart(9),
          `${round(d.p95)}`.padStart(9),
          `${round(d.mean)}`.padStart(9),
          `${round(b.p50 / d.p50)}x`.padStart(7),
          `${round(b.p50 - d.p50)}`.padStart(10),
        ].join(" "),
      );
    }
    console.log(
      ["case        bridge p50   p95 (µs)      mean direct p50   p95 (µs)      mean   ratio  +µs (p50)", ...rows].join(
        "\n",
      ),
    );
    await mkdir("docs/bench-results", { recursive: true });
    await writeFile(RESULTS_FILE, `${JSON.stringify(out, null, 2)}\n`);
    console.log(`wrote ${RESULTS_FILE}`);
    return out;
  } finally {
    const keys = await direct.keys(`${prefix}*`);
    if (keys.length > 0) await direct.del(...keys);
    direct.disconnect();
    await bridge.stop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const usage = "tsx scripts/bench/redis-bridge.ts [iterations]";
  const iterations = argsOrExit("[bench]", () => {
    const raw = parseCli(usage, {}, { positionals: 1 }).positionals[0];
    return raw === undefined ? undefined : intArg(usage, "iterations", raw, 0, 1);
  });
  benchRedisBridge(iterations ? { iterations } : {}).then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}

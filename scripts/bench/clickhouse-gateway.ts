/**
 * What the HTTP gateway costs over calling chDB in-process: per-request latency of `SELECT 1` and
 * of a parameterized point query on a small MergeTree table, through @clickhouse/client-web →
 * gateway → chDB, against the same SQL on a chDB Session (async API) in this process, on the same
 * data directory. Prints a table and writes docs/bench-results/clickhouse-gateway.json.
 *
 *   npx tsx scripts/bench/clickhouse-gateway.ts [iterations]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { createClient } from "@clickhouse/client-web";
import { Session } from "chdb";
import { pino } from "pino";
import { argsOrExit, intArg, parseCli } from "../lib/cli.ts";
import { createClickHouseGateway } from "../local/clickhouse-http-gateway/app.ts";
import { readGatewayConfig } from "../local/clickhouse-http-gateway/config.ts";
import { connectionArgs } from "../local/clickhouse-http-gateway/settings.ts";

const TABLE = "bench_points";
const ROWS = 10_000;
const POINT_SQL = `SELECT id, name FROM ${TABLE} WHERE id = {id:UInt64}`;

interface Stats {
  p50: number;
  p95: number;
  mean: number;
}

function stats(samplesMs: number[]): Stats {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
  return { p50: at(0.5), p95: at(0.95), mean: sorted.reduce((a, b) => a + b, 0) / sorted.length };
}

async function measure(iterations: number, warmup: number, fn: (i: number) => Promise<void>): Promise<Stats> {
  for (let i = 0; i < warmup; i++) await fn(i);
  const samples: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const t0 = performance.now();
    await fn(i);
    samples.push(performance.now() - t0);
  }
  return stats(samples);
}

export async function benchClickHouseGateway(opts?: { iterations?: number }): Promise<Record<string, number | string>> {
  const iterations = opts?.iterations ?? 500;
  const warmup = Math.min(100, Math.max(10, Math.floor(iterations / 5)));
  const dataDir = mkdtempSync(join(tmpdir(), "ch-gateway-bench-"));
  const config = readGatewayConfig({
    CH_GATEWAY_PORT: "0",
    CH_GATEWAY_DATA_DIR: dataDir,
    LOG_LEVEL: "silent",
  });
  const gateway = createClickHouseGateway(config, pino({ level: "silent" }));
  const { url } = await gateway.start();
  const client = createClient({ url });
  // Same data directory and engine defaults as the gateway's sessions, so only HTTP differs.
  const direct = new Session(config.dataDir, { connectionArgs: connectionArgs(config.timeoutMs) });
  try {
    await client.command({
      query: `CREATE TABLE ${TABLE} (id UInt64, name String) ENGINE = MergeTree ORDER BY id`,
    });
    await client.insert({
      table: TABLE,
      values: Array.from({ length: ROWS }, (_, i) => ({ id: i, name: `name-${i}` })),
      format: "JSONEachRow",
    });

    const cases: Array<[string, (i: number) => Promise<void>, (i: number) => Promise<void>]> = [
      [
        "select1",
        async () => {
          const rs = await client.query({ query: "SELECT 1 AS one", format: "JSONEachRow" });
          await rs.json();
        },
        async () => {
          const r = await direct.queryAsync("SELECT 1 AS one", { format: "JSONEachRow" });
          r.text();
        },
      ],
      [
        "point",
        async (i) => {
          const rs = await client.query({
            query: POINT_SQL,
            query_params: { id: (i * 7919) % ROWS },
            format: "JSONEachRow",
          });
          await rs.json();
        },
        async (i) => {
          const r = await direct.queryBindAsync(POINT_SQL, { id: (i * 7919) % ROWS }, { format: "JSONEachRow" });
          r.text();
        },
      ],
    ];

    const result: Record<string, number | string> = { iterations, rows: ROWS, transport: "client-web over HTTP" };
    const lines: string[] = [];
    lines.push("case     path     p50 ms   p95 ms   mean ms   ratio(p50)  overhead p50 µs");
    for (const [name, viaGateway, viaDirect] of cases) {
      const g = await measure(iterations, warmup, viaGateway);
      const d = await measure(iterations, warmup, viaDirect);
      const ratio = g.p50 / d.p50;
      const overheadUs = (g.p50 - d.p50) * 1000;
      for (const [path, s] of [
        ["gateway", g],
        ["direct", d],
      ] as const) {
        result[`${name}_${path}_p50_ms`] = round(s.p50);
        result[`${name}_${path}_p95_ms`] = round(s.p95);
        result[`${name}_${path}_mean_ms`] = round(s.mean);
      }
      result[`${name}_ratio_p50`] = round(ratio);
      result[`${name}_overhead_p50_us`] = Math.round(overheadUs);
      result[`${name}_overhead_mean_us`] = Math.round((g.mean - d.mean) * 1000);
      lines.push(
        `${name.padEnd(8)} gateway  ${fmt(g.p50)}  ${fmt(g.p95)}  ${fmt(g.mean)}   ${round(ratio).toFixed(2).padStart(8)}  ${String(Math.round(overheadUs)).padStart(12)}`,
      );
      lines.push(`${"".padEnd(8)} direct   ${fmt(d.p50)}  ${fmt(d.p95)}  ${fmt(d.mean)}`);
    }
    console.log(lines.join("\n"));
    const outDir = resolve("docs/bench-results");
    mkdirSync(outDir, { recursive: true });
    writeFileSync(join(outDir, "clickhouse-gateway.json"), `${JSON.stringify(result, null, 2)}\n`);
    return result;
  } finally {
    direct.close();
    await client.close();
    await gateway.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

function fmt(n: number): string {
  return n.toFixed(3).padStart(7);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const usage = "tsx scripts/bench/clickhouse-gateway.ts [iterations]";
  const iterations = argsOrExit("[bench]", () =>
    intArg(usage, "iterations", parseCli(usage, {}, { positionals: 1 }).positionals[0], 500, 1),
  );
  await benchClickHouseGateway({ iterations });
}

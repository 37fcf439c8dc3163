/**
 * `npm run bench:bridges`: per-request overhead of the two local HTTP front doors against the
 * direct path (Redis over TCP; chDB in-process), one after the other in the same run, printed
 * and written to docs/bench-results/bridges.json with the machine and date.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { cpus, totalmem } from "node:os";
import { argsOrExit, intArg, parseCli } from "../lib/cli.ts";
import { benchClickHouseGateway } from "./clickhouse-gateway.ts";
import { benchRedisBridge } from "./redis-bridge.ts";

const USAGE = "npm run bench:bridges -- [iterations]";
const iterations = argsOrExit("[bench:bridges]", () =>
  intArg(USAGE, "iterations", parseCli(USAGE, {}, { positionals: 1 }).positionals[0], 2000, 1),
);
const redis = await benchRedisBridge({ iterations });
const clickhouse = await benchClickHouseGateway({ iterations });
const report = {
  date: new Date().toISOString(),
  machine: {
    cpus: cpus().length,
    model: cpus()[0]?.model,
    memGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
  },
  iterations,
  redis,
  clickhouse,
};
await mkdir("docs/bench-results", { recursive: true });
await writeFile("docs/bench-results/bridges.json", `${JSON.stringify(report, null, 2)}\n`);
console.log("\nwritten docs/bench-results/bridges.json");

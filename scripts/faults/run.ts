/**
 * `npm run faults -- [--only relay,sink,…] [--settle-ms N] [--out FILE]`: the fault matrix
 * (scripts/faults/matrix.ts) on a stack instance of its own; by default every component in turn
 * (relay, sink, kafka, connect, redis-bridge, ch-gateway, origin, redis), then the consumer-group
 * rows (updater-join, updater-mid-batch, sink-mid-batch: kill.ts). Prints the table and
 * writes it to scripts/faults/results.md (+ .json; --out elsewhere). Exit 1 when an accepted event is lost or
 * duplicated or PostgreSQL and ClickHouse differ.
 */
import { resolve } from "node:path";
import { argsOrExit, intArg, parseCli, UsageError } from "../lib/cli.ts";
import { ALL_FAULTS, type Fault, runFaultMatrix } from "./matrix.ts";

const USAGE = `npm run faults -- [--only ${ALL_FAULTS.join(",")}] [--settle-ms N] [--out FILE]`;
const args = argsOrExit("[faults]", () => {
  const { values } = parseCli(USAGE, {
    only: { type: "string" },
    "settle-ms": { type: "string" },
    out: { type: "string" },
  });
  const faults = (values.only ?? ALL_FAULTS.join(",")).split(",").map((s) => s.trim()) as Fault[];
  for (const f of faults) {
    if (!ALL_FAULTS.includes(f)) throw new UsageError(`unknown component '${f}'\nusage: ${USAGE}`);
  }
  return {
    faults,
    settleMs: intArg(USAGE, "--settle-ms", values["settle-ms"], 6000, 0),
    out: resolve(values.out ?? "scripts/faults/results.md"),
  };
});

const result = await runFaultMatrix({ faults: args.faults, settleMs: args.settleMs, outFile: args.out });
console.log(`\n${result.table}\n`);
console.log(`[faults] table written to ${args.out}; total ${(result.totalMs / 1000).toFixed(0)} s`);
const bad =
  result.rows.some((r) => r.lost > 0 || r.duplicated > 0) ||
  result.consistency.differences !== 0 ||
  result.index.differences !== 0 ||
  result.derived.violations !== 0;
process.exit(bad ? 1 : 0);

/**
 * The fault matrix: while a steady stream of events (POST /api/v1/events through the real
 * worker) and writes (the origin write API, through the worker) is accepted, SIGKILL and
 * restart, one at a time, the components named in `faults`; afterwards check that every event
 * answered 202 is in ClickHouse exactly once, that PostgreSQL ≡ ClickHouse, that the serving
 * index ≡ ClickHouse and that ClickHouse's derived data keeps the counting rules.
 *
 * Four steps, one file each: provision (provision.ts: a stack instance, world, origin processes
 * and `wrangler dev` of the run's own, never the shared stack's), load (load.ts), kill
 * (kill.ts: one fault, restarted the stack's way) and verify (verify.ts: drain and the checks);
 * report.ts turns them into results.md and results.json.
 */
import { resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { startRevision } from "../lib/revision.ts";
import { type KillTiming, killAndRecover } from "./kill.ts";
import { type Load, startLoad } from "./load.ts";
import { type FaultRun, provision } from "./provision.ts";
import { checksLine, formatTable, phaseRows, writeResults } from "./report.ts";
import { drain, postsOf, settleChecks } from "./verify.ts";

export const ALL_FAULTS = [
  "relay",
  "sink",
  "kafka",
  "connect",
  "redis-bridge",
  "ch-gateway",
  "origin",
  "redis",
  // Two sink + serving-index processes sharing the consumer groups (kill.ts): one joins, then one
  // of the two dies mid-batch in its index updater, then in its sink.
  "updater-join",
  "updater-mid-batch",
  "sink-mid-batch",
] as const;
export type Fault = (typeof ALL_FAULTS)[number];

export interface FaultRow {
  component: string;
  /** Events answered 202 while this phase ran (kill → recovered → settle). */
  accepted: number;
  /** Requests that were refused (non-202 or no answer) in the phase: not accepted, not owed. */
  refused: number;
  lost: number;
  duplicated: number;
  writesOk: number;
  writesFailed: number;
  /** Entries in the Redis stream (not yet relayed) at the moment of the kill. */
  streamAtKill: number;
  /** SIGKILL → the component healthy again (restarted at once). */
  restartMs: number;
  /** SIGKILL → an event accepted after the kill is visible in ClickHouse. */
  recoveryMs: number;
  /** What the phase showed beyond its numbers (the batch killed mid-way, the groups' members). */
  note?: string;
}

export interface MatrixResult {
  rows: FaultRow[];
  /** Events in ClickHouse whose id was never answered 202 (e.g. the 202 was lost with the bridge). */
  unacknowledgedInClickHouse: number;
  /** Those by the phase and answer of their request, e.g. "12 (redis-bridge, answered 503)". */
  unacknowledgedBy: string;
  consistency: { differences: number; report: string };
  /** The serving index (run by the sink process, killed with it) against ClickHouse: check:index. */
  index: { differences: number; report: string };
  /** ClickHouse's derived data against the counting rules (check:consistency's derived rules). */
  derived: { violations: number; zeroAuthors: number; report: string };
  drainMs: number;
  totalMs: number;
  table: string;
  /** The commit measured (`+dirty` when the tree was not clean: scripts/lib/revision.ts). */
  commit: string;
}

export interface MatrixOptions {
  faults: readonly Fault[];
  /** Load before each kill and after each recovery, ms. Default 6000. */
  settleMs?: number;
  log?: (msg: string) => void;
  /** Write the table (Markdown) and JSON here. */
  outFile?: string;
}

export async function runFaultMatrix(opts: MatrixOptions): Promise<MatrixResult> {
  const log = opts.log ?? ((m: string) => console.log(`[faults] ${m}`));
  const settleMs = opts.settleMs ?? 6000;
  const t0 = Date.now();
  const revision = startRevision(resolve(import.meta.dirname, "../.."));
  const run = await provision(opts.faults, log);
  let load: Load | null = null;
  try {
    load = await startLoad(run);
    await load.endToEnd(120_000);
    await sleep(settleMs);
    const timings = new Map<string, KillTiming>();
    for (const fault of opts.faults) timings.set(fault, await killAndRecover(run, load, fault, settleMs, log));
    load.phase = "after";
    await sleep(1000);
    await load.stop();
    const result = await verified(run, load, opts.faults, timings, t0, revision.label());
    if (opts.outFile) writeResults(opts.outFile, result);
    return result;
  } finally {
    await load?.stop().catch(() => {});
    await run.cleanup();
  }
}

async function verified(
  run: FaultRun,
  load: Load,
  faults: readonly Fault[],
  timings: Map<string, KillTiming>,
  t0: number,
  commit: string,
): Promise<MatrixResult> {
  const drained = await drain(run.world.ch, load);
  const checks = await settleChecks(run, load);
  const rows = phaseRows(["warm-up", ...faults, "after"], load, drained, await postsOf(run.world.ch), timings);
  const unacknowledged = [...drained.seen.keys()].filter((e) => !load.accepted.has(e));
  const unacknowledgedInClickHouse = unacknowledged.length;
  // Where they were refused (phase and answer), when the load sent them.
  const lostAnswers = new Map<string, number>();
  for (const e of unacknowledged) {
    const r = load.refused.get(e);
    const k = r ? `${r.phase}, answered ${r.answer}` : "not sent by the load";
    lostAnswers.set(k, (lostAnswers.get(k) ?? 0) + 1);
  }
  const unacknowledgedBy = [...lostAnswers].map(([k, n]) => `${n} (${k})`).join(", ");
  const table = formatTable(rows, {
    commit,
    unacknowledgedInClickHouse,
    unacknowledgedBy,
    consistency: checksLine(checks),
    own: `own: redis (appendfsync ${run.stack.redisAppendfsync}), redis-bridge, ${run.procs.map((p) => p.name).join("/")} processes, wrangler dev${run.own.kafka ? ", kafka, connect" : " (shared kafka/connect, own topics)"}${run.own.gateway ? ", ch-gateway" : " (shared ch-gateway, own database)"}`,
  });
  return {
    commit,
    rows,
    unacknowledgedInClickHouse,
    unacknowledgedBy,
    ...checks,
    drainMs: drained.drainMs,
    totalMs: Date.now() - t0,
    table,
  };
}

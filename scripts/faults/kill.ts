/**
 * Kill: one fault of the matrix. SIGKILL the component and restart it at once the stack's way
 * (an origin process started again with the same environment, a stack component's `up()`, what
 * `npm run stack:up` runs), then wait until an event accepted after the kill is in ClickHouse.
 *
 * The consumer-group rows work on the two sink + serving-index processes (`sink`, `sink2`):
 * - updater-join: `sink2` starts while the load runs and joins both consumer groups (the
 *   sink's and the index updater's); "restart" is then its start → ready, and the row waits until
 *   the groups have two members sharing every partition;
 * - updater-mid-batch / sink-mid-batch: the failpoint (origin/src/kafka/failpoint.ts) makes one of
 *   the two (`sink2` for the updater, `sink` for the sink) SIGKILL itself in its index updater's
 *   (or sink's) next batch, after the batch's writes and before its commit; it is restarted at
 *   once, and the batch comes again to whichever process holds its partition next.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { AssignerProtocol, Kafka, logLevel } from "kafkajs";
import { EVENTS_STREAM_KEY, indexKeys } from "#core/keys.ts";
import { ALL_TOPICS } from "#core/topics.ts";
import { waitFor } from "../lib/wait.ts";
import type { Component } from "../local/stack/component.ts";
import type { StackConfig } from "../local/stack/config.ts";
import { groupAlive, isAlive, ourPid } from "../local/stack/proc.ts";
import type { Load } from "./load.ts";
import type { Fault } from "./matrix.ts";
import {
  exited,
  killGroup,
  killOriginProc,
  type OriginProc,
  originReady,
  running,
  startOriginProc,
} from "./processes.ts";
import type { FaultRun } from "./provision.ts";

export interface KillTiming {
  /** SIGKILL → the component healthy again. */
  restartMs: number;
  /** SIGKILL → an event accepted after the kill is visible in ClickHouse. */
  recoveryMs: number;
  /** Entries in the Redis stream (not yet relayed) at the moment of the kill. */
  streamAtKill: number;
  /** What the row showed beyond its numbers (the batch killed mid-way, the groups' members). */
  note?: string;
}

export async function killAndRecover(
  run: FaultRun,
  load: Load,
  fault: Fault,
  settleMs: number,
  log: (msg: string) => void,
): Promise<KillTiming> {
  load.phase = fault;
  await sleep(settleMs / 2);
  const relay = run.procs.find((p) => p.name === "relay") as OriginProc;
  // Redis: with the relay keeping up, the stream is nearly empty at any moment, so the kill
  // would prove little. The relay is paused (SIGSTOP) first so a backlog of accepted events
  // sits in the stream when Redis dies, and resumed once Redis is back.
  if (fault === "redis") {
    killGroup(relay.child?.pid as number, "SIGSTOP");
    await sleep(settleMs / 2);
  }
  const streamAtKill = await streamLength(run.stack.redisUrl);
  let tKill = Date.now();
  let note: string | undefined;
  if (fault === "updater-join" || fault === "updater-mid-batch" || fault === "sink-mid-batch") {
    const r = await consumerGroupFault(run, fault, log);
    tKill = r.tKill;
    note = r.note;
  } else await killAndRestart(run, fault);
  const restartMs = Date.now() - tKill;
  if (fault === "redis") {
    log(
      `redis: ${streamAtKill} entries in the stream at the kill, ${await streamLength(run.stack.redisUrl)} after the restart`,
    );
    killGroup(relay.child?.pid as number, "SIGCONT");
  }
  await load.endToEnd(240_000);
  const recoveryMs = Date.now() - tKill;
  log(
    `${fault}: ${fault === "updater-join" ? "joined" : "SIGKILLed"}; healthy after ${restartMs} ms, end to end after ${recoveryMs} ms`,
  );
  if (fault === "updater-join" || fault === "updater-mid-batch" || fault === "sink-mid-batch") {
    // Both processes share both groups' partitions (again, after a restart).
    const groups = await sharedGroups(run, 60_000);
    note = note ? `${note}; ${groups}` : groups;
    log(`${fault}: ${note}`);
  }
  await sleep(settleMs);
  return { restartMs, recoveryMs, streamAtKill, ...(note ? { note } : {}) };
}

/** The part each mid-batch row kills in, and the process it is killed in. */
const MID_BATCH = {
  "updater-mid-batch": { part: "index-updater", proc: "sink2" },
  "sink-mid-batch": { part: "clickhouse-sink", proc: "sink" },
} as const;

/**
 * updater-join: starts `sink2` (the kill time is its start). A mid-batch row: arms the failpoint
 * of the row's process for the row's part (starting `sink2` first when it does not run), waits
 * for the process to die by it (60 s at most; then an ordinary SIGKILL, and the note says so),
 * and restarts it at once. The kill time is the exit.
 */
async function consumerGroupFault(
  run: FaultRun,
  fault: "updater-join" | "updater-mid-batch" | "sink-mid-batch",
  log: (msg: string) => void,
): Promise<{ tKill: number; note?: string }> {
  const proc = (name: OriginProc["name"]) => {
    const p = run.procs.find((x) => x.name === name);
    if (!p) throw new Error(`${fault}: no ${name} process in this run`);
    return p;
  };
  const sink2 = proc("sink2");
  if (fault === "updater-join" && running(sink2)) throw new Error("updater-join: sink2 runs already");
  if (fault === "updater-join" || !running(sink2)) {
    const t = Date.now();
    await startSecond(run, sink2);
    if (fault === "updater-join") return { tKill: t };
    log(`${fault}: sink2 started first (${Date.now() - t} ms)`);
  }
  const { part, proc: name } = MID_BATCH[fault];
  const p = proc(name);
  const file = p.env.FAULT_INJECTION_FILE as string;
  rmSync(`${file}.fired`, { force: true });
  writeFileSync(file, `${part}\n`);
  process.kill(p.child?.pid as number, "SIGUSR2");
  let how = await exited(p, 60_000);
  const tKill = Date.now();
  let note: string;
  if (how === null) {
    await killOriginProc(p);
    how = "SIGKILL";
    note = `${name}: no batch of ${part} in 60 s, SIGKILLed outside a batch`;
  } else {
    const fired = lastLine(`${file}.fired`);
    note = fired
      ? `${name} (1 of 2) died by SIGKILL in ${part}'s batch ${fired.topic}[${fired.partition}] offsets ${fired.first}–${fired.last}, written and not committed`
      : `${name} exited (${how}) without the failpoint firing`;
  }
  startOriginProc(p);
  await waitFor(() => originReady(p), 180_000, `${name} ready again`, 200);
  return { tKill, note };
}

/** Starts `sink2` once `sink` has bootstrapped the index, so it joins groups already at work. */
async function startSecond(run: FaultRun, sink2: OriginProc): Promise<void> {
  const redis = new Redis(run.stack.redisUrl, { maxRetriesPerRequest: 2 });
  try {
    const ready = indexKeys(run.world.names.indexNamespace).ready;
    await waitFor(async () => (await redis.exists(ready)) === 1, 120_000, "the serving index bootstrapped", 200);
  } finally {
    redis.disconnect();
  }
  startOriginProc(sink2);
  await waitFor(() => originReady(sink2), 180_000, "sink2 ready", 200);
}

function lastLine(path: string): { topic: string; partition: number; first: string; last: string } | null {
  try {
    const lines = readFileSync(path, "utf8").trim().split("\n");
    return JSON.parse(lines[lines.length - 1] as string);
  } catch {
    return null;
  }
}

/**
 * Waits (up to `ms`) until the sink's and the index updater's groups each have two members that
 * between them hold every partition of the pipeline's topics; says how they share them.
 */
async function sharedGroups(run: FaultRun, ms: number): Promise<string> {
  const kafka = new Kafka({
    clientId: `faults-${run.id}`,
    brokers: [`127.0.0.1:${run.stack.ports.kafka}`],
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  const { sinkGroup, indexGroup } = run.world.names;
  try {
    const ns = run.world.names.topicNamespace;
    const topics = ALL_TOPICS.map((t) => ns + t);
    const meta = await admin.fetchTopicMetadata({ topics });
    const total = meta.topics.reduce((n, t) => n + t.partitions.length, 0);
    let last = "";
    const ok = await waitFor(
      async () => {
        const { groups } = await admin.describeGroups([sinkGroup, indexGroup]);
        const shares = groups.map((g) => ({
          id: g.groupId === sinkGroup ? "sink" : "index updater",
          state: g.state,
          held: g.members.map((m) => {
            const a = AssignerProtocol.MemberAssignment.decode(m.memberAssignment);
            return Object.entries(a?.assignment ?? {})
              .filter(([t]) => topics.includes(t))
              .reduce((n, [, ps]) => n + ps.length, 0);
          }),
        }));
        last = shares.map((s) => `${s.id} group: ${s.held.join(" + ")} of ${total} partitions`).join(", ");
        return shares.every(
          (s) =>
            s.state === "Stable" &&
            s.held.length === 2 &&
            s.held.every((h) => h > 0) &&
            s.held.reduce((a, b) => a + b, 0) === total,
        );
      },
      ms,
      "both groups shared by two members",
      500,
    ).then(
      () => true,
      () => false,
    );
    return ok ? last : `not shared in ${ms / 1000} s: ${last}`;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

async function killAndRestart(run: FaultRun, fault: Fault): Promise<void> {
  const proc = run.procs.find((p) => p.name === fault);
  const component = run.components[fault];
  if (proc) {
    await killOriginProc(proc);
    startOriginProc(proc);
    await waitFor(() => originReady(proc), 180_000, `${fault} ready again`, 200);
  } else if (component) await killComponent(run.stack, fault, component);
  else throw new Error(`unknown fault ${fault}`);
}

/**
 * SIGKILL a stack component's process group, wait (10 s at most) until every process of it is
 * gone, then `up()`. The whole group: `tsx` runs the bridge and the gateway as a child `node`,
 * which holds the port and can outlive the `tsx` parent by a moment.
 */
async function killComponent(stack: StackConfig, fault: Fault, component: Component): Promise<void> {
  const pid = ourPid(stack, fault, fault === "redis" ? "redis-server" : "");
  if (pid === null) throw new Error(`${fault}: no PID of ours to kill`);
  killGroup(pid, "SIGKILL");
  for (let i = 0; i < 200 && (isAlive(pid) || groupAlive(pid)); i++) await sleep(50);
  await component.up();
}

/** XLEN of the edge's event stream on a connection of its own; -1 when Redis does not answer. */
async function streamLength(redisUrl: string): Promise<number> {
  const r = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on("error", () => {});
  try {
    await r.connect();
    return await r.xlen(EVENTS_STREAM_KEY);
  } catch {
    return -1;
  } finally {
    r.disconnect();
  }
}

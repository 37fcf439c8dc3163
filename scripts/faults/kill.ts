/**
 * Kill: one fault of the matrix. SIGKILL the component and restart it at once the stack's way
 * (an origin process started again with the same environment, a stack component's `up()`, what
 * `npm run stack:up` runs), then wait until an event accepted after the kill is in ClickHouse.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { EVENTS_STREAM_KEY } from "#core/keys.ts";
import { waitFor } from "../lib/wait.ts";
import type { Component } from "../local/stack/component.ts";
import type { StackConfig } from "../local/stack/config.ts";
import { groupAlive, isAlive, ourPid } from "../local/stack/proc.ts";
import type { Load } from "./load.ts";
import type { Fault } from "./matrix.ts";
import { killGroup, killOriginProc, type OriginProc, originReady, startOriginProc } from "./processes.ts";
import type { FaultRun } from "./provision.ts";

export interface KillTiming {
  /** SIGKILL → the component healthy again. */
  restartMs: number;
  /** SIGKILL → an event accepted after the kill is visible in ClickHouse. */
  recoveryMs: number;
  /** Entries in the Redis stream (not yet relayed) at the moment of the kill. */
  streamAtKill: number;
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
  const tKill = Date.now();
  await killAndRestart(run, fault);
  const restartMs = Date.now() - tKill;
  if (fault === "redis") {
    log(
      `redis: ${streamAtKill} entries in the stream at the kill, ${await streamLength(run.stack.redisUrl)} after the restart`,
    );
    killGroup(relay.child?.pid as number, "SIGCONT");
  }
  await load.endToEnd(240_000);
  const recoveryMs = Date.now() - tKill;
  log(`${fault}: SIGKILLed; healthy after ${restartMs} ms, end to end after ${recoveryMs} ms`);
  await sleep(settleMs);
  return { restartMs, recoveryMs, streamAtKill };
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

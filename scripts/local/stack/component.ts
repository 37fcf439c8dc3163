/**
 * What every stack component looks like to the CLI, plus `ensureProcess`, the one
 * "leave it alone if healthy, else check the ports, start it and wait" routine that all
 * processes we own go through (so idempotency and the port-conflict message behave the same
 * everywhere).
 */
import { rmSync } from "node:fs";
import type { StackConfig } from "./config.ts";
import {
  assertPortsFree,
  logFile,
  ourGroup,
  ourPid,
  pidFile,
  say,
  seconds,
  spawnDetached,
  stopGroup,
  type WaitOptions,
  waitFor,
} from "./proc.ts";

export type UpOutcome = "started" | "already running" | "reconfigured" | "skipped";

export type State = "healthy" | "unhealthy" | "stopped" | "skipped";

export interface ComponentStatus {
  state: State;
  pid?: number | undefined;
  ports?: number[];
  note?: string;
}

export interface Component {
  readonly name: string;
  up(): Promise<UpOutcome>;
  status(): Promise<ComponentStatus>;
  /** Stops what `up` started; must not touch what it merely found running. */
  down(): Promise<void>;
}

export interface ProcessSpec {
  name: string;
  /** A string in the process's command line that tells our process from a reused PID. */
  marker: string;
  /** [env var that configures it, port] for each port the process binds. */
  ports: [string, number][];
  healthy(): Promise<boolean>;
  /** Writes config files, formats storage, …; runs only when we are about to spawn. */
  prepare?(): Promise<void>;
  command(): { command: string; args: string[]; env?: NodeJS.ProcessEnv };
  startTimeoutMs: number;
  stopTimeoutMs: number;
}

export async function ensureProcess(cfg: StackConfig, spec: ProcessSpec): Promise<UpOutcome> {
  const log = logFile(cfg, spec.name);
  const wait: Omit<WaitOptions, "pid"> = { timeoutMs: spec.startTimeoutMs, log };
  const existing = ourPid(cfg, spec.name, spec.marker);
  if (existing !== null) {
    if (await spec.healthy()) return "already running";
    // Ours and alive but not healthy yet: most likely still starting (a concurrent `up`).
    say(`${spec.name}: pid ${existing} is running but not healthy yet; waiting for it`);
    await waitFor(spec.name, spec.healthy, { ...wait, pid: existing });
    return "already running";
  }
  await assertPortsFree(cfg, spec.name, spec.ports);
  await spec.prepare?.();
  const { command, args, env } = spec.command();
  const pid = spawnDetached(cfg, spec.name, command, args, env ? { env } : {});
  say(`${spec.name}: started pid ${pid} (log ${log})`);
  await waitFor(spec.name, spec.healthy, { ...wait, pid });
  return "started";
}

export async function processStatus(cfg: StackConfig, spec: ProcessSpec): Promise<ComponentStatus> {
  const pid = ourPid(cfg, spec.name, spec.marker) ?? undefined;
  const ports = spec.ports.map(([, p]) => p);
  if (pid === undefined) return { state: "stopped", ports };
  return { state: (await spec.healthy()) ? "healthy" : "unhealthy", pid, ports };
}

export async function stopProcess(cfg: StackConfig, name: string, marker: string, timeoutMs: number): Promise<void> {
  const pid = ourGroup(cfg, name, marker);
  if (pid === null) {
    rmSync(pidFile(cfg, name), { force: true }); // stale, or absent
    return;
  }
  const t0 = Date.now();
  const how = await stopGroup(pid, timeoutMs);
  say(
    `${name}: pid ${pid} ${how === "killed" ? "did not stop in time; killed" : "stopped"} (${seconds(Date.now() - t0)})`,
  );
  rmSync(pidFile(cfg, name), { force: true });
}

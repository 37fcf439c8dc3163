/**
 * The fault run's origin processes: three (write API + connector watcher, relay, sink with the
 * serving index) so each can be SIGKILLed alone, each in a process group of its own.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { openSync } from "node:fs";
import { join, resolve } from "node:path";
import { http200, stopGroup } from "../local/stack/proc.ts";

const ROOT = resolve(import.meta.dirname, "../..");

export interface OriginProc {
  name: "origin" | "relay" | "sink";
  port: number;
  child: ChildProcess | null;
  env: Record<string, string>;
  logFile: string;
}

/** Starts (or starts again) `p` with its environment, appending to its log. */
export function startOriginProc(p: OriginProc): void {
  const out = openSync(p.logFile, "a");
  p.child = spawn(join(ROOT, "node_modules/.bin/node"), ["--import", "tsx", "origin/main.ts"], {
    cwd: ROOT,
    env: { ...process.env, ...p.env },
    stdio: ["ignore", out, out],
    detached: true,
  });
  p.child.on("error", () => {});
}

export const originReady = (p: OriginProc): Promise<boolean> => http200(`http://127.0.0.1:${p.port}/readyz`);

/** SIGTERM, 10 s to drain, then SIGKILL. */
export async function stopOriginProc(p: OriginProc): Promise<void> {
  if (p.child?.pid && p.child.exitCode === null) await stopGroup(p.child.pid, 10_000);
}

/** SIGKILL and wait for the exit. */
export async function killOriginProc(p: OriginProc): Promise<void> {
  killGroup(p.child?.pid as number, "SIGKILL");
  await new Promise((r) => (p.child?.exitCode !== null ? r(null) : p.child?.once("exit", r)));
}

/** Signals the process group of `pid` (the process alone if it has none). */
export function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {}
  }
}

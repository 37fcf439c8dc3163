/**
 * The fault run's origin processes: three (write API + connector watcher, relay, sink with the
 * serving index) so each can be SIGKILLed alone, each in a process group of its own; and, for
 * the consumer-group rows, a second sink + serving-index process (`sink2`) sharing the first's
 * consumer groups.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { openSync } from "node:fs";
import { join, resolve } from "node:path";
import { http200, stopGroup } from "../local/stack/proc.ts";

const ROOT = resolve(import.meta.dirname, "../..");

export interface OriginProc {
  name: "origin" | "relay" | "sink" | "sink2";
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
  await exited(p, Number.POSITIVE_INFINITY);
}

export const running = (p: OriginProc): boolean =>
  p.child !== null && p.child.exitCode === null && p.child.signalCode === null;

/** Waits (at most `ms`) for `p` to exit; resolves with the signal that ended it, or null if it still runs. */
export function exited(p: OriginProc, ms: number): Promise<NodeJS.Signals | "exit" | null> {
  const child = p.child;
  if (!child || !running(p)) return Promise.resolve(child?.signalCode ?? "exit");
  return new Promise((resolve) => {
    const timer = Number.isFinite(ms) ? setTimeout(() => resolve(null), ms) : null;
    child.once("exit", (_code, signal) => {
      if (timer) clearTimeout(timer);
      resolve(signal ?? "exit");
    });
  });
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

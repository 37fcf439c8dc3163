/**
 * Process and health helpers shared by every component: PID files, detached spawning with a log
 * file, "is this PID still ours" checks, graceful stop of a process group, port probes and a
 * polling wait that prints progress.
 *
 * Every process the stack starts is spawned `detached`, so it leads its own process group: tsx
 * runs the real program in a child process, and killing the group (not just the PID we recorded)
 * is what guarantees that `down` leaves nothing behind.
 */
import { type SpawnOptions, spawn } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { StackConfig } from "./config.ts";

export function say(message: string): void {
  console.log(`[stack] ${message}`);
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

export function pidFile(cfg: StackConfig, name: string): string {
  return join(cfg.runDir, `${name}.pid`);
}

export function logFile(cfg: StackConfig, name: string): string {
  return join(cfg.logsDir, `${name}.log`);
}

/** State letter and process group of a PID from /proc/<pid>/stat; null when gone or not on Linux. */
function procStat(pid: number | string): { state: string; pgrp: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // "pid (comm) state ppid pgrp …"; comm may hold spaces and parentheses, so split after the last ")".
    const [state = "", , pgrp = ""] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { state, pgrp: Number(pgrp) };
  } catch {
    return null;
  }
}

/**
 * A zombie counts as dead: our processes outlive the CLI that spawned them, so when they exit
 * they wait for PID 1 to reap them, which here can take seconds.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists but belongs to another user; still alive.
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  return procStat(pid)?.state !== "Z";
}

/** True while any non-zombie process is left in the process group `pgid`. */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  let entries: string[];
  try {
    entries = readdirSync("/proc").filter((e) => /^\d+$/.test(e));
  } catch {
    return true; // no /proc: trust kill(0)
  }
  return entries.some((e) => {
    const st = procStat(e);
    return st !== null && st.pgrp === pgid && st.state !== "Z";
  });
}

/** The command line of a PID, or null when it is gone or unreadable (non-Linux). */
function cmdline(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return null;
  }
}

/**
 * The PID recorded for a component when that process is alive and still ours. A PID file whose
 * process died, or whose PID was reused by an unrelated program (its command line lacks
 * `marker`), is stale: it is removed and null returned.
 */
export function ourPid(cfg: StackConfig, name: string, marker: string): number | null {
  const file = pidFile(cfg, name);
  if (!existsSync(file)) return null;
  const pid = Number.parseInt(readFileSync(file, "utf8").trim(), 10);
  if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) {
    const cmd = cmdline(pid);
    if (cmd === null || cmd.includes(marker)) return pid;
  }
  rmSync(file, { force: true });
  return null;
}

/**
 * For stopping: the recorded PID when its process group may still hold processes of ours. Besides
 * the live leader (see `ourPid`), this covers a leader that died and left children behind (tsx
 * killed hard leaves its node child): Linux never hands out a PID still used as a group id, so a
 * live group under a dead leader's PID can only be ours.
 */
export function ourGroup(cfg: StackConfig, name: string, marker: string): number | null {
  const file = pidFile(cfg, name);
  if (!existsSync(file)) return null;
  const pid = Number.parseInt(readFileSync(file, "utf8").trim(), 10);
  if (!Number.isInteger(pid) || pid <= 1) return null;
  if (isAlive(pid)) {
    const cmd = cmdline(pid);
    return cmd === null || cmd.includes(marker) ? pid : null;
  }
  return groupAlive(pid) ? pid : null;
}

/** True when the process runs in `dir` (every process the stack or dev.sh starts runs in the repo root). */
export function runsIn(pid: number, dir: string): boolean {
  try {
    return readlinkSync(`/proc/${pid}/cwd`) === dir;
  } catch {
    return false;
  }
}

export function writePid(cfg: StackConfig, name: string, pid: number): void {
  mkdirSync(cfg.runDir, { recursive: true });
  writeFileSync(pidFile(cfg, name), `${pid}\n`);
}

/**
 * Starts a long-running process in its own process group with stdout and stderr appended to
 * `.stack/logs/<name>.log`, records its PID and lets this CLI exit without waiting for it.
 */
export function spawnDetached(
  cfg: StackConfig,
  name: string,
  command: string,
  args: string[],
  options: Pick<SpawnOptions, "cwd" | "env"> = {},
): number {
  mkdirSync(cfg.logsDir, { recursive: true });
  const log = logFile(cfg, name);
  // Logs append across restarts (the previous run's end is often what explains a failure);
  // past 50 MB the old one is kept as <name>.log.1 and a fresh file started.
  if (existsSync(log) && statSync(log).size > 50 * 1024 * 1024) renameSync(log, `${log}.1`);
  const fd = openSync(log, "a");
  writeFileSync(fd, `\n===== ${new Date().toISOString()} [stack] starting ${name}: ${command} ${args.join(" ")}\n`);
  try {
    const child = spawn(command, args, {
      cwd: options.cwd ?? cfg.repoRoot,
      env: options.env ?? process.env,
      detached: true,
      stdio: ["ignore", fd, fd],
    });
    if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
    // Spawn errors (ENOENT) arrive asynchronously; the wait loop notices the dead PID.
    child.on("error", () => {});
    child.unref();
    writePid(cfg, name, child.pid);
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/**
 * Stops a process group we started: SIGTERM, wait up to `timeoutMs`, then SIGKILL. Returns how
 * it ended. Safe on a group that is already gone.
 */
export async function stopGroup(pid: number, timeoutMs: number): Promise<"gone" | "terminated" | "killed"> {
  if (!groupAlive(pid) && !isAlive(pid)) return "gone";
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      // Not a group leader (should not happen for our spawns): signal the process itself.
      try {
        process.kill(pid, sig);
      } catch {}
    }
  };
  signal("SIGTERM");
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!groupAlive(pid) && !isAlive(pid)) return "terminated";
    await sleep(200);
  }
  signal("SIGKILL");
  for (let i = 0; i < 25 && (groupAlive(pid) || isAlive(pid)); i++) await sleep(200);
  return "killed";
}

/** True when something accepts TCP connections on host:port. */
export function portOpen(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/**
 * Fails with a message naming the port when a process the stack did not start holds it. A port
 * still open is asked again for up to 3 s first: a process that was just killed is gone from
 * /proc a moment before the kernel closes its listening socket.
 */
export async function assertPortsFree(cfg: StackConfig, name: string, ports: [env: string, port: number][]) {
  for (const [env, port] of ports) {
    let open = await portOpen(cfg.host, port);
    for (let i = 0; open && i < 30; i++) {
      await sleep(100);
      open = await portOpen(cfg.host, port);
    }
    if (open) {
      throw new Error(
        `${name}: port ${cfg.host}:${port} is already in use by a process the stack did not start ` +
          `(no live PID in .stack/run/${name}.pid). Stop that process (see \`ss -ltnp 'sport = :${port}'\`) or set ${env}.`,
      );
    }
  }
}

/** GET url; true on HTTP 200. Short timeout so a wedged server counts as unhealthy. */
export async function http200(url: string, timeoutMs = 2000): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.body?.cancel();
    return res.status === 200;
  } catch {
    return false;
  }
}

export function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

export interface WaitOptions {
  timeoutMs: number;
  /** When the process dies while we wait, fail at once with the end of its log. */
  pid?: number;
  log?: string;
  intervalMs?: number;
  /** How often to print "waiting (12s)…". */
  progressEveryMs?: number;
}

/** Polls `check` until it returns true, printing progress; throws on timeout or process death. */
export async function waitFor(name: string, check: () => Promise<boolean>, opts: WaitOptions): Promise<void> {
  const t0 = Date.now();
  const every = opts.progressEveryMs ?? 5000;
  let nextReport = t0 + every;
  for (;;) {
    if (await check()) return;
    const elapsed = Date.now() - t0;
    if (opts.pid !== undefined && !isAlive(opts.pid)) {
      throw new Error(
        `${name}: process ${opts.pid} exited while starting; end of ${opts.log}:\n${tail(opts.log ?? "")}`,
      );
    }
    if (elapsed > opts.timeoutMs) {
      const where = opts.log ? `; end of ${opts.log}:\n${tail(opts.log)}` : "";
      throw new Error(`${name}: not healthy after ${seconds(elapsed)}${where}`);
    }
    if (Date.now() >= nextReport) {
      say(`${name}: waiting (${Math.round(elapsed / 1000)}s)…`);
      nextReport += every;
    }
    await sleep(opts.intervalMs ?? 300);
  }
}

/** Fills `{{NAME}}` placeholders of a file in scripts/local/stack/templates and writes it to `outFile`. */
export function renderTemplate(cfg: StackConfig, template: string, outFile: string, vars: Record<string, string>) {
  const text = readFileSync(join(cfg.stackDir, "templates", template), "utf8").replace(/\{\{(\w+)\}\}/g, (_, key) => {
    const value = vars[key];
    if (value === undefined) throw new Error(`template ${template}: no value for {{${key}}}`);
    return value;
  });
  writeFileSync(outFile, text);
}

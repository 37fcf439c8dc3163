/**
 * One `up` or `down` at a time per checkout: several engineers (and `npm test`) share this
 * working tree, and two concurrent `up`s would race to spawn the same broker. The lock is a file
 * created exclusively with our PID in it; a lock whose PID is dead is stale and taken over.
 */
import { mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { StackConfig } from "./config.ts";
import { isAlive, say } from "./proc.ts";

export async function withLock<T>(cfg: StackConfig, what: string, fn: () => Promise<T>, timeoutMs = 600_000) {
  mkdirSync(cfg.runDir, { recursive: true });
  const file = join(cfg.runDir, "stack.lock");
  const t0 = Date.now();
  let reported = false;
  for (;;) {
    try {
      const fd = openSync(file, "wx");
      writeFileSync(fd, `${process.pid} ${what}\n`);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const holder = Number.parseInt(readFileSync(file, "utf8").split(" ")[0] ?? "", 10);
    if (!Number.isInteger(holder) || !isAlive(holder)) {
      rmSync(file, { force: true });
      continue;
    }
    if (Date.now() - t0 > timeoutMs) throw new Error(`another stack command (pid ${holder}) still holds ${file}`);
    if (!reported) {
      say(`waiting for another stack command (pid ${holder}) to finish`);
      reported = true;
    }
    await sleep(500);
  }
  const release = () => rmSync(file, { force: true });
  process.once("exit", release);
  try {
    return await fn();
  } finally {
    release();
  }
}

/** Runs the real `wrangler dev` (workerd) on a free loopback port: for integration tests and the benchmark. */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { configWithRateLimits, type RateLimitOverrides } from "./ratelimits.ts";

const ROOT = resolve(import.meta.dirname, "../..");

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once("error", rej);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? res(addr.port) : rej(new Error("no port"))));
    });
  });
}

export interface WranglerDev {
  url: string;
  stop(): Promise<void>;
  output(): string;
}

export interface WranglerDevOptions {
  config: string;
  vars?: Record<string, string>;
  readyPath?: string;
  timeoutMs?: number;
  /** A built bundle's entry module (scripts/lib/bundle.ts) to serve as is, instead of the sources. */
  script?: string;
  /**
   * Limits replacing the config's `[[ratelimits]]` ones for this run (served from a copy of the
   * config): the benchmark's, BENCH_RATE_LIMITS, or a test's. Without it the config's own
   * (production) limits apply.
   */
  rateLimits?: RateLimitOverrides;
}

/** Thrown when the port freePort() gave was taken by someone else before wrangler bound it. */
class PortTaken extends Error {}

/**
 * Starts `wrangler dev -c <config>` with the given vars; resolves once `readyPath` answers 200.
 * A free port can be taken between freePort() and wrangler's bind (other tests start servers
 * too): then it tries again on a new port, up to three times.
 */
export async function startWranglerDev(opts: WranglerDevOptions): Promise<WranglerDev> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts, await freePort());
    } catch (err) {
      if (!(err instanceof PortTaken) || attempt >= 3) throw err;
    }
  }
}

async function startOnce(opts: WranglerDevOptions, port: number): Promise<WranglerDev> {
  const derived = opts.rateLimits ? configWithRateLimits(resolve(ROOT, opts.config), opts.rateLimits) : null;
  const persist = mkdtempSync(join(tmpdir(), "wrangler-test-"));
  const cleanup = () => {
    rmSync(persist, { recursive: true, force: true });
    derived?.dispose();
  };
  const config = derived?.path ?? resolve(ROOT, opts.config);
  const args = ["dev", "-c", config, "--ip", "127.0.0.1", "--port", String(port)];
  args.push("--persist-to", persist, "--log-level", "warn", "--show-interactive-dev-session=false");
  if (opts.script) args.push(opts.script, "--no-bundle");
  for (const [k, v] of Object.entries(opts.vars ?? {})) args.push("--var", `${k}:${v}`);
  const child: ChildProcess = spawn(join(ROOT, "node_modules/.bin/wrangler"), args, {
    cwd: ROOT,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true" },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true, // own process group, so stop() also ends workerd
  });
  let log = "";
  child.stdout?.on("data", (d) => (log += String(d)));
  child.stderr?.on("data", (d) => (log += String(d)));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.pid) {
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {}
      await new Promise((r) => {
        const t = setTimeout(() => {
          try {
            if (child.pid) process.kill(-child.pid, "SIGKILL");
          } catch {}
          r(null);
        }, 5000);
        child.once("exit", () => {
          clearTimeout(t);
          r(null);
        });
      });
    }
    cleanup();
  };
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      cleanup();
      const Err = /Address already in use/.test(log) ? PortTaken : Error;
      throw new Err(`wrangler dev exited (${child.exitCode}):\n${log}`);
    }
    try {
      const res = await fetch(url + (opts.readyPath ?? "/healthz"), { signal: AbortSignal.timeout(1000) });
      if (res.ok) return { url, stop, output: () => log };
    } catch {}
    await new Promise((r) => setTimeout(r, 250));
  }
  await stop();
  throw new Error(`wrangler dev did not answer within ${opts.timeoutMs ?? 60_000} ms:\n${log}`);
}

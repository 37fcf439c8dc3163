/**
 * Runs the built worker bundle (`wrangler deploy --dry-run --outdir …`) under plain workerd
 * through miniflare's API: one workerd process, as in production, without the extra local
 * proxy hop `wrangler dev` puts in front of the worker. For the benchmark.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { applyRateLimits, type RateLimitOverrides, rateLimitsOf } from "./ratelimits.ts";
import { freePort } from "./wrangler.ts";

export { rateLimitsOf } from "./ratelimits.ts";

const ROOT = resolve(import.meta.dirname, "../..");

export interface PlainWorkerd {
  url: string;
  /** The V8 inspector's loopback port, when asked for (a CPU profile: scripts/lib/cpu-profile.ts). */
  inspectorPort?: number;
  stop(): Promise<void>;
}

/**
 * Builds the bundle once per call (offline) and serves it with `bindings` on a free loopback port.
 * The `[[ratelimits]]` bindings are wrangler.toml's (the production defaults); `rateLimits`
 * replaces some of their limits (the benchmark's, BENCH_RATE_LIMITS), `rateLimit` every one (a
 * test that must not be throttled at all).
 */
export async function startPlainWorkerd(
  bindings: Record<string, string>,
  opts: {
    rateLimit?: number;
    rateLimits?: RateLimitOverrides;
    /** A bundle already built (its index.js's directory); else one is built now. */
    bundleDir?: string;
    /** The loopback port to serve on (one chosen ahead, for a process that must know it first); default a free one. */
    port?: number;
    /** Opens workerd's V8 inspector on a free loopback port (PlainWorkerd.inspectorPort). */
    inspector?: boolean;
  } = {},
): Promise<PlainWorkerd> {
  let out = opts.bundleDir;
  if (!out) {
    out = mkdtempSync(join(tmpdir(), "edge-bundle-"));
    execFileSync(join(ROOT, "node_modules/.bin/wrangler"), ["deploy", "--dry-run", "--outdir", out], {
      cwd: ROOT,
      stdio: "ignore",
      env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
    });
  }
  const toml = readFileSync(join(ROOT, "wrangler.toml"), "utf8");
  const compatibilityDate = /compatibility_date\s*=\s*"([^"]+)"/.exec(toml)?.[1] ?? "2026-05-01";
  const port = opts.port ?? (await freePort());
  const inspectorPort = opts.inspector ? await freePort() : undefined;
  const options = convertV4MiniflareOptions({
    modules: true,
    scriptPath: join(out, "index.js"),
    modulesRoot: out,
    compatibilityDate,
    bindings,
    host: "127.0.0.1",
    port,
    ...(inspectorPort ? { inspectorPort } : {}),
    // The worker logs a line per request; a benchmark would print thousands of them.
    handleStructuredLogs: () => {},
    // The live channel's objects (wrangler.toml's [[durable_objects.bindings]]), SQLite-backed.
    durableObjects: { LIVE: { className: "LiveChannel", useSQLite: true } },
    // wrangler.toml's per-key limits, with the caller's overrides.
    ratelimits: Object.fromEntries(
      Object.entries(applyRateLimits(rateLimitsOf(toml), opts.rateLimits)).map(([name, rl]) => [
        name,
        opts.rateLimit ? { ...rl, simple: { ...rl.simple, limit: opts.rateLimit } } : rl,
      ]),
    ),
  });
  const mf = new Miniflare(options);
  const url = (await mf.ready).toString().replace(/\/$/, "");
  return { url, ...(inspectorPort ? { inspectorPort } : {}), stop: () => mf.dispose() };
}

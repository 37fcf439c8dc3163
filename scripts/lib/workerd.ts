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
import { freePort } from "./wrangler.ts";

const ROOT = resolve(import.meta.dirname, "../..");

export interface PlainWorkerd {
  url: string;
  stop(): Promise<void>;
}

type RateLimits = Record<string, { namespace_id: string; simple: { limit: number; period: 10 | 60 } }>;

/**
 * The `[[ratelimits]]` bindings of wrangler.toml, in miniflare's `ratelimits` option. A small reader
 * for the shape wrangler.toml uses: `name`, `namespace_id`, `simple = { limit, period }`.
 */
export function rateLimitsOf(toml: string): RateLimits {
  const out: RateLimits = {};
  for (const block of toml.split(/^\[\[ratelimits\]\]\s*$/m).slice(1)) {
    const body = block.split(/^\[/m)[0] ?? "";
    const name = /^name\s*=\s*"([^"]+)"/m.exec(body)?.[1];
    const ns = /^namespace_id\s*=\s*"([^"]+)"/m.exec(body)?.[1];
    const limit = /limit\s*=\s*(\d+)/.exec(body)?.[1];
    const period = /period\s*=\s*(\d+)/.exec(body)?.[1];
    if (!name || !ns || !limit || (period !== "10" && period !== "60")) {
      throw new Error(`wrangler.toml: a [[ratelimits]] entry this reader does not understand:\n${body}`);
    }
    out[name] = { namespace_id: ns, simple: { limit: Number(limit), period: Number(period) as 10 | 60 } };
  }
  return out;
}

/**
 * Builds the bundle once per call (offline) and serves it with `bindings` on a free loopback port.
 * `rateLimit` replaces every `[[ratelimits]]` limit (a test that must not be throttled).
 */
export async function startPlainWorkerd(
  bindings: Record<string, string>,
  opts: {
    rateLimit?: number /** A bundle already built (its index.js's directory); else one is built now. */;
    bundleDir?: string;
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
  const port = await freePort();
  const options = convertV4MiniflareOptions({
    modules: true,
    scriptPath: join(out, "index.js"),
    modulesRoot: out,
    compatibilityDate,
    bindings,
    host: "127.0.0.1",
    port,
    // The worker logs a line per request; a benchmark would print thousands of them.
    handleStructuredLogs: () => {},
    // The same per-key limits as wrangler dev and production (the bench stays under them).
    ratelimits: Object.fromEntries(
      Object.entries(rateLimitsOf(toml)).map(([name, rl]) => [
        name,
        opts.rateLimit ? { ...rl, simple: { ...rl.simple, limit: opts.rateLimit } } : rl,
      ]),
    ),
  });
  const mf = new Miniflare(options);
  const url = (await mf.ready).toString().replace(/\/$/, "");
  return { url, stop: () => mf.dispose() };
}

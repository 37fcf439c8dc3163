/**
 * Builds the edge worker's production bundle once (`wrangler deploy --dry-run --outdir`, offline):
 * what the benchmark serves under both runtimes, so it measures the code that ships and an edit
 * to the sources during a run cannot reload the worker under it.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "../..");

/** The bundle's directory; its entry module is `index.js`. */
export function buildEdgeBundle(): string {
  const out = mkdtempSync(join(tmpdir(), "edge-bundle-"));
  execFileSync(join(ROOT, "node_modules/.bin/wrangler"), ["deploy", "--dry-run", "--outdir", out], {
    cwd: ROOT,
    stdio: "ignore",
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
  });
  return out;
}

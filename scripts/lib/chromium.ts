/**
 * Debian's chromium for the browser tests: `/usr/bin/chromium`, installed with apt when missing
 * (as root; `apt-get update` first only if the package lists do not know it). Resolves to the
 * executable, or to `{ skip }` with why when it cannot be had (not root, no apt, no package):
 * the caller skips loudly. The install is timed and printed, since it counts against CI time.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

export const CHROMIUM_PATH = "/usr/bin/chromium";

/** Flags for a quiet, reproducible headless run: no background networking, sync, updates or first-run. */
export const CHROMIUM_ARGS = [
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-default-apps",
  "--disable-sync",
  "--disable-extensions",
  "--disable-domain-reliability",
  "--disable-client-side-phishing-detection",
  "--disable-breakpad",
  "--metrics-recording-only",
  "--no-first-run",
  "--no-default-browser-check",
  "--no-sandbox",
  "--disable-dev-shm-usage",
];

export type ChromiumOutcome = { path: string; installedMs?: number } | { skip: string };

const apt = (args: string[]) =>
  spawnSync("apt-get", args, {
    encoding: "utf8",
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    timeout: 15 * 60_000,
    maxBuffer: 64 * 1024 * 1024,
  });

export function ensureChromium(log: (line: string) => void = (l) => console.log(l)): ChromiumOutcome {
  if (existsSync(CHROMIUM_PATH)) return { path: CHROMIUM_PATH };
  if (process.platform !== "linux") return { skip: `no ${CHROMIUM_PATH} and not Linux (${process.platform})` };
  if (process.getuid?.() !== 0) return { skip: `no ${CHROMIUM_PATH} and not root: run 'apt-get install -y chromium'` };
  if (spawnSync("apt-get", ["--version"]).status !== 0) return { skip: `no ${CHROMIUM_PATH} and no apt-get` };
  const t0 = Date.now();
  log("[chromium] not installed: apt-get install -y chromium");
  let r = apt(["install", "-y", "--no-install-recommends", "chromium"]);
  if (r.status !== 0) {
    log("[chromium] install failed; apt-get update, then again");
    const u = apt(["update"]);
    if (u.status !== 0) return { skip: `apt-get update failed: ${(u.stderr || u.stdout).trim().slice(-500)}` };
    r = apt(["install", "-y", "--no-install-recommends", "chromium"]);
  }
  const installedMs = Date.now() - t0;
  if (r.status !== 0 || !existsSync(CHROMIUM_PATH)) {
    return {
      skip: `apt-get install chromium failed (${installedMs} ms): ${(r.stderr || r.stdout).trim().slice(-500)}`,
    };
  }
  log(`[chromium] installed ${CHROMIUM_PATH} in ${(installedMs / 1000).toFixed(1)} s`);
  return { path: CHROMIUM_PATH, installedMs };
}

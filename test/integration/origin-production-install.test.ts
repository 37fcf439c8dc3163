/**
 * The origin as production installs it: `npm run build:origin`'s bundle next to package.json and
 * package-lock.json, `npm install --omit=dev` (no tsx, no `node` package, no chDB), started with
 * a plain Node 22 and an environment that holds only its configuration. It must start every part
 * except the generators against the real stack, answer /healthz and /readyz, and drain on SIGTERM.
 *
 * (`npm ci` is what a registry serving every chDB platform package allows; the mirror here does
 * not, see scripts/with-node.sh, so the install is `npm install` from the same lockfile.)
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildOrigin } from "../../scripts/build-origin.ts";
import { waitFor } from "../../scripts/lib/wait.ts";
import { KAFKA_BROKERS } from "../../scripts/lib/world.ts";
import { freePort } from "../../scripts/lib/wrangler.ts";
import { type CdcHarness, startCdcHarness } from "./support/cdc.ts";

const ROOT = resolve(import.meta.dirname, "../..");
/** The pinned Node 22 binary itself, not node_modules/.bin: nothing else of the repo is on PATH. */
const NODE = resolve(ROOT, "node_modules/node/bin/node");
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
/** Development-only packages that must not be needed (or present) in a production install. */
const DEV_ONLY = ["tsx", "node", "chdb", "pg-copy-streams", "esbuild", "vitest", "wrangler", "typescript"];

describe("origin production install (build, npm install --omit=dev, start)", () => {
  let release: string;
  let h: CdcHarness;
  let origin: ChildProcess | undefined;
  let output = "";
  let exited: Promise<number | null> = Promise.resolve(null);
  const stream = `t:events:prod:${Date.now().toString(36)}`;

  beforeAll(async () => {
    release = mkdtempSync(join(tmpdir(), "edge-feed-release-"));
    const built = await buildOrigin(join(release, "dist/origin"));
    expect(built.files.map((f) => f.path.split("/").pop())).toContain("main.js");
    for (const f of ["package.json", "package-lock.json"]) copyFileSync(join(ROOT, f), join(release, f));
    const install = spawnSync("npm", ["install", "--omit=dev", "--no-audit", "--no-fund", "--loglevel=error"], {
      cwd: release,
      encoding: "utf8",
      timeout: 240_000,
    });
    expect(install.status, `npm install --omit=dev failed:\n${install.stdout}\n${install.stderr}`).toBe(0);
    h = await startCdcHarness({ deferConnector: true });
  }, 300_000);

  afterAll(async () => {
    if (origin && origin.exitCode === null && origin.signalCode === null) {
      origin.kill("SIGKILL");
      await exited;
    }
    const redis = new Redis(REDIS_URL);
    await redis.del(stream).catch(() => {});
    if (h) {
      const left = await redis.keys(`t${h.id}:*`);
      if (left.length) await redis.del(...left);
    }
    redis.disconnect();
    if (h) {
      const admin = h.kafka.admin();
      await admin.connect().catch(() => {});
      await admin.deleteGroups([`test-prod-sink-${h.id}`, `test-prod-index-${h.id}`]).catch(() => {});
      await admin.disconnect().catch(() => {});
      await h.teardown();
    }
    if (release) rmSync(release, { recursive: true, force: true });
  }, 90_000);

  it("installs only runtime dependencies", () => {
    const present = DEV_ONLY.filter((p) => existsSync(join(release, "node_modules", p)));
    expect(present).toEqual([]);
    for (const p of ["kafkajs", "pg", "ioredis", "hono", "@clickhouse/client"])
      expect(existsSync(join(release, "node_modules", p)), p).toBe(true);
  });

  /** Only the configuration: no repo PATH (tsx, wrangler), no NODE_OPTIONS from the test runner. */
  function releaseEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    const c = h.config;
    return {
      PATH: "/usr/local/bin:/usr/bin:/bin",
      DATABASE_URL: c.databaseUrl,
      CLICKHOUSE_URL: c.clickhouse.url,
      CLICKHOUSE_DATABASE: c.clickhouse.database,
      KAFKA_BROKERS: KAFKA_BROKERS.join(","),
      KAFKA_CONNECT_URL: c.cdc.connectUrl,
      KAFKA_TOPIC_NAMESPACE: c.kafka.topicNamespace,
      CDC_CONNECTOR_NAME: c.cdc.connectorName,
      CDC_SLOT_NAME: c.cdc.slotName,
      CDC_TOPIC_PREFIX: c.cdc.topicPrefix,
      CDC_SNAPSHOT_MODE: "no_data",
      REDIS_URL,
      LOG_LEVEL: "info",
      ...extra,
    };
  }

  it("runs the bundled migration commands (the harness already migrated: nothing left to apply)", () => {
    for (const [cli, tag] of [
      ["db-migrate.js", "db:migrate"],
      ["ch-migrate.js", "ch:migrate"],
    ]) {
      const r = spawnSync(NODE, [`dist/origin/${cli}`], {
        cwd: release,
        env: releaseEnv(),
        encoding: "utf8",
        timeout: 60_000,
      });
      expect(r.status, `${cli}:\n${r.stdout}${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`\\[${tag}\\] (?:\\S+: )?0 applied, [1-9]\\d* already applied`));
    }
  });

  it("starts with the pinned Node 22 alone, answers /healthz and /readyz, and stops cleanly on SIGTERM", async () => {
    const port = await freePort();
    const child = spawn(NODE, ["--enable-source-maps", "dist/origin/main.js"], {
      cwd: release,
      env: releaseEnv({
        ORIGIN_HOST: "127.0.0.1",
        ORIGIN_PORT: String(port),
        // Everything but the generators, which write the shared hot/suggestion keys; the
        // serving index in a namespace of its own.
        ORIGIN_PARTS: "http,connector,sink,index,relay",
        INDEX_NAMESPACE: `t${h.id}:`,
        INDEX_GROUP_ID: `test-prod-index-${h.id}`,
        CDC_WATCH_INTERVAL_MS: "500",
        STARTUP_TIMEOUT_MS: "90000",
        SINK_GROUP_ID: `test-prod-sink-${h.id}`,
        RELAY_STREAM: stream,
      }),
      stdio: ["ignore", "pipe", "pipe"],
    });
    origin = child;
    child.stdout?.on("data", (d) => (output += String(d)));
    child.stderr?.on("data", (d) => (output += String(d)));
    exited = new Promise((r) => child.once("exit", (code) => r(code)));
    const base = `http://127.0.0.1:${port}`;
    const get = async (path: string) => {
      try {
        return (await fetch(`${base}${path}`, { signal: AbortSignal.timeout(2000) })).status;
      } catch {
        return 0;
      }
    };
    const running = () => child.exitCode === null && child.signalCode === null;
    await waitFor(
      async () => {
        if (!running()) throw new Error(`the origin exited (${child.exitCode}):\n${output}`);
        return (await get("/healthz")) === 200;
      },
      120_000,
      "the built origin to answer /healthz",
    );
    await waitFor(async () => (await get("/readyz")) === 200, 60_000, "the built origin to be ready (/readyz 200)");
    // (kafkajs logs transient errors while a fresh consumer group's coordinator loads; fatal is what counts)
    expect(output).not.toContain('"level":60');

    child.kill("SIGTERM");
    const code = await Promise.race([
      exited,
      new Promise((r) => setTimeout(() => r("no exit 20 s after SIGTERM"), 20_000)),
    ]);
    expect(code, output).toBe(0);
    expect(output).toContain('"msg":"stopped"');
  }, 240_000);
});

/**
 * `npm run bench:bootstrap -- --database bench_m [--runs N]`: the serving-index bootstrap's
 * memory and time on a loaded dataset (a `npm run bench -- --scale M --load-only` leaves one),
 * against the way it used to work, in the same run. Each measurement runs in a fresh child
 * process, so its peak RSS (VmHWM) is its own:
 * - `streamed`: bootstrapIndex, which writes each row to Redis as ClickHouse streams it and
 *   holds only the window's posts;
 * - `in-memory`: readIndexState, which collects the whole state first (what the bootstrap did
 *   before it streamed, and what check:index still does). The old bootstrap also wrote it all
 *   to Redis afterwards, so its peak was at least this.
 * - `checkout` (with `--checkout DIR`): another checkout's bootstrapIndex, e.g. a worktree at
 *   an older commit, for the before/after.
 * `--heap-mb 256,512` repeats them under those V8 heap limits: a mode that needs more live memory
 * fails with "heap out of memory", which the report records. `--live-heap` forces a full GC
 * every second to sample the live heap (slower: compare times from runs without it). Writes
 * docs/bench-results/bootstrap-<database>[-live].json and .md.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { createClient } from "@clickhouse/client";
import { Redis } from "ioredis";
import { indexKeys } from "#core/keys.ts";
import { bootstrapIndex, readIndexState } from "../../origin/src/index/bootstrap.ts";
import { unlinkByPrefix } from "../../origin/src/index/exec.ts";
import { argsOrExit, intArg, parseCli, UsageError } from "../lib/cli.ts";
import { rewriteAof } from "../local/stack/redis.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const CH_URL = process.env.CLICKHOUSE_URL ?? `http://127.0.0.1:${process.env.CH_GATEWAY_PORT ?? 8123}`;
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const MODES = ["streamed", "in-memory", "checkout"] as const;
type Mode = (typeof MODES)[number];

interface Measurement {
  mode: Mode;
  /** The child's V8 old-space limit (--max-old-space-size), when one was set. */
  heapLimitMb: number | null;
  /** Why the child failed (e.g. it ran out of heap under the limit); the figures are then NaN. */
  failed?: string;
  ms: number;
  peakRssMb: number;
  /** Largest heap in use right after a full GC, sampled every second: the live memory. */
  peakLiveHeapMb: number;
  detail: Record<string, unknown>;
}

/** The process's peak resident set so far (VmHWM), in MiB. */
function peakRssMb(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
  return m ? Math.round(Number(m[1]) / 1024) : Number.NaN;
}

async function measure(
  mode: Mode,
  database: string,
  namespace: string,
  heapLimitMb: number | null,
): Promise<Measurement> {
  const ch = createClient({ url: CH_URL, database, request_timeout: 3_600_000 });
  const redis = new Redis(REDIS_URL);
  // Live memory: what a full collection leaves (the child runs with --expose-gc).
  const gc = process.env.BOOTSTRAP_LIVE_HEAP === "1" ? (globalThis as { gc?: () => void }).gc : undefined;
  let peakLiveHeapMb = 0;
  const sampler = setInterval(() => {
    gc?.();
    peakLiveHeapMb = Math.max(peakLiveHeapMb, Math.round(process.memoryUsage().heapUsed / 2 ** 20));
  }, 1000);
  try {
    const t0 = Date.now();
    let detail: Record<string, unknown>;
    if (mode === "streamed") {
      detail = { ...(await bootstrapIndex(ch, redis, indexKeys(namespace))) };
    } else if (mode === "checkout") {
      // Another checkout's bootstrap (e.g. a worktree at an older commit), on the same data.
      const dir = process.env.BOOTSTRAP_CHECKOUT as string;
      const other = await import(pathToFileURL(resolve(dir, "origin/src/index/bootstrap.ts")).href);
      // The keys module: edge/core/keys.ts (older checkouts re-exported it from edge/core/index.ts).
      const keysFile = ["edge/core/keys.ts", "edge/core/index.ts"].find((f) => existsSync(resolve(dir, f))) as string;
      const core = await import(pathToFileURL(resolve(dir, keysFile)).href);
      detail = { checkout: dir, ...(await other.bootstrapIndex(ch, redis, core.indexKeys(namespace))) };
    } else {
      const s = await readIndexState(ch);
      detail = {
        posts: s.posts.size,
        otherRecordPosts: s.otherRecords.size,
        followers: s.followees.size,
        affinityUsers: s.affinity.size,
      };
    }
    return { mode, heapLimitMb, ms: Date.now() - t0, peakRssMb: peakRssMb(), peakLiveHeapMb, detail };
  } finally {
    clearInterval(sampler);
    await ch.close();
    redis.disconnect();
  }
}

/**
 * Removes the namespace a bootstrap wrote, then rewrites the Redis AOF and waits for it (outside
 * any measurement): every bootstrap writes the whole index and the drop deletes it again, which
 * an AOF keeps until it is rewritten.
 */
async function dropNamespace(namespace: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  try {
    await unlinkByPrefix(redis, namespace);
    const r = await rewriteAof(redis);
    if (r.rewritten) {
      const mib = (b: number | null) => (b === null ? "?" : (b / 2 ** 20).toFixed(1));
      console.log(`[bench:bootstrap] Redis AOF rewritten: ${mib(r.beforeBytes)} → ${mib(r.afterBytes)} MiB`);
    }
  } finally {
    redis.disconnect();
  }
}

function markdown(database: string, runs: Measurement[], live: boolean): string {
  const fmt = (n: number, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : "–");
  const rows = runs.map(
    (r) =>
      `| ${r.mode} | ${r.heapLimitMb ?? "default"} | ${r.failed ? `**failed**: ${r.failed}` : "ok"} | ${fmt(r.peakLiveHeapMb)} | ${fmt(r.peakRssMb)} | ${fmt(r.ms / 1000, 1)} |`,
  );
  return [
    `# Serving-index bootstrap on ${database}`,
    "",
    `${new Date().toISOString()}. Each run in a fresh process. \`streamed\` is the bootstrap (reads ClickHouse, writes Redis as rows arrive); \`in-memory\` only reads the same rows into memory, as the bootstrap did before it streamed (it then also wrote them all), so the old bootstrap needed at least that. ${live ? "Live heap: the largest heap in use right after a full GC, forced every second (which slows every mode); peak RSS includes garbage V8 had not yet collected." : "Heap sampled every second without forcing a GC, so it includes garbage; `--live-heap` measures the live heap instead (slower)."} \`checkout\`: the bootstrap of another checkout (\`--checkout\`), on the same data.`,
    "",
    `| mode | heap limit (MiB) | result | ${live ? "peak live heap" : "peak heap in use, garbage included"} (MiB) | peak RSS (MiB) | time (s) |`,
    "|---|---:|---|---:|---:|---:|",
    ...rows,
    "",
    "Details:",
    ...runs.map((r) => `- ${r.mode} (heap limit ${r.heapLimitMb ?? "default"}): ${JSON.stringify(r.detail)}`),
    "",
  ].join("\n");
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const usage =
    "npm run bench:bootstrap -- --database <ClickHouse database> [--runs N] [--heap-mb N,N...] [--checkout DIR] [--live-heap]";
  const args = argsOrExit("[bench:bootstrap]", () => {
    const { values } = parseCli(usage, {
      database: { type: "string" },
      runs: { type: "string" },
      "heap-mb": { type: "string" },
      checkout: { type: "string" },
      "live-heap": { type: "boolean", default: false },
      child: { type: "string" },
      namespace: { type: "string" },
    });
    if (!values.database || !/^\w+$/.test(values.database))
      throw new UsageError(`--database (a ClickHouse database name) is required\nusage: ${usage}`);
    const heap =
      values["heap-mb"] === undefined
        ? []
        : values["heap-mb"].split(",").map((v) => intArg(usage, "--heap-mb", v, 0, 64));
    return { ...values, database: values.database, runs: intArg(usage, "--runs", values.runs, 1, 1), heap };
  });
  if (args.child) {
    // One measurement, as a child: its JSON on the last line.
    const limit = process.execArgv.find((a) => a.startsWith("--max-old-space-size="));
    const m = await measure(
      args.child as Mode,
      args.database,
      args.namespace ?? "",
      limit ? Number(limit.split("=")[1]) : null,
    );
    console.log(JSON.stringify(m));
  } else {
    const namespace = `${args.database}-bootstrap-bench:`;
    const runs: Measurement[] = [];
    const limits: (number | null)[] = [null, ...args.heap];
    const modes = MODES.filter((m) => m !== "checkout" || args.checkout);
    const childEnv = {
      ...process.env,
      BOOTSTRAP_CHECKOUT: args.checkout ? resolve(args.checkout) : "",
      BOOTSTRAP_LIVE_HEAP: args["live-heap"] ? "1" : "0",
    };
    for (let i = 0; i < args.runs; i++) {
      for (const heapLimitMb of limits) {
        for (const mode of modes) {
          await dropNamespace(namespace);
          const r = spawnSync(
            process.execPath,
            [
              "--expose-gc",
              ...(heapLimitMb ? [`--max-old-space-size=${heapLimitMb}`] : []),
              "--import",
              "tsx",
              import.meta.filename,
              "--database",
              args.database,
              "--child",
              mode,
              "--namespace",
              namespace,
            ],
            { cwd: ROOT, encoding: "utf8", maxBuffer: 64 * 1024 * 1024, env: childEnv },
          );
          let m: Measurement;
          if (r.status === 0) {
            m = JSON.parse(r.stdout.trim().split("\n").at(-1) as string) as Measurement;
          } else {
            const oom = /heap out of memory|Allocation failed/i.test(r.stderr);
            if (!oom) throw new Error(`${mode} failed (${r.status ?? r.signal}):\n${r.stdout}${r.stderr}`);
            m = {
              mode,
              heapLimitMb,
              failed: "JavaScript heap out of memory",
              ms: Number.NaN,
              peakRssMb: Number.NaN,
              peakLiveHeapMb: Number.NaN,
              detail: {},
            };
          }
          console.log(
            `[bench:bootstrap] ${m.mode} (heap limit ${heapLimitMb ?? "default"}): ${m.failed ?? `heap ${m.peakLiveHeapMb} MiB, peak RSS ${m.peakRssMb} MiB, ${(m.ms / 1000).toFixed(1)} s`}`,
          );
          runs.push(m);
        }
      }
    }
    await dropNamespace(namespace);
    const md = markdown(args.database, runs, args["live-heap"]);
    const out = `docs/bench-results/bootstrap-${args.database}${args["live-heap"] ? "-live" : ""}`;
    writeFileSync(resolve(ROOT, `${out}.json`), `${JSON.stringify(runs, null, 2)}\n`);
    writeFileSync(resolve(ROOT, `${out}.md`), md);
    console.log(md);
  }
}

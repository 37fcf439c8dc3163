/**
 * The benchmark's figures and its one report writer: every phase pushes Figures (ours vs the
 * baseline, their ratio, a target when the issue sets one), and writeReport turns them into
 * docs/bench-results/bench-<scale>.json and .md with the machine, date and commit.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { resolve } from "node:path";
import { log, round } from "./context.ts";
import type { Shot } from "./load.ts";
import { median, spread } from "./rounds.ts";

const ROOT = resolve(import.meta.dirname, "../..");

export interface ReportInput {
  scale: string;
  complete: boolean;
  startedAtMs: number;
  dataset: object;
  loadSeconds: number;
  /** The scale's full user count when this run used fewer (--users). */
  reducedFrom?: number;
  figures: Figure[];
  details: Record<string, unknown>;
  /** Anything else the JSON should carry (e.g. the baseline's SQL). */
  extra?: Record<string, unknown>;
  /** The phases that ran, when not all of them did (--only): the report is then bench-<scale>-partial. */
  partial?: string[];
  /** The files' name (without extension) instead of bench-<scale>[-partial]. */
  file?: string;
  /** The commit measured, from scripts/lib/revision.ts (`+dirty` unless clean from start to end). */
  commit: string;
}

/** Writes what was measured (also after a failure, marked incomplete). */
export function writeReport(input: ReportInput): void {
  const cpus = os.cpus();
  const report = {
    scale: input.scale,
    complete: input.complete,
    ...(input.partial ? { phases: input.partial } : {}),
    date: new Date().toISOString(),
    commit: input.commit,
    machine: {
      cpus: cpus.length,
      cpu_model: cpus[0]?.model ?? "unknown",
      memory_gib: round(os.totalmem() / 2 ** 30, 1),
      os: `${os.type()} ${os.release()}`,
      node: process.version,
    },
    dataset: input.dataset,
    ...(input.reducedFrom ? { reduced_from_users: input.reducedFrom } : {}),
    load_seconds: round(input.loadSeconds),
    total_seconds: round((Date.now() - input.startedAtMs) / 1000),
    figures: input.figures,
    details: input.details,
    ...input.extra,
  };
  mkdirSync(resolve(ROOT, "docs/bench-results"), { recursive: true });
  const file = input.file ?? `bench-${input.scale}${input.partial ? "-partial" : ""}`;
  const jsonPath = resolve(ROOT, `docs/bench-results/${file}.json`);
  const mdPath = resolve(ROOT, `docs/bench-results/${file}.md`);
  writeFileSync(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(mdPath, markdown(report));
  console.log(markdown(report));
  log(`wrote ${jsonPath} and ${mdPath}`);
}

export interface Figure {
  name: string;
  ours: number;
  baseline: number | null;
  /** For latencies baseline/ours (how many times faster we are); for throughputs ours/baseline. */
  ratio: number | null;
  target: string | null;
  met: boolean | null;
  /**
   * A figure measured in rounds (rounds.ts): each side's value per round, in round order (for a
   * ratio figure, `ours` holds each round's ratio); `ours` and `baseline` above are then the
   * medians, `ratio` the ratio of the medians, `met` judged on the median.
   */
  rounds?: { ours: number[]; baseline: number[] | null };
  /** The rounds' min–max per side. */
  spread?: { ours: [number, number]; baseline: [number, number] | null };
}

export function latency(name: string, ours: number, baseline: number, targetMs?: number): Figure {
  return {
    name,
    ours,
    baseline,
    ratio: round(baseline / Math.max(ours, 0.001), 2),
    target: targetMs === undefined ? null : `≤ ${targetMs} ms`,
    met: targetMs === undefined ? null : ours <= targetMs,
  };
}

export function throughput(name: string, ours: number, baseline: number, target?: number): Figure {
  return {
    name,
    ours,
    baseline,
    ratio: round(ours / Math.max(baseline, 0.001), 2),
    target: target === undefined ? null : `≥ ${target}`,
    met: target === undefined ? null : ours >= target,
  };
}

/** Hit ratio of an ideal cache (fill on miss, entries live `ttlMs`) over a request stream. */
export function idealHitRatio(stream: { at: number; user: string }[], ttlMs: number): number {
  const until = new Map<string, number>();
  let hits = 0;
  for (const r of stream) {
    if ((until.get(r.user) ?? Number.NEGATIVE_INFINITY) > r.at) hits++;
    else until.set(r.user, r.at + ttlMs);
  }
  return hits / Math.max(1, stream.length);
}

/** How many times faster than the baseline (baseline ÷ ours), against a ≥ target. */
export function ratioFigure(name: string, baselineMs: number, oursMs: number, atLeast: number): Figure {
  const x = baselineMs / Math.max(oursMs, 0.001);
  return { name, ours: round(x, 2), baseline: null, ratio: null, target: `≥ ${atLeast}×`, met: x >= atLeast };
}

/** Adds the rounds (and their spread) to a figure built from the medians. */
function withRounds(f: Figure, ours: number[], baseline: number[] | null): Figure {
  const r2 = (xs: number[]) => xs.map((x) => round(x, 2));
  const sp = (xs: number[]) => spread(xs).map((x) => round(x, 2)) as [number, number];
  return {
    ...f,
    rounds: { ours: r2(ours), baseline: baseline ? r2(baseline) : null },
    spread: { ours: sp(ours), baseline: baseline ? sp(baseline) : null },
  };
}

/** latency() of the medians of the rounds, with every round and the spread. */
export function latencyRounds(name: string, ours: number[], baseline: number[], targetMs?: number): Figure {
  return withRounds(latency(name, round(median(ours), 2), round(median(baseline), 2), targetMs), ours, baseline);
}

/** throughput() of the medians of the rounds, with every round and the spread. */
export function throughputRounds(name: string, ours: number[], baseline: number[], target?: number): Figure {
  return withRounds(throughput(name, round(median(ours), 2), round(median(baseline), 2), target), ours, baseline);
}

/** ratioFigure() of the medians (baseline ÷ ours); its rounds are each round's ratio. */
export function ratioRounds(name: string, baselineMs: number[], oursMs: number[], atLeast: number): Figure {
  const perRound = baselineMs.map((b, i) => b / Math.max(oursMs[i] ?? Number.NaN, 0.001));
  return withRounds(ratioFigure(name, median(baselineMs), median(oursMs), atLeast), perRound, null);
}

/** info() of the median of the rounds (ours alone), with every round and the spread. */
export function infoRounds(name: string, ours: number[]): Figure {
  return withRounds(info(name, round(median(ours), 2)), ours, null);
}

/** A figure of ours alone (no baseline equivalent, no target). */
export function info(name: string, ours: number): Figure {
  return { name, ours, baseline: null, ratio: null, target: null, met: null };
}

/**
 * Where a request's time goes, one figure per Server-Timing stage (the mean over each round's
 * answers; the figure is the median of the rounds): `<label>: <stage> (ms, mean, Server-Timing)`.
 * `total` is the handler's whole time inside the worker; what the client measured beyond it is
 * outside the handler (the runtime's queue, the client's connection, a proxy).
 */
export function stageRounds(label: string, perRound: Record<string, number>[]): Figure[] {
  const names = [...new Set(perRound.flatMap((r) => Object.keys(r)))];
  names.sort((a, b) => (a === "total" ? 1 : b === "total" ? -1 : 0));
  return names.map((stage) =>
    infoRounds(
      `${label}: ${stage} (ms, mean, Server-Timing)`,
      perRound.map((r) => r[stage] ?? 0),
    ),
  );
}

/** A latency figure of ours alone with an upper target (ms). */
export function withUpperTarget(f: Figure, targetMs: number): Figure {
  return { ...f, target: `≤ ${targetMs} ms`, met: f.ours <= targetMs };
}

/** Sorted Server-Timing `total` durations of the answers that carry one. */
export function serverTotals(shots: Shot[]): number[] {
  return shots
    .map((s) => /(?:^|,\s*)total;dur=([\d.]+)/.exec(s.timing ?? "")?.[1])
    .filter((v): v is string => v !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

export function only(shots: Shot[], cache: string): Shot[] {
  return shots.filter((s) => s.cache === cache);
}

/** Mean of each Server-Timing stage over the answers that carry one. */
export function stageMeans(shots: Shot[]): Record<string, number> {
  const sums: Record<string, { total: number; n: number }> = {};
  for (const s of shots) {
    for (const part of (s.timing ?? "").split(",")) {
      const m = /^\s*([\w-]+);dur=([\d.]+)/.exec(part);
      if (!m) continue;
      const key = m[1] as string;
      const e = sums[key] ?? { total: 0, n: 0 };
      e.total += Number(m[2]);
      e.n++;
      sums[key] = e;
    }
  }
  return Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, round(v.total / v.n, 2)]));
}

export function markdown(r: {
  scale: string;
  complete: boolean;
  date: string;
  commit: string;
  machine: Record<string, unknown>;
  dataset: object;
  reduced_from_users?: number;
  load_seconds: number;
  total_seconds: number;
  figures: Figure[];
  details?: Record<string, unknown>;
}): string {
  const fmt = (x: number | null) => (x === null ? "–" : String(x));
  // A figure measured in rounds shows its median and, after it, the rounds' min–max.
  const cell = (x: number | null, sp: [number, number] | null | undefined) =>
    x === null ? "–" : sp ? `${x} (${sp[0]}–${sp[1]})` : String(x);
  const rounds = Math.max(0, ...r.figures.map((f) => f.rounds?.ours.length ?? 0));
  const lines = [
    `# Benchmark, scale ${r.scale}${r.complete ? "" : " (incomplete: the run failed part way)"}`,
    "",
    `${r.date} · commit ${r.commit} · ${r.machine.cpus}× ${r.machine.cpu_model}, ${r.machine.memory_gib} GiB, ${r.machine.os}, Node ${r.machine.node}`,
    "",
    `Dataset: ${Object.entries(r.dataset)
      .filter(([k]) => k !== "timingsMs" && k !== "demoUser")
      .map(([k, v]) => `${v} ${k}`)
      .join(", ")}; bulk load ${r.load_seconds} s; whole run ${r.total_seconds} s.${
      r.reduced_from_users
        ? ` Reduced from the scale's ${r.reduced_from_users} users (--users): see the README's Benchmark section for why.`
        : ""
    }`,
    "",
    'Ours: the built edge bundle under plain workerd (the production runtime; the headline) and under `wrangler dev`, Redis via the REST bridge, ClickHouse via the chDB gateway, with the origin running. Baseline: the service a team would write with PostgreSQL alone (scripts/bench/baseline.ts), doing the same work under the same HTTP contract: F1 + F2 + F3 with the same limits, windows and filters, real shares and impressions kept by its intake, trending from a materialized view refreshed every 60 s, ranked by the same pure code. Figures marked "distance profile" go through delay proxies (details.distance.profile); all others are on loopback. Ratio: for latencies baseline ÷ ours (× faster), for throughputs ours ÷ baseline.',
    ...loadLine(r.details?.load_average_1m),
    ...(rounds
      ? [
          "",
          `A value followed by a range, "median (min–max)", is the median of ${rounds} rounds and the spread across them: the rounds interleave the sides (ours, baseline, baseline, ours, …), every side of a round gets the same viewers in the same order, and the ratio is that of the medians (docs/benchmark.md, Method; every round is in the JSON). Other figures are one run.`,
        ]
      : []),
    "",
    "| figure | ours | baseline | ratio | target | met |",
    "|---|---:|---:|---:|---|---|",
    ...r.figures.map(
      (f) =>
        `| ${f.name} | ${cell(f.ours, f.spread?.ours)} | ${cell(f.baseline, f.spread?.baseline)} | ${fmt(f.ratio)} | ${f.target ?? "–"} | ${f.met === null ? "–" : f.met ? "yes" : "**no**"} |`,
    ),
    "",
  ];
  return lines.join("\n");
}

/** The machine's load around each phase, when the run recorded it (2 cores: above ~2 means queueing). */
function loadLine(load: unknown): string[] {
  if (!load || typeof load !== "object") return [];
  const parts = Object.entries(load as Record<string, { before: number; after: number }>).map(
    ([phase, l]) => `${phase} ${l.before}→${l.after}`,
  );
  return parts.length
    ? ["", `Load average (1 min) before→after each phase, on ${os.cpus().length} cores: ${parts.join(", ")}.`]
    : [];
}

/**
 * The growth curve: for each figure, S → M → L for both sides, from the
 * complete reports in docs/bench-results/bench-<scale>.json. Writes docs/bench-results/growth.md (the
 * table, with how much each figure grew from one scale to the next) and growth.svg (feed p95
 * against users, both sides). Run by `npm run bench` after each complete run, and alone as
 * `npm run bench:growth`.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { argsOrExit, parseCli, UsageError } from "../lib/cli.ts";
import type { Figure } from "./report.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const DIR = resolve(ROOT, "docs/bench-results");
export const GROWTH_SCALES = ["S", "M", "L"] as const;

interface Report {
  scale: string;
  complete: boolean;
  date: string;
  commit: string;
  dataset: { users?: number; posts?: number; events?: number; follows?: number };
  load_seconds: number;
  figures: Figure[];
  details: { stores?: Record<string, number | null>; index?: { bootstrap?: { ms?: number } } };
}

/** A row of the growth table: a figure of ours (and the baseline's, when it has one) per scale. */
interface Series {
  label: string;
  unit: string;
  ours: (r: Report) => number | null;
  baseline?: (r: Report) => number | null;
  /** Plotted in growth.svg. */
  plot?: boolean;
  /** The issue's growth target on ours from M to L. */
  maxGrowthML?: number;
}

/** A figure by name; later names are what earlier reports called the same measurement. */
const fig =
  (names: string | string[], side: "ours" | "baseline") =>
  (r: Report): number | null => {
    for (const name of Array.isArray(names) ? names : [names]) {
      const v = r.figures.find((x) => x.name === name)?.[side];
      if (typeof v === "number") return v;
    }
    return null;
  };
const store = (k: string) => (r: Report) => {
  const v = r.details.stores?.[k];
  return typeof v === "number" ? v : null;
};

export const SERIES: Series[] = [
  {
    label: "feed p95 under the Zipf mix, plain workerd, 4 clients",
    unit: "ms",
    ours: fig("feed under Zipf mix p95 (ms), plain workerd", "ours"),
    baseline: fig("feed under Zipf mix p95 (ms), plain workerd", "baseline"),
    plot: true,
    maxGrowthML: 1.5,
  },
  {
    label: "feed MISS p95, plain workerd, 1 client",
    unit: "ms",
    ours: fig("feed MISS p95 (ms), plain workerd, 1 client", "ours"),
    baseline: fig("feed MISS p95 (ms), plain workerd, 1 client", "baseline"),
    plot: true,
    maxGrowthML: 1.5,
  },
  {
    label: "feed MISS p95 inside the worker (Server-Timing total), 1 client",
    unit: "ms",
    ours: fig("feed MISS p95 inside the worker (ms), 1 client", "ours"),
  },
  {
    label: "feed HIT p95, plain workerd, 1 client",
    unit: "ms",
    ours: fig("feed HIT p95 (ms), plain workerd, 1 client", "ours"),
    baseline: fig("feed HIT p95 (ms), plain workerd, 1 client", "baseline"),
  },
  {
    label: "feed p95 under the Zipf mix, wrangler dev, 4 clients",
    unit: "ms",
    ours: fig(["feed under Zipf mix p95 (ms), wrangler dev", "feed under Zipf mix p95 (ms)"], "ours"),
    baseline: fig(["feed under Zipf mix p95 (ms), wrangler dev", "feed under Zipf mix p95 (ms)"], "baseline"),
  },
  {
    label: "feed p95 under the Zipf mix, distance profile, 4 clients",
    unit: "ms",
    ours: fig("feed under Zipf mix (4 clients) p95 (ms), distance profile", "ours"),
    baseline: fig("feed under Zipf mix (4 clients) p95 (ms), distance profile", "baseline"),
    plot: true,
  },
  {
    label: "cold-path feed MISS p95 (ClickHouse query)",
    unit: "ms",
    ours: fig("cold-path feed MISS p95 (ms), 1 client", "ours"),
  },
  {
    label: "event intake, plain workerd, pipeline running",
    unit: "events/s",
    ours: fig("event intake (events/s, batches of 100, 8 clients), plain workerd, pipeline running", "ours"),
    baseline: fig("event intake (events/s, batches of 100, 8 clients), plain workerd, pipeline running", "baseline"),
  },
  {
    label: "event intake, wrangler dev, pipeline running",
    unit: "events/s",
    ours: fig(
      [
        "event intake (events/s, batches of 100, 8 clients), wrangler dev, pipeline running",
        "event intake (events/s, batches of 100, 8 clients), pipeline running",
      ],
      "ours",
    ),
    baseline: fig(
      [
        "event intake (events/s, batches of 100, 8 clients), wrangler dev, pipeline running",
        "event intake (events/s, batches of 100, 8 clients), pipeline running",
      ],
      "baseline",
    ),
  },
  {
    label: "event intake p50, distance profile",
    unit: "ms",
    ours: fig("event intake (a batch of 20) p50 (ms), distance profile", "ours"),
    baseline: fig("event intake (a batch of 20) p50 (ms), distance profile", "baseline"),
  },
  { label: "bulk load", unit: "s", ours: (r) => r.load_seconds },
  {
    label: "serving index bootstrap from ClickHouse",
    unit: "s",
    ours: fig("serving index bootstrap from ClickHouse (s)", "ours"),
  },
  { label: "Redis: serving index memory", unit: "MiB", ours: store("redis_index_mib") },
  { label: "Redis: resident memory (whole server)", unit: "MiB", ours: store("redis_rss_mib") },
  { label: "ClickHouse: parts on disk", unit: "MiB", ours: store("clickhouse_disk_mib") },
  { label: "chDB gateway: resident memory", unit: "MiB", ours: store("ch_gateway_rss_mib") },
  { label: "Kafka: the run's topics on disk", unit: "MiB", ours: store("kafka_topics_mib") },
  {
    label: "PostgreSQL on disk: write store (ours) / write store + baseline tables (baseline)",
    unit: "MiB",
    ours: store("postgres_product_mib"),
    baseline: store("postgres_mib"),
  },
];

function load(scale: string): Report | null {
  const p = resolve(DIR, `bench-${scale}.json`);
  if (!existsSync(p)) return null;
  const r = JSON.parse(readFileSync(p, "utf8")) as Report;
  return r.complete ? r : null;
}

const fmt = (x: number | null | undefined) => (x === null || x === undefined ? "–" : String(x));
const grow = (a: number | null, b: number | null) =>
  a === null || b === null || a <= 0 ? null : Math.round((b / a) * 100) / 100;

export function growthMarkdown(reports: Report[]): string {
  const lines = [
    `# Benchmark growth: ${reports.map((r) => r.scale).join(" → ")}`,
    "",
    "Each scale's complete run, from docs/bench-results/bench-<scale>.json (each run compares ours with the baseline in the same run; runs at different scales were taken at different times, so compare growth factors, not single cells across rows).",
    "",
    "| scale | users | posts | events | date | commit |",
    "|---|---:|---:|---:|---|---|",
    ...reports.map(
      (r) =>
        `| ${r.scale} | ${fmt(r.dataset.users)} | ${fmt(r.dataset.posts)} | ${fmt(r.dataset.events)} | ${r.date.slice(0, 16)} | ${r.commit} |`,
    ),
    "",
    `| figure | side | ${reports.map((r) => r.scale).join(" | ")} | ${reports
      .slice(1)
      .map((r, i) => `${reports[i]?.scale}→${r.scale}`)
      .join(" | ")} | target |`,
    `|---|---|${reports.map(() => "---:").join("|")}|${reports
      .slice(1)
      .map(() => "---:")
      .join("|")}|---|`,
  ];
  for (const s of SERIES) {
    for (const side of ["ours", "baseline"] as const) {
      const get = side === "ours" ? s.ours : s.baseline;
      if (!get) continue;
      const vals = reports.map((r) => get(r));
      if (vals.every((v) => v === null)) continue;
      const growth = vals.slice(1).map((v, i) => grow(vals[i] ?? null, v));
      let target = "–";
      if (side === "ours" && s.maxGrowthML !== undefined) {
        const m = reports.findIndex((r) => r.scale === "M");
        const l = reports.findIndex((r) => r.scale === "L");
        const g = m >= 0 && l >= 0 ? grow(vals[m] ?? null, vals[l] ?? null) : null;
        target = `M→L ≤ ${s.maxGrowthML}×${g === null ? "" : g <= s.maxGrowthML ? ": yes" : ": **no**"}`;
      }
      lines.push(
        `| ${s.label} (${s.unit}) | ${side} | ${vals.map(fmt).join(" | ")} | ${growth.map((g) => (g === null ? "–" : `${g}×`)).join(" | ")} | ${target} |`,
      );
    }
  }
  lines.push("", "![feed p95 against users, both sides](growth.svg)", "");
  return lines.join("\n");
}

/** A small line plot: feed p95 (ms) against users (log scale), ours solid, the baseline dashed. */
export function growthSvg(reports: Report[]): string {
  const W = 720;
  const H = 420;
  const pad = { l: 60, r: 20, t: 30, b: 150 };
  const plotted = SERIES.filter((s) => s.plot);
  const colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];
  const users = reports.map((r) => r.dataset.users ?? 0);
  const lines: { label: string; color: string; dashed: boolean; pts: [number, number][] }[] = [];
  plotted.forEach((s, i) => {
    for (const side of ["ours", "baseline"] as const) {
      const get = side === "ours" ? s.ours : s.baseline;
      if (!get) continue;
      const pts = reports
        .map((r, k) => [users[k] as number, get(r)] as [number, number | null])
        .filter((p): p is [number, number] => p[1] !== null && p[0] > 0);
      if (pts.length)
        lines.push({ label: `${s.label}: ${side}`, color: colors[i % 4] as string, dashed: side !== "ours", pts });
    }
  });
  const xs = lines.flatMap((l) => l.pts.map((p) => Math.log10(p[0])));
  const ys = lines.flatMap((l) => l.pts.map((p) => p[1]));
  const x0 = Math.min(...xs) - 0.15;
  const x1 = Math.max(...xs) + 0.15;
  const y1 = Math.max(...ys, 10) * 1.1;
  const X = (u: number) => pad.l + ((Math.log10(u) - x0) / (x1 - x0)) * (W - pad.l - pad.r);
  const Y = (v: number) => H - pad.b - (v / y1) * (H - pad.t - pad.b);
  const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="18" text-anchor="middle" font-size="13">feed p95 (ms) against users: ours solid, PostgreSQL baseline dashed</text>`,
    `<line x1="${pad.l}" y1="${H - pad.b}" x2="${W - pad.r}" y2="${H - pad.b}" stroke="black"/>`,
    `<line x1="${pad.l}" y1="${pad.t}" x2="${pad.l}" y2="${H - pad.b}" stroke="black"/>`,
  ];
  for (let k = 0; k <= 5; k++) {
    const v = (y1 / 5) * k;
    out.push(
      `<line x1="${pad.l}" y1="${Y(v)}" x2="${W - pad.r}" y2="${Y(v)}" stroke="#ddd"/>`,
      `<text x="${pad.l - 6}" y="${Y(v) + 4}" text-anchor="end">${Math.round(v)}</text>`,
    );
  }
  for (const u of [...new Set(users)].filter((u) => u > 0)) {
    out.push(
      `<line x1="${X(u)}" y1="${H - pad.b}" x2="${X(u)}" y2="${H - pad.b + 5}" stroke="black"/>`,
      `<text x="${X(u)}" y="${H - pad.b + 18}" text-anchor="middle">${u >= 1e6 ? `${u / 1e6}M` : `${u / 1e3}k`} users</text>`,
    );
  }
  lines.forEach((l, i) => {
    const d = l.pts.map((p, k) => `${k ? "L" : "M"}${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join(" ");
    out.push(
      `<path d="${d}" fill="none" stroke="${l.color}" stroke-width="2"${l.dashed ? ' stroke-dasharray="6,4"' : ""}/>`,
      ...l.pts.map((p) => `<circle cx="${X(p[0]).toFixed(1)}" cy="${Y(p[1]).toFixed(1)}" r="3" fill="${l.color}"/>`),
    );
    const ly = H - pad.b + 36 + i * 16;
    out.push(
      `<line x1="${pad.l}" y1="${ly - 4}" x2="${pad.l + 30}" y2="${ly - 4}" stroke="${l.color}" stroke-width="2"${l.dashed ? ' stroke-dasharray="6,4"' : ""}/>`,
      `<text x="${pad.l + 38}" y="${ly}">${esc(l.label)}</text>`,
    );
  });
  out.push("</svg>", "");
  return out.join("\n");
}

/** Writes growth.md and growth.svg from whichever of `scales` have a complete report. */
export function writeGrowth(scales: readonly string[] = GROWTH_SCALES): string | null {
  const reports = scales.map(load).filter((r): r is Report => r !== null);
  if (reports.length < 2) return null;
  const md = growthMarkdown(reports);
  writeFileSync(resolve(DIR, "growth.md"), md);
  writeFileSync(resolve(DIR, "growth.svg"), growthSvg(reports));
  return md;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  // `npm run bench:growth -- M L`: only those scales (e.g. leaving out a report taken under
  // other conditions); default all.
  const usage = `npm run bench:growth -- [${GROWTH_SCALES.join(" ")}]...`;
  const asked = argsOrExit("[bench:growth]", () => {
    const names = parseCli(usage, {}, { positionals: GROWTH_SCALES.length }).positionals.map((a) => a.toUpperCase());
    const unknown = names.find((n) => !(GROWTH_SCALES as readonly string[]).includes(n));
    if (unknown) throw new UsageError(`Unknown scale '${unknown}'\nusage: ${usage}`);
    return names;
  });
  const md = writeGrowth(asked.length ? asked : GROWTH_SCALES);
  if (md === null) {
    console.error("[bench:growth] needs complete reports of at least two scales in docs/bench-results/");
    process.exit(1);
  }
  console.log(md);
}

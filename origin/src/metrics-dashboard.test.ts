/**
 * The committed Grafana dashboard (origin/ops/grafana-dashboard.json) against the metrics the
 * origin really registers: a panel on a renamed or removed metric fails here, not silently on a
 * screen. Also the serving index's update lag metric, which the dashboard shows.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import type { IndexUpdaterStats } from "./index/updater.ts";
import type { Part } from "./lifecycle.ts";
import { createMetrics } from "./metrics.ts";

const DASHBOARD = resolve(import.meta.dirname, "../ops/grafana-dashboard.json");

interface Target {
  expr?: string;
  datasource?: { type?: string };
}
interface Panel {
  type: string;
  title: string;
  datasource?: { type?: string };
  targets?: Target[];
  panels?: Panel[];
}

const PROMQL_KEYWORDS = new Set([
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "bool",
  "and",
  "or",
  "unless",
  "offset",
  "inf",
  "nan",
]);

/** The metric names a PromQL expression reads (label matchers, ranges, groupings and functions left out). */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/\{[^}]*\}/g, " ") // label matchers (their strings too)
    .replace(/\[[^\]]*\]/g, " ") // range selectors
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ") // groupings
    .replace(/"[^"]*"/g, " ")
    .replace(/\$\{?\w+(:\w+)?\}?/g, " "); // Grafana variables
  const names: string[] = [];
  for (const m of bare.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const after = bare.slice((m.index ?? 0) + m[0].length);
    if (/^\s*\(/.test(after)) continue; // a function
    if (PROMQL_KEYWORDS.has(m[0].toLowerCase())) continue;
    if (/^[0-9]/.test(bare.slice((m.index ?? 0) - 1, m.index ?? 0))) continue; // 1e3, 5m
    names.push(m[0]);
  }
  return names;
}

function allPanels(list: Panel[]): Panel[] {
  return list.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}

async function exportedNames(): Promise<Set<string>> {
  const { registry } = createMetrics();
  const names = new Set<string>();
  for (const m of await registry.getMetricsAsJSON()) {
    names.add(m.name);
    if (String(m.type) === "histogram") for (const s of ["_bucket", "_sum", "_count"]) names.add(m.name + s);
  }
  return names;
}

describe("Grafana dashboard", () => {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, "utf8")) as {
    uid: string;
    title: string;
    panels: Panel[];
    templating: { list: { name: string; type: string; query: unknown }[] };
  };
  const panels = allPanels(dashboard.panels);
  const promTargets = panels.flatMap((p) =>
    (p.targets ?? [])
      .filter((t) => (t.datasource?.type ?? p.datasource?.type) === "prometheus")
      .map((t) => ({ panel: p.title, expr: t.expr ?? "" })),
  );
  const variableQueries = dashboard.templating.list
    .filter((v) => v.type === "query")
    .map((v) => {
      const q = typeof v.query === "string" ? v.query : ((v.query as { query?: string }).query ?? "");
      const m = /^label_values\(\s*([^,)]+)/.exec(q);
      return { panel: `variable $${v.name}`, expr: m ? (m[1] as string).trim() : q };
    });

  it("is an importable dashboard: uid, title, panels with unique ids and grid positions", () => {
    expect(dashboard.uid).toBeTruthy();
    expect(dashboard.title).toBeTruthy();
    const ids = panels.map((p) => (p as unknown as { id: number }).id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of panels) expect((p as unknown as { gridPos?: object }).gridPos, p.title).toBeDefined();
  });

  it("every PromQL expression reads only metrics the origin's registry exports", async () => {
    const exported = await exportedNames();
    const used = new Map<string, string[]>();
    for (const { panel, expr } of [...promTargets, ...variableQueries]) {
      const names = metricNames(expr);
      expect(names.length, `${panel}: no metric in ${expr}`).toBeGreaterThan(0);
      for (const n of names) used.set(n, [...(used.get(n) ?? []), panel]);
    }
    const missing = [...used].filter(([n]) => !exported.has(n)).map(([n, where]) => `${n} (${where.join(", ")})`);
    expect(missing).toEqual([]);
    // The views the issue asks for are all there.
    for (const n of [
      "origin_relay_events_total",
      "origin_relay_lag_seconds",
      "origin_sink_rows_total",
      "origin_sink_duplicates_total",
      "origin_sink_dead_letters_total",
      "origin_connector_running",
      "origin_job_runs",
      "origin_index_update_lag_seconds",
    ]) {
      expect(used.has(n), n).toBe(true);
    }
  });

  it("reads metric names out of PromQL (and would catch a bad one)", () => {
    expect(
      metricNames(
        'histogram_quantile(0.95, sum by (le) (rate(a_bucket{job=~"$job", route=~"/v1/.*"}[$__rate_interval])))',
      ),
    ).toEqual(["a_bucket"]);
    expect(metricNames("sum(increase(b_total[$__range])) / on (job) group_left c")).toEqual(["b_total", "c"]);
    expect(metricNames('max(x{a="y"}) * 1e3 offset 5m')).toEqual(["x"]);
  });
});

describe("origin_index_update_lag_seconds", () => {
  const stats = (lastLagMs: Record<string, number>, ops = 0): IndexUpdaterStats => ({
    batches: 1,
    ops,
    applyRetries: 0,
    reopenRetries: 0,
    crashes: 0,
    stalls: 1,
    lastLagMs,
    lastBatchAt: Date.now(),
  });

  /** A serving index as the lifecycle holds it; `stats` undefined while it bootstraps. */
  const servingIndex = (s: IndexUpdaterStats | undefined): Part => ({
    name: "serving-index",
    start: async () => {},
    stop: async () => {},
    health: () => ({ ok: true }),
    stats: s,
  });

  it("reports each topic's worst last-batch lag across updaters, and their summed ops", async () => {
    const a = servingIndex(stats({ "cdc.posts": 1500, events: 200 }, 7));
    const b = servingIndex(stats({ "cdc.posts": 500 }, 3));
    const metrics = createMetrics({ parts: [a, b] });
    const text = await metrics.registry.metrics();
    expect(text).toContain('origin_index_update_lag_seconds{topic="cdc.posts"} 1.5');
    expect(text).toContain('origin_index_update_lag_seconds{topic="events"} 0.2');
    expect(text).toMatch(/^origin_index_ops_total 10$/m);
    expect(text).toMatch(/^origin_index_batches_total 2$/m);
    expect(text).toMatch(/^origin_index_consumer_restarts_total 2$/m);
  });

  it("is absent without a running updater (no fake zero)", async () => {
    for (const parts of [[], [servingIndex(undefined)]]) {
      const text = await createMetrics({ parts }).registry.metrics();
      expect(text).not.toMatch(/^origin_index_update_lag_seconds\{/m);
    }
  });
});

/** The matrix as rows per phase, the Markdown table (results.md) and the JSON beside it (results.json). */
import { mkdirSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import type { KillTiming } from "./kill.ts";
import type { Load } from "./load.ts";
import type { FaultRow, MatrixResult } from "./matrix.ts";
import type { Checks, Drained } from "./verify.ts";

/** One row per phase: the warm-up, each fault, and the time after the last one. */
export function phaseRows(
  phases: string[],
  load: Load,
  drained: Drained,
  postOf: Map<string, string>,
  timings: Map<string, KillTiming>,
): FaultRow[] {
  const { seen, counted } = drained;
  return phases.map((p) => {
    const ids = [...load.accepted.entries()].filter(([, ph]) => ph === p).map(([e]) => e);
    const duplicated = ids.filter((e) => {
      const post = postOf.get(e);
      return (seen.get(e) ?? 0) > 1 || (post !== undefined && (counted.get(post) ?? 0) > 1);
    }).length;
    const s = load.stat(p);
    const t = timings.get(p);
    return {
      component: p,
      accepted: ids.length,
      refused: s.refused,
      lost: ids.filter((e) => !seen.has(e)).length,
      duplicated,
      writesOk: s.writesOk,
      writesFailed: s.writesFailed,
      streamAtKill: t?.streamAtKill ?? 0,
      restartMs: t?.restartMs ?? 0,
      recoveryMs: t?.recoveryMs ?? 0,
      ...(t?.note ? { note: t.note } : {}),
    };
  });
}

/** The checks as one sentence each, as the table's footer says them. */
export function checksLine(c: Checks): string {
  return [
    c.consistency.differences === 0
      ? "PostgreSQL ≡ ClickHouse (0 differences)"
      : `${c.consistency.differences} differences: ${c.consistency.report}`,
    c.index.differences === 0
      ? "serving index ≡ ClickHouse (0 differences)"
      : `index: ${c.index.differences} differences: ${c.index.report}`,
    c.derived.violations === 0
      ? "ClickHouse's derived data keeps the counting rules (0 violations, 0 zero authors of known posts)"
      : `derived: ${c.derived.violations} violations: ${c.derived.report}`,
  ].join(". ");
}

export function formatTable(
  rows: FaultRow[],
  extra: {
    commit: string;
    unacknowledgedInClickHouse: number;
    unacknowledgedBy?: string;
    consistency: string;
    own: string;
  },
): string {
  const s = (ms: number) => (ms ? `${(ms / 1000).toFixed(1)} s` : "–");
  const head = [
    "component",
    "events accepted",
    "lost",
    "duplicated",
    "refused requests",
    "writes ok / failed",
    "in stream at kill",
    "restart (healthy)",
    "recovery (end to end)",
  ];
  const body = rows.map((r) => [
    r.component,
    String(r.accepted),
    String(r.lost),
    String(r.duplicated),
    String(r.refused),
    `${r.writesOk} / ${r.writesFailed}`,
    r.restartMs ? String(r.streamAtKill) : "–",
    s(r.restartMs),
    s(r.recoveryMs),
  ]);
  // Aligned as the formatter (biome) prints Markdown tables: first column left, the rest right.
  const width = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] as string).length)));
  const cell = (v: string, i: number) => (i === 0 ? v.padEnd(width[i] as number) : v.padStart(width[i] as number));
  const line = (cells: string[]) => `| ${cells.map(cell).join(" | ")} |`;
  const rule = `| ${width.map((w, i) => (i === 0 ? "-".repeat(w) : `${"-".repeat(w - 1)}:`)).join(" | ")} |`;
  const notes = rows.filter((r) => r.note).map((r) => `- ${r.component}: ${r.note}`);
  const lines = [
    line(head),
    rule,
    ...body.map(line),
    "",
    `Events in ClickHouse never answered 202: ${extra.unacknowledgedInClickHouse}${extra.unacknowledgedBy ? ` (${extra.unacknowledgedBy})` : ""}. ${extra.consistency}.`,
    `${new Date().toISOString()}, commit ${extra.commit}; ${extra.own}. Recovery = SIGKILL → an event accepted after it is in ClickHouse.`,
    ...(notes.length
      ? [
          "",
          "updater-join: a second sink + serving-index process joins both consumer groups (restart = its start → ready). updater-mid-batch / sink-mid-batch: one of the two SIGKILLs itself in its index updater's (sink's) batch, after the writes and before the commit, and is restarted.",
          "",
          ...notes,
        ]
      : []),
  ];
  return lines.join("\n");
}

/** The table to `outFile` (Markdown) and the whole result beside it (.json). */
export function writeResults(outFile: string, result: MatrixResult): void {
  mkdirSync(resolve(outFile, ".."), { recursive: true });
  writeFileSync(outFile, `${result.table}\n`);
  writeFileSync(outFile.replace(/\.md$/, ".json"), `${JSON.stringify(result, null, 2)}\n`);
}

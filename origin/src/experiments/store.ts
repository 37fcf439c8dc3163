/**
 * Reads of the experiments tables (origin/db/migrations/0003) and of their outcomes in
 * ClickHouse (clickhouse/0005), shared by the operator API, the Redis projection and the CLI.
 */
import type { ClickHouseClient } from "@clickhouse/client";
import type pg from "pg";
import type { ExperimentStatus, RunningExperiment, Variant } from "#core/experiments/schema.ts";
import { compareVariants, type VariantResult, type VariantTotals } from "#core/experiments/statistics.ts";

/** An `experiments` row as node-postgres returns it (jsonb parsed, timestamptz as Date). */
export interface ExperimentRow {
  id: string;
  name: string;
  description: string;
  status: ExperimentStatus;
  variants: Variant[];
  control: string;
  candidate: string | null;
  promoted: string | null;
  started_at: Date | null;
  stopped_at: Date | null;
  promoted_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface ExperimentOut {
  id: string;
  name: string;
  description: string;
  status: ExperimentStatus;
  variants: Variant[];
  control: string;
  candidate: string | null;
  promoted: string | null;
  started_at: string | null;
  stopped_at: string | null;
  promoted_at: string | null;
  created_at: string;
  updated_at: string;
}

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

export function toExperimentOut(r: ExperimentRow): ExperimentOut {
  return {
    id: r.id,
    name: r.name,
    description: r.description,
    status: r.status,
    variants: r.variants,
    control: r.control,
    candidate: r.candidate,
    promoted: r.promoted,
    started_at: iso(r.started_at),
    stopped_at: iso(r.stopped_at),
    promoted_at: iso(r.promoted_at),
    created_at: r.created_at.toISOString(),
    updated_at: r.updated_at.toISOString(),
  };
}

export interface ExperimentChangeOut {
  action: string;
  actor: string;
  detail: unknown;
  at: string;
}

export async function getExperiment(
  pool: pg.Pool,
  name: string,
): Promise<{ experiment: ExperimentOut; changes: ExperimentChangeOut[] } | null> {
  const r = await pool.query<ExperimentRow>("SELECT * FROM experiments WHERE name = $1", [name]);
  const row = r.rows[0];
  if (!row) return null;
  const ch = await pool.query<{ action: string; actor: string; detail: unknown; at: Date }>(
    "SELECT action, actor, detail, at FROM experiment_changes WHERE experiment_id = $1 ORDER BY at, id",
    [row.id],
  );
  return {
    experiment: toExperimentOut(row),
    changes: ch.rows.map((c) => ({ action: c.action, actor: c.actor, detail: c.detail, at: c.at.toISOString() })),
  };
}

/** The running experiments as the edge reads them, and the newest change to any experiment (ms). */
export async function loadRunning(
  db: pg.Pool | pg.PoolClient,
): Promise<{ experiments: RunningExperiment[]; version: number }> {
  const r = await db.query<ExperimentRow>(
    "SELECT * FROM experiments WHERE status = 'running' ORDER BY started_at, name",
  );
  const v = await db.query<{ v: string | null }>(
    "SELECT floor(extract(epoch FROM max(updated_at)) * 1000)::bigint::text AS v FROM experiments",
  );
  return {
    experiments: r.rows.map((e) => ({
      id: e.id,
      name: e.name,
      variants: e.variants,
      control: e.control,
      candidate: e.candidate,
      promoted: e.promoted,
      started_at: (e.started_at ?? e.updated_at).getTime(),
    })),
    version: Number(v.rows[0]?.v ?? 0),
  };
}

export interface DailyRow extends VariantTotals {
  day: string;
  ctr: number;
  like_rate: number;
}

export interface ExperimentResults {
  experiment: ExperimentOut;
  control: string;
  /** The comparison table: every variant, each non-control one against the control. */
  variants: VariantResult[];
  daily?: DailyRow[];
}

const NUMERIC = ["users", "impressions", "views", "clicks", "likes", "shares", "comments"] as const;

/** ClickHouse prints 64-bit integers as strings in JSON: numbers again. */
function numbers<T extends object>(row: T): T {
  const out: Record<string, unknown> = { ...(row as Record<string, unknown>) };
  for (const k of NUMERIC) if (k in out) out[k] = Number(out[k]);
  return out as T;
}

/** The outcomes per variant from ClickHouse (experiment_variant_totals), as the comparison table. */
export async function experimentResults(
  pool: pg.Pool,
  ch: ClickHouseClient,
  name: string,
  opts: { daily?: boolean } = {},
): Promise<ExperimentResults | null> {
  const found = await getExperiment(pool, name);
  if (!found) return null;
  const e = found.experiment;
  const rs = await ch.query({
    query: `SELECT variant, users, impressions, views, clicks, likes, shares, comments
            FROM experiment_variant_totals WHERE experiment = {e:String}`,
    query_params: { e: name },
    format: "JSONEachRow",
  });
  const totals = (await rs.json<VariantTotals>()).map((r) => numbers(r));
  const out: ExperimentResults = {
    experiment: e,
    control: e.control,
    variants: compareVariants(
      totals,
      e.control,
      e.variants.map((v) => v.name),
    ),
  };
  if (opts.daily) {
    const d = await ch.query({
      query: `SELECT toString(day) AS day, variant, users, impressions, views, clicks, likes, shares, comments, ctr, like_rate
              FROM experiment_variant_daily WHERE experiment = {e:String} ORDER BY day, variant`,
      query_params: { e: name },
      format: "JSONEachRow",
    });
    out.daily = (await d.json<DailyRow>()).map((r) => numbers(r));
  }
  return out;
}

/**
 * Ranking experiments (issue 17), pure: what an experiment is, how a user is assigned to a
 * variant, which weights rank a user's feed, the serialized form the edge reads from Redis, and
 * the comparison table of the results. Shared by the origin (write API, Redis projection,
 * results) and the edge (assignment per feed request). No I/O, no runtime modules.
 *
 * An experiment is data in PostgreSQL (`experiments`, origin/db/migrations/0003): a name (slug),
 * 2..MAX_VARIANTS variants, each a full set of ranking weights and the freshness decay plus a
 * traffic share (integers summing to 100), a control variant, optionally a candidate variant
 * (the candidate default: the canary), a status (draft → running → stopped) and a start time.
 * At most one experiment runs at a time (a partial unique index enforces it): variants are whole
 * weight sets, so two running experiments would fight over the same weights.
 *
 * Assignment is deterministic: bucket = hash(experiment name, user id) mod 100, mapped onto the
 * variants' cumulative shares in declared order. Same user, same experiment → same variant on
 * every request, device and edge. Once a variant is promoted, every user gets it.
 */
import { z } from "zod";
import type { RankingWeights } from "./ranking/score.ts";

// ---------------------------------------------------------------------------------------------
// Bounds and schemas

/** Experiment (and variant) names: lowercase slug, starts with a letter or digit. */
export const EXPERIMENT_NAME_RE = /^[a-z0-9][a-z0-9-]{0,47}$/;
export const VARIANT_NAME_RE = /^[a-z0-9][a-z0-9-]{0,31}$/;
export const MAX_VARIANTS = 5;
/** Each of the three formula weights is in [0, 1]; at least one is above 0. */
export const WEIGHT_BOUNDS = { min: 0, max: 1 } as const;
/**
 * Freshness decay per hour, [0, 1]: 0 switches freshness decay off (every post is "new"), the
 * configured default is 0.10 (half-life ≈ 7 h), 1 makes a 3-hour-old post 5% fresh.
 */
export const DECAY_BOUNDS = { min: 0, max: 1 } as const;
export const EXPERIMENT_STATUSES = ["draft", "running", "stopped"] as const;
export type ExperimentStatus = (typeof EXPERIMENT_STATUSES)[number];
/** The audit trail's actions (experiment_changes.action). */
export const EXPERIMENT_ACTIONS = ["create", "update", "start", "stop", "promote"] as const;
export type ExperimentAction = (typeof EXPERIMENT_ACTIONS)[number];

const boundedNumber = (min: number, max: number) => z.number().finite().min(min).max(max);

/** A variant's ranking weights: the RankingWeights of edge/core/ranking/score.ts, bounded. */
export const variantWeightsSchema = z
  .object({
    freshness: boundedNumber(WEIGHT_BOUNDS.min, WEIGHT_BOUNDS.max),
    engagement: boundedNumber(WEIGHT_BOUNDS.min, WEIGHT_BOUNDS.max),
    affinity: boundedNumber(WEIGHT_BOUNDS.min, WEIGHT_BOUNDS.max),
    freshnessDecayPerHour: boundedNumber(DECAY_BOUNDS.min, DECAY_BOUNDS.max),
  })
  .strict()
  .refine((w) => w.freshness + w.engagement + w.affinity > 0, {
    message: "at least one of freshness, engagement and affinity must be above 0",
  });

export const variantSchema = z
  .object({
    name: z.string().regex(VARIANT_NAME_RE, "must be a lowercase slug (a-z, 0-9, -; at most 32)"),
    weights: variantWeightsSchema,
    /** Percent of users, an integer; the experiment's shares sum to 100. */
    share: z.number().int().min(0).max(100),
  })
  .strict();
export type Variant = z.infer<typeof variantSchema>;

/** Checks what spans variants: unique names, shares summing to 100, control/candidate exist. */
function checkVariants(
  v: { variants: Variant[]; control?: string | undefined; candidate?: string | null | undefined },
  ctx: z.RefinementCtx,
): void {
  const names = v.variants.map((x) => x.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) ctx.addIssue({ code: "custom", path: ["variants"], message: `variant name ${dup} is used twice` });
  const total = v.variants.reduce((s, x) => s + x.share, 0);
  if (total !== 100) ctx.addIssue({ code: "custom", path: ["variants"], message: `shares sum to ${total}, not 100` });
  if (v.control !== undefined && !names.includes(v.control))
    ctx.addIssue({ code: "custom", path: ["control"], message: `no variant named ${v.control}` });
  if (v.candidate != null) {
    if (!names.includes(v.candidate))
      ctx.addIssue({ code: "custom", path: ["candidate"], message: `no variant named ${v.candidate}` });
    if (v.candidate === (v.control ?? names[0]))
      ctx.addIssue({ code: "custom", path: ["candidate"], message: "the candidate cannot be the control" });
  }
}

const variantsField = z
  .array(variantSchema)
  .min(2, "an experiment needs at least 2 variants")
  .max(MAX_VARIANTS, `at most ${MAX_VARIANTS} variants`);

/** Body of POST /v1/experiments: a new experiment (a draft). `control` defaults to the first variant. */
export const newExperimentSchema = z
  .object({
    name: z.string().regex(EXPERIMENT_NAME_RE, "must be a lowercase slug (a-z, 0-9, -; at most 48)"),
    description: z.string().max(500).optional(),
    variants: variantsField,
    control: z.string().regex(VARIANT_NAME_RE).optional(),
    /** The candidate default: the variant a promotion would make everyone's. */
    candidate: z.string().regex(VARIANT_NAME_RE).nullable().optional(),
  })
  .strict()
  .superRefine(checkVariants);
export type NewExperiment = z.infer<typeof newExperimentSchema>;

/** Body of PUT /v1/experiments/:name (drafts only): replaces the variants. */
export const updateExperimentSchema = z
  .object({
    description: z.string().max(500).optional(),
    variants: variantsField,
    control: z.string().regex(VARIANT_NAME_RE).optional(),
    candidate: z.string().regex(VARIANT_NAME_RE).nullable().optional(),
  })
  .strict()
  .superRefine(checkVariants);
export type UpdateExperiment = z.infer<typeof updateExperimentSchema>;

/** Body of POST /v1/experiments/:name/promote; the variant defaults to the candidate. */
export const promoteSchema = z.object({ variant: z.string().regex(VARIANT_NAME_RE).optional() }).strict();

// ---------------------------------------------------------------------------------------------
// The running experiments in Redis

/** A running experiment as the edge reads it (all it needs to assign and rank). */
export const runningExperimentSchema = z.object({
  id: z.string(),
  name: z.string().regex(EXPERIMENT_NAME_RE),
  variants: variantsField,
  control: z.string(),
  candidate: z.string().nullable(),
  /** The variant promoted to everyone, or null while the split is still the shares. */
  promoted: z.string().nullable(),
  /** Epoch ms. */
  started_at: z.number().int().nonnegative(),
});
export type RunningExperiment = z.infer<typeof runningExperimentSchema>;

/**
 * The value under `runningExperimentsKey(ns)`: one JSON document, written whole by the origin's
 * projection (origin/src/experiments/projection.ts), read with one GET by the edge.
 * `version` is the time (epoch ms) of the newest change to any experiment the document reflects,
 * `updated_at` when it was written (both for diagnostics: the projection's writers are serialized
 * by a PostgreSQL advisory lock, so the last write always holds the latest committed state).
 */
export const runningExperimentsDocSchema = z.object({
  v: z.literal(1),
  version: z.number().int().nonnegative(),
  updated_at: z.number().int().nonnegative(),
  experiments: z.array(runningExperimentSchema),
});
export type RunningExperimentsDoc = z.infer<typeof runningExperimentsDocSchema>;

/** Redis key of the running experiments (a JSON RunningExperimentsDoc). `ns` = INDEX_NAMESPACE. */
export const runningExperimentsKey = (ns = ""): string => `${ns}exp:running:v1`;

/**
 * How long the edge may serve its in-memory copy of the running experiments before it reads
 * Redis again. A start, stop or promotion reaches Redis within ~1-2 s (CDC), so every edge
 * follows within this plus that.
 */
export const EXPERIMENTS_REFRESH_MS = 5000;

export function encodeRunningExperiments(experiments: RunningExperiment[], version: number, nowMs: number): string {
  const doc: RunningExperimentsDoc = { v: 1, version, updated_at: nowMs, experiments };
  return JSON.stringify(doc);
}

/**
 * The running experiments in a Redis value. A missing, malformed or foreign value is "none
 * running" (the deployment's weights), never an error: ranking must not fail on it.
 */
export function decodeRunningExperiments(raw: string | null | undefined): RunningExperiment[] {
  if (!raw) return [];
  try {
    const r = runningExperimentsDocSchema.safeParse(JSON.parse(raw));
    return r.success ? r.data.experiments : [];
  } catch {
    return [];
  }
}

// ---------------------------------------------------------------------------------------------
// Assignment

/**
 * 32-bit FNV-1a over the UTF-16 code units, then murmur3's finalizer (FNV alone mixes its
 * low bits poorly for inputs that differ only at the end, as user ids of one experiment do).
 * Sync and pure: the same number in workerd and Node.
 */
export function stableHash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The user's bucket in 0..99 for one experiment (by name: it is unique and never changes). */
export function bucketOf(experimentName: string, userId: string): number {
  return stableHash32(`${experimentName}\u0000${userId.toLowerCase()}`) % 100;
}

/**
 * The user's variant: the promoted one once there is one, else the variant whose cumulative
 * share range holds the user's bucket (variants in declared order; a 0 share gets nobody).
 */
export function assignVariant(
  experiment: Pick<RunningExperiment, "name" | "variants" | "promoted">,
  userId: string,
): Variant {
  if (experiment.promoted) {
    const p = experiment.variants.find((v) => v.name === experiment.promoted);
    if (p) return p;
  }
  const bucket = bucketOf(experiment.name, userId);
  let upper = 0;
  for (const v of experiment.variants) {
    upper += v.share;
    if (bucket < upper) return v;
  }
  // Shares are validated to sum to 100; a hand-edited value that does not falls to the last.
  return experiment.variants[experiment.variants.length - 1] as Variant;
}

/** What a feed request records about the experiment it ran under (snapshot, events, explain). */
export interface ExperimentAssignment {
  experiment: string;
  variant: string;
}

/**
 * The experiment that ranks feeds: the earliest started of the running ones (ties by name).
 * Only one runs at a time; this keeps the edge deterministic if Redis ever held two.
 */
export function activeExperiment(experiments: readonly RunningExperiment[]): RunningExperiment | null {
  let best: RunningExperiment | null = null;
  for (const e of experiments) {
    if (!best || e.started_at < best.started_at || (e.started_at === best.started_at && e.name < best.name)) best = e;
  }
  return best;
}

/**
 * The weights that rank this user's feed, and the assignment to record: with no running
 * experiment, the deployment's configured weights and no assignment.
 */
export function rankingWeightsFor(
  experiments: readonly RunningExperiment[],
  userId: string,
  defaults: RankingWeights,
): { weights: RankingWeights; assignment: ExperimentAssignment | null } {
  const e = activeExperiment(experiments);
  if (!e) return { weights: defaults, assignment: null };
  const v = assignVariant(e, userId);
  return { weights: { ...v.weights }, assignment: { experiment: e.name, variant: v.name } };
}

/**
 * A runtime's in-memory copy of the running experiments (the edge per isolate, the origin's
 * warmer per process), read from Redis at most once per `refreshMs`: `due(now)` says whether the
 * next read should carry a GET of `runningExperimentsKey` (the edge adds it to a round trip it
 * makes anyway), `update(raw, now)` takes that GET's reply. A reply equal to the last one is not
 * parsed again. A failed read leaves the copy (and its age) as it was, so the next request
 * tries again. Pure: the caller passes the time.
 */
export class RunningExperimentsCopy {
  private raw: string | null = null;
  private parsed: RunningExperiment[] = [];
  private readAtMs = Number.NEGATIVE_INFINITY;

  constructor(readonly refreshMs: number = EXPERIMENTS_REFRESH_MS) {}

  /** True when the copy is older than refreshMs (or was never read). */
  due(nowMs: number): boolean {
    return nowMs - this.readAtMs >= this.refreshMs || nowMs < this.readAtMs;
  }

  /** Takes the reply of a GET of the key (a string, or null when the key is missing). */
  update(reply: unknown, nowMs: number): void {
    const raw = typeof reply === "string" ? reply : reply == null ? null : JSON.stringify(reply);
    if (raw !== this.raw) {
      this.raw = raw;
      this.parsed = decodeRunningExperiments(raw);
    }
    this.readAtMs = nowMs;
  }

  /** The running experiments as last read ([] before the first read). */
  current(): readonly RunningExperiment[] {
    return this.parsed;
  }
}

// ---------------------------------------------------------------------------------------------
// Results

/** One variant's totals over the experiment, as ClickHouse's experiment_variant_totals has them. */
export interface VariantTotals {
  variant: string;
  users: number;
  impressions: number;
  views: number;
  clicks: number;
  likes: number;
  shares: number;
  comments: number;
}

/** A two-proportion comparison of a variant's rate with the control's. */
export interface RateComparison {
  /** rate(variant) − rate(control). */
  diff: number;
  /** 95% confidence interval of `diff` (unpooled standard error). */
  ci95: [number, number];
  /** z of the pooled two-proportion test; 0 when undefined (no trials, or no variance). */
  z: number;
  /** Two-sided p-value. */
  p: number;
  significant: boolean;
}

export interface VariantResult extends VariantTotals {
  /** clicks / impressions */
  ctr: number;
  /** likes / impressions */
  likeRate: number;
  isControl: boolean;
  /** Against the control; null for the control itself or when it has no data. */
  vsControl: { ctr: RateComparison; likeRate: RateComparison } | null;
}

export const Z_95 = 1.959963984540054;

/** Φ(x), the standard normal CDF (Abramowitz–Stegun 26.2.17; |error| < 7.5e-8). */
export function normalCdf(x: number): number {
  if (!Number.isFinite(x)) return x > 0 ? 1 : 0;
  const t = 1 / (1 + 0.2316419 * Math.abs(x));
  const d = 0.3989422804014327 * Math.exp((-x * x) / 2);
  const tail = d * t * (0.31938153 + t * (-0.356563782 + t * (1.781477937 + t * (-1.821255978 + t * 1.330274429))));
  return x >= 0 ? 1 - tail : tail;
}

/**
 * Two-proportion z-test of x2/n2 against x1/n1 (pooled SE for z and p, unpooled for the CI).
 * Treats each impression as an independent trial: with several impressions per user this
 * understates the variance somewhat, so read borderline p-values with care.
 */
export function twoProportion(x1: number, n1: number, x2: number, n2: number): RateComparison {
  const p1 = n1 > 0 ? x1 / n1 : 0;
  const p2 = n2 > 0 ? x2 / n2 : 0;
  const diff = p2 - p1;
  if (n1 <= 0 || n2 <= 0) return { diff, ci95: [diff, diff], z: 0, p: 1, significant: false };
  const pooled = (x1 + x2) / (n1 + n2);
  const sePooled = Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  const se = Math.sqrt((p1 * (1 - p1)) / n1 + (p2 * (1 - p2)) / n2);
  const z = sePooled > 0 ? diff / sePooled : 0;
  const p = sePooled > 0 ? Math.min(1, 2 * (1 - normalCdf(Math.abs(z)))) : 1;
  return { diff, ci95: [diff - Z_95 * se, diff + Z_95 * se], z, p, significant: p < 0.05 };
}

/**
 * The comparison table: every variant (in `order`, then any other seen in the data) with its
 * rates, and each non-control variant against the control. A variant without data shows zeros.
 */
export function compareVariants(
  rows: readonly VariantTotals[],
  control: string,
  order: readonly string[] = [],
): VariantResult[] {
  const byName = new Map(rows.map((r) => [r.variant, r]));
  const names = [...order, ...rows.map((r) => r.variant).filter((n) => !order.includes(n))];
  const zero = (variant: string): VariantTotals => ({
    variant,
    users: 0,
    impressions: 0,
    views: 0,
    clicks: 0,
    likes: 0,
    shares: 0,
    comments: 0,
  });
  const c = byName.get(control) ?? zero(control);
  return names.map((name) => {
    const r = byName.get(name) ?? zero(name);
    const rate = (x: number) => (r.impressions > 0 ? x / r.impressions : 0);
    const isControl = name === control;
    return {
      ...r,
      ctr: rate(r.clicks),
      likeRate: rate(r.likes),
      isControl,
      vsControl:
        isControl || c.impressions === 0
          ? null
          : {
              ctr: twoProportion(c.clicks, c.impressions, r.clicks, r.impressions),
              likeRate: twoProportion(c.likes, c.impressions, r.likes, r.impressions),
            },
    };
  });
}

/** The comparison table as text (the CLI's output, the README's example). */
export function formatResultsTable(results: readonly VariantResult[]): string {
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
  const pp = (x: number) => `${x >= 0 ? "+" : ""}${(x * 100).toFixed(2)}`;
  const cmp = (r: RateComparison | undefined) =>
    r
      ? `${pp(r.diff)} [${pp(r.ci95[0])}, ${pp(r.ci95[1])}] p=${r.p < 0.0001 ? "<0.0001" : r.p.toFixed(4)}${r.significant ? " *" : ""}`
      : "(control)";
  const header = [
    "variant",
    "users",
    "impr",
    "clicks",
    "likes",
    "shares",
    "comments",
    "CTR",
    "CTR Δpp [95% CI]",
    "like rate",
    "like Δpp [95% CI]",
  ];
  const lines = results.map((r) => [
    r.variant,
    String(r.users),
    String(r.impressions),
    String(r.clicks),
    String(r.likes),
    String(r.shares),
    String(r.comments),
    pct(r.ctr),
    r.isControl ? "(control)" : cmp(r.vsControl?.ctr),
    pct(r.likeRate),
    r.isControl ? "(control)" : cmp(r.vsControl?.likeRate),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] as string).length)));
  const row = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] as number)).join(" | ")} |`;
  return [row(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...lines.map(row)].join("\n");
}

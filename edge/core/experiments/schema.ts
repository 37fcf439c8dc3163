/**
 * Ranking experiments, pure: what an experiment is and the serialized form the edge reads from
 * Redis (assignment.ts assigns users and picks weights; statistics.ts compares the results). Shared by the origin (write API, Redis projection,
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

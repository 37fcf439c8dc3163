/**
 * The seed's scoring formula, pure:
 *   freshness  = exp(-decay * hours_since_post)
 *   engagement = log1p((likes + 2*comments + 3*shares) / max(impressions, 1))
 *   affinity   = log1p(interactions_with_author_90d)
 *   score      = wF*freshness + wE*engagement + wA*affinity
 */

/** Ranking weights; configuration, not code. Defaults are the seed's 0.30 / 0.40 / 0.30. */
export interface RankingWeights {
  freshness: number;
  engagement: number;
  affinity: number;
  /** Per-hour decay of freshness. Default 0.10. */
  freshnessDecayPerHour: number;
}

export const DEFAULT_WEIGHTS: Readonly<RankingWeights> = Object.freeze({
  freshness: 0.3,
  engagement: 0.4,
  affinity: 0.3,
  freshnessDecayPerHour: 0.1,
});

/** What the ranking needs to know about one candidate post. */
export interface PostFeatures {
  createdAtMs: number;
  likes: number;
  comments: number;
  shares: number;
  impressions: number;
  /** The viewer's interactions with the post's author over 90 days. */
  authorInteractions90d: number;
}

export interface ScoreComponents {
  freshness: number;
  engagement: number;
  affinity: number;
  score: number;
}

const HOUR_MS = 3_600_000;

export function scorePost(f: PostFeatures, nowMs: number, w: RankingWeights = DEFAULT_WEIGHTS): ScoreComponents {
  // A post stamped slightly in the future (clock skew) counts as brand new, never fresher than new.
  const hours = Math.max(0, nowMs - f.createdAtMs) / HOUR_MS;
  const freshness = Math.exp(-w.freshnessDecayPerHour * hours);
  const weighted = nonNeg(f.likes) + 2 * nonNeg(f.comments) + 3 * nonNeg(f.shares);
  const engagement = Math.log1p(weighted / Math.max(nonNeg(f.impressions), 1));
  const affinity = Math.log1p(nonNeg(f.authorInteractions90d));
  const score = w.freshness * freshness + w.engagement * engagement + w.affinity * affinity;
  return { freshness, engagement, affinity, score };
}

/** Counters can come back negative from a not-yet-merged aggregate (an unlike before its like). */
function nonNeg(n: number): number {
  return Number.isFinite(n) && n > 0 ? n : 0;
}

/** Validates weights read from configuration; throws naming the bad field. */
export function parseWeights(raw: Partial<Record<keyof RankingWeights, unknown>>): RankingWeights {
  const out = { ...DEFAULT_WEIGHTS };
  for (const key of Object.keys(DEFAULT_WEIGHTS) as (keyof RankingWeights)[]) {
    const v = raw[key];
    if (v === undefined || v === "") continue;
    const n = typeof v === "number" ? v : Number(v);
    if (!Number.isFinite(n) || n < 0)
      throw new Error(`ranking weight ${key} must be a non-negative number, got ${String(v)}`);
    out[key] = n;
  }
  return out;
}

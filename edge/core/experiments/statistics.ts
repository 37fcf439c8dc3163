/** The results of an experiment: per-variant totals compared with the control (two-proportion z-tests). Pure. */

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

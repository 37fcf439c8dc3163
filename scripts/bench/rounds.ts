/**
 * The bench's method for its comparisons: every measured comparison runs ROUNDS times, the
 * rounds interleaving the sides (round r runs them rotated by r: A B, B A, A B for two), and
 * every side of every round is given the same inputs (viewers, users, targets) in the same
 * order; a headline figure is the median of the rounds with their spread (min–max), its ratio
 * the ratio of the medians. Pure parts here (unit-tested in rounds.test.ts); report.ts renders
 * the figures.
 */

/** Rounds per measured comparison. */
export const ROUNDS = 3;

/** The median (the mean of the middle two for an even count); NaN for none. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** The smallest and largest value. */
export function spread(xs: readonly number[]): [number, number] {
  if (xs.length === 0) return [Number.NaN, Number.NaN];
  return [Math.min(...xs), Math.max(...xs)];
}

/**
 * The order of a comparison's runs: round r runs `sides` rotated left by r (two sides over three
 * rounds: A B, B A, A B), so each side goes first about as often as the others and machine noise
 * that drifts over a phase falls on all of them.
 */
export function roundOrder<S>(sides: readonly S[], rounds: number): { round: number; side: S }[] {
  const out: { round: number; side: S }[] = [];
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < sides.length; k++) out.push({ round: r, side: sides[(k + r) % sides.length] as S });
  }
  return out;
}

/**
 * What each side was asked, round by round (side → one sequence per round), against the rule:
 * every side of every round asked the same inputs in the same order. With `prefix` (runs bound by
 * time, not by count: a throughput), a shorter sequence may stop early but must be a prefix of
 * the longest. Returns what breaks the rule, one line each (none: the rule holds).
 */
export function inputMismatches(
  asked: Readonly<Record<string, readonly (readonly string[])[]>>,
  opts: { prefix?: boolean } = {},
): string[] {
  const all = Object.entries(asked).flatMap(([side, rounds]) => rounds.map((seq, round) => ({ side, round, seq })));
  if (all.length === 0) return [];
  const ref = all.reduce((a, b) => (b.seq.length > a.seq.length ? b : a));
  const out: string[] = [];
  for (const { side, round, seq } of all) {
    if (!opts.prefix && seq.length !== ref.seq.length) {
      out.push(
        `${side} round ${round + 1}: ${seq.length} inputs, ${ref.side} round ${ref.round + 1}: ${ref.seq.length}`,
      );
      continue;
    }
    const at = seq.findIndex((x, i) => x !== ref.seq[i]);
    if (at >= 0) {
      out.push(
        `${side} round ${round + 1}: input ${at} is ${seq[at]}, ${ref.side} round ${ref.round + 1} had ${ref.seq[at]}`,
      );
    }
  }
  return out;
}

/** Throws when the sides of a comparison were not given the same inputs (inputMismatches). */
export function assertSameInputs(
  what: string,
  asked: Readonly<Record<string, readonly (readonly string[])[]>>,
  opts: { prefix?: boolean } = {},
): void {
  const bad = inputMismatches(asked, opts);
  if (bad.length) throw new Error(`${what}: the sides were not given the same inputs: ${bad.slice(0, 3).join("; ")}`);
}

/** One run of one side: what it measured and the inputs it asked, in the order it asked them. */
export interface RoundRun<R> {
  value: R;
  asked: readonly string[];
}

/**
 * Runs a comparison: every side `rounds` times in roundOrder (`before` first, e.g. a pause so a
 * runtime's snapshots age out), then checks that every side of every round asked the same inputs
 * (assertSameInputs). Returns each side's values, one per round.
 */
export async function interleavedRounds<S extends string, R>(opts: {
  what: string;
  sides: readonly S[];
  rounds?: number;
  run: (side: S, round: number) => Promise<RoundRun<R>>;
  before?: (side: S, round: number) => Promise<void>;
  /** The inputs may stop early (time-bound runs): compare as prefixes. */
  prefix?: boolean;
}): Promise<Record<S, R[]>> {
  const rounds = opts.rounds ?? ROUNDS;
  const values = Object.fromEntries(opts.sides.map((s) => [s, [] as R[]])) as Record<S, R[]>;
  const asked = Object.fromEntries(opts.sides.map((s) => [s, [] as (readonly string[])[]])) as Record<
    S,
    (readonly string[])[]
  >;
  for (const { round, side } of roundOrder(opts.sides, rounds)) {
    await opts.before?.(side, round);
    const r = await opts.run(side, round);
    values[side][round] = r.value;
    asked[side][round] = r.asked;
  }
  assertSameInputs(opts.what, asked, { prefix: opts.prefix ?? false });
  return values;
}

/** A request builder that also records, in request order, the input each request was for. */
export function recording<T>(
  inputOf: (i: number) => string,
  build: (i: number) => T,
): { request: (i: number) => T; asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    request: (i: number) => {
      asked[i] = inputOf(i);
      return build(i);
    },
  };
}

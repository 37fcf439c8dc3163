import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEFAULT_WEIGHTS } from "../ranking/score.ts";
import { activeExperiment, assignVariant, bucketOf, rankingWeightsFor, stableHash32 } from "./assignment.ts";
import {
  decodeRunningExperiments,
  encodeRunningExperiments,
  newExperimentSchema,
  type RunningExperiment,
  runningExperimentsKey,
  updateExperimentSchema,
  type Variant,
} from "./schema.ts";
import { compareVariants, formatResultsTable, normalCdf, twoProportion } from "./statistics.ts";

const W = { freshness: 0.3, engagement: 0.4, affinity: 0.3, freshnessDecayPerHour: 0.1 };
const W2 = { freshness: 0.2, engagement: 0.6, affinity: 0.2, freshnessDecayPerHour: 0.05 };
const variants = (control = 90, candidate = 10): Variant[] => [
  { name: "control", weights: W, share: control },
  { name: "candidate", weights: W2, share: candidate },
];
const running = (over: Partial<RunningExperiment> = {}): RunningExperiment => ({
  id: "e1",
  name: "engagement-up",
  variants: variants(),
  control: "control",
  candidate: "candidate",
  promoted: null,
  started_at: 1_800_000_000_000,
  ...over,
});
const uuidArb = fc.uuid({ version: 4 });

describe("experiment schemas", () => {
  const ok = { name: "engagement-up", variants: variants(), candidate: "candidate" };
  it("accepts a 90/10 experiment", () => {
    expect(newExperimentSchema.safeParse(ok).success).toBe(true);
  });
  it.each([
    ["shares not summing to 100", { ...ok, variants: variants(90, 20) }, "sum to 110"],
    [
      "a weight above 1",
      { ...ok, variants: [{ ...variants()[0], weights: { ...W, engagement: 1.5 } }, variants()[1]] },
      "",
    ],
    [
      "a negative weight",
      { ...ok, variants: [{ ...variants()[0], weights: { ...W, affinity: -0.1 } }, variants()[1]] },
      "",
    ],
    [
      "decay above its bound",
      { ...ok, variants: [{ ...variants()[0], weights: { ...W, freshnessDecayPerHour: 2 } }, variants()[1]] },
      "",
    ],
    [
      "all-zero weights",
      {
        ...ok,
        variants: [
          { ...variants()[0], weights: { freshness: 0, engagement: 0, affinity: 0, freshnessDecayPerHour: 0.1 } },
          variants()[1],
        ],
      },
      "at least one",
    ],
    [
      "a fractional share",
      {
        ...ok,
        variants: [
          { ...variants()[0], share: 89.5 },
          { ...variants()[1], share: 10.5 },
        ],
      },
      "",
    ],
    ["a single variant", { ...ok, variants: [{ ...variants()[0], share: 100 }] }, "at least 2"],
    [
      "too many variants",
      {
        ...ok,
        variants: Array.from({ length: 6 }, (_, i) => ({ name: `v${i}`, weights: W, share: i === 0 ? 50 : 10 })),
      },
      "at most 5",
    ],
    [
      "duplicate variant names",
      { ...ok, variants: [variants()[0], { ...variants()[1], name: "control" }], candidate: null },
      "twice",
    ],
    ["a bad name", { ...ok, name: "Engagement Up" }, "slug"],
    ["an unknown candidate", { ...ok, candidate: "nope" }, "no variant named nope"],
    ["the control as candidate", { ...ok, candidate: "control" }, "cannot be the control"],
    ["an unknown field", { ...ok, owner: "me" }, ""],
  ])("refuses %s", (_what, body, message) => {
    const r = newExperimentSchema.safeParse(body);
    expect(r.success).toBe(false);
    if (message) expect(r.error?.issues.map((i) => i.message).join("; ")).toContain(message);
  });
  it("validates updates the same way", () => {
    expect(updateExperimentSchema.safeParse({ variants: variants(50, 50) }).success).toBe(true);
    expect(updateExperimentSchema.safeParse({ variants: variants(50, 40) }).success).toBe(false);
  });
});

describe("stable hash and buckets", () => {
  it("pins the hash (the same number in every runtime, forever)", () => {
    // FNV-1a("a") = 0xe40c292c, then murmur3's finalizer. Changing the hash would reshuffle
    // every running experiment's users.
    expect(stableHash32("a")).toBe(444_641_715);
    expect(stableHash32("")).toBe(2_872_998_923);
    expect(bucketOf("engagement-up", "11111111-1111-4111-8111-111111111111")).toBe(38);
    expect(bucketOf("engagement-up", "11111111-1111-4111-8111-111111111111".toUpperCase())).toBe(38);
  });
  it("is stable: the same user gets the same bucket and variant every time", () => {
    fc.assert(
      fc.property(uuidArb, (u) => {
        const e = running();
        const first = [bucketOf(e.name, u), assignVariant(e, u).name];
        const again = [bucketOf(e.name, u), assignVariant(e, u).name];
        return first[0] === again[0] && first[1] === again[1];
      }),
    );
  });
  it("buckets are in 0..99", () => {
    fc.assert(
      fc.property(
        fc.string(),
        uuidArb,
        (name, u) => Number.isInteger(bucketOf(name, u)) && bucketOf(name, u) >= 0 && bucketOf(name, u) < 100,
      ),
    );
  });
});

describe("assignVariant", () => {
  it("respects the shares within tolerance over many users", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 99 }),
        fc.array(uuidArb, { minLength: 20_000, maxLength: 20_000 }),
        (share, users) => {
          const e = running({ variants: variants(100 - share, share) });
          const n = users.filter((u) => assignVariant(e, u).name === "candidate").length;
          const expected = (share / 100) * users.length;
          const sd = Math.sqrt(users.length * (share / 100) * (1 - share / 100));
          return Math.abs(n - expected) < 5 * sd;
        },
      ),
      { numRuns: 10 },
    );
  });
  it("a 0 share gets nobody; 100 gets everybody", () => {
    fc.assert(
      fc.property(uuidArb, (u) => assignVariant(running({ variants: variants(100, 0) }), u).name === "control"),
    );
    fc.assert(
      fc.property(uuidArb, (u) => assignVariant(running({ variants: variants(0, 100) }), u).name === "candidate"),
    );
  });
  it("independent experiments are uncorrelated", () => {
    fc.assert(
      fc.property(fc.array(uuidArb, { minLength: 20_000, maxLength: 20_000 }), (users) => {
        const a = running({ name: "exp-a", variants: variants(50, 50) });
        const b = running({ name: "exp-b", variants: variants(50, 50) });
        // Counts of the 2x2 table: each cell near a quarter; the phi coefficient near 0.
        const cells = [0, 0, 0, 0];
        for (const u of users) {
          const i =
            (assignVariant(a, u).name === "candidate" ? 2 : 0) + (assignVariant(b, u).name === "candidate" ? 1 : 0);
          cells[i] = (cells[i] as number) + 1;
        }
        const [n00, n01, n10, n11] = cells as [number, number, number, number];
        const phi = (n11 * n00 - n10 * n01) / Math.sqrt((n10 + n11) * (n00 + n01) * (n01 + n11) * (n00 + n10));
        // sd of phi under independence is 1/sqrt(n) ≈ 0.007: 5 sd.
        return Math.abs(phi) < 0.035;
      }),
      { numRuns: 5 },
    );
  });
  it("a promoted variant goes to everyone", () => {
    fc.assert(fc.property(uuidArb, (u) => assignVariant(running({ promoted: "candidate" }), u).name === "candidate"));
  });
});

describe("rankingWeightsFor", () => {
  it("no running experiment: the deployment's weights, no assignment", () => {
    expect(rankingWeightsFor([], "u", DEFAULT_WEIGHTS)).toEqual({ weights: DEFAULT_WEIGHTS, assignment: null });
  });
  it("a running experiment: the assigned variant's weights, and the assignment", () => {
    fc.assert(
      fc.property(uuidArb, (u) => {
        const e = running({ variants: variants(50, 50) });
        const r = rankingWeightsFor([e], u, DEFAULT_WEIGHTS);
        const v = assignVariant(e, u);
        return (
          r.assignment?.experiment === e.name &&
          r.assignment.variant === v.name &&
          JSON.stringify(r.weights) === JSON.stringify(v.weights)
        );
      }),
    );
  });
  it("the earliest started experiment ranks when Redis ever holds two", () => {
    const a = running({ name: "b-late", started_at: 2 });
    const b = running({ name: "a-early", started_at: 1 });
    expect(activeExperiment([a, b])?.name).toBe("a-early");
    expect(activeExperiment([running({ name: "y", started_at: 1 }), running({ name: "x", started_at: 1 })])?.name).toBe(
      "x",
    );
  });
});

describe("the Redis value", () => {
  it("round-trips, and anything unreadable is none running", () => {
    const e = running();
    expect(decodeRunningExperiments(encodeRunningExperiments([e], 7, 1000))).toEqual([e]);
    for (const bad of [
      null,
      "",
      "{",
      "[]",
      JSON.stringify({ v: 2, experiments: [e] }),
      JSON.stringify({ v: 1, version: 1, updated_at: 1, experiments: [{ name: "x" }] }),
    ])
      expect(decodeRunningExperiments(bad)).toEqual([]);
  });
  it("is namespaced like the serving index", () => {
    expect(runningExperimentsKey()).toBe("exp:running:v1");
    expect(runningExperimentsKey("t1:")).toBe("t1:exp:running:v1");
  });
});

describe("results", () => {
  it("normalCdf matches known values", () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 7);
    expect(normalCdf(1.959963984540054)).toBeCloseTo(0.975, 6);
    expect(normalCdf(-1)).toBeCloseTo(0.158655254, 6);
    expect(normalCdf(3)).toBeCloseTo(0.998650102, 6);
  });
  it("two-proportion test on known numbers: 50/1000 vs 100/1000", () => {
    const r = twoProportion(50, 1000, 100, 1000);
    expect(r.diff).toBeCloseTo(0.05, 12);
    // pooled p = 0.075, SE = sqrt(0.075 * 0.925 * 2/1000) = 0.0117792
    expect(r.z).toBeCloseTo(0.05 / Math.sqrt(0.075 * 0.925 * 0.002), 9);
    expect(r.z).toBeCloseTo(4.2448, 3);
    expect(r.p).toBeGreaterThan(1.5e-5);
    expect(r.p).toBeLessThan(2.5e-5);
    // unpooled SE = sqrt(0.05*0.95/1000 + 0.1*0.9/1000) = 0.0117260
    expect(r.ci95[0]).toBeCloseTo(0.05 - 1.959964 * Math.sqrt(0.0001375), 6);
    expect(r.ci95[1]).toBeCloseTo(0.05 + 1.959964 * Math.sqrt(0.0001375), 6);
    expect(r.significant).toBe(true);
  });
  it("no difference is not significant; no trials is p = 1", () => {
    const same = twoProportion(50, 1000, 50, 1000);
    expect(same.z).toBe(0);
    expect(same.p).toBeCloseTo(1, 6);
    expect(same.significant).toBe(false);
    expect(twoProportion(0, 0, 5, 10)).toMatchObject({ z: 0, p: 1, significant: false });
    expect(twoProportion(0, 10, 0, 10)).toMatchObject({ z: 0, p: 1, significant: false });
  });
  it("compareVariants builds the table against the control", () => {
    const t = compareVariants(
      [
        {
          variant: "candidate",
          users: 100,
          impressions: 1000,
          views: 0,
          clicks: 100,
          likes: 30,
          shares: 0,
          comments: 2,
        },
        { variant: "control", users: 100, impressions: 1000, views: 0, clicks: 50, likes: 20, shares: 1, comments: 1 },
      ],
      "control",
      ["control", "candidate", "third"],
    );
    expect(t.map((r) => r.variant)).toEqual(["control", "candidate", "third"]);
    expect(t[0]).toMatchObject({ isControl: true, ctr: 0.05, likeRate: 0.02, vsControl: null });
    expect(t[1]).toMatchObject({ isControl: false, ctr: 0.1, likeRate: 0.03 });
    expect(t[1]?.vsControl?.ctr.significant).toBe(true);
    expect(t[1]?.vsControl?.likeRate.significant).toBe(false);
    expect(t[2]).toMatchObject({ impressions: 0, ctr: 0 });
    const text = formatResultsTable(t);
    expect(text.split("\n")).toHaveLength(5);
    expect(text).toContain("| control ");
    expect(text).toContain("+5.00 [+2.70, +7.30] p=<0.0001 *");
  });
});

describe("events carry the experiment and variant", () => {
  it("accepts them when given, keeps records without them unchanged, refuses bad ones", async () => {
    const { acceptEvents } = await import("../events/schema.ts");
    const post = "33333333-3333-4333-8333-333333333333";
    const { records, rejected } = acceptEvents(
      [
        { type: "impression", post_id: post, experiment: "engagement-up", variant: "candidate" },
        { type: "click", post_id: post },
        { type: "click", post_id: post, experiment: "Bad Name" },
        { type: "click", post_id: post, variant: "x".repeat(40) },
      ],
      "11111111-1111-4111-8111-111111111111",
      1_800_000_000_000,
      () => "44444444-4444-4444-8444-444444444444",
    );
    expect(records[0]).toMatchObject({ experiment: "engagement-up", variant: "candidate" });
    expect(Object.keys(records[1] ?? {})).not.toContain("experiment");
    expect(rejected.map((r) => r.index)).toEqual([2, 3]);
  });
});

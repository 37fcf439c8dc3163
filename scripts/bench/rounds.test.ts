import { describe, expect, it } from "vitest";
import { latencyRounds, markdown, ratioRounds, throughputRounds } from "./report.ts";
import {
  assertSameInputs,
  inputMismatches,
  interleavedRounds,
  median,
  recording,
  roundOrder,
  spread,
} from "./rounds.ts";

describe("bench rounds: median, spread, order, same inputs", () => {
  it("median and spread", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
    expect(median([])).toBeNaN();
    expect(spread([3, 9, 1])).toEqual([1, 9]);
    expect(spread([5])).toEqual([5, 5]);
  });

  it("roundOrder rotates the sides: A B, B A, A B", () => {
    expect(roundOrder(["ours", "baseline"], 3).map((s) => `${s.round}${s.side}`)).toEqual([
      "0ours",
      "0baseline",
      "1baseline",
      "1ours",
      "2ours",
      "2baseline",
    ]);
    const three = roundOrder(["a", "b", "c"], 3);
    // Each side runs once per round and goes first once.
    for (let r = 0; r < 3; r++)
      expect(
        three
          .filter((s) => s.round === r)
          .map((s) => s.side)
          .sort(),
      ).toEqual(["a", "b", "c"]);
    expect(three.filter((_, i) => i % 3 === 0).map((s) => s.side)).toEqual(["a", "b", "c"]);
  });

  it("inputMismatches: nothing when every side of every round asked the same, in the same order", () => {
    const v = ["u1", "u2", "u3"];
    expect(inputMismatches({ ours: [v, v, v], baseline: [v, [...v], v] })).toEqual([]);
  });

  it("inputMismatches: two sides given different viewers (or the same ones in another order) break the rule", () => {
    // What feed.ts did before: the baseline on sample[0..100], plain workerd on sample[200..300].
    const sample = Array.from({ length: 300 }, (_, i) => `u${i}`);
    const bad = inputMismatches({ baseline: [sample.slice(0, 100)], plain: [sample.slice(200, 300)] });
    expect(bad).toHaveLength(1);
    expect(bad[0]).toMatch(/input 0 is u200/);
    expect(inputMismatches({ ours: [["a", "b"]], baseline: [["b", "a"]] })).toHaveLength(1);
    expect(inputMismatches({ ours: [["a", "b"]], baseline: [["a"]] })).toHaveLength(1);
    expect(() => assertSameInputs("feed", { ours: [["a"]], baseline: [["b"]] })).toThrow(/feed: the sides were not/);
  });

  it("inputMismatches with prefix: time-bound runs may stop early, never diverge", () => {
    expect(inputMismatches({ ours: [["a", "b", "c"]], baseline: [["a", "b"]] }, { prefix: true })).toEqual([]);
    expect(inputMismatches({ ours: [["a", "b", "c"]], baseline: [["a", "x"]] }, { prefix: true })).toHaveLength(1);
  });

  it("interleavedRounds runs the sides in roundOrder and checks what each asked", async () => {
    const ran: string[] = [];
    const viewers = ["v1", "v2", "v3"];
    const out = await interleavedRounds({
      what: "t",
      sides: ["ours", "baseline"] as const,
      before: async (side, round) => {
        ran.push(`before ${side} ${round}`);
      },
      run: async (side, round) => {
        ran.push(`${side} ${round}`);
        const rec = recording(
          (i) => viewers[i] as string,
          (i) => i,
        );
        for (let i = 0; i < viewers.length; i++) rec.request(i);
        return { value: side === "ours" ? round : 10 + round, asked: rec.asked };
      },
    });
    expect(out).toEqual({ ours: [0, 1, 2], baseline: [10, 11, 12] });
    expect(ran.filter((x) => !x.startsWith("before"))).toEqual([
      "ours 0",
      "baseline 0",
      "baseline 1",
      "ours 1",
      "ours 2",
      "baseline 2",
    ]);
    expect(ran[0]).toBe("before ours 0");
  });

  it("interleavedRounds fails when one side is given other viewers", async () => {
    const sample = Array.from({ length: 300 }, (_, i) => `u${i}`);
    await expect(
      interleavedRounds({
        what: "feed 1 client",
        sides: ["plain", "baseline"] as const,
        run: async (side) => ({ value: 0, asked: side === "plain" ? sample.slice(200, 300) : sample.slice(0, 100) }),
      }),
    ).rejects.toThrow(/feed 1 client: the sides were not given the same inputs/);
  });

  it("round figures: medians, ratio of the medians, every round and the spread; the md shows median (min–max)", () => {
    const f = latencyRounds("feed MISS p95 (ms)", [30, 20, 25], [50, 70, 60], 40);
    expect(f).toMatchObject({
      ours: 25,
      baseline: 60,
      ratio: 2.4,
      target: "≤ 40 ms",
      met: true,
      rounds: { ours: [30, 20, 25], baseline: [50, 70, 60] },
      spread: { ours: [20, 30], baseline: [50, 70] },
    });
    const t = throughputRounds("intake (events/s)", [900, 1100, 1000], [500, 400, 450], 1000);
    expect(t).toMatchObject({ ours: 1000, baseline: 450, ratio: 2.22, met: true });
    const x = ratioRounds("feed MISS p95: baseline ÷ ours (×)", [50, 70, 60], [30, 20, 25], 2);
    // The ratio of the medians (60 / 25), not the median of the ratios (2.4 of 1.67, 3.5, 2.4).
    expect(x.ours).toBe(2.4);
    expect(x.met).toBe(true);
    expect(x.rounds?.ours).toEqual([1.67, 3.5, 2.4]);
    expect(x.spread?.ours).toEqual([1.67, 3.5]);
    const md = markdown({
      scale: "S",
      complete: true,
      date: "2026-12-01T00:00:00.000Z",
      commit: "abc1234",
      machine: { cpus: 2, cpu_model: "x", memory_gib: 4, os: "Linux", node: "v22" },
      dataset: { users: 10 },
      load_seconds: 1,
      total_seconds: 2,
      figures: [f, x, { name: "one run", ours: 3, baseline: null, ratio: null, target: null, met: null }],
    });
    expect(md).toContain("| feed MISS p95 (ms) | 25 (20–30) | 60 (50–70) | 2.4 | ≤ 40 ms | yes |");
    expect(md).toContain("| feed MISS p95: baseline ÷ ours (×) | 2.4 (1.67–3.5) | – | – | ≥ 2× | yes |");
    expect(md).toContain("| one run | 3 | – | – | – | – |");
    expect(md).toMatch(/median of 3 rounds/);
  });
});

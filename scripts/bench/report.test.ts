import { describe, expect, it } from "vitest";
import type { Shot } from "./load.ts";
import { info, stageMeans, stageRounds, withUpperTarget } from "./report.ts";

const shot = (timing: string | null): Shot => ({ ms: 1, status: 200, cache: "MISS", timing });

describe("where the time goes (Server-Timing stages)", () => {
  it("means each stage over the answers that carry it, and ignores answers without a header", () => {
    const means = stageMeans([
      shot("page;dur=4.0, actors;dur=6.0, total;dur=11.0"),
      shot("page;dur=2.0, total;dur=3.0"),
      shot(null),
      shot('ch;dur=100.0;desc="cold path", total;dur=120.0'),
    ]);
    expect(means).toEqual({ page: 3, actors: 6, ch: 100, total: 44.67 });
  });

  it("gives one figure per stage, the median of the rounds, total last", () => {
    const figs = stageRounds("x", [
      { total: 10, redis: 2, index: 5 },
      { total: 30, redis: 4, index: 9 },
      { total: 20, redis: 3 },
    ]);
    expect(figs.map((f) => f.name)).toEqual([
      "x: redis (ms, mean, Server-Timing)",
      "x: index (ms, mean, Server-Timing)",
      "x: total (ms, mean, Server-Timing)",
    ]);
    expect(figs.map((f) => f.ours)).toEqual([3, 5, 20]);
    // A round without the stage counts it as 0 (the stage did not run there).
    expect(figs[1]?.rounds?.ours).toEqual([5, 9, 0]);
  });

  it("judges an upper target on the figure", () => {
    expect(withUpperTarget(info("a", 9.5), 10)).toMatchObject({ target: "≤ 10 ms", met: true });
    expect(withUpperTarget(info("a", 10.5), 10)).toMatchObject({ target: "≤ 10 ms", met: false });
  });
});

import { describe, expect, it } from "vitest";
import { DEFAULT_WEIGHTS, parseWeights, scorePost } from "./score.ts";

const NOW = Date.parse("2026-11-25T12:00:00Z");
const HOUR = 3_600_000;
const base = { likes: 0, comments: 0, shares: 0, impressions: 0, authorInteractions90d: 0 };

describe("scorePost pins the seed formula on hand-computed examples", () => {
  it("2 h old, 10 likes, 5 comments, 2 shares, 100 impressions, 3 interactions", () => {
    const s = scorePost(
      { createdAtMs: NOW - 2 * HOUR, likes: 10, comments: 5, shares: 2, impressions: 100, authorInteractions90d: 3 },
      NOW,
    );
    // freshness = exp(-0.1*2); engagement = ln(1 + 26/100); affinity = ln(4)
    expect(s.freshness).toBeCloseTo(0.8187307530779818, 12);
    expect(s.engagement).toBeCloseTo(0.23111172096338664, 12);
    expect(s.affinity).toBeCloseTo(1.3862943611198906, 12);
    expect(s.score).toBeCloseTo(0.7539522226447164, 12);
  });

  it("zero impressions divide by 1, not 0", () => {
    const s = scorePost({ ...base, createdAtMs: NOW, likes: 2 }, NOW);
    expect(s.engagement).toBeCloseTo(Math.log(3), 12);
    expect(s.score).toBeCloseTo(0.7394449154672438, 12);
  });

  it("24 h old with no engagement but strong affinity", () => {
    const s = scorePost({ ...base, createdAtMs: NOW - 24 * HOUR, authorInteractions90d: 9 }, NOW);
    expect(s.score).toBeCloseTo(0.7179909138850374, 12);
  });

  it("a post from the future counts as brand new, and negative counters count as zero", () => {
    const s = scorePost({ ...base, createdAtMs: NOW + HOUR, likes: -3, impressions: -5 }, NOW);
    expect(s.freshness).toBe(1);
    expect(s.engagement).toBe(0);
  });

  it("weights are configuration", () => {
    const w = { ...DEFAULT_WEIGHTS, freshness: 1, engagement: 0, affinity: 0 };
    expect(scorePost({ ...base, createdAtMs: NOW - 10 * HOUR }, NOW, w).score).toBeCloseTo(Math.exp(-1), 12);
  });
});

describe("parseWeights", () => {
  it("keeps defaults for absent values and parses strings", () => {
    expect(parseWeights({ engagement: "0.5" })).toEqual({ ...DEFAULT_WEIGHTS, engagement: 0.5 });
  });
  it("names a bad weight", () => {
    expect(() => parseWeights({ affinity: "-1" })).toThrow(/affinity/);
    expect(() => parseWeights({ freshness: "abc" })).toThrow(/freshness/);
  });
});

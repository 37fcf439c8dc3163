import { describe, expect, it } from "vitest";
import type { RankedItem } from "../ranking/rank.ts";
import { presentItem } from "./present.ts";

const item = (n: number): RankedItem => ({
  postId: `p${n}`,
  authorId: `a${n}`,
  createdAtMs: Date.parse("2026-11-25T12:00:00Z"),
  text: `t${n}`,
  source: "follow",
  score: 1 - n / 100,
  explain: { freshness: 1, engagement: 0, affinity: 0, score: 0.3, diversityMultiplier: 1 },
});

describe("presentItem", () => {
  it("adds the score components only when explain is asked for", () => {
    expect(presentItem(item(1), false)).not.toHaveProperty("explain");
    expect(presentItem(item(1), true).explain).toEqual({
      freshness: 1,
      engagement: 0,
      affinity: 0,
      base_score: 0.3,
      diversity_multiplier: 1,
    });
    expect(presentItem(item(1), false).created_at).toBe("2026-11-25T12:00:00.000Z");
  });
});

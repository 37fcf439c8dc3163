import { describe, expect, it } from "vitest";
import type { RankedItem } from "../ranking/rank.ts";
import { hydrateFromMiss, presentItem } from "./present.ts";

const item = (n: number): RankedItem => ({
  postId: `p${n}`,
  authorId: `a${n}`,
  createdAtMs: Date.parse("2026-11-25T12:00:00Z"),
  text: `t${n}`,
  source: "follow",
  score: 1 - n / 100,
  explain: { freshness: 1, engagement: 0, affinity: 0, score: 0.3, diversityMultiplier: 1 },
});

const plain = hydrateFromMiss(null, null)(item(1)) as NonNullable<ReturnType<ReturnType<typeof hydrateFromMiss>>>;

describe("presentItem", () => {
  it("adds the score components only when explain is asked for", () => {
    expect(presentItem(item(1), false, plain)).not.toHaveProperty("explain");
    expect(presentItem(item(1), true, plain).explain).toEqual({
      freshness: 1,
      engagement: 0,
      affinity: 0,
      base_score: 0.3,
      diversity_multiplier: 1,
    });
    expect(presentItem(item(1), false, plain).created_at).toBe("2026-11-25T12:00:00.000Z");
  });
});

describe("hydrateFromMiss", () => {
  it("renders a miss from what it read: plain counts, the card, the viewer's likes and follows", () => {
    const h = hydrateFromMiss(
      {
        counts: new Map([["p1", { likes: 4, comments: 2, shares: 1 }]]),
        cards: new Map([["a1", { handle: "ada", displayName: "Ada" }]]),
      },
      { id: "v", followees: ["a1"], liked: new Set(["p1"]) },
    );
    expect(h(item(1))).toEqual({
      author: { id: "a1", handle: "ada", display_name: "Ada" },
      counts: { likes: 4, comments: 2, shares: 1 },
      viewer: { liked: true, following_author: true },
    });
    expect(h(item(2))).toEqual({
      author: { id: "a2", handle: "", display_name: "" },
      counts: { likes: 0, comments: 0, shares: 0 },
      viewer: { liked: false, following_author: false },
    });
  });
});

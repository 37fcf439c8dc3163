import { describe, expect, it } from "vitest";
import type { RankedItem } from "../ranking/rank.ts";
import { type FeedCacheEntry, newRankingId, pageOf, servedIds } from "./paging.ts";

const item = (n: number): RankedItem => ({
  postId: `p${n}`,
  authorId: `a${n}`,
  createdAtMs: Date.parse("2026-11-25T12:00:00Z"),
  text: `t${n}`,
  source: "follow",
  score: 1 - n / 100,
  explain: { freshness: 1, engagement: 0, affinity: 0, score: 0.3, diversityMultiplier: 1 },
});
const entry: FeedCacheEntry = {
  v: 1,
  rankingId: "rank0001",
  builtAtMs: 0,
  excluded: ["old1"],
  items: Array.from({ length: 45 }, (_, i) => item(i)),
};

describe("paging a cached ranking", () => {
  it("walks the ranking without repeating or skipping, then ends with a null cursor", () => {
    const seen: string[] = [];
    let offset = 0;
    for (;;) {
      const page = pageOf(entry, offset, 20);
      seen.push(...page.items.map((i) => i.postId));
      if (!page.next) break;
      expect(page.next.rankingId).toBe("rank0001");
      offset = page.next.offset;
    }
    expect(seen).toEqual(entry.items.map((i) => i.postId));
  });

  it("carries served ids (earlier rankings' and this one's up to the offset) to the next ranking", () => {
    expect(servedIds(entry, 3)).toEqual(["old1", "p0", "p1", "p2"]);
  });
});

describe("newRankingId", () => {
  it("is a url-safe id the cursor codec accepts", () => {
    expect(newRankingId()).toMatch(/^[A-Za-z0-9_-]{6,64}$/);
  });
});

import { describe, expect, it } from "vitest";
import { candidatesFromRows, type FeedCacheEntry, newRankingId, pageOf, presentItem, servedIds } from "./feed.ts";
import type { RankedItem } from "./ranking/rank.ts";

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

describe("candidatesFromRows", () => {
  it("maps quoted 64-bit numbers, sources and rule flags", () => {
    const { bySource, blockedAuthorIds } = candidatesFromRows([
      {
        post_id: "p1",
        author_id: "a1",
        text: "x",
        created_at_ms: "1000",
        src: 1,
        likes: "3",
        comments: "1",
        shares: "0",
        impressions: "10",
        affinity: "2",
        author_blocked: 0,
        author_deleted: 0,
      },
      {
        post_id: "p2",
        author_id: "a2",
        text: "y",
        created_at_ms: 2000,
        src: 3,
        likes: 0,
        comments: 0,
        shares: 0,
        impressions: 0,
        affinity: 0,
        author_blocked: 1,
        author_deleted: true,
      },
    ]);
    expect(bySource.follow[0]).toMatchObject({
      postId: "p1",
      likes: 3,
      impressions: 10,
      authorInteractions90d: 2,
      createdAtMs: 1000,
    });
    expect(bySource.affinity[0]?.authorDeleted).toBe(true);
    expect([...blockedAuthorIds]).toEqual(["a2"]);
  });
});

describe("newRankingId", () => {
  it("is a url-safe id the cursor codec accepts", () => {
    expect(newRankingId()).toMatch(/^[A-Za-z0-9_-]{6,64}$/);
  });
});

import { describe, expect, it } from "vitest";
import { type Candidate, exclusionReason, mergeCandidates } from "./candidates.ts";
import { compareRanked, diversify, type RankedItem, rankFeed } from "./rank.ts";

const NOW = Date.parse("2026-11-25T12:00:00Z");
const HOUR = 3_600_000;
const VIEWER = "00000000-0000-4000-8000-000000000000";

function cand(postId: string, authorId: string, over: Partial<Candidate> = {}): Candidate {
  return {
    postId,
    authorId,
    text: `post ${postId}`,
    source: "follow",
    createdAtMs: NOW,
    likes: 0,
    comments: 0,
    shares: 0,
    impressions: 0,
    authorInteractions90d: 0,
    ...over,
  };
}
const noExclusions = { viewerId: VIEWER, blockedAuthorIds: new Set<string>(), seenPostIds: new Set<string>() };

describe("mergeCandidates", () => {
  it("keeps the first source of a post found by several (follow → trending → affinity)", () => {
    const merged = mergeCandidates({
      affinity: [cand("p1", "a", { source: "affinity" }), cand("p3", "c", { source: "affinity" })],
      trending: [cand("p2", "b", { source: "trending" }), cand("p1", "a", { source: "trending" })],
      follow: [cand("p1", "a")],
    });
    expect(merged.map((c) => [c.postId, c.source])).toEqual([
      ["p1", "follow"],
      ["p2", "trending"],
      ["p3", "affinity"],
    ]);
  });
});

describe("exclusions", () => {
  const ex = {
    viewerId: VIEWER,
    blockedAuthorIds: new Set(["blocked"]),
    seenPostIds: new Set(["seen"]),
    servedPostIds: new Set(["served"]),
  };
  it.each([
    [cand("x", "a", { postDeleted: true }), "deleted"],
    [cand("x", "a", { authorDeleted: true }), "author_deleted"],
    [cand("x", VIEWER), "own_post"],
    [cand("x", "blocked"), "blocked"],
    [cand("seen", "a"), "seen"],
    [cand("served", "a"), "served"],
    [cand("ok", "a"), null],
  ] as const)("%#: gives the reason a post is hidden", (c, reason) => {
    expect(exclusionReason(c, ex)).toBe(reason);
  });
});

describe("rankFeed", () => {
  it("orders by the formula and breaks ties by post id", () => {
    const ranked = rankFeed(
      {
        follow: [
          cand("p-old", "a", { createdAtMs: NOW - 24 * HOUR }),
          cand("p-b", "b"),
          cand("p-a", "c"), // same score as p-b: the smaller id wins
          cand("p-liked", "d", { createdAtMs: NOW - 5 * HOUR, likes: 50, impressions: 10 }),
        ],
      },
      noExclusions,
      NOW,
      { authorDiversityDecay: 1 },
    );
    // p-liked: 0.3*e^-0.5 + 0.4*ln(6) = 0.1820 + 0.7167 = 0.8987; fresh ones 0.3; p-old 0.3*e^-2.4 = 0.0272
    expect(ranked.map((r) => r.postId)).toEqual(["p-liked", "p-a", "p-b", "p-old"]);
    expect(ranked[0]?.score).toBeCloseTo(0.3 * Math.exp(-0.5) + 0.4 * Math.log(6), 12);
  });

  it("drops excluded posts before scoring", () => {
    const ranked = rankFeed({ follow: [cand("mine", VIEWER), cand("fine", "a")] }, noExclusions, NOW);
    expect(ranked.map((r) => r.postId)).toEqual(["fine"]);
  });

  it("caps the ranking at maxItems", () => {
    const many = Array.from({ length: 30 }, (_, i) => cand(`p${String(i).padStart(2, "0")}`, `a${i}`));
    expect(rankFeed({ follow: many }, noExclusions, NOW, { maxItems: 10 })).toHaveLength(10);
  });
});

const item = (postId: string, authorId: string, score: number): RankedItem => ({
  postId,
  authorId,
  createdAtMs: NOW,
  text: "",
  source: "follow",
  score,
  explain: { freshness: 0, engagement: 0, affinity: 0, score, diversityMultiplier: 1 },
});

describe("author diversity", () => {
  it("decays a repeat author's score by position so another author can come between", () => {
    // a1 1.0, a2 0.9, a3 0.85, b1 0.8 with decay 0.8: a1 1.0, a2 0.72 vs b1 0.8 → b1, then a2 0.72, a3 0.85*0.64
    const out = diversify([item("a1", "A", 1), item("a2", "A", 0.9), item("a3", "A", 0.85), item("b1", "B", 0.8)], 0.8);
    expect(out.map((i) => i.postId)).toEqual(["a1", "b1", "a2", "a3"]);
    expect(out[2]?.score).toBeCloseTo(0.72, 12);
    expect(out[3]?.score).toBeCloseTo(0.85 * 0.64, 12);
    expect(out[3]?.explain.diversityMultiplier).toBeCloseTo(0.64, 12);
  });

  it("keeps the output sorted by final score and loses nothing", () => {
    const input = Array.from({ length: 60 }, (_, i) => item(`p${i}`, `A${i % 4}`, 1 - i / 100)).sort(compareRanked);
    const out = diversify(input, 0.7);
    expect(out).toHaveLength(60);
    expect(new Set(out.map((i) => i.postId)).size).toBe(60);
    for (let i = 1; i < out.length; i++)
      expect(compareRanked(out[i - 1] as RankedItem, out[i] as RankedItem)).toBeLessThan(0);
  });
});

/** The pass as first written: scan every author's head at each step (the definition). */
function diversifyByScan(sorted: readonly RankedItem[], decay: number): RankedItem[] {
  if (decay >= 1 || sorted.length < 2) return [...sorted];
  const queues = new Map<string, RankedItem[]>();
  for (const i of sorted) queues.set(i.authorId, [...(queues.get(i.authorId) ?? []), i]);
  const placed = new Map<string, number>();
  const heads = new Map<string, number>();
  const out: RankedItem[] = [];
  while (out.length < sorted.length) {
    let best: { author: string; item: RankedItem; score: number; multiplier: number } | null = null;
    for (const [author, q] of queues) {
      const item = q[heads.get(author) ?? 0];
      if (!item) continue;
      const multiplier = decay ** (placed.get(author) ?? 0);
      const score = item.score * multiplier;
      if (!best || compareRanked({ score, postId: item.postId }, { score: best.score, postId: best.item.postId }) < 0)
        best = { author, item, score, multiplier };
    }
    if (!best) break;
    heads.set(best.author, (heads.get(best.author) ?? 0) + 1);
    placed.set(best.author, (placed.get(best.author) ?? 0) + 1);
    out.push({
      ...best.item,
      score: best.score,
      explain: { ...best.item.explain, diversityMultiplier: best.multiplier },
    });
  }
  return out;
}

describe("diversify (heap) equals the definition (scan every head)", () => {
  it("on 200 random rankings with ties, few and many authors", () => {
    let seed = 7;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let run = 0; run < 200; run++) {
      const authors = 1 + Math.floor(rand() * 40);
      const n = Math.floor(rand() * 120);
      const items = Array.from({ length: n }, (_, k) =>
        item(`p${run}_${k}`, `a${Math.floor(rand() * authors)}`, Math.round(rand() * 20) / 20),
      ).sort(compareRanked);
      const decay = [0.5, 0.8, 0.95, 1][run % 4] as number;
      expect(diversify(items, decay)).toEqual(diversifyByScan(items, decay));
    }
  });
});

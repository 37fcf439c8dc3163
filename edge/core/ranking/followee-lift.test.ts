import { describe, expect, it } from "vitest";
import type { Candidate } from "./candidates.ts";
import {
  FOLLOWEE_NEW_POST_TOP,
  FOLLOWEE_NEW_POST_WINDOW_MS,
  isFolloweeNewPost,
  liftFolloweeNewPosts,
} from "./followee-lift.ts";
import { rankFeed } from "./rank.ts";

const NOW = Date.parse("2026-11-25T12:00:00Z");
const HOUR = 3_600_000;
const VIEWER = "00000000-0000-4000-8000-000000000000";
const noExclusions = { viewerId: VIEWER, blockedAuthorIds: new Set<string>(), seenPostIds: new Set<string>() };

function cand(postId: string, authorId: string, ageH: number, over: Partial<Candidate> = {}): Candidate {
  return {
    postId,
    authorId,
    text: `post ${postId}`,
    source: "follow",
    createdAtMs: NOW - ageH * HOUR,
    likes: 0,
    comments: 0,
    shares: 0,
    impressions: 0,
    authorInteractions90d: 0,
    ...over,
  };
}
const pad = (i: number) => String(i).padStart(2, "0");

/**
 * The world of the examples. The followee F has three engaged posts (10 likes, 5 impressions:
 * engagement ln 3), 3, 4 and 5 h old:
 *   f3h 0.3·e^-0.3 + 0.4·ln 3 = 0.2222 + 0.4394 = 0.6617
 *   f4h 0.3·e^-0.4 + 0.4·ln 3 = 0.6405, × 0.8 (F's 2nd) = 0.5124
 *   f5h 0.3·e^-0.5 + 0.4·ln 3 = 0.6214, × 0.64 (F's 3rd) = 0.3977
 * Sixty trending posts t00…t59, one per author, 12 h old, 1 like, 4 impressions:
 *   0.3·e^-1.2 + 0.4·ln 1.25 = 0.0904 + 0.0893 = 0.1796 each (ties by post id).
 * F's new post, no engagement: 0.3·e^-0.1 = 0.2715, the 4th best base score, but as F's 4th
 * post × 0.512 = 0.1390 < 0.1796, so the diversity pass puts it after all sixty: 64th of 64.
 */
const engaged = { likes: 10, impressions: 5 };
const fEngaged = [cand("f3h", "F", 3, engaged), cand("f4h", "F", 4, engaged), cand("f5h", "F", 5, engaged)];
const trending = Array.from({ length: 60 }, (_, i) =>
  cand(`t${pad(i)}`, `T${pad(i)}`, 12, { source: "trending", likes: 1, impressions: 4 }),
);
const ts = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `t${pad(from + i)}`);

describe("followee new posts are within the first 50", () => {
  it("has the decided constants", () => {
    expect(FOLLOWEE_NEW_POST_WINDOW_MS).toBe(2 * HOUR);
    expect(FOLLOWEE_NEW_POST_TOP).toBe(50);
  });

  it("is a post found by F1 (follow) created less than 2 h ago (a future stamp is new)", () => {
    const at = (ms: number, source: Candidate["source"] = "follow") => ({ postId: "p", source, createdAtMs: ms });
    expect(isFolloweeNewPost(at(NOW), NOW)).toBe(true);
    expect(isFolloweeNewPost(at(NOW + HOUR), NOW)).toBe(true);
    expect(isFolloweeNewPost(at(NOW - 2 * HOUR + 1), NOW)).toBe(true);
    expect(isFolloweeNewPost(at(NOW - 2 * HOUR), NOW)).toBe(false);
    expect(isFolloweeNewPost(at(NOW, "trending"), NOW)).toBe(false);
    expect(isFolloweeNewPost(at(NOW, "affinity"), NOW)).toBe(false);
  });

  it("lifts a followee's 1 h old post the diversity decay put 64th to 50th; the rest keep their order", () => {
    // Without the rule: the same post, same score, found by F3 instead of F1, is 64th of 64.
    const unprotected = rankFeed(
      { follow: fEngaged, trending, affinity: [cand("fnew", "F", 1, { source: "affinity" })] },
      noExclusions,
      NOW,
    );
    expect(unprotected.map((r) => r.postId)).toEqual(["f3h", "f4h", "f5h", ...ts(0, 60), "fnew"]);

    const ranked = rankFeed({ follow: [...fEngaged, cand("fnew", "F", 1)], trending }, noExclusions, NOW);
    const ids = ranked.map((r) => r.postId);
    expect(ids).toEqual(["f3h", "f4h", "f5h", ...ts(0, 46), "fnew", ...ts(46, 60)]);
    expect(ranked[0]?.score).toBeCloseTo(0.3 * Math.exp(-0.3) + 0.4 * Math.log(3), 12);
    expect(ranked[2]?.score).toBeCloseTo((0.3 * Math.exp(-0.5) + 0.4 * Math.log(3)) * 0.64, 12);
    expect(ranked[3]?.score).toBeCloseTo(0.3 * Math.exp(-1.2) + 0.4 * Math.log(1.25), 12);
    // Position 50 (index 49) keeps its own decayed score, below the ones it passed.
    expect(ranked[49]?.score).toBeCloseTo(0.3 * Math.exp(-0.1) * 0.8 ** 3, 12);
    expect(ranked[49]?.explain.diversityMultiplier).toBeCloseTo(0.512, 12);
    expect(ranked[49]?.score).toBeLessThan(ranked[50]?.score as number);
    // Every other item has its score and order of the unprotected ranking.
    expect(ranked.filter((r) => r.postId !== "fnew")).toEqual(unprotected.filter((r) => r.postId !== "fnew"));
  });

  it("does not lift a followee post older than 2 h (2.5 h old, no engagement: stays 64th)", () => {
    // 0.3·e^-0.25 × 0.512 = 0.1196 < 0.1796.
    const ranked = rankFeed({ follow: [...fEngaged, cand("f2h30", "F", 2.5)], trending }, noExclusions, NOW);
    expect(ranked.map((r) => r.postId)).toEqual(["f3h", "f4h", "f5h", ...ts(0, 60), "f2h30"]);
    expect(ranked[63]?.score).toBeCloseTo(0.3 * Math.exp(-0.25) * 0.512, 12);
    // Exactly 2 h old is past the window too.
    const atTwo = rankFeed({ follow: [...fEngaged, cand("f2h", "F", 2)], trending }, noExclusions, NOW);
    expect(atTwo.map((r) => r.postId).indexOf("f2h")).toBe(63);
  });

  it("does not lift a new post only F2 (trending) found", () => {
    const ranked = rankFeed(
      { follow: fEngaged, trending: [...trending, cand("tnew", "F", 1, { source: "trending" })] },
      noExclusions,
      NOW,
    );
    expect(ranked.map((r) => r.postId).indexOf("tnew")).toBe(63);
  });

  it("lifts a post F1 and F2 both found (it keeps the source follow)", () => {
    const fnew = cand("fnew", "F", 1);
    const ranked = rankFeed(
      { follow: [...fEngaged, fnew], trending: [...trending, { ...fnew, source: "trending" }] },
      noExclusions,
      NOW,
    );
    expect(ranked[49]).toMatchObject({ postId: "fnew", source: "follow" });
  });

  it("still drops a followee new post a filter removes (seen, blocked, deleted)", () => {
    const ranked = rankFeed(
      { follow: [...fEngaged, cand("fnew", "F", 1), cand("gone", "F", 1, { postDeleted: true })], trending },
      { ...noExclusions, seenPostIds: new Set(["fnew"]) },
      NOW,
    );
    expect(ranked.map((r) => r.postId)).toEqual(["f3h", "f4h", "f5h", ...ts(0, 60)]);
  });

  it("lifts a post the decay pushed past the 500 cap into the ranking", () => {
    // 600 trending posts of 0.1796: without the lift the new post (0.1390) would be 604th.
    const many = Array.from({ length: 600 }, (_, i) =>
      cand(`t${String(i).padStart(3, "0")}`, `T${i}`, 12, { source: "trending", likes: 1, impressions: 4 }),
    );
    const ranked = rankFeed({ follow: [...fEngaged, cand("fnew", "F", 1)], trending: many }, noExclusions, NOW);
    expect(ranked).toHaveLength(500);
    expect(ranked[49]?.postId).toBe("fnew");
    expect(ranked[50]?.postId).toBe("t046");
    expect(ranked[499]?.postId).toBe("t495");
  });

  it("lifts into a shorter ranking's whole length when maxItems is under 50", () => {
    const ranked = rankFeed({ follow: [...fEngaged, cand("fnew", "F", 1)], trending }, noExclusions, NOW, {
      maxItems: 10,
    });
    expect(ranked.map((r) => r.postId)).toEqual(["f3h", "f4h", "f5h", ...ts(0, 6), "fnew"]);
  });

  it("with more than 50 followee new posts: the 50 ranked best fill the first 50, the others keep their place after", () => {
    // F's 55 new posts n00…n54, all 1 h old (ties by post id), each decayed past 0.1796 as F's
    // 4th and later posts: ranked f3h f4h f5h t00…t59 n00…n54 before the lift. After it, the
    // first 50 are n00…n49 (in that order); then everything else in its order: F's engaged
    // posts, the sixty trending posts, and n50…n54, which stay at the end.
    const fresh = Array.from({ length: 55 }, (_, i) => cand(`n${pad(i)}`, "F", 1));
    const ranked = rankFeed({ follow: [...fEngaged, ...fresh], trending }, noExclusions, NOW);
    const ns = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `n${pad(from + i)}`);
    expect(ranked.map((r) => r.postId)).toEqual([...ns(0, 50), "f3h", "f4h", "f5h", ...ts(0, 60), ...ns(50, 55)]);
    expect(ranked[0]?.score).toBeCloseTo(0.3 * Math.exp(-0.1) * 0.8 ** 3, 12);
    expect(ranked[49]?.score).toBeCloseTo(0.3 * Math.exp(-0.1) * 0.8 ** 52, 12);
  });

  it("with more than 50 followee new posts already first: nothing moves", () => {
    // 55 followees, one new post each (0.2715, undecayed): first 55 by score alone.
    const fresh = Array.from({ length: 55 }, (_, i) => cand(`n${pad(i)}`, `G${pad(i)}`, 1));
    const ranked = rankFeed({ follow: fresh, trending }, noExclusions, NOW);
    expect(ranked.map((r) => r.postId)).toEqual([...Array.from({ length: 55 }, (_, i) => `n${pad(i)}`), ...ts(0, 60)]);
  });
});

describe("liftFolloweeNewPosts", () => {
  const it_ = (postId: string, source: Candidate["source"], ageH: number) => ({
    postId,
    source,
    createdAtMs: NOW - ageH * HOUR,
  });

  it("keeps relative order on both sides of the cut (top 3)", () => {
    // a b c d e f g: d and f are followee new posts, e an old followee post.
    const ranked = [
      it_("a", "trending", 1),
      it_("b", "affinity", 5),
      it_("c", "follow", 3),
      it_("d", "follow", 1),
      it_("e", "follow", 30),
      it_("f", "follow", 0.5),
      it_("g", "trending", 1),
    ];
    expect(liftFolloweeNewPosts(ranked, NOW, 3).map((r) => r.postId)).toEqual(["a", "d", "f", "b", "c", "e", "g"]);
    expect(liftFolloweeNewPosts(ranked, NOW, 4).map((r) => r.postId)).toEqual(["a", "b", "d", "f", "c", "e", "g"]);
    expect(liftFolloweeNewPosts(ranked, NOW, 5).map((r) => r.postId)).toEqual(["a", "b", "c", "d", "f", "e", "g"]);
    expect(liftFolloweeNewPosts(ranked, NOW, 6).map((r) => r.postId)).toEqual(["a", "b", "c", "d", "e", "f", "g"]);
    expect(liftFolloweeNewPosts(ranked, NOW, 1).map((r) => r.postId)).toEqual(["d", "a", "b", "c", "e", "f", "g"]);
  });

  it("returns the same items, never more or fewer", () => {
    const ranked = Array.from({ length: 120 }, (_, i) => it_(`p${i}`, i % 7 === 0 ? "follow" : "trending", i % 3));
    const out = liftFolloweeNewPosts(ranked, NOW);
    expect(out).toHaveLength(120);
    expect(new Set(out.map((r) => r.postId))).toEqual(new Set(ranked.map((r) => r.postId)));
    const firstFifty = new Set(out.slice(0, 50).map((r) => r.postId));
    for (const r of ranked) if (isFolloweeNewPost(r, NOW)) expect(firstFifty.has(r.postId)).toBe(true);
  });
});

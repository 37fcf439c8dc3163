import { describe, expect, it } from "vitest";
import { decodePostCounters, encodePostCounters, indexKeys } from "../keys.ts";
import {
  assembleCandidates,
  authorReads,
  F1_WINDOW_MS,
  parseViewerState,
  planAuthorReads,
  postsOfAuthor,
  topAffinityAuthors,
  viewerReads,
} from "./read.ts";

const NOW = Date.UTC(2026, 11, 1, 12);
const H = 3600_000;
const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;
const V = id(1);
const keys = indexKeys("t:");

/** Round trip 1 replies, as Upstash gives them (hashes as objects, JSON values parsed). */
function viewerReplies(over: Partial<Record<string, unknown>> = {}) {
  return [
    "ready" in over ? over.ready : "{}",
    over.followees ?? [id(10), id(11)],
    over.blocksOut ?? [id(12)],
    over.blocksIn ?? [],
    over.affinity ?? { [id(20)]: "3", [id(10)]: 1, _b: 123 },
    over.hot ?? [[id(301), id(30)]],
    over.popular ?? [id(40)],
    over.seen ?? [id(102)],
    "indexed" in over ? over.indexed : 1,
  ];
}

const post = (n: number, ageH: number, text = `p${n}`) => [id(n), `${NOW - ageH * H}\t${text}`];

describe("serving index read plan", () => {
  it("round trip 1 reads the viewer's keys and the global ones", () => {
    expect(viewerReads(keys, V, `seen:${V}`).map((c) => c.slice(0, 2))).toEqual([
      ["GET", "t:fi:ready:v5"],
      ["SMEMBERS", `t:fi:fo:${V}`],
      ["SMEMBERS", `t:fi:bo:${V}`],
      ["SMEMBERS", `t:fi:bi:${V}`],
      ["HGETALL", `t:fi:af:{${V}}`],
      ["GET", "t:{hot:posts:1h}:ids"],
      ["GET", "t:fi:popular"],
      ["ZRANGE", `seen:${V}`],
      ["EXISTS", `t:fi:u:{${V}}`],
    ]);
  });

  it("parses affinity without the bookkeeping field, blocks both ways, and not-ready", () => {
    const s = parseViewerState(viewerReplies({ blocksIn: [id(13)] }));
    expect(s.ready).toBe(true);
    expect([...s.affinity]).toEqual([
      [id(20), 3],
      [id(10), 1],
    ]);
    expect(s.blockedIds).toEqual(new Set([id(12), id(13)]));
    expect(parseViewerState(viewerReplies({ ready: null }))).toMatchObject({ ready: false, notReady: "index" });
  });

  it("is not ready for a viewer the ready index does not hold (no profile): that viewer alone takes the cold path", () => {
    expect(parseViewerState(viewerReplies({ indexed: 0 }))).toMatchObject({ ready: false, notReady: "viewer" });
    expect(parseViewerState(viewerReplies()).notReady).toBeUndefined();
  });

  it("reads whole hashes of the followees and top affinity authors (popular ones only when cold), only the fields of other trending posts", () => {
    const s = parseViewerState(viewerReplies());
    const plan = planAuthorReads(s);
    expect(plan.full).toEqual([id(10), id(11), id(20)]);
    expect(plan.trendingOnly).toEqual([{ postId: id(301), authorId: id(30) }]);
    expect(plan.authors).toEqual([id(10), id(11), id(20), id(30)]);
    const cmds = authorReads(keys, plan);
    expect(cmds[3]).toEqual(["HMGET", `t:fi:ap:{${id(30)}}`, id(301), `${id(301)}:n`, `${id(301)}:d`, "_u"]);
    expect(cmds.at(-1)).toEqual(["SMISMEMBER", "t:fi:du", id(10), id(11), id(20), id(30)]);
    const cold = planAuthorReads(parseViewerState(viewerReplies({ followees: [] })));
    expect(cold.full).toEqual([id(20), id(10), id(40)]);
  });

  it("orders affinity authors by interactions, ties by id, at most 50", () => {
    const m = new Map(Array.from({ length: 60 }, (_, i) => [id(100 + i), i % 3] as [string, number]));
    const top = topAffinityAuthors(m);
    expect(top).toHaveLength(50);
    expect(top[0]).toBe(id(102)); // 2 interactions, the smallest id among them
  });

  it("encodes a post's counters as one field, absent when all are zero, malformed parts as zero", () => {
    const c = { likes: 3, comments: 0, shares: 1, impressions: 12 };
    expect(encodePostCounters(c)).toBe("3,0,1,12");
    expect(decodePostCounters(encodePostCounters(c))).toEqual(c);
    expect(encodePostCounters({ likes: 0, comments: 0, shares: 0, impressions: 0 })).toBeNull();
    expect(decodePostCounters(null)).toEqual({ likes: 0, comments: 0, shares: 0, impressions: 0 });
    expect(decodePostCounters("2,x,-1")).toEqual({ likes: 2, comments: 0, shares: 0, impressions: 0 });
  });

  it("leaves out an author hash's posts older than the widest window, with their counters", () => {
    const posts = postsOfAuthor(
      id(10),
      [
        [id(100), `${NOW - 2 * H}\tnew`],
        [id(101), `${NOW - 200 * H}\told`],
        [`${id(101)}:n`, "9,9,9,9"],
      ],
      NOW - 168 * H,
    );
    expect([...posts.keys()]).toEqual([id(100)]);
  });

  it("parses an author hash: base fields with their counters, stray counters ignored", () => {
    const posts = postsOfAuthor(id(10), [
      [id(100), `${NOW}\ttext with\ttabs`],
      [`${id(100)}:n`, "2,0,0,7"],
      [`${id(100)}:d`, "3,1"],
      [`${id(999)}:n`, "5,0,0,0"],
      ["_u", "ada\tAda L."],
      [`${id(100)}:l`, "9"], // layout 1: not read
    ]);
    expect([...posts.values()]).toEqual([
      {
        postId: id(100),
        authorId: id(10),
        createdAtMs: NOW,
        text: "text with\ttabs",
        likes: 2,
        comments: 0,
        shares: 0,
        impressions: 7,
        plainLikes: 3,
        plainComments: 1,
      },
    ]);
  });

  it("assembles the sources as the ClickHouse query does: windows, trending order, affinity feature, deleted authors", () => {
    const s = parseViewerState(viewerReplies());
    const plan = planAuthorReads(s);
    const hashes: Record<string, unknown> = {
      [id(10)]: Object.fromEntries([post(100, 1), post(101, 80), [`${id(100)}:n`, "0,1,0,0"]]),
      [id(11)]: Object.fromEntries([post(110, 2)]),
      [id(20)]: Object.fromEntries([post(200, 100), post(201, 200)]), // 100 h: F3 (7 days) yes; 200 h no
    };
    // The lone trending post as HMGET answers: base, then the counters (null when absent).
    const hmget = [post(301, 3)[1], "2,0,0,0", "3,0", "ada\tAda"];
    const replies = [...plan.full.map((a) => hashes[a] ?? null), hmget, [0, 1, 0, 0]];
    const c = assembleCandidates(s, plan, replies, NOW);
    expect(c.bySource.follow.map((p) => p.postId)).toEqual([id(100), id(110)]); // 80 h old is out of 72 h
    expect(c.bySource.follow[0]).toMatchObject({ comments: 1, authorInteractions90d: 1 });
    expect(c.bySource.follow[1]?.authorDeleted).toBe(true);
    expect(c.bySource.trending.map((p) => p.postId)).toEqual([id(301)]);
    expect(c.bySource.trending[0]?.likes).toBe(2);
    // What renders them: plain totals (the author's own like included) and the author's card.
    expect(c.display?.counts.get(id(301))).toEqual({ likes: 3, comments: 0, shares: 0 });
    expect(c.display?.cards.get(id(30))).toEqual({ handle: "ada", displayName: "Ada" });
    // The F3 window is 7 days: 80 h and 100 h old posts are in, 200 h is out.
    expect(c.bySource.affinity.map((p) => p.postId)).toEqual([id(100), id(101), id(200)]);
    expect(c.bySource.affinity[2]?.authorInteractions90d).toBe(3);
    expect(c.seenPostIds).toEqual(new Set([id(102)]));
    expect(NOW - F1_WINDOW_MS).toBeLessThan(NOW);
  });

  it("drops a trending post its author's hash no longer has (deleted)", () => {
    const s = parseViewerState(viewerReplies({ followees: [id(10)], affinity: {} }));
    const plan = planAuthorReads(s);
    const replies = [...plan.full.map(() => ({})), [null, null, null, null], plan.authors.map(() => 0)];
    const c = assembleCandidates(s, plan, replies, NOW);
    expect(c.bySource.trending).toEqual([]);
  });
});

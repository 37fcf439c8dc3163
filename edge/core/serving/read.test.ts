import { describe, expect, it } from "vitest";
import { indexKeys } from "../keys.ts";
import {
  assembleCandidates,
  authorReads,
  authorsToRead,
  F1_WINDOW_MS,
  parseViewerState,
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
    over.hot ?? [{ postId: id(301), authorId: id(30) }],
    over.popular ?? [id(40)],
    over.seen ?? [id(102)],
  ];
}

const post = (n: number, ageH: number, text = `p${n}`) => [id(n), `${NOW - ageH * H}\t${text}`];

describe("serving index read plan", () => {
  it("round trip 1 reads the viewer's keys and the global ones", () => {
    expect(viewerReads(keys, V, `seen:${V}`).map((c) => c.slice(0, 2))).toEqual([
      ["GET", "t:fi:ready"],
      ["SMEMBERS", `t:fi:fo:${V}`],
      ["SMEMBERS", `t:fi:bo:${V}`],
      ["SMEMBERS", `t:fi:bi:${V}`],
      ["HGETALL", `t:fi:af:${V}`],
      ["GET", "t:hot:posts:1h"],
      ["GET", "t:fi:popular"],
      ["ZRANGE", `seen:${V}`],
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
    expect(parseViewerState(viewerReplies({ ready: null })).ready).toBe(false);
  });

  it("reads the followees, the top affinity authors and the trending authors; the popular ones only when cold", () => {
    const s = parseViewerState(viewerReplies());
    expect(authorsToRead(s)).toEqual([id(10), id(11), id(20), id(30)]);
    const cold = parseViewerState(viewerReplies({ followees: [] }));
    expect(authorsToRead(cold)).toEqual([id(20), id(10), id(30), id(40)]);
    expect(authorReads(keys, [id(10), id(11)]).at(-1)).toEqual(["SMISMEMBER", "t:fi:du", id(10), id(11)]);
  });

  it("orders affinity authors by interactions, ties by id, at most 50", () => {
    const m = new Map(Array.from({ length: 60 }, (_, i) => [id(100 + i), i % 3] as [string, number]));
    const top = topAffinityAuthors(m);
    expect(top).toHaveLength(50);
    expect(top[0]).toBe(id(102)); // 2 interactions, the smallest id among them
  });

  it("parses an author hash: base fields with their counters, stray counters ignored", () => {
    const posts = postsOfAuthor(id(10), [
      [id(100), `${NOW}\ttext with\ttabs`],
      [`${id(100)}:l`, "2"],
      [`${id(100)}:i`, "7"],
      [`${id(999)}:l`, "5"],
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
      },
    ]);
  });

  it("assembles the sources as the ClickHouse query does: windows, trending order, affinity feature, deleted authors", () => {
    const s = parseViewerState(viewerReplies());
    const authors = authorsToRead(s);
    const hashes: Record<string, unknown> = {
      [id(10)]: Object.fromEntries([post(100, 1), post(101, 80), [`${id(100)}:c`, "1"]]),
      [id(11)]: Object.fromEntries([post(110, 2)]),
      [id(20)]: Object.fromEntries([post(200, 100), post(201, 200)]), // 100 h: F3 (7 days) yes; 200 h no
      [id(30)]: Object.fromEntries([post(301, 3)]),
    };
    const replies = [...authors.map((a) => hashes[a] ?? null), [0, 1, 0, 0]];
    const c = assembleCandidates(s, authors, replies, NOW);
    expect(c.bySource.follow.map((p) => p.postId)).toEqual([id(100), id(110)]); // 80 h old is out of 72 h
    expect(c.bySource.follow[0]).toMatchObject({ comments: 1, authorInteractions90d: 1 });
    expect(c.bySource.follow[1]?.authorDeleted).toBe(true);
    expect(c.bySource.trending.map((p) => p.postId)).toEqual([id(301)]);
    // The F3 window is 7 days: 80 h and 100 h old posts are in, 200 h is out.
    expect(c.bySource.affinity.map((p) => p.postId)).toEqual([id(100), id(101), id(200)]);
    expect(c.bySource.affinity[2]?.authorInteractions90d).toBe(3);
    expect(c.seenPostIds).toEqual(new Set([id(102)]));
    expect(NOW - F1_WINDOW_MS).toBeLessThan(NOW);
  });

  it("drops a trending post its author's hash no longer has (deleted)", () => {
    const s = parseViewerState(viewerReplies({ followees: [id(10)], affinity: {} }));
    const authors = authorsToRead(s);
    const c = assembleCandidates(s, authors, [...authors.map(() => ({})), authors.map(() => 0)], NOW);
    expect(c.bySource.trending).toEqual([]);
  });
});

import { describe, expect, it } from "vitest";
import { encodeAuthorCard, encodePlainTotals, encodePostCounters, indexKeys } from "../keys.ts";
import { decodeListCursor, encodeListCursor, ListCursorError } from "./cursor.ts";
import { listPage, listPageRead, parseScored } from "./lists.ts";
import { parsePeople, peopleReads, visibleCard } from "./people.ts";
import { fromColdRow, hydrationReads, parseHydration, presentIndexed } from "./posts.ts";
import { parseUserReads, presentProfile, userReads, visible } from "./profile.ts";
import { hmgetValues, parseCard, parseProfile } from "./shapes.ts";

const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;
const keys = indexKeys("t:");
const V = id(1);
const A = id(2);

describe("list cursors", () => {
  it("round-trip, and are bound to their list", () => {
    const c = { kind: "posts" as const, owner: A, score: 1_700_000_000_123, id: id(9) };
    const raw = encodeListCursor(c);
    expect(raw).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeListCursor(raw, "posts", A)).toEqual(c);
    expect(() => decodeListCursor(raw, "followers", A)).toThrow(ListCursorError);
    expect(() => decodeListCursor(raw, "posts", id(3))).toThrow(/another list/);
  });

  it("reject anything malformed or tampered", () => {
    for (const bad of ["", "%%%", "e30", btoa('{"k":"posts","o":"x","s":-1,"i":"y"}'), "eyJrIjoicG9zdHMifQ"]) {
      expect(() => decodeListCursor(bad, "posts", "x")).toThrow(ListCursorError);
    }
  });
});

describe("list pages", () => {
  it("read limit + 1 entries by one read-only script (EVAL_RO) on the list's key, with the cursor's position", () => {
    const first = listPageRead("k", "newest", null, 20);
    expect(first.slice(0, 4)).toEqual(["EVAL_RO", first[1], "1", "k"]);
    expect(first.slice(4)).toEqual(["1", "0", "0", "", "21"]);
    const next = listPageRead("k", "oldest", { kind: "comments", owner: "p", score: 5, id: "c" }, 10);
    expect(next.slice(4)).toEqual(["0", "1", "5", "c", "11"]);
  });

  it("serve at most limit entries and a cursor at the last one only when more follow", () => {
    const reply = ["a", "30", "b", "20", "c", "10"];
    expect(parseScored(reply)).toEqual([
      { id: "a", score: 30 },
      { id: "b", score: 20 },
      { id: "c", score: 10 },
    ]);
    const p = listPage(reply, "posts", A, 2);
    expect(p.entries.map((e) => e.id)).toEqual(["a", "b"]);
    expect(p.next).toEqual({ kind: "posts", owner: A, score: 20, id: "b" });
    expect(listPage(reply, "posts", A, 3).next).toBeNull();
    expect(listPage([], "posts", A, 3)).toEqual({ entries: [], next: null });
    // Upstash may answer with objects.
    expect(parseScored([{ member: "x", score: 1 }])).toEqual([{ id: "x", score: 1 }]);
  });
});

describe("profiles", () => {
  const replies = (over: Record<number, unknown> = {}) =>
    [["ada", "Ada L.", "bio", "1700000000000"], 3, 2, 7, "1700000000001", null, 0, 0].map((v, i) =>
      i in over ? over[i] : v,
    );

  it("read the profile, its counts, the viewer's relation and the blocks in one round trip", () => {
    const cmds = userReads(keys, V, A);
    expect(cmds.map((c) => c.slice(0, 2))).toEqual([
      ["HMGET", keys.profile(A)],
      ["ZCARD", keys.followers(A)],
      ["ZCARD", keys.following(A)],
      ["ZCARD", keys.userPosts(A)],
      ["ZSCORE", keys.following(V)],
      ["ZSCORE", keys.followers(V)],
      ["SISMEMBER", keys.blocksOut(V)],
      ["SISMEMBER", keys.blocksIn(V)],
    ]);
    const out = presentProfile(parseUserReads(V, A, replies()));
    expect(out).toEqual({
      id: A,
      handle: "ada",
      display_name: "Ada L.",
      bio: "bio",
      created_at: "2023-11-14T22:13:20.000Z",
      counts: { followers: 3, following: 2, posts: 7 },
      viewer: { following: true, followed_by: false, blocking: false },
    });
  });

  it("hide a deleted or unknown user, and one blocked either way; never oneself", () => {
    expect(visible(parseUserReads(V, A, replies({ 0: null })))).toBe(false);
    expect(visible(parseUserReads(V, A, replies({ 0: [null, null, null, null] })))).toBe(false);
    expect(visible(parseUserReads(V, A, replies({ 6: 1 })))).toBe(false);
    expect(visible(parseUserReads(V, A, replies({ 7: "1" })))).toBe(false);
    expect(presentProfile(parseUserReads(A, A, replies({ 6: 1 })))?.viewer).toEqual({
      following: false,
      followed_by: false,
      blocking: false,
    });
  });

  it("parse HMGET replies as lists or objects", () => {
    expect(hmgetValues({ h: "x", n: null }, ["h", "n"])).toEqual(["x", null]);
    expect(parseProfile({ h: "x", n: "X", b: "", c: "5" })).toEqual({
      handle: "x",
      displayName: "X",
      bio: "",
      createdMs: 5,
    });
    expect(parseCard(A, ["x", "X"])).toEqual({ id: A, handle: "x", display_name: "X" });
    expect(parseCard(A, null)).toBeNull();
  });
});

describe("post hydration", () => {
  const refs = [
    { postId: id(10), authorId: A },
    { postId: id(11), authorId: A },
    { postId: id(12), authorId: id(3) },
  ];

  it("reads each author's hash once, and the viewer's likes, follows and blocks", () => {
    const plan = hydrationReads(keys, V, refs);
    expect(plan.commands).toEqual([
      ["HMGET", keys.authorPosts(A), "_u", id(10), `${id(10)}:n`, `${id(10)}:d`, id(11), `${id(11)}:n`, `${id(11)}:d`],
      ["HMGET", keys.authorPosts(id(3)), "_u", id(12), `${id(12)}:n`, `${id(12)}:d`],
      ["ZMSCORE", keys.recentLikes(V), id(10), id(11), id(12)],
      ["SMISMEMBER", keys.followees(V), A, id(3)],
      ["SMISMEMBER", keys.blocksOut(V), A, id(3)],
      ["SMISMEMBER", keys.blocksIn(V), A, id(3)],
    ]);
    expect(hydrationReads(keys, null, refs).commands).toHaveLength(2);
  });

  it("renders plain totals and counted shares, the viewer's like, leaves out what is gone or blocked", () => {
    const plan = hydrationReads(keys, V, refs);
    const h = parseHydration(plan, [
      [
        encodeAuthorCard("ada", "Ada"),
        "1700000000000\thello",
        encodePostCounters({ likes: 1, comments: 0, shares: 2, impressions: 9 }),
        encodePlainTotals({ likes: 2, comments: 1 }),
        null,
        null,
        null,
      ],
      [encodeAuthorCard("bob", "Bob"), "1700000000000\tbob's", null, null],
      ["1700000000001", null, null],
      [1, 0],
      [0, 0],
      [0, 1],
    ]);
    expect(presentIndexed(h, id(10), V)).toEqual({
      post_id: id(10),
      author_id: A,
      author: { id: A, handle: "ada", display_name: "Ada" },
      created_at: "2023-11-14T22:13:20.000Z",
      text: "hello",
      counts: { likes: 2, comments: 1, shares: 2 },
      viewer: { liked: true, following_author: true },
    });
    expect(h.missing).toEqual([refs[1]]); // not in the index: ClickHouse's
    expect(presentIndexed(h, id(12), V)).toBeNull(); // its author blocks the viewer
  });

  it("renders a ClickHouse row with the author's card; a deleted one is left out", () => {
    const row = {
      post_id: id(11),
      author_id: A,
      text: "old",
      created_at_ms: "1600000000000",
      deleted: 0,
      likes: "4",
      comments: "0",
      shares: "1",
      liked: 1,
    };
    const card = { id: A, handle: "ada", display_name: "Ada" };
    expect(fromColdRow(row, card, { id: V, followsAuthor: false })).toMatchObject({
      counts: { likes: 4, comments: 0, shares: 1 },
      viewer: { liked: true, following_author: false },
    });
    expect(fromColdRow({ ...row, deleted: 1 }, card, null)).toBeNull();
    expect(fromColdRow(row, null, null)).toBeNull();
  });
});

describe("people as a viewer sees them", () => {
  it("read cards and the relation both ways in one round trip; hide the deleted and the blocked, never oneself", () => {
    const plan = peopleReads(keys, V, [A, id(3), A, V]);
    expect(plan.ids).toEqual([A, id(3), V]);
    expect(plan.commands.map((c) => c.slice(0, 2))).toEqual([
      ["HMGET", keys.profile(A)],
      ["HMGET", keys.profile(id(3))],
      ["HMGET", keys.profile(V)],
      ["ZMSCORE", keys.following(V)],
      ["ZMSCORE", keys.followers(V)],
      ["SMISMEMBER", keys.blocksOut(V)],
      ["SMISMEMBER", keys.blocksIn(V)],
    ]);
    const people = parsePeople(plan, [
      ["ada", "Ada"],
      null,
      ["me", "Me"],
      ["1", null, null],
      [null, "2", null],
      [0, 1, 0],
      [0, 0, 1],
    ]);
    expect(people.get(A)).toEqual({
      card: { id: A, handle: "ada", display_name: "Ada" },
      followed: true,
      followsViewer: false,
      blocked: false,
    });
    expect(visibleCard(people.get(id(3)))).toBeNull(); // deleted (no card) and blocked
    expect(people.get(id(3))?.blocked).toBe(true);
    expect(people.get(V)?.blocked).toBe(false); // a viewer never hides from themselves
    expect(peopleReads(keys, null, [A]).commands).toHaveLength(1);
  });
});

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { indexKeys } from "../keys.ts";
import type { Command } from "../serving/read.ts";
import {
  candidatesToCheck,
  pickSuggestions,
  rankSuggestionCandidates,
  readSuggestions,
  SUGGEST_FOLLOWEES_BOUND,
  SUGGEST_POPULAR_POOL,
  SUGGESTIONS_PER_USER,
  type SuggestedUser,
  suggestFromIndex,
  suggestionKeys,
  suggestionReads1,
  suggestionReads2,
  suggestionReads3,
} from "./suggestions.ts";

/** A world as PostgreSQL holds it: users, follows (with created ms), blocks, deleted users. */
interface World {
  users: string[];
  follows: { a: string; b: string; ms: number }[];
  blocks: { a: string; b: string }[];
  deleted: Set<string>;
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const id = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`;

/** SUGGESTED_USERS_SQL's rules, written out plainly from the world (the oracle). */
function reference(w: World, viewer: string): SuggestedUser[] {
  const mine = w.follows.filter((f) => f.a === viewer);
  const recent = [...mine]
    .sort((x, y) => y.ms - x.ms || cmp(y.b, x.b))
    .slice(0, SUGGEST_FOLLOWEES_BOUND)
    .map((f) => f.b);
  const fof = new Map<string, number>();
  for (const f of w.follows) if (recent.includes(f.a)) fof.set(f.b, (fof.get(f.b) ?? 0) + 1);
  const followers = new Map<string, number>();
  for (const f of w.follows) followers.set(f.b, (followers.get(f.b) ?? 0) + 1);
  const popular = [...followers].sort((x, y) => y[1] - x[1] || cmp(x[0], y[0])).slice(0, SUGGEST_POPULAR_POOL);
  const picked = new Map<string, { score: number; tier: number }>();
  for (const [u, n] of fof) picked.set(u, { score: n, tier: 1 });
  for (const [u, n] of popular) if (!picked.has(u)) picked.set(u, { score: n, tier: 2 });
  const blocked = new Set(w.blocks.flatMap((b) => (b.a === viewer ? [b.b] : b.b === viewer ? [b.a] : [])));
  const followed = new Set(mine.map((f) => f.b));
  return [...picked]
    .filter(([u]) => u !== viewer && !followed.has(u) && !blocked.has(u) && !w.deleted.has(u))
    .sort((x, y) => x[1].tier - y[1].tier || y[1].score - x[1].score || cmp(x[0], y[0]))
    .slice(0, SUGGESTIONS_PER_USER)
    .map(([u, p]) => ({
      user_id: u,
      score: p.score,
      reason: p.tier === 1 ? ("followed_by_your_follows" as const) : ("popular" as const),
    }));
}

type Value = { kind: "string"; v: string } | { kind: "set"; v: Set<string> } | { kind: "zset"; v: Map<string, number> };

/** The index as the updater would write the world, in memory. */
function indexOf(w: World, ns: string) {
  const keys = indexKeys(ns);
  const s = suggestionKeys(keys);
  const store = new Map<string, Value>();
  const set = (k: string) => {
    const cur = store.get(k);
    if (cur?.kind === "set") return cur.v;
    const v = new Set<string>();
    store.set(k, { kind: "set", v });
    return v;
  };
  const zset = (k: string) => {
    const cur = store.get(k);
    if (cur?.kind === "zset") return cur.v;
    const v = new Map<string, number>();
    store.set(k, { kind: "zset", v });
    return v;
  };
  store.set(keys.ready, { kind: "string", v: "1" });
  store.set(s.followerCountsReady, { kind: "string", v: "1" });
  for (const u of w.users) {
    if (w.deleted.has(u)) set(keys.deletedUsers).add(u);
    else store.set(keys.profile(u), { kind: "string", v: "profile" });
  }
  for (const f of w.follows) {
    set(keys.followees(f.a)).add(f.b);
    zset(keys.following(f.a)).set(f.b, f.ms);
    zset(keys.followers(f.b)).set(f.a, f.ms);
  }
  for (const b of w.blocks) {
    set(keys.blocksOut(b.a)).add(b.b);
    set(keys.blocksIn(b.b)).add(b.a);
  }
  for (const u of w.users) {
    const n = (store.get(keys.followers(u))?.v as Map<string, number> | undefined)?.size ?? 0;
    if (n > 0) zset(s.followerCounts).set(u, -n);
  }
  return { keys, store };
}

/** A Redis of the commands the plans use, over `store`; counts round trips and checks one key each. */
function fakeExec(store: Map<string, Value>) {
  const trips: Command[][] = [];
  const sorted = (z: Map<string, number>) => [...z].sort((a, b) => a[1] - b[1] || cmp(a[0], b[0])).map(([m]) => m);
  const exec = async (cmds: Command[]) => {
    trips.push(cmds);
    return cmds.map(([verb, key, ...args]) => {
      const v = store.get(key as string);
      switch (verb) {
        case "GET":
          return v?.kind === "string" ? v.v : null;
        case "EXISTS":
          return v ? 1 : 0;
        case "SMEMBERS":
          return v?.kind === "set" ? [...v.v] : [];
        case "SMISMEMBER":
          return args.map((m) => (v?.kind === "set" && v.v.has(m) ? 1 : 0));
        case "ZMSCORE":
          return args.map((m) => (v?.kind === "zset" && v.v.has(m) ? String(v.v.get(m)) : null));
        case "ZRANGE": {
          const all = v?.kind === "zset" ? sorted(v.v) : [];
          const n = all.length;
          let a = Number(args[0]);
          let b = Number(args[1]);
          if (a < 0) a = Math.max(0, n + a);
          if (b < 0) b = n + b;
          return all.slice(a, b + 1);
        }
        default:
          throw new Error(`unexpected ${verb}`);
      }
    });
  };
  return { exec, trips };
}

const worldArb = fc
  .record({
    n: fc.integer({ min: 2, max: 24 }),
    edges: fc.array(fc.tuple(fc.nat(23), fc.nat(23), fc.integer({ min: 0, max: 5 })), { maxLength: 120 }),
    blocks: fc.array(fc.tuple(fc.nat(23), fc.nat(23)), { maxLength: 8 }),
    deleted: fc.array(fc.nat(23), { maxLength: 4 }),
  })
  .map(({ n, edges, blocks, deleted }): World => {
    const users = Array.from({ length: n }, (_, i) => id(i));
    const seen = new Set<string>();
    const follows: World["follows"] = [];
    for (const [a, b, ms] of edges) {
      const x = id(a % n);
      const y = id(b % n);
      if (x === y || seen.has(`${x}>${y}`)) continue;
      seen.add(`${x}>${y}`);
      follows.push({ a: x, b: y, ms: 1000 + ms }); // few distinct times: ties are common
    }
    return {
      users,
      follows,
      blocks: blocks.map(([a, b]) => ({ a: id(a % n), b: id(b % n) })).filter((b) => b.a !== b.b),
      deleted: new Set(deleted.map((d) => id(d % n))),
    };
  });

describe("suggestions from the serving index", () => {
  it("equal the SQL's rules for every viewer of random worlds, in at most 3 round trips of single-key commands", async () => {
    await fc.assert(
      fc.asyncProperty(worldArb, async (w) => {
        const { keys, store } = indexOf(w, "t:");
        const live = w.users.filter((u) => !w.deleted.has(u));
        const { exec, trips } = fakeExec(store);
        const got = await readSuggestions(exec, keys, live);
        expect(trips.length).toBeLessThanOrEqual(3);
        for (const t of trips) for (const c of t) expect(typeof c[1]).toBe("string");
        for (const v of live) expect(got.get(v), v).toEqual(reference(w, v));
        // The deleted users are not in the index (no profile): the caller asks ClickHouse.
        for (const u of w.users.filter((x) => w.deleted.has(x))) {
          const { exec: e } = fakeExec(store);
          expect((await readSuggestions(e, keys, [u])).get(u)).toBeNull();
        }
      }),
      { numRuns: 200 },
    );
  });

  it("the pure function (every fact known) equals the same rules", () => {
    fc.assert(
      fc.property(worldArb, (w) => {
        for (const v of w.users) {
          const mine = w.follows.filter((f) => f.a === v);
          const recent = [...mine]
            .sort((x, y) => x.ms - y.ms || cmp(x.b, y.b))
            .slice(-SUGGEST_FOLLOWEES_BOUND)
            .map((f) => f.b);
          const followers = new Map<string, number>();
          for (const f of w.follows) followers.set(f.b, (followers.get(f.b) ?? 0) + 1);
          const input = {
            viewerId: v,
            recentFollowees: recent,
            followeesOf: new Map(recent.map((r) => [r, w.follows.filter((f) => f.a === r).map((f) => f.b)])),
            popular: [...followers],
            blocked: new Set(w.blocks.flatMap((b) => (b.a === v ? [b.b] : b.b === v ? [b.a] : []))),
          };
          const followed = new Set(mine.map((f) => f.b));
          const out = suggestFromIndex(input, { deleted: (u) => w.deleted.has(u), follows: (u) => followed.has(u) });
          expect(out).toEqual(reference(w, v));
        }
      }),
      { numRuns: 200 },
    );
  });

  it("bounds tier 1 to the 200 most recent followees and the popular pool to 60, cut before the filters", async () => {
    // 300 users; the viewer follows users 1..250 (user i at ms i), each of them follows the
    // "hub" 299 and user i+1; users 260..298 are followed by everyone above 100 (popular).
    const users = Array.from({ length: 300 }, (_, i) => id(i));
    const viewer = id(0);
    const follows: World["follows"] = [];
    for (let i = 1; i <= 250; i++) follows.push({ a: viewer, b: id(i), ms: i });
    for (let i = 1; i <= 250; i++) {
      follows.push({ a: id(i), b: id(299), ms: 1 });
      follows.push({ a: id(i), b: id(i + 1), ms: 1 });
    }
    for (let j = 260; j < 299; j++)
      for (let i = 101; i <= 100 + j - 250; i++) follows.push({ a: id(i), b: id(j), ms: 2 });
    const w: World = { users, follows, blocks: [], deleted: new Set([id(298)]) };
    const { keys, store } = indexOf(w, "");
    const { exec, trips } = fakeExec(store);
    const got = (await readSuggestions(exec, keys, [viewer])).get(viewer) as SuggestedUser[];
    expect(got).toEqual(reference(w, viewer));
    // The hub counts only the 200 recent followees (51..250) that follow it.
    expect(got[0]).toEqual({ user_id: id(299), score: 200, reason: "followed_by_your_follows" });
    expect(trips[1]?.filter((c) => c[0] === "SMEMBERS")).toHaveLength(SUGGEST_FOLLOWEES_BOUND);
    expect(got.some((s) => s.user_id === id(298))).toBe(false);
  });

  it("orders by tier, score descending, then user id, and a user in both tiers is tier 1", () => {
    const [v, a, b, c, d] = [id(0), id(1), id(2), id(3), id(4)];
    const ranked = rankSuggestionCandidates({
      viewerId: v,
      recentFollowees: [a, b],
      followeesOf: new Map([
        [a, [c, d, v]],
        [b, [d]],
      ]),
      popular: [
        [c, 9],
        [a, 5],
        [id(9), 5],
        [id(8), 5],
      ],
      blocked: new Set(),
    });
    expect(ranked.map((r) => [r.user_id, r.tier, r.score])).toEqual([
      [d, 1, 2],
      [c, 1, 1],
      [id(8), 2, 5],
      [id(9), 2, 5],
    ]);
    expect(pickSuggestions(candidatesToCheck(ranked), (u) => u === d, 2).map((s) => s.user_id)).toEqual([c, id(8)]);
  });

  it("plans only single-key commands, and none when there is nothing to check", () => {
    const keys = indexKeys("ns:");
    const t1 = suggestionReads1(keys, id(0));
    expect(t1.every((c) => typeof c[1] === "string" && c[1].startsWith("ns:"))).toBe(true);
    expect(
      suggestionReads2(keys, {
        viewerId: id(0),
        ready: true,
        recentFollowees: [],
        blocked: new Set(),
        popularIds: [],
      }),
    ).toEqual([]);
    expect(suggestionReads3(keys, id(0), [])).toEqual([]);
  });
});

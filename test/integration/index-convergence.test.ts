/**
 * The serving index converges whatever order the streams arrive in. fast-check generates small
 * histories (users created, renamed (handles freed and taken by others, case aside), deleted and
 * revived, posts with edits and deletions, follows and unfollows, likes and unlikes of any age,
 * comments and their deletions, shares, clicks, impressions over two days, blocks), turns them
 * into the operations the updater applies (ops.ts), and delivers them to the real IndexWriter on
 * real Redis in a random cross-topic order that keeps only what Kafka keeps (the order of one
 * entity's changes, of one user's events), with random redeliveries (a consumer that restarts
 * from an earlier offset replays the rest of that stream in order), batches stopped after any of
 * the writer's steps and delivered again (a crash between the steps of a change, each step on one
 * hash tag), and sometimes two updaters applying their share of the streams at the same time.
 * The index must then hold
 * what an independent model of the final state says: per live post of the window its likes,
 * comments and shares by others and impressions by others once per user and day, its plain
 * totals (every live like and comment) and the author's card; per user the interactions with
 * each author (likes, comments, shares and clicks, never on one's own posts); follows, blocks and
 * deleted users; and what the reads need: each live user's profile and handle, followers and
 * following with the follows' times, every live post id of an author, the likes of the last
 * RECENT_LIKES_MS, every live comment with its body.
 */
import { randomUUID } from "node:crypto";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodePlainTotals, decodePostCounters, feedVersionKey, indexKeys, RECENT_LIKES_MS } from "#core/keys.ts";
import { unlinkByPrefix } from "../../origin/src/index/exec.ts";
import type { IndexOp } from "../../origin/src/index/ops.ts";
import { IndexWriter } from "../../origin/src/index/writer.ts";
import { type AnyRedis, unlinkKeys } from "../../origin/src/redis-cluster.ts";
import { testRedis } from "../../scripts/lib/world.ts";

const RUNS = Number(process.env.INDEX_PROPERTY_RUNS ?? 200);
const DAY = 24 * 3600 * 1000;
const MINUTE = 60_000;
/** The handles users pick from: few, so one is freed and taken by another; two differ in case only. */
const HANDLES = ["ann", "Ann", "bob", "cy", "dee"];

/** One change of the history, with the stream (Kafka key) it travels on. */
interface Msg {
  stream: string;
  op: IndexOp;
}

interface History {
  users: string[];
  posts: string[];
  msgs: Msg[];
}

const NOW = Date.now();

/** A history over `n` users and `p` posts, as the streams would carry it (each stream in order). */
const historyArb = fc
  .record({
    nUsers: fc.integer({ min: 2, max: 4 }),
    // The users' own changes, in commit order (PostgreSQL refuses a handle a live user holds).
    userActs: fc.array(
      fc.record({
        user: fc.nat(3),
        kind: fc.constantFrom("upsert", "upsert", "delete"),
        handle: fc.nat(HANDLES.length - 1),
        name: fc.nat(2),
      }),
      { maxLength: 10 },
    ),
    posts: fc.array(
      fc.record({
        author: fc.nat(3),
        ageH: fc.integer({ min: 0, max: 48 }),
        edits: fc.nat(1),
        deleted: fc.boolean(),
      }),
      { minLength: 1, maxLength: 3 },
    ),
    acts: fc.array(
      fc.record({
        kind: fc.constantFrom(
          "like",
          "unlike",
          "comment",
          "uncomment",
          "share",
          "click",
          "impression",
          "follow",
          "unfollow",
          "block",
        ),
        user: fc.nat(3),
        target: fc.nat(3),
        day: fc.nat(1),
        // How long ago a like, comment or follow was first made: up to 10 days, so some likes are
        // older than RECENT_LIKES_MS.
        ageMin: fc.nat(10 * 24 * 60),
      }),
      { maxLength: 24 },
    ),
  })
  .map(({ nUsers, userActs, posts, acts }): History => {
    const users = Array.from({ length: nUsers }, () => randomUUID());
    const user = (i: number) => users[i % nUsers] as string;
    const msgs: Msg[] = [];
    // Users: versions (LSNs) grow in commit order; a live handle is unique, case aside.
    let lsn = 1000;
    const state = new Map<string, { live: boolean; handle: string; createdMs: number }>();
    for (const a of userActs) {
      const u = user(a.user);
      const s = state.get(u);
      if (a.kind === "upsert") {
        const handle = HANDLES[a.handle] as string;
        const taken = [...state].some(([v, x]) => v !== u && x.live && x.handle.toLowerCase() === handle.toLowerCase());
        if (taken) continue;
        const createdMs = s?.createdMs ?? NOW - (a.user + 1) * DAY;
        state.set(u, { live: true, handle, createdMs });
        msgs.push({
          stream: `users:${u}`,
          op: {
            kind: "user",
            userId: u,
            deleted: false,
            handle,
            displayName: `name ${a.name}`,
            bio: a.name === 0 ? "" : `bio of ${handle}`,
            createdMs,
            version: ++lsn,
          },
        });
      } else if (s?.live) {
        s.live = false;
        msgs.push({
          stream: `users:${u}`,
          op: {
            kind: "user",
            userId: u,
            deleted: true,
            handle: s.handle,
            displayName: "",
            bio: "",
            createdMs: s.createdMs,
            version: ++lsn,
          },
        });
      }
    }
    const ps = posts.map((p) => ({ ...p, id: randomUUID(), authorId: user(p.author) }));
    for (const p of ps) {
      const createdMs = NOW - p.ageH * 3600_000;
      const base = { kind: "post" as const, postId: p.id, authorId: p.authorId, createdMs };
      msgs.push({ stream: `posts:${p.id}`, op: { ...base, text: "v0", live: true } });
      for (let e = 1; e <= p.edits; e++)
        msgs.push({ stream: `posts:${p.id}`, op: { ...base, text: `v${e}`, live: true } });
      if (p.deleted) msgs.push({ stream: `posts:${p.id}`, op: { ...base, text: "gone", live: false } });
    }
    const comments = new Map<string, { id: string; createdMs: number; text: string }[]>();
    // A like's and a follow's created_at is that of the row's first insert (a revival keeps it).
    const firstMade = new Map<string, number>();
    const madeAt = (key: string, ageMin: number) => {
      const t = firstMade.get(key) ?? NOW - ageMin * MINUTE;
      firstMade.set(key, t);
      return t;
    };
    for (const a of acts) {
      const u = user(a.user);
      const p = ps[a.target % ps.length] as (typeof ps)[number];
      const other = user(a.target);
      switch (a.kind) {
        case "like":
        case "unlike":
          msgs.push({
            stream: `likes:${u}:${p.id}`,
            op: {
              kind: "interaction",
              field: `l:${u}`,
              counter: "l",
              postId: p.id,
              actorId: u,
              authorId: p.authorId,
              live: a.kind === "like",
              createdMs: madeAt(`like:${u}:${p.id}`, a.ageMin),
              text: "",
            },
          });
          break;
        case "comment": {
          const c = { id: randomUUID(), createdMs: NOW - a.ageMin * MINUTE, text: `said ${a.ageMin}` };
          comments.set(`${u}:${p.id}`, [...(comments.get(`${u}:${p.id}`) ?? []), c]);
          msgs.push({
            stream: `comments:${c.id}`,
            op: {
              kind: "interaction",
              field: `c:${c.id}`,
              counter: "c",
              postId: p.id,
              actorId: u,
              authorId: p.authorId,
              live: true,
              createdMs: c.createdMs,
              text: c.text,
            },
          });
          break;
        }
        case "uncomment": {
          const c = comments.get(`${u}:${p.id}`)?.shift();
          if (!c) break;
          msgs.push({
            stream: `comments:${c.id}`,
            op: {
              kind: "interaction",
              field: `c:${c.id}`,
              counter: "c",
              postId: p.id,
              actorId: u,
              authorId: p.authorId,
              live: false,
              createdMs: c.createdMs,
              text: c.text,
            },
          });
          break;
        }
        case "share":
        case "click":
        case "impression":
          msgs.push({
            stream: `events:${u}`,
            op: { kind: "event", postId: p.id, userId: u, type: a.kind, receivedMs: NOW - a.day * DAY },
          });
          break;
        case "follow":
        case "unfollow":
          if (u !== other)
            msgs.push({
              stream: `follows:${u}:${other}`,
              op: {
                kind: "follow",
                followerId: u,
                followeeId: other,
                live: a.kind === "follow",
                createdMs: madeAt(`follow:${u}:${other}`, a.ageMin),
              },
            });
          break;
        case "block":
          if (u !== other)
            msgs.push({
              stream: `blocks:${u}:${other}`,
              op: { kind: "block", blockerId: u, blockedId: other, live: true },
            });
          break;
      }
    }
    return { users, posts: ps.map((p) => p.id), msgs };
  });

/**
 * A delivery of the history: streams interleaved at random, each kept in order; a stream may
 * be redelivered from an earlier offset (the rest of it again, in order), and the whole is
 * applied in batches of random sizes.
 */
function deliveryArb(h: History) {
  const streams = [...new Set(h.msgs.map((m) => m.stream))];
  return fc.record({
    picks: fc.array(fc.nat(streams.length * 4), { minLength: h.msgs.length * 2, maxLength: h.msgs.length * 2 + 8 }),
    replays: fc.array(fc.record({ stream: fc.nat(Math.max(0, streams.length - 1)), from: fc.nat(4) }), {
      maxLength: 3,
    }),
    batch: fc.integer({ min: 1, max: 6 }),
    // Two updaters share the streams (as two processes share a consumer group's partitions),
    // applying their batches at the same time on connections of their own.
    consumers: fc.constantFrom(1, 1, 2),
    // A batch stopped after a step (a crash between the steps of a change), then delivered again.
    crashes: fc.array(fc.record({ batch: fc.nat(12), step: fc.constantFrom<1 | 2 | 3>(1, 2, 3) }), { maxLength: 3 }),
    // Pauses (ms) after each step, in turn, so two updaters' steps interleave in any order.
    pauses: fc.array(fc.nat(2), { minLength: 1, maxLength: 8 }),
  });
}

/** An updater that stops a batch after a given step, once, as a crash there would. */
class CrashingWriter extends IndexWriter {
  crashAfter: 1 | 2 | 3 | null = null;
  pauses: number[] = [];
  private turn = 0;
  protected override async afterStep(step: 1 | 2 | 3): Promise<void> {
    const ms = this.pauses.length ? (this.pauses[this.turn++ % this.pauses.length] as number) : 0;
    if (ms) await new Promise((r) => setTimeout(r, ms));
    if (step === this.crashAfter) {
      this.crashAfter = null;
      throw new Error(`crashed after step ${step}`);
    }
  }
}

/**
 * Each consumer's share of a delivery: the streams dealt out by their index (as partitions are),
 * each consumer's operations in the delivery's order.
 */
function dealOut(h: History, ops: IndexOp[], consumers: number): IndexOp[][] {
  if (consumers === 1) return [ops];
  const streamOf = new Map<IndexOp, string>(h.msgs.map((m) => [m.op, m.stream]));
  const names = [...new Set(h.msgs.map((m) => m.stream))];
  const out: IndexOp[][] = Array.from({ length: consumers }, () => []);
  for (const op of ops) out[names.indexOf(streamOf.get(op) as string) % consumers]?.push(op);
  return out;
}

function deliver(h: History, d: { picks: number[]; replays: { stream: number; from: number }[] }): IndexOp[] {
  const byStream = new Map<string, IndexOp[]>();
  for (const m of h.msgs) byStream.set(m.stream, [...(byStream.get(m.stream) ?? []), m.op]);
  const names = [...byStream.keys()];
  // Each queue: the stream, then (for a replay) its suffix from `from` once more.
  const queues = names.map((n) => [...(byStream.get(n) ?? [])]);
  for (const r of d.replays) {
    const q = queues[r.stream % queues.length];
    const s = byStream.get(names[r.stream % names.length] as string) ?? [];
    if (q && s.length) q.push(...s.slice(Math.min(r.from, s.length - 1)));
  }
  const out: IndexOp[] = [];
  let i = 0;
  while (queues.some((q) => q.length)) {
    const live = queues.filter((q) => q.length);
    const pick = d.picks[i++ % Math.max(1, d.picks.length)] ?? 0;
    out.push((live[pick % live.length] as IndexOp[]).shift() as IndexOp);
  }
  return out;
}

/** What the index must hold after the history, by the counting rules. Independent of any order. */
function model(h: History) {
  type Rec = { post: string; user: string; author: string; live: boolean; createdMs: number; text: string };
  const posts = new Map<string, { author: string; createdMs: number; live: boolean; text: string }>();
  const likes = new Map<string, Rec>();
  const comments = new Map<string, Rec & { id: string }>();
  const follows = new Map<string, { live: boolean; createdMs: number }>();
  const blocks = new Map<string, boolean>();
  const lastUserOp = new Map<string, Extract<IndexOp, { kind: "user" }>>();
  const shares = new Set<string>();
  const clicks = new Set<string>();
  const impressions = new Set<string>();
  const events: { post: string; user: string; type: string; day: string }[] = [];
  for (const { op } of h.msgs) {
    if (op.kind === "post")
      posts.set(op.postId, { author: op.authorId, createdMs: op.createdMs, live: op.live, text: op.text });
    else if (op.kind === "interaction") {
      const r = {
        post: op.postId,
        user: op.actorId,
        author: op.authorId,
        live: op.live,
        createdMs: op.createdMs,
        text: op.text,
      };
      if (op.counter === "l") likes.set(`${op.field}|${op.postId}`, r);
      else comments.set(op.field, { ...r, id: op.field.slice(2) });
    } else if (op.kind === "follow")
      follows.set(`${op.followerId}|${op.followeeId}`, { live: op.live, createdMs: op.createdMs });
    else if (op.kind === "block") blocks.set(`${op.blockerId}|${op.blockedId}`, op.live);
    else if (op.kind === "user") lastUserOp.set(op.userId, op);
    else if (op.kind === "event")
      events.push({
        post: op.postId,
        user: op.userId,
        type: op.type,
        day: new Date(op.receivedMs).toISOString().slice(0, 10),
      });
  }
  const counters = new Map<string, { l: number; c: number; s: number; i: number; pl: number; pc: number }>();
  const affinity = new Map<string, Map<string, number>>();
  const bump = (u: string, a: string) => {
    const m = affinity.get(u) ?? new Map<string, number>();
    m.set(a, (m.get(a) ?? 0) + 1);
    affinity.set(u, m);
  };
  const c = (p: string) => {
    const v = counters.get(p) ?? { l: 0, c: 0, s: 0, i: 0, pl: 0, pc: 0 };
    counters.set(p, v);
    return v;
  };
  for (const x of likes.values()) if (x.live) c(x.post).pl++;
  for (const x of comments.values()) if (x.live) c(x.post).pc++;
  for (const x of [...likes.values()].filter((x) => x.live && x.user !== x.author)) {
    c(x.post).l++;
    bump(x.user, x.author);
  }
  for (const x of [...comments.values()].filter((x) => x.live && x.user !== x.author)) {
    c(x.post).c++;
    bump(x.user, x.author);
  }
  for (const e of events) {
    const p = posts.get(e.post);
    if (!p || p.author === e.user) continue;
    if (e.type === "share" && !shares.has(`${e.user}|${e.post}`)) {
      shares.add(`${e.user}|${e.post}`);
      c(e.post).s++;
      bump(e.user, p.author);
    } else if (e.type === "click" && !clicks.has(`${e.user}|${e.post}`)) {
      clicks.add(`${e.user}|${e.post}`);
      bump(e.user, p.author);
    } else if (e.type === "impression" && !impressions.has(`${e.user}|${e.post}|${e.day}`)) {
      impressions.add(`${e.user}|${e.post}|${e.day}`);
      c(e.post).i++;
    }
  }
  // Users: the last change of each says it all.
  const profiles = new Map<string, Record<string, string>>();
  const handles = new Map<string, string>();
  const deleted = new Set<string>();
  for (const [u, op] of lastUserOp) {
    if (op.deleted) {
      deleted.add(u);
      continue;
    }
    profiles.set(u, { h: op.handle, n: op.displayName, b: op.bio, c: String(op.createdMs), _v: String(op.version) });
    handles.set(op.handle.toLowerCase(), u);
  }
  const authorHashes = new Map<string, Record<string, string>>();
  const userPosts = new Map<string, Record<string, number>>();
  for (const [pid, p] of posts) {
    if (!p.live) continue;
    userPosts.set(p.author, { ...userPosts.get(p.author), [pid]: p.createdMs });
    const fields = authorHashes.get(p.author) ?? {};
    fields[pid] = `${p.createdMs}\t${p.text}`;
    const n = counters.get(pid);
    if (n && (n.l || n.c || n.s || n.i)) fields[`${pid}:n`] = `${n.l},${n.c},${n.s},${n.i}`;
    if (n && (n.pl || n.pc)) fields[`${pid}:d`] = `${n.pl},${n.pc}`;
    const card = profiles.get(p.author);
    if (card) fields._u = `${card.h}\t${card.n}`;
    authorHashes.set(p.author, fields);
  }
  const followees = new Map<string, string[]>();
  const following = new Map<string, Record<string, number>>();
  const followers = new Map<string, Record<string, number>>();
  for (const [k, f] of follows) {
    const [a, b] = k.split("|") as [string, string];
    if (!f.live) continue;
    followees.set(a, [...(followees.get(a) ?? []), b].sort());
    following.set(a, { ...following.get(a), [b]: f.createdMs });
    followers.set(b, { ...followers.get(b), [a]: f.createdMs });
  }
  const recentLikes = new Map<string, Record<string, number>>();
  for (const x of likes.values())
    if (x.live && x.createdMs >= NOW - RECENT_LIKES_MS)
      recentLikes.set(x.user, { ...recentLikes.get(x.user), [x.post]: x.createdMs });
  const commentTimes = new Map<string, Record<string, number>>();
  const commentBodies = new Map<string, Record<string, string>>();
  for (const x of comments.values()) {
    if (!x.live) continue;
    commentTimes.set(x.post, { ...commentTimes.get(x.post), [x.id]: x.createdMs });
    commentBodies.set(x.post, { ...commentBodies.get(x.post), [x.id]: `${x.user}\t${x.createdMs}\t${x.text}` });
  }
  const blocked = [...blocks].filter(([, live]) => live).map(([k]) => k.split("|") as [string, string]);
  return {
    authorHashes,
    affinity,
    followees,
    blocked,
    deleted,
    profiles,
    handles,
    following,
    followers,
    userPosts,
    recentLikes,
    commentTimes,
    commentBodies,
  };
}

/** A sorted set as member → score. */
async function zsetOf(redis: AnyRedis, key: string): Promise<Record<string, number>> {
  const flat = await redis.zrange(key, 0, -1, "WITHSCORES");
  const out: Record<string, number> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i] as string] = Number(flat[i + 1]);
  return out;
}

describe("serving index convergence (property)", () => {
  let redis: AnyRedis;
  let second: AnyRedis;
  const prefixes: string[] = [];

  beforeAll(() => {
    redis = testRedis();
    second = testRedis();
  });
  afterAll(async () => {
    for (const p of prefixes) await unlinkByPrefix(redis, p);
    await redis.quit();
    await second.quit();
  });

  it(`equals the counting rules after any cross-topic order with redeliveries, crashes between a change's steps and two updaters at once (${RUNS} interleavings)`, async () => {
    await fc.assert(
      fc.asyncProperty(
        historyArb.chain((h) => fc.tuple(fc.constant(h), deliveryArb(h))),
        async ([h, d]) => {
          const ns = `prop${randomUUID().slice(0, 8)}:`;
          const keys = indexKeys(ns);
          prefixes.push(keys.prefix);
          const writer = new IndexWriter(redis, keys);
          const ops = deliver(h, d);
          await Promise.all(
            dealOut(h, ops, d.consumers).map(async (mine, c) => {
              const w = new CrashingWriter(c === 0 ? redis : second, keys);
              // Only two updaters need their steps spread out; one alone keeps the test quick.
              if (d.consumers > 1) w.pauses = c === 0 ? d.pauses : [...d.pauses].reverse();
              for (let i = 0, b = 0; i < mine.length; i += d.batch, b++) {
                const batch = mine.slice(i, i + d.batch);
                const crash = d.crashes.find((x) => x.batch === b);
                if (crash) {
                  w.crashAfter = crash.step;
                  await w.apply(batch, NOW).catch(() => {});
                  w.crashAfter = null;
                }
                await w.apply(batch, NOW);
              }
            }),
          );
          const want = model(h);
          try {
            for (const u of h.users) {
              const have = await redis.hgetall(keys.authorPosts(u));
              const normal = Object.fromEntries(
                Object.entries(have).flatMap(([f, v]): [string, string][] => {
                  if (f.endsWith(":n")) {
                    // Without the version it was copied at; all zeros as absent (the model's way).
                    const n = decodePostCounters(v);
                    if (!n.likes && !n.comments && !n.shares && !n.impressions) return [];
                    return [[f, `${n.likes},${n.comments},${n.shares},${n.impressions}`]];
                  }
                  if (f.endsWith(":d")) {
                    const d = decodePlainTotals(v);
                    return [[f, `${d.likes},${d.comments}`]];
                  }
                  return [[f, v]];
                }),
              );
              expect(normal, `author hash of ${u}`).toEqual(want.authorHashes.get(u) ?? {});
              const af = await redis.hgetall(keys.affinity(u));
              delete af._b;
              for (const [a, n] of Object.entries(af)) if (Number(n) === 0) delete af[a];
              const wantAf = Object.fromEntries(
                [...(want.affinity.get(u) ?? new Map())].map(([a, n]) => [a, String(n)]),
              );
              expect(af, `affinity of ${u}`).toEqual(wantAf);
              expect((await redis.smembers(keys.followees(u))).sort(), `followees of ${u}`).toEqual(
                want.followees.get(u) ?? [],
              );
              const out = want.blocked.filter(([a]) => a === u).map(([, b]) => b);
              expect((await redis.smembers(keys.blocksOut(u))).sort(), `blocks of ${u}`).toEqual(out.sort());
              expect(await redis.hgetall(keys.profile(u)), `profile of ${u}`).toEqual(want.profiles.get(u) ?? {});
              expect(await zsetOf(redis, keys.following(u)), `following of ${u}`).toEqual(want.following.get(u) ?? {});
              expect(await zsetOf(redis, keys.followers(u)), `followers of ${u}`).toEqual(want.followers.get(u) ?? {});
              expect(await zsetOf(redis, keys.userPosts(u)), `post ids of ${u}`).toEqual(want.userPosts.get(u) ?? {});
              const lk = keys.recentLikes(u);
              expect(await zsetOf(redis, lk), `recent likes of ${u}`).toEqual(want.recentLikes.get(u) ?? {});
              if (await redis.exists(lk)) expect(await redis.ttl(lk)).toBeGreaterThan(0);
            }
            for (const handle of new Set(HANDLES.map((x) => x.toLowerCase()))) {
              expect(await redis.hget(keys.handle(handle), "u"), `handle ${handle}`).toBe(
                want.handles.get(handle) ?? null,
              );
            }
            for (const p of h.posts) {
              expect(await zsetOf(redis, keys.comments(p)), `comments of ${p}`).toEqual(want.commentTimes.get(p) ?? {});
              expect(await redis.hgetall(keys.commentBodies(p)), `comment bodies of ${p}`).toEqual(
                want.commentBodies.get(p) ?? {},
              );
            }
            expect((await redis.smembers(keys.deletedUsers)).sort()).toEqual([...want.deleted].sort());
            // A live user's stream replayed from its first change, change by change (a consumer
            // restarting from an earlier offset): every step a no-op, not only the end.
            const userKeys = async () => ({
              profiles: await Promise.all(h.users.map((u) => redis.hgetall(keys.profile(u)))),
              cards: await Promise.all(h.users.map((u) => redis.hget(keys.authorPosts(u), "_u"))),
              handles: await Promise.all(HANDLES.map((x) => redis.hgetall(keys.handle(x)))),
              deleted: (await redis.smembers(keys.deletedUsers)).sort(),
            });
            const settled = await userKeys();
            for (const u of want.profiles.keys()) {
              for (const m of h.msgs.filter((x) => x.stream === `users:${u}`)) {
                await writer.apply([m.op], NOW);
                expect(await userKeys(), `a replay of ${u}'s version ${(m.op as { version: number }).version}`).toEqual(
                  settled,
                );
              }
            }
          } finally {
            await unlinkByPrefix(redis, keys.prefix);
            await unlinkKeys(redis, h.users.map(feedVersionKey));
          }
        },
      ),
      { numRuns: RUNS },
    );
  }, 240_000);

  it("moves the actor's feed version for each share or click it takes in, not for an impression", async () => {
    const keys = indexKeys(`ver${randomUUID().slice(0, 8)}:`);
    prefixes.push(keys.prefix);
    const writer = new IndexWriter(redis, keys);
    const [actor, watcher, post] = [randomUUID(), randomUUID(), randomUUID()];
    const ev = (userId: string, type: "share" | "click" | "impression") =>
      ({ kind: "event", postId: post, userId, type, receivedMs: NOW }) as const;
    try {
      await writer.apply([ev(actor, "share"), ev(actor, "click")], NOW);
      await writer.apply([ev(watcher, "impression")], NOW);
      expect(await redis.get(feedVersionKey(actor))).toBe("2");
      expect(await redis.ttl(feedVersionKey(actor))).toBeGreaterThan(0);
      expect(await redis.get(feedVersionKey(watcher))).toBeNull();
    } finally {
      await unlinkKeys(redis, [feedVersionKey(actor), feedVersionKey(watcher)]);
    }
  });
});

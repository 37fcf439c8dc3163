/**
 * The serving index converges whatever order the streams arrive in. fast-check generates small
 * histories (users, posts with edits and deletions, follows, likes and unlikes, comments and their
 * deletions, shares, clicks, impressions over two days, blocks, user deletions), turns them
 * into the operations the updater applies (ops.ts), and delivers them to the real IndexWriter on
 * real Redis in a random cross-topic order that keeps only what Kafka keeps (the order of one
 * entity's changes, of one user's events), with random redeliveries (a consumer that restarts
 * from an earlier offset replays the rest of that stream in order). The index must then hold
 * what an independent model of the counting rules says: per live post of the window its likes,
 * comments and shares by others and impressions by others once per user and day; per user the
 * interactions with each author (likes, comments, shares and clicks, never on one's own posts);
 * follows, blocks and deleted users.
 */
import { randomUUID } from "node:crypto";
import fc from "fast-check";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodePostCounters, indexKeys } from "../../edge/core/keys.ts";
import { unlinkByPrefix } from "../../origin/src/index/exec.ts";
import type { IndexOp } from "../../origin/src/index/ops.ts";
import { IndexWriter } from "../../origin/src/index/writer.ts";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const RUNS = Number(process.env.INDEX_PROPERTY_RUNS ?? 200);
const DAY = 24 * 3600 * 1000;

/** One change of the history, with the stream (Kafka key) it travels on. */
interface Msg {
  stream: string;
  op: IndexOp;
}

interface History {
  users: string[];
  msgs: Msg[];
}

const NOW = Date.now();

/** A history over `n` users and `p` posts, as the streams would carry it (each stream in order). */
const historyArb = fc
  .record({
    nUsers: fc.integer({ min: 2, max: 4 }),
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
      }),
      { maxLength: 24 },
    ),
    deletedUser: fc.option(fc.nat(3), { nil: undefined }),
  })
  .map(({ nUsers, posts, acts, deletedUser }): History => {
    const users = Array.from({ length: nUsers }, () => randomUUID());
    const user = (i: number) => users[i % nUsers] as string;
    const msgs: Msg[] = [];
    const ps = posts.map((p) => ({ ...p, id: randomUUID(), authorId: user(p.author) }));
    for (const p of ps) {
      const createdMs = NOW - p.ageH * 3600_000;
      const base = { kind: "post" as const, postId: p.id, authorId: p.authorId, createdMs };
      msgs.push({ stream: `posts:${p.id}`, op: { ...base, text: "v0", live: true } });
      for (let e = 1; e <= p.edits; e++)
        msgs.push({ stream: `posts:${p.id}`, op: { ...base, text: `v${e}`, live: true } });
      if (p.deleted) msgs.push({ stream: `posts:${p.id}`, op: { ...base, text: "gone", live: false } });
    }
    const comments = new Map<string, string[]>();
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
            },
          });
          break;
        case "comment": {
          const id = randomUUID();
          comments.set(`${u}:${p.id}`, [...(comments.get(`${u}:${p.id}`) ?? []), id]);
          msgs.push({
            stream: `comments:${id}`,
            op: {
              kind: "interaction",
              field: `c:${id}`,
              counter: "c",
              postId: p.id,
              actorId: u,
              authorId: p.authorId,
              live: true,
            },
          });
          break;
        }
        case "uncomment": {
          const id = comments.get(`${u}:${p.id}`)?.shift();
          if (!id) break;
          msgs.push({
            stream: `comments:${id}`,
            op: {
              kind: "interaction",
              field: `c:${id}`,
              counter: "c",
              postId: p.id,
              actorId: u,
              authorId: p.authorId,
              live: false,
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
              op: { kind: "follow", followerId: u, followeeId: other, live: a.kind === "follow" },
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
    if (deletedUser !== undefined) {
      const u = user(deletedUser);
      msgs.push({ stream: `users:${u}`, op: { kind: "user", userId: u, deleted: true } });
    }
    return { users, msgs };
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
  });
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
  const posts = new Map<string, { author: string; createdMs: number; live: boolean; text: string }>();
  const likes = new Map<string, { post: string; user: string; author: string; live: boolean }>();
  const comments = new Map<string, { post: string; user: string; author: string; live: boolean }>();
  const follows = new Map<string, boolean>();
  const blocks = new Map<string, boolean>();
  const deleted = new Set<string>();
  const shares = new Set<string>();
  const clicks = new Set<string>();
  const impressions = new Set<string>();
  const events: { post: string; user: string; type: string; day: string }[] = [];
  for (const { op } of h.msgs) {
    if (op.kind === "post")
      posts.set(op.postId, { author: op.authorId, createdMs: op.createdMs, live: op.live, text: op.text });
    else if (op.kind === "interaction")
      (op.counter === "l" ? likes : comments).set(`${op.field}|${op.postId}`, {
        post: op.postId,
        user: op.actorId,
        author: op.authorId,
        live: op.live,
      });
    else if (op.kind === "follow") follows.set(`${op.followerId}|${op.followeeId}`, op.live);
    else if (op.kind === "block") blocks.set(`${op.blockerId}|${op.blockedId}`, op.live);
    else if (op.kind === "user") deleted.add(op.userId);
    else if (op.kind === "event")
      events.push({
        post: op.postId,
        user: op.userId,
        type: op.type,
        day: new Date(op.receivedMs).toISOString().slice(0, 10),
      });
  }
  const counters = new Map<string, { l: number; c: number; s: number; i: number }>();
  const affinity = new Map<string, Map<string, number>>();
  const bump = (u: string, a: string) => {
    const m = affinity.get(u) ?? new Map<string, number>();
    m.set(a, (m.get(a) ?? 0) + 1);
    affinity.set(u, m);
  };
  const c = (p: string) => {
    const v = counters.get(p) ?? { l: 0, c: 0, s: 0, i: 0 };
    counters.set(p, v);
    return v;
  };
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
  const authorHashes = new Map<string, Record<string, string>>();
  for (const [pid, p] of posts) {
    if (!p.live) continue;
    const fields = authorHashes.get(p.author) ?? {};
    fields[pid] = `${p.createdMs}\t${p.text}`;
    const n = counters.get(pid);
    if (n && (n.l || n.c || n.s || n.i)) fields[`${pid}:n`] = `${n.l},${n.c},${n.s},${n.i}`;
    authorHashes.set(p.author, fields);
  }
  const followees = new Map<string, string[]>();
  for (const [k, live] of follows) {
    const [a, b] = k.split("|") as [string, string];
    if (live) followees.set(a, [...(followees.get(a) ?? []), b].sort());
  }
  const blocked = [...blocks].filter(([, live]) => live).map(([k]) => k.split("|") as [string, string]);
  return { authorHashes, affinity, followees, blocked, deleted };
}

describe("serving index convergence (property)", () => {
  let redis: Redis;
  const prefixes: string[] = [];

  beforeAll(() => {
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 2 });
  });
  afterAll(async () => {
    for (const p of prefixes) await unlinkByPrefix(redis, p);
    await redis.quit();
  });

  it(`equals the counting rules after any cross-topic order with redeliveries (${RUNS} interleavings)`, async () => {
    await fc.assert(
      fc.asyncProperty(
        historyArb.chain((h) => fc.tuple(fc.constant(h), deliveryArb(h))),
        async ([h, d]) => {
          const ns = `prop${randomUUID().slice(0, 8)}:`;
          const keys = indexKeys(ns);
          prefixes.push(keys.prefix);
          const writer = new IndexWriter(redis, keys);
          const ops = deliver(h, d);
          for (let i = 0; i < ops.length; i += d.batch) await writer.apply(ops.slice(i, i + d.batch), NOW);
          const want = model(h);
          try {
            for (const u of h.users) {
              const have = await redis.hgetall(keys.authorPosts(u));
              const normal = Object.fromEntries(
                Object.entries(have).map(([f, v]) => {
                  if (!f.endsWith(":n")) return [f, v];
                  const n = decodePostCounters(v);
                  return [f, `${n.likes},${n.comments},${n.shares},${n.impressions}`];
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
            }
            expect((await redis.smembers(keys.deletedUsers)).sort()).toEqual([...want.deleted].sort());
          } finally {
            await unlinkByPrefix(redis, keys.prefix);
          }
        },
      ),
      { numRuns: RUNS },
    );
  }, 240_000);
});

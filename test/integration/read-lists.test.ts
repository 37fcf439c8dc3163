/**
 * Keyset paging of the read side's lists (edge/core/reads/lists.ts) on a real Redis: whatever
 * is added while a client pages (newer entries, entries sharing a millisecond with the cursor,
 * older ones), and whatever is removed, every entry that was there all along is served exactly
 * once, in (score, id) order, and nothing is served twice.
 */
import { randomUUID } from "node:crypto";
import fc from "fast-check";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ListCursor } from "#core/reads/cursor.ts";
import { type ListEntry, listPage, listPageRead, type Order } from "#core/reads/lists.ts";
import { ioredisExec } from "../../origin/src/index/exec.ts";
import { REDIS_URL } from "../../scripts/lib/world.ts";

let redis: Redis;
const prefix = `t:lists:${randomUUID()}:`;

beforeAll(() => {
  redis = new Redis(REDIS_URL);
});
afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
});

const before = (a: ListEntry, b: ListEntry, order: Order) =>
  order === "newest"
    ? a.score > b.score || (a.score === b.score && a.id > b.id)
    : a.score < b.score || (a.score === b.score && a.id < b.id);

/** An entry: few distinct scores, so many share a millisecond. */
const entry = fc.record({ score: fc.integer({ min: 1000, max: 1012 }), id: fc.stringMatching(/^[a-f0-9]{1,4}$/) });

describe("list paging on Redis", () => {
  it("serves every entry present throughout exactly once, in order, while entries come and go", async () => {
    const exec = ioredisExec(redis);
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(entry, { selector: (e) => e.id, minLength: 0, maxLength: 60 }),
        fc.array(fc.record({ add: fc.array(entry, { maxLength: 6 }), removeEvery: fc.integer({ min: 0, max: 7 }) }), {
          maxLength: 30,
        }),
        fc.constantFrom<Order>("newest", "oldest"),
        fc.integer({ min: 1, max: 7 }),
        async (initial, changes, order, limit) => {
          const key = `${prefix}${run++}`;
          if (initial.length) await redis.zadd(key, ...initial.flatMap((e) => [e.score, e.id]));
          const present = new Map(initial.map((e) => [e.id, e]));
          const removed = new Set<string>();
          const served: ListEntry[] = [];
          let cursor: ListCursor | null = null;
          for (let page = 0; page < 200; page++) {
            const [reply] = await exec([listPageRead(key, order, cursor, limit)]);
            const p = listPage(reply, "followers", "owner", limit);
            expect(p.entries.length).toBeLessThanOrEqual(limit);
            served.push(...p.entries);
            // Between pages: some entries arrive (new ids, any score), some leave.
            const change = changes[page];
            if (change) {
              for (const e of change.add) {
                if (present.has(e.id) || removed.has(e.id)) continue;
                await redis.zadd(key, e.score, e.id);
                removed.add(e.id); // not there all along: may or may not be served
              }
              if (change.removeEvery) {
                const victims = [...present.keys()].filter((_, i) => i % (change.removeEvery + 3) === 0).slice(0, 2);
                for (const v of victims) {
                  await redis.zrem(key, v);
                  present.delete(v);
                  removed.add(v);
                }
              }
            }
            if (!p.next) break;
            cursor = p.next;
          }
          const ids = served.map((e) => e.id);
          expect(new Set(ids).size).toBe(ids.length); // no repeats
          for (let i = 1; i < served.length; i++) {
            expect(before(served[i - 1] as ListEntry, served[i] as ListEntry, order)).toBe(true);
          }
          const servedIds = new Set(ids);
          for (const id of present.keys()) expect(servedIds.has(id)).toBe(true); // no skips
          await redis.del(key);
        },
      ),
      { numRuns: 150 },
    );
  }, 120_000);

  it("a cursor whose entry left, or came back with another score, still resumes after its position", async () => {
    const key = `${prefix}gone`;
    await redis.zadd(key, 10, "a", 10, "b", 10, "c", 9, "d", 8, "e");
    const exec = ioredisExec(redis);
    const [r1] = await exec([listPageRead(key, "newest", null, 2)]);
    const p1 = listPage(r1, "posts", "o", 2);
    expect(p1.entries.map((e) => e.id)).toEqual(["c", "b"]);
    await redis.zrem(key, "b");
    const [r2] = await exec([listPageRead(key, "newest", p1.next, 2)]);
    expect(listPage(r2, "posts", "o", 2).entries.map((e) => e.id)).toEqual(["a", "d"]);
    await redis.zadd(key, 99, "b"); // b is back, newer: before the cursor now
    const [r3] = await exec([listPageRead(key, "newest", p1.next, 5)]);
    expect(listPage(r3, "posts", "o", 5).entries.map((e) => e.id)).toEqual(["a", "d", "e"]);
    await redis.del(key);
  });
});

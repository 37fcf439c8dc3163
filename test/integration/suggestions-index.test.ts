/**
 * Suggested users from the serving index, on the real pipeline (PostgreSQL → Debezium → Kafka →
 * the updater → Redis, beside the sink → ClickHouse) and through the real worker:
 * - on a seeded world (one viewer past the 200-followee bound, blocks both ways, deleted users,
 *   a follow removed, ties), once idle the index's suggestions equal SUGGESTED_USERS_SQL's for
 *   every viewer, and the follower counts equal PostgreSQL's;
 * - a follow removed from the index alone (or a count changed) shows as a difference, and its
 *   repair removes it;
 * - the origin's generator writes the same lists from the index (ClickHouse for the users it
 *   does not hold);
 * - the worker answers a miss from the index (Server-Timing `index`, no `clickhouse`), caches it
 *   (then HIT), and answers from the index with ClickHouse unreachable; a viewer the index does
 *   not hold then gets 503 (the ClickHouse path, down).
 */
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SUGGEST_TTL_S, suggestKey } from "#core/keys.ts";
import {
  readSuggestions,
  SUGGEST_FOLLOWEES_BOUND,
  SUGGESTIONS_PER_USER,
  type SuggestedUser,
  suggestionKeys,
  suggestionsFromRows,
} from "#core/reads/suggestions.ts";
import { chDateTime64 } from "#core/sql/clickhouse-time.ts";
import { SUGGESTED_USERS_SQL } from "#core/sql/queries.ts";
import { ioredisExec } from "../../origin/src/index/exec.ts";
import { generateSuggestions } from "../../origin/src/jobs/generators.ts";
import { REDIS_URL } from "../../scripts/lib/world.ts";
import { startWranglerDev, type WranglerDev } from "../../scripts/lib/wrangler.ts";
import { type CdcHarness, startCdcHarness } from "./support/cdc.ts";
import { type EdgeWorld, startEdgeWorld } from "./support/edge-world.ts";

/** A small deterministic PRNG (mulberry32), so the world is the same every run. */
function prng(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const USERS = 240;

describe("suggested users from the serving index", () => {
  let h: CdcHarness;
  let w: EdgeWorld;
  let redis: Redis;
  let brokenCh: WranglerDev | null = null;
  const ids: string[] = [];
  const sql = (text: string, params: unknown[] = []) => h.pg.query(text, params);

  const fromClickHouse = async (viewer: string): Promise<SuggestedUser[]> => {
    const rs = await h.ch.query({
      query: SUGGESTED_USERS_SQL,
      query_params: { viewer, limit: SUGGESTIONS_PER_USER },
      format: "JSONEachRow",
    });
    return suggestionsFromRows(await rs.json());
  };
  const fromIndex = async (viewers: string[]) => readSuggestions(ioredisExec(redis), w.keys, viewers);
  const live = () => ids.filter((_, i) => i % 61 !== 7); // the deleted ones: 7, 68, 129, 190
  /** Per viewer that differs: what each side says. */
  const differences = async (viewers = live()): Promise<string[]> => {
    const idx = await fromIndex(viewers);
    const out: string[] = [];
    for (const v of viewers) {
      const a = idx.get(v);
      if (!a) {
        out.push(`${v}: not served by the index`);
        continue;
      }
      const b = await fromClickHouse(v);
      const show = (l: SuggestedUser[]) => l.map((s) => `${s.user_id.slice(-4)}:${s.score}:${s.reason[0]}`).join(",");
      if (show(a) !== show(b)) out.push(`${v.slice(-4)}: index [${show(a)}] vs clickhouse [${show(b)}]`);
    }
    return out;
  };
  const waitAgree = async (timeoutMs = 60_000) => {
    const until = Date.now() + timeoutMs;
    let last: string[] = [];
    while (Date.now() < until) {
      last = await differences();
      if (last.length === 0) return;
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`index and ClickHouse disagree:\n${last.slice(0, 10).join("\n")}`);
  };

  beforeAll(async () => {
    h = await startCdcHarness();
    w = await startEdgeWorld(h, { index: true });
    redis = new Redis(REDIS_URL);
    const rnd = prng(24);
    for (let i = 0; i < USERS; i++) {
      const r = await sql("INSERT INTO users (handle, display_name, bio) VALUES ($1, $2, '') RETURNING id", [
        `sg${i}_${h.id}`,
        `User ${i}`,
      ]);
      ids.push(r.rows[0].id as string);
    }
    const edges = new Set<string>();
    const follow = (a: number, b: number) => {
      if (a !== b) edges.add(`${a},${b}`);
    };
    // User 0 follows 210 users (past the bound); a few hubs are followed by many (the popular
    // tier), everyone else follows a handful at random.
    for (let j = 1; j <= SUGGEST_FOLLOWEES_BOUND + 10; j++) follow(0, j);
    for (let i = 1; i < USERS; i++) {
      const n = 2 + Math.floor(rnd() * 6);
      for (let k = 0; k < n; k++) follow(i, Math.floor(rnd() * USERS));
      if (rnd() < 0.5) follow(i, 1 + Math.floor(rnd() * 4));
    }
    const list = [...edges].map((e) => e.split(",").map(Number) as [number, number]);
    // In chunks of 100: each statement is one transaction, so one created_at (ties on purpose).
    for (let i = 0; i < list.length; i += 100) {
      const chunk = list.slice(i, i + 100);
      const values = chunk.map((_, k) => `($${2 * k + 1}::uuid, $${2 * k + 2}::uuid)`).join(",");
      await sql(
        `INSERT INTO follows (follower_id, followee_id) VALUES ${values}`,
        chunk.flatMap(([a, b]) => [ids[a], ids[b]]),
      );
    }
    // Blocks both ways, an unfollow and deleted users.
    for (const [a, b] of [
      [0, 220],
      [230, 0],
      [5, 1],
      [2, 9],
    ] as const)
      await sql("INSERT INTO blocks (blocker_id, blocked_id) VALUES ($1, $2)", [ids[a], ids[b]]);
    await sql("UPDATE follows SET deleted_at = now() WHERE follower_id = $1 AND followee_id = $2", [ids[0], ids[3]]);
    for (let i = 7; i < USERS; i += 61) await sql("UPDATE users SET deleted_at = now() WHERE id = $1", [ids[i]]);
  }, 240_000);

  afterAll(async () => {
    await brokenCh?.stop();
    if (ids.length) await redis?.del(...ids.map(suggestKey));
    if (w) await redis?.del(suggestionKeys(w.keys).followerCountsAt); // outside the namespace
    redis?.disconnect();
    await w?.stop();
    await h?.teardown();
  }, 60_000);

  it("equal ClickHouse's for every viewer once idle, and the follower counts equal PostgreSQL's", async () => {
    await waitAgree(90_000);
    const counts = (
      await sql(
        "SELECT followee_id::text AS id, count(*)::int AS n FROM follows WHERE deleted_at IS NULL GROUP BY followee_id",
      )
    ).rows as { id: string; n: number }[];
    const z = await redis.zrange(suggestionKeys(w.keys).followerCounts, 0, -1, "WITHSCORES");
    const got = new Map<string, number>();
    for (let i = 0; i + 1 < z.length; i += 2) got.set(z[i] as string, -Number(z[i + 1]));
    expect(got).toEqual(new Map(counts.map((r) => [r.id, r.n])));
    // The world exercises what it should: the bound, both tiers, the filters.
    const viewer0 = (await fromIndex([ids[0] as string])).get(ids[0] as string) as SuggestedUser[];
    expect(viewer0.length).toBe(SUGGESTIONS_PER_USER);
    const all = [...(await fromIndex(live())).values()].flat() as SuggestedUser[];
    expect(all.some((s) => s.reason === "popular")).toBe(true);
    expect(all.some((s) => s.reason === "followed_by_your_follows")).toBe(true);
    const deleted = new Set(ids.filter((_, i) => i % 61 === 7));
    expect(all.some((s) => deleted.has(s.user_id))).toBe(false);
  }, 120_000);

  it("a follow missing from the index alone, or a wrong follower count, shows as a difference", async () => {
    const v = ids[10] as string;
    const mine = (await fromIndex([v])).get(v) as SuggestedUser[];
    const top = mine.find((s) => s.reason === "followed_by_your_follows");
    expect(top, "viewer 10 has a friend-of-friend suggestion").toBeDefined();
    const target = (top as SuggestedUser).user_id;
    const followees = await redis.zrange(w.keys.following(v), 0, -1);
    let via = "";
    for (const f of followees) if (await redis.sismember(w.keys.followees(f), target)) via = f;
    expect(via).not.toBe("");
    await redis.srem(w.keys.followees(via), target);
    try {
      const diff = await differences([v]);
      expect(diff).toHaveLength(1);
      expect(diff[0]).toContain(v.slice(-4));
    } finally {
      await redis.sadd(w.keys.followees(via), target);
    }
    expect(await differences([v])).toEqual([]);

    const fc = suggestionKeys(w.keys).followerCounts;
    const popular = (await redis.zrange(fc, 0, 0))[0] as string;
    const score = await redis.zscore(fc, popular);
    await redis.zadd(fc, -1, popular);
    try {
      expect((await differences()).length).toBeGreaterThan(0);
    } finally {
      await redis.zadd(fc, Number(score), popular);
    }
    expect(await differences()).toEqual([]);
  }, 120_000);

  it("the origin's generator computes from the index, ClickHouse only for whom the index cannot answer", async () => {
    const active = ids.slice(20, 50);
    const unknown = randomUUID();
    const at = chDateTime64(Date.now() - 60_000);
    await h.ch.insert({
      table: "events_raw",
      values: [...active, ids[7] as string, unknown].map((user) => ({
        event_id: randomUUID(),
        user_id: user,
        post_id: randomUUID(),
        author_id: "00000000-0000-0000-0000-000000000000",
        type: "impression",
        dwell_ms: 0,
        client_ts: at,
        received_at: at,
      })),
      format: "JSONEachRow",
    });
    const report = await generateSuggestions({ ch: h.ch, redis, keys: w.keys }, { maxUsers: 100 });
    expect(report).toMatchObject({ users: 32, written: 32, fromIndex: 30, fromClickHouse: 2 });
    for (const v of [...active, ids[7] as string, unknown]) {
      const cached = await redis.get(suggestKey(v));
      expect(JSON.parse(cached ?? "null"), v).toEqual(await fromClickHouse(v));
      expect(await redis.ttl(suggestKey(v))).toBeGreaterThan(SUGGEST_TTL_S - 30);
    }
    await redis.del(suggestKey(unknown));
  }, 120_000);

  it("the worker answers a miss from the index, then from its cache; with ClickHouse unreachable it still answers", async () => {
    const v = ids[0] as string;
    await redis.del(suggestKey(v));
    const res = await w.ok(w.api(v, "GET", "/api/v1/discover/suggested-users?limit=20"), 200);
    expect(res.headers.get("x-cache")).toBe("MISS");
    const timing = res.headers.get("server-timing") ?? "";
    expect(timing).toMatch(/(^|, )index;dur=/);
    expect(timing).not.toContain("clickhouse");
    const body = (await res.json()) as { users: SuggestedUser[] };
    expect(body.users).toEqual(await fromClickHouse(v));
    // waitUntil cached it: the next answer is a HIT, the same list.
    let hit: Response | null = null;
    for (let i = 0; i < 20 && hit?.headers.get("x-cache") !== "HIT"; i++) {
      await new Promise((r) => setTimeout(r, 100));
      hit = await w.ok(w.api(v, "GET", "/api/v1/discover/suggested-users?limit=5"), 200);
    }
    expect(hit?.headers.get("x-cache")).toBe("HIT");
    expect(((await (hit as Response).json()) as { users: SuggestedUser[] }).users).toEqual(body.users.slice(0, 5));

    // A figure for the report: the index's part of a MISS (Server-Timing `index`) over 40 viewers.
    const durs: number[] = [];
    for (const viewer of live().slice(0, 40)) {
      await redis.del(suggestKey(viewer));
      const r = await w.ok(w.api(viewer, "GET", "/api/v1/discover/suggested-users"), 200);
      const m = /(?:^|, )index;dur=([\d.]+)/.exec(r.headers.get("server-timing") ?? "");
      expect(m, "answered from the index").not.toBeNull();
      durs.push(Number(m?.[1]));
    }
    durs.sort((a, b) => a - b);
    const q = (p: number) => durs[Math.min(durs.length - 1, Math.floor(p * durs.length))];
    console.log(
      `suggestions MISS from the index (local wrangler dev, Upstash bridge): p50 ${q(0.5)} ms, p95 ${q(0.95)} ms`,
    );

    // A second worker on the same world whose ClickHouse is a closed port.
    brokenCh = await startWranglerDev({
      config: "wrangler.toml",
      vars: { ...w.vars, CLICKHOUSE_URL: "http://127.0.0.1:9" },
    });
    for (const viewer of [ids[1], ids[50]] as string[]) {
      await redis.del(suggestKey(viewer));
      const r = await w.ok(w.api(viewer, "GET", "/api/v1/discover/suggested-users", undefined, brokenCh.url), 200);
      expect(r.headers.get("x-cache")).toBe("MISS");
      expect(r.headers.get("server-timing") ?? "").toMatch(/(^|, )index;dur=/);
      expect(((await r.json()) as { users: SuggestedUser[] }).users).toEqual(await fromClickHouse(viewer));
    }
    // A viewer the index does not hold (a deleted user) takes the ClickHouse path: down, so 503.
    const gone = ids[7] as string;
    await redis.del(suggestKey(gone));
    const r = await w.api(gone, "GET", "/api/v1/discover/suggested-users", undefined, brokenCh.url);
    expect(r.status).toBe(503);
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe("unavailable");
  }, 180_000);
});

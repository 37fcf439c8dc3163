/**
 * `npm run bench:feed`: feed latency through the real worker (`wrangler dev`) on a small
 * generated dataset (not yet the seed's demo data): p50/p95 of cache MISS (one ClickHouse round
 * trip + ranking) and HIT, sequential requests from one client. Needs `npm run stack:up`.
 * Writes bench-results/feed-small.json.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { Redis } from "ioredis";
import { feedKey } from "../../edge/core/index.ts";
import { CH_URL, startCdcHarness, waitFor } from "../../test/integration/support/cdc.ts";
import { rng } from "../../test/integration/support/workload.ts";
import { startWranglerDev } from "../../test/integration/support/wrangler.ts";
import { argsOrExit, intArg, parseCli } from "../lib/cli.ts";
import { BENCH_RATE_LIMITS } from "../lib/ratelimits.ts";
import { devToken } from "../token.ts";

const USAGE = "npm run bench:feed -- [users] [samples]";
const [USERS, SAMPLES] = argsOrExit("[bench:feed]", () => {
  const { positionals } = parseCli(USAGE, {}, { positionals: 2 });
  return [intArg(USAGE, "users", positionals[0], 2000, 1), intArg(USAGE, "samples", positionals[1], 200, 1)];
});
const secret = randomBytes(24).toString("hex");
const h = await startCdcHarness();
const redis = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
const rand = rng(7);
const users = Array.from({ length: USERS }, () => randomUUID());
try {
  const q = (sql: string, p: unknown[]) => h.pg.query(sql, p);
  await q("INSERT INTO users (id, handle) SELECT u, 'u' || i FROM unnest($1::uuid[]) WITH ORDINALITY AS t(u, i)", [
    users,
  ]);
  const f: string[] = [];
  const e: string[] = [];
  for (const u of users) {
    for (let k = 0; k < 20; k++) {
      const v = users[Math.floor(rand() ** 2 * users.length)] as string; // some authors are popular
      if (v === u) continue;
      f.push(u);
      e.push(v);
    }
  }
  await q(
    "INSERT INTO follows (follower_id, followee_id) SELECT * FROM unnest($1::uuid[], $2::uuid[]) ON CONFLICT DO NOTHING",
    [f, e],
  );
  const posts = users.flatMap((u) =>
    [0, 1, 2].map(() => ({ id: randomUUID(), author: u, mins: Math.floor(rand() * 70 * 60) })),
  );
  await q(
    "INSERT INTO posts (id, author_id, text, created_at) SELECT id, a, 'post', now() - make_interval(mins => m) FROM unnest($1::uuid[], $2::uuid[], $3::int[]) AS t(id, a, m)",
    [posts.map((p) => p.id), posts.map((p) => p.author), posts.map((p) => p.mins)],
  );
  const lu: string[] = [];
  const lp: string[] = [];
  for (let k = 0; k < USERS * 5; k++) {
    lu.push(users[Math.floor(rand() * users.length)] as string);
    lp.push(posts[Math.floor(rand() * posts.length)]?.id as string);
  }
  await q("INSERT INTO likes (user_id, post_id) SELECT * FROM unnest($1::uuid[], $2::uuid[]) ON CONFLICT DO NOTHING", [
    lu,
    lp,
  ]);
  const want = Number((await q("SELECT count(*) FROM likes", [])).rows[0].count);
  await waitFor(
    async () =>
      Number(
        (
          await (
            await h.ch.query({ query: "SELECT sum(likes) AS n FROM post_metrics_1h", format: "JSONEachRow" })
          ).json<{ n: string }>()
        )[0]?.n ?? 0,
      ) === want,
    120_000,
    "the dataset to reach ClickHouse",
  );
  const edge = await startWranglerDev({
    config: "wrangler.toml",
    vars: {
      JWT_SECRET: secret,
      UPSTASH_REDIS_REST_URL: `http://127.0.0.1:${process.env.REDIS_BRIDGE_PORT ?? 8079}`,
      UPSTASH_REDIS_REST_TOKEN: process.env.REDIS_BRIDGE_TOKEN ?? "local-dev-token",
      CLICKHOUSE_URL: CH_URL,
      CLICKHOUSE_DATABASE: h.config.clickhouse.database,
    },
    rateLimits: BENCH_RATE_LIMITS,
  });
  try {
    const sample = users.slice(0, SAMPLES);
    const tokens = await Promise.all(sample.map((u) => devToken(u, 3600, secret)));
    const get = async (i: number) => {
      const t0 = performance.now();
      const res = await fetch(`${edge.url}/api/v1/feed?limit=20`, {
        headers: { authorization: `Bearer ${tokens[i]}` },
      });
      await res.arrayBuffer();
      return {
        ms: performance.now() - t0,
        cache: res.headers.get("x-cache"),
        timing: res.headers.get("server-timing"),
      };
    };
    for (let i = 0; i < 20; i++) await get(i % sample.length); // warm-up
    const miss: number[] = [];
    const hit: number[] = [];
    for (let i = 0; i < sample.length; i++) {
      await redis.del(feedKey(sample[i] as string));
      const r = await get(i);
      if (r.cache === "MISS") miss.push(r.ms);
      for (let k = 0; k < 5; k++) {
        const rh = await get(i);
        if (rh.cache === "HIT") hit.push(rh.ms);
      }
    }
    const pct = (xs: number[], p: number) => {
      const s = [...xs].sort((a, b) => a - b);
      return Math.round((s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? 0) * 10) / 10;
    };
    const result = {
      date: new Date().toISOString(),
      dataset: { users: USERS, follows_per_user: 20, posts: posts.length, likes: want },
      miss: { n: miss.length, p50_ms: pct(miss, 0.5), p95_ms: pct(miss, 0.95) },
      hit: { n: hit.length, p50_ms: pct(hit, 0.5), p95_ms: pct(hit, 0.95) },
      ratio_miss_over_hit_p50: Math.round((pct(miss, 0.5) / Math.max(pct(hit, 0.5), 0.1)) * 10) / 10,
    };
    console.log(JSON.stringify(result, null, 2));
    await mkdir("bench-results", { recursive: true });
    await writeFile("bench-results/feed-small.json", `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await edge.stop();
  }
} finally {
  await redis.del(
    ...users.map((u) => feedKey(u)),
    ...users.map((u) => `${feedKey(u)}:last`),
    ...users.map((u) => `${feedKey(u)}:ver`),
  );
  redis.disconnect();
  await h.teardown();
}

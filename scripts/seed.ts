/**
 * `npm run seed -- --users N [--seed S] [--posts-per-user P] [--events-per-user E]`
 *
 * Deterministic demo data (the same seed gives the same ids and graph): users, a power-law
 * follow graph (a few authors followed by many), posts spread over the last 72 h, likes and
 * comments, and events with realistic ratios (impressions ≫ views > clicks > shares, dwell).
 * It goes through the real path: rows into PostgreSQL (batched multi-row inserts; Debezium
 * carries them to ClickHouse) and events into Kafka `events` (the sink carries them to
 * ClickHouse). Prints a progress bar with rate and ETA (scripts/lib/progress.ts), and a user id to try.
 *
 * `--bulk` (for large scales, e.g. the benchmark's 100k users): PostgreSQL COPY, the Debezium
 * connector registered with snapshot.mode=no_data, the same rows inserted straight into
 * ClickHouse and events generated inside ClickHouse; CDC then carries every later change
 * (scripts/lib/bulk.ts). It needs empty tables and no CDC yet on the database.
 */

import { createClient } from "@clickhouse/client";
import { Kafka, logLevel, Partitioners } from "kafkajs";
import pg from "pg";
import { EVENTS_TOPIC } from "#core/topics.ts";
import { type OriginConfig, readConfig } from "../origin/src/config.ts";
import { bulkLoad } from "./lib/bulk.ts";
import { intArg, parseCli, UsageError } from "./lib/cli.ts";
import { applyConnector } from "./lib/connector.ts";
import { progress } from "./lib/progress.ts";
import { rng, uuidFrom } from "./lib/rng.ts";

interface SeedOptions {
  bulk?: boolean;
  users: number;
  seed: number;
  postsPerUser: number;
  eventsPerUser: number;
}

const USAGE = "npm run seed -- --users N [--bulk] [--seed S] [--posts-per-user P] [--events-per-user E]";

/** The command line of `npm run seed`; a UsageError names what is wrong. */
export function parseSeedArgs(args: string[]): SeedOptions {
  const { values } = parseCli(
    USAGE,
    {
      users: { type: "string" },
      seed: { type: "string" },
      "posts-per-user": { type: "string" },
      "events-per-user": { type: "string" },
      bulk: { type: "boolean", default: false },
    },
    { args },
  );
  const opts: SeedOptions = {
    bulk: values.bulk,
    users: intArg(USAGE, "--users", values.users, 1000),
    seed: intArg(USAGE, "--seed", values.seed, 1),
    postsPerUser: intArg(USAGE, "--posts-per-user", values["posts-per-user"], 3),
    eventsPerUser: intArg(USAGE, "--events-per-user", values["events-per-user"], 30),
  };
  if (opts.users < 2) throw new UsageError("--users must be at least 2");
  return opts;
}

/** Inserts rows with one multi-row statement per chunk: `unnest` of typed arrays. */
async function insertColumns(
  client: pg.PoolClient,
  sql: string,
  columns: unknown[][],
  onProgress: (done: number) => void,
  chunk = 5000,
): Promise<void> {
  const n = columns[0]?.length ?? 0;
  for (let i = 0; i < n; i += chunk) {
    await client.query(
      sql,
      columns.map((c) => c.slice(i, i + chunk)),
    );
    onProgress(Math.min(n, i + chunk));
  }
  if (n === 0) onProgress(0);
}

export async function seed(opts: SeedOptions, databaseUrl: string, brokers: string[], topic: string) {
  const rand = rng(opts.seed);
  const users = Array.from({ length: opts.users }, () => uuidFrom(rand));
  // Power law: an author's popularity ~ 1/rank; each user follows 5–40 of them.
  const pickAuthor = () => users[Math.floor(users.length * rand() ** 3)] as string;
  const follows: [string, string][] = [];
  const seenPair = new Set<string>();
  for (const u of users) {
    const k = 5 + Math.floor(rand() * 36);
    for (let i = 0; i < k; i++) {
      const v = pickAuthor();
      const key = `${u}|${v}`;
      if (v === u || seenPair.has(key)) continue;
      seenPair.add(key);
      follows.push([u, v]);
    }
  }
  const now = Date.now();
  const posts: { id: string; author: string; at: number }[] = [];
  for (const u of users) {
    for (let i = 0; i < opts.postsPerUser; i++)
      posts.push({ id: uuidFrom(rand), author: u, at: now - Math.floor(rand() * 72 * 3600_000) });
  }
  const pickPost = () => posts[Math.floor(posts.length * rand() ** 2)] as (typeof posts)[number];
  const likes = new Map<string, [string, string]>();
  const comments: { id: string; post: string; author: string }[] = [];
  const events: string[] = [];
  for (const u of users) {
    for (let i = 0; i < opts.eventsPerUser; i++) {
      const p = pickPost();
      const r = rand();
      const type = r < 0.7 ? "impression" : r < 0.88 ? "view" : r < 0.95 ? "dwell" : r < 0.99 ? "click" : "share";
      const ts = Math.max(p.at, now - Math.floor(rand() * 24 * 3600_000));
      events.push(
        JSON.stringify({
          event_id: uuidFrom(rand),
          user_id: u,
          post_id: p.id,
          type,
          client_ts: ts,
          received_at: ts,
          dwell_ms: type === "dwell" ? Math.floor(rand() * 30_000) : 0,
        }),
      );
      // Roughly one like per 8 impressions, one comment per 40.
      if (type === "impression" && rand() < 0.12 && p.author !== u) likes.set(`${u}|${p.id}`, [u, p.id]);
      if (type === "impression" && rand() < 0.025) comments.push({ id: uuidFrom(rand), post: p.id, author: u });
    }
  }

  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    await insertColumns(
      client,
      "INSERT INTO users (id, handle, display_name) SELECT id, 'user_' || substr(id::text, 1, 8), 'User ' || substr(id::text, 1, 8) FROM unnest($1::uuid[]) AS t(id) ON CONFLICT DO NOTHING",
      [users],
      progress("users", users.length),
    );
    await insertColumns(
      client,
      "INSERT INTO follows (follower_id, followee_id) SELECT * FROM unnest($1::uuid[], $2::uuid[]) ON CONFLICT DO NOTHING",
      [follows.map((f) => f[0]), follows.map((f) => f[1])],
      progress("follows", follows.length),
    );
    await insertColumns(
      client,
      "INSERT INTO posts (id, author_id, text, created_at) SELECT id, a, 'Post ' || substr(id::text, 1, 8), to_timestamp(at / 1000.0) FROM unnest($1::uuid[], $2::uuid[], $3::float8[]) AS t(id, a, at) ON CONFLICT DO NOTHING",
      [posts.map((p) => p.id), posts.map((p) => p.author), posts.map((p) => p.at)],
      progress("posts", posts.length),
    );
    const likeRows = [...likes.values()];
    await insertColumns(
      client,
      "INSERT INTO likes (user_id, post_id) SELECT * FROM unnest($1::uuid[], $2::uuid[]) ON CONFLICT DO NOTHING",
      [likeRows.map((l) => l[0]), likeRows.map((l) => l[1])],
      progress("likes", likeRows.length),
    );
    await insertColumns(
      client,
      "INSERT INTO comments (id, post_id, author_id, text) SELECT id, p, a, 'Nice!' FROM unnest($1::uuid[], $2::uuid[], $3::uuid[]) AS t(id, p, a) ON CONFLICT DO NOTHING",
      [comments.map((c) => c.id), comments.map((c) => c.post), comments.map((c) => c.author)],
      progress("comments", comments.length),
    );
    await client.query("COMMIT");
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw err;
  } finally {
    client.release();
    await pool.end();
  }

  const kafka = new Kafka({ clientId: "seed", brokers, logLevel: logLevel.NOTHING });
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  try {
    const tick = progress("events", events.length);
    for (let i = 0; i < events.length; i += 5000) {
      await producer.send({
        topic,
        acks: -1,
        messages: events
          .slice(i, i + 5000)
          .map((value) => ({ key: (JSON.parse(value) as { user_id: string }).user_id, value })),
      });
      tick(Math.min(events.length, i + 5000));
    }
    if (events.length === 0) tick(0);
  } finally {
    await producer.disconnect();
  }
  // The most-followed user's most active follower makes a good demo viewer.
  return {
    users: users.length,
    follows: follows.length,
    posts: posts.length,
    likes: likes.size,
    comments: comments.length,
    events: events.length,
    demoUser: follows[0]?.[0] ?? users[0],
  };
}

/** Bulk mode against the configured database, ClickHouse and Connect. */
async function seedBulk(opts: SeedOptions, cfg: OriginConfig) {
  const pool = new pg.Pool({ connectionString: cfg.databaseUrl, max: 2 });
  const ch = createClient({
    url: cfg.clickhouse.url,
    username: cfg.clickhouse.username,
    password: cfg.clickhouse.password,
    database: cfg.clickhouse.database,
    request_timeout: 600_000,
  });
  try {
    return await bulkLoad(opts, {
      pool,
      ch,
      progress,
      slotName: cfg.cdc.slotName,
      startCdc: () => applyConnector({ ...cfg, cdc: { ...cfg.cdc, snapshotMode: "no_data" } }),
    });
  } finally {
    await pool.end();
    await ch.close();
  }
}

const isMain = process.argv[1]?.endsWith("seed.ts");
if (isMain) {
  try {
    const opts = parseSeedArgs(process.argv.slice(2));
    const cfg = readConfig();
    const t0 = Date.now();
    const r = opts.bulk
      ? await seedBulk(opts, cfg)
      : await seed(opts, cfg.databaseUrl, cfg.kafka.brokers, cfg.kafka.topicNamespace + EVENTS_TOPIC);
    console.log(`[seed] done in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${JSON.stringify(r)}`);
    console.log(r.demoUser);
  } catch (err) {
    console.error(`[seed] ${(err as Error).message}`);
    process.exitCode = 1;
  }
}

/**
 * Bulk loading for the large scales (`npm run seed -- --bulk …`, `npm run bench`):
 *
 *   1. generate the dataset in memory from the seed (same shape as the small seed: power-law
 *      follow graph, posts over the last 72 h, likes and comments on popular posts);
 *   2. PostgreSQL: one transaction of COPY … FROM STDIN per table (the triggers that copy a
 *      post's author into likes/comments are disabled for the load: the rows carry it);
 *   3. `startCdc()`: the caller registers the Debezium connector with snapshot.mode=no_data, so
 *      that from here on every change streams through Kafka;
 *   4. ClickHouse: the same rows inserted straight into the *_cdc tables with _version 1 (below
 *      any LSN, so later changes from CDC always win) and _sign 1 (the counting views see each
 *      like, comment and follow once);
 *   5. events generated inside ClickHouse (INSERT … SELECT FROM numbers(), chunked): impressions
 *      ≫ views > dwell > clicks > shares, users and posts power-law, timestamps in the last 24 h
 *      and never before their post. They bypass Kafka: there are 10M of them;
 *   6. OPTIMIZE … FINAL on the loaded tables (one part each, as merges would leave them).
 *
 * Preconditions (checked): the PostgreSQL tables are empty and no replication slot streams this
 * database yet; otherwise rows would reach ClickHouse twice.
 */
import type { ClickHouseClient } from "@clickhouse/client";
import type pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { chDateTime64 } from "#core/sql/clickhouse-time.ts";
import { rng, uuidFrom } from "./rng.ts";

export interface BulkOptions {
  users: number;
  seed: number;
  postsPerUser: number;
  eventsPerUser: number;
  /** Follows per user are uniform in [minFollows, maxFollows] before dedupe. Default 5–40. */
  minFollows?: number;
  maxFollows?: number;
}

export interface BulkResult {
  users: number;
  follows: number;
  posts: number;
  likes: number;
  comments: number;
  blocks: number;
  events: number;
  demoUser: string;
  timingsMs: Record<string, number>;
}

type Progress = (label: string, total: number) => (done: number) => void;

const HOUR = 3_600_000;

interface Dataset {
  users: string[];
  userCreated: number[];
  follows: [number, number][];
  posts: { id: string; author: number; at: number }[];
  likes: { user: number; post: number; at: number }[];
  comments: { id: string; post: number; author: number; at: number }[];
  blocks: [number, number][];
}

/** The dataset, deterministic for a seed (and `now` rounded to the minute). */
export function generate(opts: BulkOptions, now: number): Dataset {
  const rand = rng(opts.seed);
  const n = opts.users;
  const users = Array.from({ length: n }, () => uuidFrom(rand));
  const userCreated = users.map(() => now - 30 * 24 * HOUR - Math.floor(rand() * 300 * 24 * HOUR));
  // Power law: author popularity falls with rank (index); a few are followed by very many.
  const pickAuthor = () => Math.floor(n * rand() ** 3);
  const minF = opts.minFollows ?? 5;
  const maxF = opts.maxFollows ?? 40;
  const follows: [number, number][] = [];
  for (let u = 0; u < n; u++) {
    const want = minF + Math.floor(rand() * (maxF - minF + 1));
    const mine = new Set<number>();
    for (let i = 0; i < want; i++) {
      const v = pickAuthor();
      if (v !== u && !mine.has(v)) {
        mine.add(v);
        follows.push([u, v]);
      }
    }
  }
  const posts: Dataset["posts"] = [];
  for (let u = 0; u < n; u++) {
    for (let i = 0; i < opts.postsPerUser; i++)
      posts.push({ id: uuidFrom(rand), author: u, at: now - Math.floor(rand() * 72 * HOUR) });
  }
  const pickPost = () => Math.floor(posts.length * rand() ** 2);
  // The small seed's ratios: about one like per 8 impressions and one comment per 40, where
  // impressions are 70% of events.
  const events = n * opts.eventsPerUser;
  const likes: Dataset["likes"] = [];
  const liked = new Set<number>();
  const wantLikes = Math.round(events * 0.7 * 0.12);
  for (let i = 0; i < wantLikes && posts.length; i++) {
    const user = Math.floor(rand() * n);
    const post = pickPost();
    const p = posts[post] as Dataset["posts"][number];
    const key = post * n + user;
    if (p.author === user || liked.has(key)) continue;
    liked.add(key);
    likes.push({ user, post, at: p.at + Math.floor(rand() * Math.max(1, now - p.at)) });
  }
  const comments: Dataset["comments"] = [];
  const wantComments = Math.round(events * 0.7 * 0.025);
  for (let i = 0; i < wantComments && posts.length; i++) {
    const post = pickPost();
    const p = posts[post] as Dataset["posts"][number];
    comments.push({
      id: uuidFrom(rand),
      post,
      author: Math.floor(rand() * n),
      at: p.at + Math.floor(rand() * Math.max(1, now - p.at)),
    });
  }
  const blocks: [number, number][] = [];
  const blockedPairs = new Set<string>();
  for (let i = 0; i < Math.floor(n / 100); i++) {
    const a = Math.floor(rand() * n);
    const b = pickAuthor();
    if (a !== b && !blockedPairs.has(`${a}|${b}`)) {
      blockedPairs.add(`${a}|${b}`);
      blocks.push([a, b]);
    }
  }
  return { users, userCreated, follows, posts, likes, comments, blocks };
}

/** A value in PostgreSQL's COPY text format. */
function copyText(v: string | number | null): string {
  if (v === null) return "\\N";
  return String(v).replace(/\\/g, "\\\\").replace(/\t/g, "\\t").replace(/\n/g, "\\n").replace(/\r/g, "\\r");
}

const pgTime = (ms: number) => new Date(ms).toISOString();

type Value = string | number | null;

/**
 * One table of the dataset, described once for both stores: its own columns per row, and the
 * row's time (created_at = updated_at; nothing is deleted). PostgreSQL gets them by COPY,
 * ClickHouse (`<table>_cdc`) as JSON rows with the CDC bookkeeping columns added.
 */
interface TableLoad {
  table: string;
  count: number;
  row: (i: number) => Record<string, Value>;
  at: (i: number) => number;
}

async function copyTable(client: pg.PoolClient, t: TableLoad, tick: (done: number) => void): Promise<void> {
  if (t.count === 0) return tick(0);
  const columns = [...Object.keys(t.row(0)), "created_at", "updated_at"];
  const stream = client.query(copyFrom(`COPY ${t.table} (${columns.join(", ")}) FROM STDIN`));
  const done = new Promise<void>((resolve, reject) => {
    stream.on("finish", resolve);
    stream.on("error", reject);
  });
  const CHUNK = 20_000;
  for (let i = 0; i < t.count; i += CHUNK) {
    let text = "";
    for (let k = i; k < Math.min(t.count, i + CHUNK); k++) {
      const at = pgTime(t.at(k));
      text += `${[...Object.values(t.row(k)), at, at].map(copyText).join("\t")}\n`;
    }
    if (!stream.write(text)) await new Promise((r) => stream.once("drain", r));
    tick(Math.min(t.count, i + CHUNK));
  }
  stream.end();
  await done;
}

async function insertCdcTable(ch: ClickHouseClient, t: TableLoad, tick: (done: number) => void): Promise<void> {
  if (t.count === 0) return tick(0);
  const CHUNK = 100_000;
  for (let i = 0; i < t.count; i += CHUNK) {
    const values: Record<string, Value>[] = [];
    for (let k = i; k < Math.min(t.count, i + CHUNK); k++) {
      const at = t.at(k);
      values.push({
        ...t.row(k),
        created_at: chDateTime64(at),
        updated_at: chDateTime64(at),
        deleted_at: null,
        ...cdcCols(at),
      });
    }
    await ch.insert({ table: `${t.table}_cdc`, values, format: "JSONEachRow" });
    tick(Math.min(t.count, i + CHUNK));
  }
}

/** Bookkeeping columns of a bulk-loaded CDC row: older than any change CDC will bring. */
const cdcCols = (createdMs: number) => ({
  _version: 1,
  _is_deleted: 0,
  _sign: 1,
  _source_ts: chDateTime64(createdMs),
});

export async function bulkLoad(
  opts: BulkOptions,
  deps: {
    pool: pg.Pool;
    ch: ClickHouseClient;
    /** Registers CDC for the database (snapshot.mode=no_data); called after PostgreSQL commits. */
    startCdc: () => Promise<void>;
    progress: Progress;
    /** Fixed "now" for reproducible timestamps. Default: the current minute. */
    now?: number;
    /** Checks that no replication slot exists yet for the database. Default: checks by name. */
    slotName?: string;
  },
): Promise<BulkResult> {
  const { pool, ch, progress } = deps;
  const timings: Record<string, number> = {};
  let t = Date.now();
  const lap = (name: string) => {
    timings[name] = Date.now() - t;
    t = Date.now();
  };
  const now = deps.now ?? Math.floor(Date.now() / 60_000) * 60_000;

  const { rows: counts } = await pool.query<{ n: string }>(
    "SELECT (SELECT count(*) FROM users) + (SELECT count(*) FROM posts) + (SELECT count(*) FROM follows) AS n",
  );
  if (Number(counts[0]?.n) > 0)
    throw new Error("bulk load needs empty tables (users, posts, follows); use a fresh database");
  if (deps.slotName) {
    const { rows } = await pool.query("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", [deps.slotName]);
    if (rows.length)
      throw new Error(`replication slot ${deps.slotName} exists: CDC already streams this database; bulk load refused`);
  }

  const d = generate(opts, now);
  lap("generate");
  const U = d.users;
  const postId = (i: number) => (d.posts[i] as Dataset["posts"][number]).id;
  const postAuthor = (i: number) => U[(d.posts[i] as Dataset["posts"][number]).author] as string;

  type Post = Dataset["posts"][number];
  const tables: TableLoad[] = [
    {
      table: "users",
      count: U.length,
      row: (i) => ({ id: U[i] as string, handle: `u${i}`, display_name: `User ${i}`, bio: "" }),
      at: (i) => d.userCreated[i] as number,
    },
    {
      table: "posts",
      count: d.posts.length,
      row: (i) => {
        const p = d.posts[i] as Post;
        return { id: p.id, author_id: U[p.author] as string, text: `Post ${i} by u${p.author}` };
      },
      at: (i) => (d.posts[i] as Post).at,
    },
    {
      table: "follows",
      count: d.follows.length,
      row: (i) => {
        const [a, b] = d.follows[i] as [number, number];
        return { follower_id: U[a] as string, followee_id: U[b] as string };
      },
      at: (i) => now - 24 * HOUR - (i % 1000) * HOUR,
    },
    {
      table: "likes",
      count: d.likes.length,
      row: (i) => {
        const l = d.likes[i] as Dataset["likes"][number];
        return { user_id: U[l.user] as string, post_id: postId(l.post), post_author_id: postAuthor(l.post) };
      },
      at: (i) => (d.likes[i] as Dataset["likes"][number]).at,
    },
    {
      table: "comments",
      count: d.comments.length,
      row: (i) => {
        const c = d.comments[i] as Dataset["comments"][number];
        return {
          id: c.id,
          post_id: postId(c.post),
          author_id: U[c.author] as string,
          post_author_id: postAuthor(c.post),
          text: "Nice!",
        };
      },
      at: (i) => (d.comments[i] as Dataset["comments"][number]).at,
    },
    {
      table: "blocks",
      count: d.blocks.length,
      row: (i) => {
        const [a, b] = d.blocks[i] as [number, number];
        return { blocker_id: U[a] as string, blocked_id: U[b] as string };
      },
      at: () => now - HOUR,
    },
  ];

  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    await client.query("ALTER TABLE likes DISABLE TRIGGER likes_fill_author");
    await client.query("ALTER TABLE comments DISABLE TRIGGER comments_fill_author");
    for (const t of tables) await copyTable(client, t, progress(t.table, t.count));
    await client.query("ALTER TABLE likes ENABLE TRIGGER likes_fill_author");
    await client.query("ALTER TABLE comments ENABLE TRIGGER comments_fill_author");
    await client.query("COMMIT");
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw err;
  } finally {
    client.release();
  }
  lap("postgres_copy");
  // Fresh statistics: the planner otherwise guesses on tables it believes empty.
  await pool.query("ANALYZE users, posts, follows, likes, comments, blocks");
  lap("postgres_analyze");

  await deps.startCdc();
  lap("cdc_start");

  for (const t of tables) await insertCdcTable(ch, t, progress(`ch ${t.table}`, t.count));
  lap("clickhouse_rows");

  const events = opts.users * opts.eventsPerUser;
  await generateEvents(ch, opts.seed, events, now, progress("events", events));
  lap("clickhouse_events");

  // Merge what the load wrote into one part per table, as background merges would in time:
  // FINAL reads and point lookups over many fresh parts cost several times more (measured at
  // 100k users: a feed miss's query 140 → 75 ms). events_raw is left as it is (10M rows, read
  // only by the active-users and dedupe lookups).
  const compact = [
    "users_cdc",
    "posts_cdc",
    "posts_by_id",
    "follows_cdc",
    "likes_cdc",
    "comments_cdc",
    "blocks_cdc",
    "author_stats",
    "user_author_90d",
    "post_metrics_1h",
    "post_totals",
    "event_counted_keys",
  ];
  const tickCompact = progress("compact", compact.length);
  for (const [i, table] of compact.entries()) {
    await ch.command({ query: `OPTIMIZE TABLE ${table} FINAL` });
    tickCompact(i + 1);
  }
  lap("clickhouse_optimize");

  // A demo viewer: the first user who follows someone.
  const demo = d.follows[0] ? (U[d.follows[0][0]] as string) : (U[0] as string);
  return {
    users: U.length,
    follows: d.follows.length,
    posts: d.posts.length,
    likes: d.likes.length,
    comments: d.comments.length,
    blocks: d.blocks.length,
    events,
    demoUser: demo,
    timingsMs: timings,
  };
}

/** Staged events go into events_raw in slices of about 1M (at least 8), each one statement. */
const eventSlices = (total: number) => Math.max(8, Math.ceil(total / 1_000_000));

/**
 * Staged events → events_raw for one slice of users, each with its `counted` flag decided as
 * the sink decides it (edge/core/events/counting.ts): the first share and click per (user, post), the
 * first impression per (user, post, day), never on the user's own post.
 */
const COUNTED_EVENTS_INSERT_SQL = `
INSERT INTO events_raw (event_id, user_id, post_id, author_id, type, dwell_ms, counted, client_ts, received_at)
SELECT event_id, user_id, post_id, author_id, type, dwell_ms,
       toUInt8(multiIf(user_id = author_id, 0,
                       type IN ('share', 'click'), first_ever = 1,
                       type = 'impression', first_of_day = 1,
                       1)),
       client_ts, received_at
FROM (
  SELECT *,
         row_number() OVER (PARTITION BY user_id, post_id, type ORDER BY received_at, event_id) AS first_ever,
         row_number() OVER (PARTITION BY user_id, post_id, type, toDate(received_at) ORDER BY received_at, event_id) AS first_of_day
  FROM bulk_events_stage
  WHERE cityHash64(user_id) % {slices:UInt64} = {slice:UInt64}
)`;

/**
 * `total` events generated inside ClickHouse in chunks of 1M: index tables of users and posts
 * (ordered by id, so the result depends only on the data and the seed), then per event a
 * user (activity skewed: r^1.5), a post (popularity skewed: r^2), a type by the seed's ratios,
 * a receive time in the last 24 h but not before the post, and an id hashed from the seed.
 */
async function generateEvents(
  ch: ClickHouseClient,
  seed: number,
  total: number,
  now: number,
  tick: (done: number) => void,
): Promise<void> {
  if (total === 0) {
    tick(0);
    return;
  }
  for (const [name, source] of [
    ["bulk_user_index", "SELECT toUInt64(row_number() OVER (ORDER BY id) - 1) AS n, id FROM users_cdc"],
    [
      "bulk_post_index",
      "SELECT toUInt64(row_number() OVER (ORDER BY id) - 1) AS n, id, author_id, toUnixTimestamp64Milli(created_at) AS at FROM posts_by_id",
    ],
  ] as const) {
    await ch.command({ query: `DROP TABLE IF EXISTS ${name}` });
    await ch.command({ query: `CREATE TABLE ${name} ENGINE = MergeTree ORDER BY n AS ${source}` });
  }
  const counts = await (
    await ch.query({
      query: "SELECT (SELECT count() FROM bulk_user_index) AS u, (SELECT count() FROM bulk_post_index) AS p",
      format: "JSONEachRow",
    })
  ).json<{ u: string; p: string }>();
  const U = Number(counts[0]?.u);
  const P = Number(counts[0]?.p);
  // Generated into a staging table first: whether an event counts (the abuse bound) depends on
  // the user's earlier events on the same post, which a chunk of generated events can't see.
  await ch.command({ query: "DROP TABLE IF EXISTS bulk_events_stage" });
  await ch.command({
    query: "CREATE TABLE bulk_events_stage AS events_raw ENGINE = MergeTree ORDER BY (user_id, post_id)",
  });
  const CHUNK = 1_000_000;
  for (let start = 0; start < total; start += CHUNK) {
    const size = Math.min(CHUNK, total - start);
    await ch.command({
      query: `
INSERT INTO bulk_events_stage (event_id, user_id, post_id, author_id, type, dwell_ms, client_ts, received_at)
WITH e AS (
  SELECT number AS k,
         toUInt64(floor({u:UInt64} * pow(cityHash64({seed:UInt64}, number, 1) / 18446744073709551616, 1.5))) AS ui,
         toUInt64(floor({p:UInt64} * pow(cityHash64({seed:UInt64}, number, 2) / 18446744073709551616, 2))) AS pi,
         cityHash64({seed:UInt64}, number, 3) / 18446744073709551616 AS r,
         cityHash64({seed:UInt64}, number, 4) / 18446744073709551616 AS r2
  FROM numbers({start:UInt64}, {size:UInt64})
)
SELECT
  reinterpretAsUUID(concat(reinterpretAsString(cityHash64({seed:UInt64}, e.k, 5)),
                           reinterpretAsString(cityHash64({seed:UInt64}, e.k, 6)))) AS event_id,
  u.id AS user_id,
  p.id AS post_id,
  p.author_id AS author_id,
  multiIf(e.r < 0.70, 'impression', e.r < 0.88, 'view', e.r < 0.95, 'dwell', e.r < 0.99, 'click', 'share') AS type,
  if(e.r >= 0.88 AND e.r < 0.95, toUInt32(e.r2 * 30000), 0) AS dwell_ms,
  fromUnixTimestamp64Milli(toInt64(greatest(p.at, {now:Int64} - toInt64(e.r2 * 86400000))), 'UTC') AS client_ts,
  client_ts AS received_at
FROM e
INNER JOIN bulk_user_index AS u ON u.n = e.ui
INNER JOIN bulk_post_index AS p ON p.n = e.pi`,
      query_params: { seed, u: U, p: P, start, size, now },
    });
    tick(start + size);
  }
  // Into events_raw (and through its views) with the counted flag, a slice of users at a time.
  const slices = eventSlices(total);
  for (let slice = 0; slice < slices; slice++) {
    await ch.command({ query: COUNTED_EVENTS_INSERT_SQL, query_params: { slices, slice } });
  }
  await ch.command({ query: "DROP TABLE IF EXISTS bulk_events_stage" });
  await ch.command({ query: "DROP TABLE IF EXISTS bulk_user_index" });
  await ch.command({ query: "DROP TABLE IF EXISTS bulk_post_index" });
}

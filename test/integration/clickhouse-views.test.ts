/**
 * The counting views and the repair migration, on ClickHouse alone (through the local gateway):
 * every materialized view's SELECT yields rows on a small fixture (an alias resolved inside
 * WHERE, as 0002's comments view had, makes a view silently produce nothing), the counts are
 * the ones the abuse bound allows, and 0004 repairs data that 0002 and the old sink wrote.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { type ClickHouseClient, createClient } from "@clickhouse/client";
import { afterEach, describe, expect, it } from "vitest";
import { chDateTime64 } from "#core/sql/clickhouse-time.ts";
import { loadChMigrations, migrateClickHouse } from "../../origin/ch/migrate.ts";
import { ZERO_UUID } from "../../origin/src/sink/transform.ts";
import { CH_URL } from "../../scripts/lib/world.ts";

const U = randomUUID(); // the viewer
const A = randomUUID(); // an author
const P = randomUUID(); // A's post
const Q = randomUUID(); // U's own post
const NOW = Date.now();
const T = chDateTime64(NOW - 60_000);

let dbs: { name: string; client: ClickHouseClient }[] = [];

async function freshDatabase(versions?: (v: string) => boolean): Promise<ClickHouseClient> {
  const name = `views_${randomBytes(4).toString("hex")}`;
  const admin = createClient({ url: CH_URL });
  const client = createClient({ url: CH_URL, database: name });
  const migrations = loadChMigrations().filter((m) => !versions || versions(m.version));
  await migrateClickHouse(admin, client, name, migrations);
  await admin.close();
  dbs.push({ name, client });
  return client;
}

afterEach(async () => {
  for (const { name, client } of dbs) {
    await client.command({ query: `DROP DATABASE IF EXISTS ${name}` }).catch(() => {});
    await client.close();
  }
  dbs = [];
});

/** Rows with every number as text, so the expectations hold whether 64-bit integers come quoted or not. */
const rows = async <T>(ch: ClickHouseClient, query: string, params: Record<string, unknown> = {}) =>
  JSON.parse(
    JSON.stringify(await (await ch.query({ query, query_params: params, format: "JSONEachRow" })).json<T>()),
    (_k, v) => (typeof v === "number" ? String(v) : v),
  ) as T[];

const cdc = (version: number, sign: number, deleted = false) => ({
  created_at: T,
  updated_at: T,
  deleted_at: deleted ? T : null,
  _version: version,
  _is_deleted: 0,
  _sign: sign,
  _source_ts: T,
});

async function insertSources(ch: ClickHouseClient, events: Record<string, unknown>[]) {
  await ch.insert({
    table: "users_cdc",
    values: [U, A].map((id, i) => ({ id, handle: `h${i}`, display_name: "", bio: "", ...cdc(1, 1) })),
    format: "JSONEachRow",
  });
  await ch.insert({
    table: "posts_cdc",
    values: [
      { id: P, author_id: A, text: "p", ...cdc(2, 1) },
      { id: Q, author_id: U, text: "q", ...cdc(3, 1) },
    ],
    format: "JSONEachRow",
  });
  await ch.insert({
    table: "follows_cdc",
    values: [{ follower_id: U, followee_id: A, ...cdc(4, 1) }],
    format: "JSONEachRow",
  });
  await ch.insert({
    table: "likes_cdc",
    values: [{ user_id: U, post_id: P, post_author_id: A, ...cdc(5, 1) }],
    format: "JSONEachRow",
  });
  await ch.insert({
    table: "comments_cdc",
    values: [
      { id: randomUUID(), post_id: P, author_id: U, post_author_id: A, text: "c", ...cdc(6, 1) },
      // A comment on one's own post counts nowhere in affinity.
      { id: randomUUID(), post_id: P, author_id: A, post_author_id: A, text: "own", ...cdc(7, 1) },
    ],
    format: "JSONEachRow",
  });
  await ch.insert({ table: "events_raw", values: events, format: "JSONEachRow" });
}

const event = (type: string, post: string, user: string, author: string, counted?: number) => ({
  event_id: randomUUID(),
  user_id: user,
  post_id: post,
  author_id: author,
  type,
  dwell_ms: 0,
  ...(counted === undefined ? {} : { counted }),
  client_ts: T,
  received_at: T,
});

describe("ClickHouse counting views", () => {
  it("every materialized view's SELECT returns rows on a small fixture", async () => {
    const ch = await freshDatabase();
    await insertSources(ch, [
      // Tagged with an experiment, so the experiment views (clickhouse/0005) have a row to count.
      { ...event("impression", P, U, A, 1), experiment: "exp", variant: "control" },
      event("view", P, U, A, 1),
      event("dwell", P, U, A, 1),
      event("click", P, U, A, 1),
      event("share", P, U, A, 1),
    ]);
    const views = await rows<{ name: string; as_select: string }>(
      ch,
      "SELECT name, as_select FROM system.tables WHERE database = currentDatabase() AND engine = 'MaterializedView' ORDER BY name",
    );
    expect(views.length).toBeGreaterThanOrEqual(10);
    const empty: string[] = [];
    for (const v of views) {
      const out = await rows(ch, v.as_select);
      if (out.length === 0) empty.push(v.name);
    }
    expect(empty, "views whose SELECT yields nothing on the fixture").toEqual([]);
  });

  it("an insert that landed in events_raw but not in its views is completed by its retry with the same token, and a third send counts nothing twice (0007)", async () => {
    const ch = await freshDatabase();
    const share = event("share", P, U, A, 1);
    const settings = (token: string) => ({
      insert_deduplication_token: token,
      deduplicate_blocks_in_dependent_materialized_views: 1 as const,
    });
    const totals = async () =>
      rows(ch, "SELECT sum(shares) AS s FROM post_totals WHERE post_id = {p:UUID}", { p: P }).then((r) => r[0]);
    const affinity = async () =>
      rows(ch, "SELECT sum(interactions) AS n FROM user_author_90d WHERE user_id = {u:UUID}", { u: U }).then(
        (r) => r[0],
      );
    // A server that died between the table and its views: the row is in, the views never saw it.
    const views = ["post_metrics_1h_events_mv", "user_author_90d_events_mv", "event_counted_keys_mv"];
    for (const v of views) await ch.command({ query: `DETACH TABLE ${v}` });
    await ch.insert({
      table: "events_raw",
      values: [share],
      format: "JSONEachRow",
      clickhouse_settings: settings("t1"),
    });
    for (const v of views) await ch.command({ query: `ATTACH TABLE ${v}` });
    expect(await totals()).toEqual({ s: "0" });
    // The sink's retry: the same rows, the same token.
    for (let i = 0; i < 2; i++) {
      await ch.insert({
        table: "events_raw",
        values: [share],
        format: "JSONEachRow",
        clickhouse_settings: settings("t1"),
      });
      expect(await totals(), `send ${i + 2}`).toEqual({ s: "1" });
      expect(await affinity(), `send ${i + 2}`).toEqual({ n: "1" });
    }
    expect(await rows(ch, "SELECT count() AS n FROM events_raw")).toEqual([{ n: "1" }]);
    // Another insert (its own token) counts as usual.
    const click = event("click", P, U, A, 1);
    await ch.insert({
      table: "events_raw",
      values: [click],
      format: "JSONEachRow",
      clickhouse_settings: settings("t2"),
    });
    expect(await affinity()).toEqual({ n: "2" });
  });

  it("counts a like, a comment, the first share and click per (user, post), one impression a day, nothing on one's own post", async () => {
    const ch = await freshDatabase();
    await insertSources(ch, [
      event("share", P, U, A, 1),
      event("share", P, U, A, 0), // a repeat: the sink marks it uncounted
      event("click", P, U, A, 1),
      event("impression", P, U, A, 1),
      event("impression", P, U, A, 0),
      event("share", Q, U, U, 0), // own post
    ]);
    expect(
      await rows(
        ch,
        "SELECT toString(author_id) AS a, sum(interactions) AS n FROM user_author_90d WHERE user_id = {u:UUID} GROUP BY a",
        { u: U },
      ),
    ).toEqual([{ a: A, n: "4" }]); // like + comment + share + click
    expect(
      await rows(
        ch,
        "SELECT sum(likes) AS l, sum(comments) AS c, sum(shares) AS s, sum(clicks) AS k, sum(impressions) AS i FROM post_totals WHERE post_id = {p:UUID}",
        { p: P },
      ),
    ).toEqual([{ l: "1", c: "1", s: "1", k: "1", i: "1" }]); // the author's own comment counts toward nothing
    expect(await rows(ch, "SELECT sum(shares) AS s FROM post_metrics_1h WHERE post_id = {q:UUID}", { q: Q })).toEqual([
      { s: "0" },
    ]);
    expect(
      await rows(ch, "SELECT toString(type) AS t FROM event_counted_keys WHERE user_id = {u:UUID} ORDER BY t", {
        u: U,
      }),
    ).toEqual([{ t: "click" }, { t: "impression" }, { t: "share" }]);
  });

  it("0004 repairs what 0002 and the old sink wrote (zero authors, uncounted comments, repeats), and running it again changes nothing", async () => {
    const ch = await freshDatabase((v) => v < "0004");
    // As the old sink wrote them: no author, no counted column (every repeat counted).
    const legacy = (type: string, post: string, user: string) => event(type, post, user, ZERO_UUID);
    await insertSources(ch, [
      legacy("share", P, U),
      legacy("share", P, U),
      legacy("share", P, U),
      legacy("click", P, U),
      legacy("impression", P, U),
      legacy("impression", P, U),
      legacy("impression", P, A), // the author's own impression
    ]);
    const state = async () => ({
      affinity: await rows(
        ch,
        "SELECT sum(interactions) AS n FROM user_author_90d WHERE user_id = {u:UUID} AND author_id = {a:UUID}",
        { u: U, a: A },
      ),
      totals: await rows(
        ch,
        "SELECT sum(likes) AS l, sum(comments) AS c, sum(shares) AS s, sum(clicks) AS k, sum(impressions) AS i FROM post_totals WHERE post_id = {p:UUID}",
        { p: P },
      ),
      hourly: await rows(
        ch,
        "SELECT sum(shares) AS s, sum(impressions) AS i FROM post_metrics_1h WHERE post_id = {p:UUID}",
        {
          p: P,
        },
      ),
      events: await rows(
        ch,
        "SELECT countIf(author_id = {a:UUID}) AS with_author, sum(counted) AS counted, count() AS n FROM events_raw FINAL",
        { a: A },
      ),
      keys: await rows(ch, "SELECT count() AS n FROM event_counted_keys FINAL"),
    });
    // Before: only the like counted toward affinity; every repeat counted toward engagement.
    expect((await rows(ch, "SELECT sum(interactions) AS n FROM user_author_90d"))[0]).toEqual({ n: "1" });
    expect(
      await rows(ch, "SELECT sum(shares) AS s, sum(impressions) AS i FROM post_totals WHERE post_id = {p:UUID}", {
        p: P,
      }),
    ).toEqual([{ s: "3", i: "3" }]);

    const admin = createClient({ url: CH_URL });
    const name = dbs[0]?.name as string;
    await migrateClickHouse(admin, ch, name);
    const want = {
      affinity: [{ n: "4" }], // like + comment + one share + one click
      totals: [{ l: "1", c: "1", s: "1", k: "1", i: "1" }], // 0006: the author's own comment counts toward nothing
      hourly: [{ s: "1", i: "1" }],
      events: [{ with_author: "7", counted: "3", n: "7" }],
      keys: [{ n: "3" }],
    };
    expect(await state()).toEqual(want);

    // The repairs once more (an interrupted run is finished by the next): the same numbers. 0004
    // rebuilds by its own rules, so 0006 (which supersedes them) runs after it, as on a fresh database.
    for (const version of ["0004", "0006"]) {
      const repair = loadChMigrations().find((m) => m.version === version);
      for (const statement of repair?.statements ?? []) await ch.command({ query: statement });
    }
    expect(await state()).toEqual(want);
    await admin.close();
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkConsistency, differences } from "../../origin/ch/consistency.ts";
import { seed } from "../../scripts/seed.ts";
import { type CdcHarness, startCdcHarness, waitFor } from "./support/cdc.ts";

describe("npm run seed: deterministic demo data through the real path", () => {
  let h: CdcHarness;

  beforeAll(async () => {
    h = await startCdcHarness();
  }, 180_000);

  afterAll(async () => {
    await h?.teardown();
  }, 60_000);

  it("loads users, a follow graph, posts, likes, comments and events, and ClickHouse agrees", async () => {
    const opts = { users: 200, seed: 5, postsPerUser: 2, eventsPerUser: 20 };
    const r = await seed(opts, h.config.databaseUrl, h.config.kafka.brokers, h.topic("events"));
    const count = async (t: string) => Number((await h.pg.query(`SELECT count(*) FROM ${t}`)).rows[0].count);
    expect(await count("users")).toBe(200);
    expect(await count("posts")).toBe(400);
    expect(await count("follows")).toBe(r.follows);
    expect(r.events).toBe(200 * 20);
    // Power law: the most-followed author has many more followers than the median one.
    const top = await h.pg.query("SELECT count(*)::int AS n FROM follows GROUP BY followee_id ORDER BY n DESC LIMIT 1");
    expect(top.rows[0].n).toBeGreaterThan((r.follows / 200) * 3);
    await waitFor(
      async () => (await checkConsistency(h.pg, h.ch)).every((t) => differences(t) === 0),
      30_000,
      "ClickHouse to match PostgreSQL",
    );
    await waitFor(
      async () =>
        Number(
          (
            await (
              await h.ch.query({ query: "SELECT count() AS n FROM events_raw", format: "JSONEachRow" })
            ).json<{ n: string }>()
          )[0]?.n ?? 0,
        ) === r.events,
      30_000,
      "events in ClickHouse",
    );
  }, 120_000);

  it("draws its ids from a seeded generator: the same seed gives the same ids", async () => {
    const { rng, uuidFrom } = await import("../../scripts/lib/rng.ts");
    const a = rng(9);
    const b = rng(9);
    expect(Array.from({ length: 5 }, () => uuidFrom(a))).toEqual(Array.from({ length: 5 }, () => uuidFrom(b)));
  });
});

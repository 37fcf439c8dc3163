/**
 * Every interaction counts, once: affinity and engagement as a user sees them in `explain=1`,
 * after real actions through the public API, carried by the whole pipeline (edge → origin →
 * PostgreSQL → Debezium → Kafka → sink → ClickHouse for writes; edge → Redis stream → relay →
 * Kafka → sink → ClickHouse for events).
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FeedItemOut } from "#core/feed/present.ts";
import { feedVersionKey, seenKey } from "#core/keys.ts";
import { waitFor } from "../../scripts/lib/wait.ts";
import { type CdcHarness, startCdcHarness } from "./support/cdc.ts";
import { type EdgeWorld, startEdgeWorld } from "./support/edge-world.ts";

/** Authors beyond the top-50 bound of the F3 source. */
const MANY = 52;

describe("signals through the whole pipeline, as explain=1 shows them", () => {
  let h: CdcHarness;
  let w: EdgeWorld;
  const viewer = randomUUID();
  const author = randomUUID(); // followed by the viewer
  const others = Array.from({ length: MANY }, () => randomUUID()); // each gets 2 interactions
  const far = randomUUID(); // followed, 1 interaction: ranks below the other 52 authors
  const users = [viewer, author, far, ...others];
  const postOf = new Map<string, string[]>();
  const api = (user: string, method: string, path: string, body?: unknown) => w.api(user, method, path, body);
  const ok = (res: Promise<Response>, status: number) => w.ok(res, status);
  const post = async (by: string, text: string) => {
    const r = await ok(api(by, "POST", "/api/v1/posts", { text }), 201);
    const id = ((await r.json()) as { post: { id: string } }).post.id;
    postOf.set(by, [...(postOf.get(by) ?? []), id]);
    return id;
  };
  const events = (list: { type: string; post_id: string }[]) =>
    ok(api(viewer, "POST", "/api/v1/events", { events: list }), 202);
  /** The viewer's explain for one post, from a ranking built now (the cached one dropped). */
  const explainOf = async (postId: string) => {
    // A new session that may not reuse the last snapshot (a newer feed version), nothing seen.
    await w.redis.del(seenKey(viewer));
    await w.redis.incr(feedVersionKey(viewer));
    const r = await ok(api(viewer, "GET", "/api/v1/feed?limit=100&explain=1"), 200);
    const items = ((await r.json()) as { items: FeedItemOut[] }).items;
    return items.find((i) => i.post_id === postId)?.explain;
  };
  /** Interactions with the post's author as the feed sees them: expm1(affinity). */
  const interactionsVia = async (postId: string) => {
    const e = await explainOf(postId);
    return e ? Math.round(Math.expm1(e.affinity) * 1e6) / 1e6 : null;
  };
  const expectInteractions = async (postId: string, n: number, what: string) => {
    let last: number | null = null;
    await waitFor(
      async () => {
        last = await interactionsVia(postId);
        return last === n;
      },
      20_000,
      what,
    ).catch((err) => {
      throw new Error(`${(err as Error).message}: the feed shows ${last} interactions, want ${n}`);
    });
  };

  beforeAll(async () => {
    h = await startCdcHarness();
    w = await startEdgeWorld(h, { relay: true });
    for (const [i, u] of users.entries()) await ok(api(u, "PUT", "/api/v1/users/me", { handle: `s${h.id}_${i}` }), 200);
    await ok(api(viewer, "PUT", `/api/v1/follows/${author}`), 204);
    await ok(api(viewer, "PUT", `/api/v1/follows/${far}`), 204);
    for (let k = 0; k < 4; k++) await post(author, `author post ${k}`);
    await post(far, "far post");
    for (const o of others) await post(o, `other post by ${o.slice(0, 8)}`);
    await waitFor(
      async () =>
        Number(
          (
            await (
              await h.ch.query({
                query: "SELECT count() AS n FROM posts_current WHERE deleted_at IS NULL",
                format: "JSONEachRow",
              })
            ).json<{ n: string }>()
          )[0]?.n,
        ) ===
        5 + MANY,
      30_000,
      "the posts to reach ClickHouse",
    );
  }, 300_000);

  afterAll(async () => {
    await w?.stop();
    await h?.teardown();
  }, 60_000);

  it("a like, a comment, a share and a click each raise the author's affinity by exactly one; an unlike and a deleted comment lower it", async () => {
    const [p0, p1, p2, p3] = postOf.get(author) as string[];
    expect(await interactionsVia(p0 as string)).toBe(0);

    await ok(api(viewer, "PUT", `/api/v1/posts/${p0}/like`), 204);
    await expectInteractions(p0 as string, 1, "the like in the author's affinity");

    const c = await ok(api(viewer, "POST", `/api/v1/posts/${p1}/comments`, { text: "nice" }), 201);
    const commentId = ((await c.json()) as { comment: { id: string } }).comment.id;
    await expectInteractions(p0 as string, 2, "the comment in the author's affinity");

    await events([{ type: "share", post_id: p2 as string }]);
    await expectInteractions(p0 as string, 3, "the share in the author's affinity");

    await events([{ type: "click", post_id: p3 as string }]);
    await expectInteractions(p0 as string, 4, "the click in the author's affinity");

    // Affinity is a feature of every candidate by that author, not only of the one touched.
    expect(await interactionsVia(p3 as string)).toBe(4);

    await ok(api(viewer, "DELETE", `/api/v1/posts/${p0}/like`), 204);
    await expectInteractions(p3 as string, 3, "the unlike to lower the affinity");

    await ok(api(viewer, "DELETE", `/api/v1/comments/${commentId}`), 204);
    await expectInteractions(p3 as string, 2, "the deleted comment to lower the affinity");
  });

  it("500 shares and 500 clicks of one post by one user count as one each, in affinity and in engagement", async () => {
    const [, , , p3] = postOf.get(author) as string[];
    const before = (await interactionsVia(p3 as string)) as number; // the share of p2 and the click of p3
    const spam = (type: string) => Array.from({ length: 250 }, () => ({ type, post_id: p3 as string }));
    await events(spam("share"));
    await events(spam("share"));
    await events(spam("click"));
    await events(spam("click"));
    // All 1,000 events are in ClickHouse (none lost), and only one share counted (the click of
    // p3 already counted in the test before).
    await waitFor(
      async () => {
        const rs = await h.ch.query({
          query: `SELECT count() AS n, sum(counted) AS c FROM events_raw
                  WHERE user_id = {v:UUID} AND post_id = {p:UUID} AND type IN ('share', 'click')`,
          query_params: { v: viewer, p: p3 },
          format: "JSONEachRow",
        });
        const [row] = await rs.json<{ n: string; c: string }>();
        return Number(row?.n) === 1001 && Number(row?.c) === 2;
      },
      20_000,
      "1,001 share/click events of which 2 counted",
    );
    await expectInteractions(p3 as string, before + 1, "one more interaction for 1,000 spam events");
    // Engagement: the one counted share (weight 3) over max(impressions, 1).
    const e = await explainOf(p3 as string);
    expect(e?.engagement).toBeCloseTo(Math.log1p(3), 9);
  });

  it("a user's events on their own post count nowhere", async () => {
    const [own] = postOf.get(author) as string[];
    const res = await api(author, "POST", "/api/v1/events", {
      events: [
        { type: "share", post_id: own },
        { type: "impression", post_id: own },
      ],
    });
    expect(res.status).toBe(202);
    await waitFor(
      async () => {
        const rs = await h.ch.query({
          query: "SELECT count() AS n, sum(counted) AS c FROM events_raw WHERE user_id = {a:UUID}",
          query_params: { a: author },
          format: "JSONEachRow",
        });
        const [row] = await rs.json<{ n: string; c: string }>();
        return Number(row?.n) === 2 && Number(row?.c) === 0;
      },
      20_000,
      "the author's own events stored, uncounted",
    );
    const rs = await h.ch.query({
      query: "SELECT sum(shares) AS s, sum(impressions) AS i FROM post_totals WHERE post_id = {p:UUID}",
      query_params: { p: own },
      format: "JSONEachRow",
    });
    expect((await rs.json<{ s: unknown; i: unknown }>()).map((r) => ({ s: Number(r.s), i: Number(r.i) }))).toEqual([
      { s: 0, i: 0 },
    ]);
  });

  it("an author outside the viewer's top 50 still gets its true affinity", async () => {
    // 52 authors with 2 interactions each (a like and a comment), then `far` with 1.
    for (const o of others) {
      const [p] = postOf.get(o) as string[];
      await ok(api(viewer, "PUT", `/api/v1/posts/${p}/like`), 204);
      await ok(api(viewer, "POST", `/api/v1/posts/${p}/comments`, { text: "+1" }), 201);
    }
    const [farPost] = postOf.get(far) as string[];
    await events([{ type: "click", post_id: farPost as string }]);
    await waitFor(
      async () => {
        const rs = await h.ch.query({
          query: `SELECT uniqExactIf(author_id, n >= 2) AS top, sumIf(n, author_id = {far:UUID}) AS far_n FROM (
                    SELECT author_id, sum(interactions) AS n FROM user_author_90d
                    WHERE user_id = {v:UUID} GROUP BY author_id)`,
          query_params: { v: viewer, far },
          format: "JSONEachRow",
        });
        const [row] = await rs.json<{ top: string; far_n: string }>();
        return Number(row?.top) >= MANY && Number(row?.far_n) === 1;
      },
      60_000,
      "52 authors at 2 interactions and the far author at 1 in user_author_90d",
    );
    await expectInteractions(farPost as string, 1, "the far author's affinity in its followed post");
  }, 180_000);
});

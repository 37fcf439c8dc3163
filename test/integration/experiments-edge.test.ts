/**
 * Ranking experiments at the edge (issue 17, items 2-5), on the real services: an experiment
 * started through the origin's operator API reaches Redis through the projection, the worker (wrangler dev) assigns each viewer the variant `assignVariant` predicts and ranks their
 * feed with its weights; the snapshot keeps the variant for every page of the session; events
 * without experiment fields are attributed to the served snapshot's variant in ClickHouse;
 * promote and stop take effect at the edge within one refresh interval; the creator stats route
 * shows the author what the intake and the writes counted, and nobody else.
 */
import { randomUUID } from "node:crypto";
import { Hono } from "hono";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { planIntake } from "#core/events/intake.ts";
import { type EventRecord, encodeBatchForTagging, fillExperimentTags } from "#core/events/schema.ts";
import { assignVariant } from "#core/experiments/assignment.ts";
import {
  decodeRunningExperiments,
  EXPERIMENTS_REFRESH_MS,
  type RunningExperiment,
  runningExperimentsKey,
} from "#core/experiments/schema.ts";
import type { FeedItemOut } from "#core/feed/present.ts";
import { snapshotPointerKey } from "#core/keys.ts";
import { type PostStatsBody, postStatsKey } from "#core/reads/post-stats.ts";
import { chDateTime64 } from "#core/sql/clickhouse-time.ts";
import { EXPERIMENT_TOPICS } from "#core/topics.ts";
import { experimentsApp } from "../../origin/src/experiments/api.ts";
import { ExperimentsProjection } from "../../origin/src/experiments/projection.ts";
import { ioredisExec } from "../../origin/src/index/exec.ts";
import { buildFallbackSnapshot } from "../../origin/src/jobs/generators.ts";
import { waitFor } from "../../scripts/lib/wait.ts";
import { type CdcHarness, startCdcHarness } from "./support/cdc.ts";
import { type EdgeWorld, startEdgeWorld } from "./support/edge-world.ts";

interface FeedBody {
  items: FeedItemOut[];
  next_cursor: string | null;
  experiment: { name: string; variant: string } | null;
}

const OPERATOR = "integration-operator-token-edge-0123456789";
const SECRET = "integration-origin-secret-edge-0123456789";
const HOUR = 3_600_000;
// Very different weights: control ranks by freshness alone, the candidate by engagement alone.
const FRESH = { freshness: 1, engagement: 0, affinity: 0, freshnessDecayPerHour: 0.1 };
const ENGAGED = { freshness: 0, engagement: 1, affinity: 0, freshnessDecayPerHour: 0.1 };

describe("ranking experiments at the edge", () => {
  let h: CdcHarness;
  let w: EdgeWorld;
  let projection: ExperimentsProjection;
  let operator: Hono;
  const name = `edge-${randomUUID().slice(0, 8)}`;
  // Six authors, one post each: post i is i hours old and has i likes (post 5 also a comment),
  // so freshness orders them 0..5 and engagement 5..0. Distinct authors: no diversity effect.
  const authors = Array.from({ length: 6 }, () => randomUUID());
  const likers = Array.from({ length: 6 }, () => randomUUID());
  const viewers = Array.from({ length: 40 }, () => randomUUID());
  const probe = randomUUID();
  const stranger = randomUUID();
  let posts: string[] = [];
  let expKey = "";

  const op = async <T>(method: string, path: string, body?: unknown, status = 200): Promise<T> => {
    const r = await operator.request(`/v1/experiments${path}`, {
      method,
      headers: { "content-type": "application/json", authorization: `Bearer ${OPERATOR}` },
      body: body === undefined ? null : JSON.stringify(body),
    });
    const text = await r.text();
    expect(r.status, text).toBe(status);
    return JSON.parse(text) as T;
  };
  const feed = async (user: string, query = "?limit=20&explain=1") => {
    const res = await w.ok(w.api(user, "GET", `/api/v1/feed${query}`), 200);
    return { res, body: (await res.json()) as FeedBody };
  };
  const running = async (): Promise<RunningExperiment[]> => decodeRunningExperiments(await w.redis.get(expKey));
  const chRows = async <T>(query: string, params: Record<string, unknown>) =>
    (await h.ch.query({ query, query_params: params, format: "JSONEachRow" })).json<T>();

  beforeAll(async () => {
    // No Debezium connector: creating its replication slot waits for every open transaction on
    // the server (a long benchmark load holds one for many minutes), and nothing here needs
    // it. The serving index bootstraps from the ClickHouse rows below; the projection writes
    // the running experiments from PostgreSQL when told (its CDC trigger is experiments.test.ts's).
    h = await startCdcHarness({ deferConnector: true });
    const now = Date.now();
    const users = [...authors, ...likers, ...viewers, probe, stranger];
    let version = 1;
    const cdc = (ms: number) => {
      const t = chDateTime64(ms);
      return {
        created_at: t,
        updated_at: t,
        deleted_at: null,
        _version: version++,
        _is_deleted: 0,
        _sign: 1,
        _source_ts: chDateTime64(now),
      };
    };
    posts = authors.map(() => randomUUID());
    const insert = (table: string, values: Record<string, unknown>[]) =>
      h.ch.insert({ table, values, format: "JSONEachRow" });
    await insert(
      "users_cdc",
      users.map((id) => ({ id, handle: `e${id.slice(0, 8)}`, display_name: "", bio: "", ...cdc(now - 10 * HOUR) })),
    );
    await insert(
      "posts_cdc",
      posts.map((id, i) => ({ id, author_id: authors[i], text: `post ${i}`, ...cdc(now - i * HOUR - 60_000) })),
    );
    await insert(
      "follows_cdc",
      [...viewers, probe].flatMap((f) =>
        authors.map((a) => ({ follower_id: f, followee_id: a, ...cdc(now - 9 * HOUR) })),
      ),
    );
    await insert(
      "likes_cdc",
      posts.flatMap((p, i) =>
        likers.slice(0, i).map((u) => ({ user_id: u, post_id: p, post_author_id: authors[i], ...cdc(now) })),
      ),
    );
    await insert("comments_cdc", [
      {
        id: randomUUID(),
        post_id: posts[5],
        author_id: likers[0],
        post_author_id: authors[5],
        text: "nice",
        ...cdc(now),
      },
    ]);

    w = await startEdgeWorld(h, { relay: true, index: true });
    w.track(...users);
    expKey = runningExperimentsKey(w.keys.namespace);
    const log = pino({ level: "silent" });
    projection = new ExperimentsProjection(h.kafka, h.pg, w.redis, log, {
      groupId: `test-exp-edge-${h.id}`,
      topicNamespace: h.config.kafka.topicNamespace,
      namespace: w.keys.namespace,
      watchMs: 500,
    });
    await projection.start();
    operator = new Hono().route(
      "/v1/experiments",
      experimentsApp({
        pg: h.pg,
        redis: w.redis,
        clickhouse: h.ch,
        operatorToken: OPERATOR,
        sharedSecret: SECRET,
        log,
      }),
    );
    // The index has it all once the probe's feed shows the six posts with post 5's engagement.
    await waitFor(async () => (await w.redis.exists(w.keys.ready)) === 1, 120_000, "the index to be ready");
    await waitFor(
      async () => {
        const { body } = await feed(probe, "?limit=20&explain=1");
        const p5 = body.items.find((i) => i.post_id === posts[5]);
        return body.items.length === 6 && (p5?.explain?.engagement ?? 0) >= Math.log1p(7) - 1e-9;
      },
      120_000,
      "the posts, likes and comment in the index",
    );

    await op(
      "POST",
      "",
      {
        name,
        description: "freshness (control) vs engagement (candidate)",
        variants: [
          { name: "control", share: 50, weights: FRESH },
          { name: "candidate", share: 50, weights: ENGAGED },
        ],
        candidate: "candidate",
      },
      201,
    );
    const t0 = Date.now();
    await op("POST", `/${name}/start`);
    await projection.rebuild("test: the cdc.experiments batch");
    await waitFor(async () => (await running()).some((e) => e.name === name), 60_000, "the experiment in Redis");
    const inRedis = Date.now() - t0;
    await waitFor(async () => (await feed(probe)).body.experiment?.name === name, 30_000, "the edge to assign");
    console.log(`start → Redis ${inRedis} ms, → the edge's feeds ${Date.now() - t0} ms`);
  }, 420_000);

  afterAll(async () => {
    await projection?.stop().catch(() => {});
    await w?.redis.del(expKey).catch(() => {});
    await w?.stop();
    const admin = h?.kafka.admin();
    await admin?.connect().catch(() => {});
    await admin?.deleteTopics({ topics: EXPERIMENT_TOPICS.map((t) => h.topic(t)) }).catch(() => {});
    await admin?.disconnect().catch(() => {});
    await h?.teardown();
  }, 120_000);

  /**
   * Samples 50 new users' first sessions until all pass `check` (a failing sample stops at its
   * first miss); returns when the passing sample started.
   */
  const allNewSessions = async (check: (b: FeedBody) => boolean, what: string): Promise<number> => {
    let passedAt = 0;
    await waitFor(
      async () => {
        const started = Date.now();
        for (let i = 0; i < 50; i++) if (!check((await feed(randomUUID(), "?limit=5")).body)) return false;
        passedAt = started;
        return true;
      },
      EXPERIMENTS_REFRESH_MS + 10_000,
      what,
    );
    return passedAt;
  };
  const controlOrder = () => [...posts];
  const candidateOrder = () => [...posts].reverse();
  const predicted = async (user: string) => assignVariant((await running())[0] as RunningExperiment, user).name;

  it("assigns each of 40 viewers the predicted variant, ranks with its weights, the same on every request and page", async () => {
    const [e] = await running();
    if (!e) throw new Error("not running");
    const seen = { control: 0, candidate: 0 };
    for (const v of viewers) {
      const want = assignVariant(e, v).name as "control" | "candidate";
      seen[want]++;
      const first = await feed(v);
      expect(first.res.headers.get("x-cache")).toBe("MISS");
      expect(first.body.experiment).toEqual({ name, variant: want });
      const ids = first.body.items.map((i) => i.post_id);
      expect(ids).toEqual(want === "control" ? controlOrder() : candidateOrder());
      // The variant's weights made the score: freshness alone, or engagement alone.
      for (const i of first.body.items)
        expect(i.score).toBeCloseTo(
          want === "control" ? (i.explain?.freshness ?? -1) : (i.explain?.engagement ?? -1),
          9,
        );
      // A second new session (after the reuse window: a new snapshot) gets the same variant.
      await new Promise((r) => setTimeout(r, 1100));
      const again = await feed(v);
      expect(again.body.experiment).toEqual({ name, variant: want });
      expect(again.body.items.map((i) => i.post_id)).toEqual(ids);
      // Every page of a session reports its snapshot's variant.
      let page = await feed(v, "?limit=2&explain=1");
      const paged: string[] = page.body.items.map((i) => i.post_id);
      expect(page.body.experiment).toEqual({ name, variant: want });
      while (page.body.next_cursor) {
        page = await feed(v, `?limit=2&explain=1&cursor=${encodeURIComponent(page.body.next_cursor)}`);
        expect(page.res.headers.get("x-cache")).toBe("HIT");
        expect(page.body.experiment).toEqual({ name, variant: want });
        paged.push(...page.body.items.map((i) => i.post_id));
      }
      expect(paged).toEqual(ids);
    }
    console.log(`40 viewers: ${seen.control} control, ${seen.candidate} candidate`);
    expect(seen.control).toBeGreaterThan(5);
    expect(seen.candidate).toBeGreaterThan(5);
  }, 240_000);

  it("the origin's fallback-snapshots job ranks its snapshot under the same assignment and weights", async () => {
    const [e] = await running();
    if (!e) throw new Error("not running");
    for (const v of viewers.slice(30)) {
      const want = assignVariant(e, v).name;
      const s = await buildFallbackSnapshot({ ch: h.ch, redis: w.redis, keys: w.keys }, v);
      expect(s.meta.experiment).toEqual({ experiment: name, variant: want });
      expect(s.items.map((i) => i.postId)).toEqual(want === "control" ? controlOrder() : candidateOrder());
      // The edge's next new session starts from it (within the reuse window) and says so.
      const { res, body } = await feed(v);
      if (res.headers.get("x-cache") === "HIT") expect(body.experiment).toEqual({ name, variant: want });
    }
  });

  it("the intake reads the viewer's pointer, then appends the batch with the tags filled in (real Redis)", async () => {
    const stream = `t:exp-intake:${randomUUID()}`;
    const user = randomUUID();
    try {
      const rec = (experiment?: string): EventRecord => ({
        event_id: randomUUID(),
        user_id: user,
        post_id: randomUUID(),
        type: "view",
        client_ts: 1,
        received_at: 2,
        dwell_ms: 0,
        ...(experiment ? { experiment, variant: "v-1" } : {}),
      });
      const records = [rec(), rec("mine"), rec()];
      const pointer = JSON.stringify({
        rankingId: "r",
        builtAtMs: 1,
        ver: 0,
        count: 1,
        experiment: { experiment: "exp-a", variant: "candidate" },
      });
      const exec = ioredisExec(w.redis);
      for (const p of [null, pointer]) {
        if (p) await w.redis.set(snapshotPointerKey(user), p);
        const plan = planIntake(stream, user, records);
        await exec(plan.writes(await exec(plan.reads)));
      }
      const entries = await w.redis.xrange(stream, "-", "+");
      const { body } = encodeBatchForTagging(records);
      expect(entries.map(([, fields]) => fields[1])).toEqual([
        fillExperimentTags(body, null),
        fillExperimentTags(body, pointer),
      ]);
      expect(entries[0]?.[1][1]).toBe(JSON.stringify(records)); // no pointer: byte for byte
      expect(JSON.parse(entries[1]?.[1][1] as string).map((r: EventRecord) => r.variant)).toEqual([
        "candidate",
        "v-1",
        "candidate",
      ]);
    } finally {
      await w.redis.del(stream, snapshotPointerKey(user));
    }
  });

  // Events of the stats test: 10 viewers see post 5, 5 click it, 2 share it, 3 view it.
  const statsPost = () => posts[5] as string;
  const plan = { impressions: 10, clicks: 5, shares: 2, views: 3 };

  it("events without experiment fields land in events_raw with the served snapshot's experiment and variant", async () => {
    const ids: Record<string, { experiment: string; variant: string }> = {};
    for (const [k, v] of viewers.slice(0, plan.impressions).entries()) {
      // The viewer's newest snapshot is the one of the previous test (its paging session).
      const variant = await predicted(v);
      const events: { event_id: string; type: string; post_id: string }[] = [
        { event_id: randomUUID(), type: "impression", post_id: statsPost() },
      ];
      if (k < plan.clicks) events.push({ event_id: randomUUID(), type: "click", post_id: statsPost() });
      if (k < plan.shares) events.push({ event_id: randomUUID(), type: "share", post_id: statsPost() });
      if (k < plan.views) events.push({ event_id: randomUUID(), type: "view", post_id: statsPost() });
      for (const e of events) ids[e.event_id] = { experiment: name, variant };
      const res = await w.ok(w.api(v, "POST", "/api/v1/events", { events }), 202);
      expect(((await res.json()) as { accepted: number }).accepted).toBe(events.length);
    }
    // A client that echoes the page's experiment keeps its own; a user with no snapshot gets none.
    const echoed = randomUUID();
    await w.ok(
      w.api(viewers[20] as string, "POST", "/api/v1/events", {
        events: [{ event_id: echoed, type: "view", post_id: posts[0], experiment: name, variant: "control" }],
      }),
      202,
    );
    ids[echoed] = { experiment: name, variant: "control" };
    const untagged = randomUUID();
    expect(await w.redis.exists(snapshotPointerKey(stranger))).toBe(0);
    await w.ok(
      w.api(stranger, "POST", "/api/v1/events", { events: [{ event_id: untagged, type: "view", post_id: posts[0] }] }),
      202,
    );
    ids[untagged] = { experiment: "", variant: "" };

    let got: { id: string; experiment: string; variant: string }[] = [];
    await waitFor(
      async () => {
        got = await chRows(
          "SELECT toString(event_id) AS id, experiment, variant FROM events_raw FINAL WHERE toString(event_id) IN {ids:Array(String)}",
          { ids: Object.keys(ids) },
        );
        return got.length === Object.keys(ids).length;
      },
      60_000,
      "the events in ClickHouse",
    );
    expect(Object.fromEntries(got.map((r) => [r.id, { experiment: r.experiment, variant: r.variant }]))).toEqual(ids);
  }, 120_000);

  it("creator stats: the author sees the hourly counts the intake and the writes made; anyone else a 403", async () => {
    const post = statsPost();
    const author = authors[5] as string;
    // Someone else's post, before anything is cached: 403 from the index's authorship.
    await w.ok(w.api(stranger, "GET", `/api/v1/posts/${post}/stats`), 403);
    await w.ok(w.api(author, "GET", `/api/v1/posts/${randomUUID()}/stats`), 404);
    await w.ok(w.api(author, "GET", "/api/v1/posts/not-a-uuid/stats"), 400);
    await w.ok(w.api(author, "GET", `/api/v1/posts/${post}/stats`, undefined), 200);
    // Wait until ClickHouse holds every count, then read afresh (the cache is 30 s).
    await waitFor(
      async () => {
        const [r] = await chRows<Record<string, string>>(
          "SELECT sum(impressions) AS i, sum(clicks) AS k, sum(shares) AS s, sum(views) AS v, sum(likes) AS l, sum(comments) AS c FROM post_metrics_1h WHERE post_id = {p:UUID}",
          { p: post },
        );
        return (
          Number(r?.i) === plan.impressions &&
          Number(r?.k) === plan.clicks &&
          Number(r?.s) === plan.shares &&
          Number(r?.v) === plan.views &&
          Number(r?.l) === 5 &&
          Number(r?.c) === 1
        );
      },
      60_000,
      "the counts in post_metrics_1h",
    );
    await w.redis.del(postStatsKey(w.keys.namespace, post));
    const res = await w.ok(w.api(author, "GET", `/api/v1/posts/${post}/stats`), 200);
    expect(res.headers.get("x-cache")).toBe("MISS");
    const body = (await res.json()) as PostStatsBody;
    expect(body.post_id).toBe(post);
    expect(body.author_id).toBe(author);
    expect(body.totals).toEqual({ impressions: 10, views: 3, clicks: 5, likes: 5, comments: 1, shares: 2 });
    const sum = (k: keyof PostStatsBody["totals"]) => body.hours.reduce((s, x) => s + x[k], 0);
    expect(sum("impressions")).toBe(10);
    expect(sum("likes")).toBe(5);
    expect(body.hours.length).toBeGreaterThanOrEqual(1);
    expect(body.hours.length).toBeLessThanOrEqual(2); // the writes and events of the last minutes
    for (const x of body.hours) expect(Date.parse(x.hour) % HOUR).toBe(0);
    console.log(`stats of post 5: ${JSON.stringify(body.hours)}`);
    const cached = await w.ok(w.api(author, "GET", `/api/v1/posts/${post}/stats`), 200);
    expect(cached.headers.get("x-cache")).toBe("HIT");
    expect(((await cached.json()) as PostStatsBody).totals).toEqual(body.totals);
    // Cached or not, another user gets a 403.
    await w.ok(w.api(stranger, "GET", `/api/v1/posts/${post}/stats`), 403);
    await w.ok(w.api(viewers[0] as string, "GET", `/api/v1/posts/${post}/stats`), 403);
  }, 120_000);

  it("promote: within one refresh interval every new session (50 users) gets the candidate; an open session keeps its variant", async () => {
    const [e] = await running();
    if (!e) throw new Error("not running");
    // A control viewer's session opened before the promotion.
    const controlViewer = viewers.find((v) => assignVariant(e, v).name === "control") as string;
    const open = await feed(controlViewer, "?limit=2&explain=1");
    expect(open.body.experiment).toEqual({ name, variant: "control" });
    const t0 = Date.now();
    await op("POST", `/${name}/promote`, {});
    await projection.rebuild("test: the cdc.experiments batch");
    await waitFor(async () => (await running())[0]?.promoted === "candidate", 60_000, "the promotion in Redis");
    const tRedis = Date.now();
    const sample = () => Array.from({ length: 50 }, () => randomUUID());
    // The time of the first sample of 50 new sessions that all show the candidate.
    const atEdge = await allNewSessions((b) => b.experiment?.variant === "candidate", "the promotion at the edge");
    console.log(`promote → Redis ${tRedis - t0} ms, Redis → every new session ${atEdge - tRedis} ms`);
    expect(atEdge - tRedis).toBeLessThanOrEqual(EXPERIMENTS_REFRESH_MS + 1500);
    // And stays: 50 more users, and the control viewer's next new session.
    for (const u of [...sample(), controlViewer])
      expect((await feed(u, "?limit=5")).body.experiment).toEqual({ name, variant: "candidate" });
    const next = await feed(
      controlViewer,
      `?limit=2&explain=1&cursor=${encodeURIComponent(open.body.next_cursor ?? "")}`,
    );
    expect(next.body.experiment).toEqual({ name, variant: "control" });
  }, 120_000);

  it("stop: within one refresh interval no new session has an assignment; recorded", async () => {
    const t0 = Date.now();
    await op("POST", `/${name}/stop`);
    await projection.rebuild("test: the cdc.experiments batch");
    await waitFor(async () => (await running()).length === 0, 60_000, "the stop in Redis");
    const tRedis = Date.now();
    const atEdge = await allNewSessions((b) => b.experiment === null, "the stop at the edge");
    console.log(`stop → Redis ${tRedis - t0} ms, Redis → every new session ${atEdge - tRedis} ms`);
    expect(atEdge - tRedis).toBeLessThanOrEqual(EXPERIMENTS_REFRESH_MS + 1500);
    // A viewer's new session is ranked by the configured weights again, with no assignment.
    await new Promise((r) => setTimeout(r, 1100));
    expect((await feed(viewers[0] as string)).body.experiment).toBeNull();
    const got = await op<{ changes: { action: string }[] }>("GET", `/${name}`);
    expect(got.changes.map((c) => c.action)).toEqual(["create", "start", "promote", "stop"]);
  }, 120_000);
});

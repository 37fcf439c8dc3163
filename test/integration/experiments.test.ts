/**
 * Ranking experiments on the real pipeline (issue 17): created through the origin's operator
 * API (the operator token; a user's token is a 403), started, carried by Debezium → Kafka to the
 * projection, which puts it into Redis where the edge reads it; two variants seeded with known
 * behaviour (events through Kafka `events` → sink → ClickHouse, likes as PostgreSQL writes →
 * CDC) give a known results table with its significance; promotion and stop reach Redis and the
 * audit trail.
 */
import { randomUUID } from "node:crypto";
import { Hono } from "hono";
import { Redis } from "ioredis";
import type { Producer } from "kafkajs";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signRequest } from "#core/auth/origin-auth.ts";
import type { EventRecord } from "#core/events/schema.ts";
import { assignVariant } from "#core/experiments/assignment.ts";
import { decodeRunningExperiments, type RunningExperiment, runningExperimentsKey } from "#core/experiments/schema.ts";
import { formatResultsTable, type VariantResult } from "#core/experiments/statistics.ts";
import { EVENTS_TOPIC, EXPERIMENT_TOPICS } from "#core/topics.ts";
import { experimentsApp } from "../../origin/src/experiments/api.ts";
import { ExperimentsProjection } from "../../origin/src/experiments/projection.ts";
import { waitFor } from "../../scripts/lib/wait.ts";
import { type CdcHarness, startCdcHarness } from "./support/cdc.ts";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const OPERATOR = "integration-operator-token-0123456789";
const SECRET = "integration-origin-secret-0123456789";
const W = { freshness: 0.3, engagement: 0.4, affinity: 0.3, freshnessDecayPerHour: 0.1 };
const W2 = { freshness: 0.2, engagement: 0.6, affinity: 0.2, freshnessDecayPerHour: 0.05 };

describe("ranking experiments", () => {
  let h: CdcHarness;
  let redis: Redis;
  let projection: ExperimentsProjection;
  let producer: Producer;
  let app: Hono;
  const ns = `t${randomUUID().slice(0, 8)}:`;
  const key = runningExperimentsKey(ns);
  const name = `canary-${randomUUID().slice(0, 8)}`;

  const call = (method: string, path: string, body?: unknown, auth = `Bearer ${OPERATOR}`) =>
    app.request(`/v1/experiments${path}`, {
      method,
      headers: { "content-type": "application/json", ...(auth ? { authorization: auth } : {}) },
      body: body === undefined ? null : JSON.stringify(body),
    });
  const json = async <T>(res: Response | Promise<Response>, status: number): Promise<T> => {
    const r = await res;
    const text = await r.text();
    expect(r.status, text).toBe(status);
    return JSON.parse(text) as T;
  };
  const inRedis = async (): Promise<RunningExperiment[]> => decodeRunningExperiments(await redis.get(key));

  beforeAll(async () => {
    h = await startCdcHarness();
    redis = new Redis(REDIS_URL);
    const log = pino({ level: "silent" });
    projection = new ExperimentsProjection(h.kafka, h.pg, redis, log, {
      groupId: `test-exp-${h.id}`,
      topicNamespace: h.config.kafka.topicNamespace,
      namespace: ns,
      watchMs: 500,
    });
    await projection.start();
    producer = h.kafka.producer();
    await producer.connect();
    // Mounted as the origin's HTTP server mounts it.
    app = new Hono().route(
      "/v1/experiments",
      experimentsApp({ pg: h.pg, redis, clickhouse: h.ch, operatorToken: OPERATOR, sharedSecret: SECRET, log }),
    );
  });

  afterAll(async () => {
    await producer?.disconnect().catch(() => {});
    await projection?.stop().catch(() => {});
    await redis?.del(key);
    redis?.disconnect();
    // The harness deletes ALL_TOPICS; the projection's own topics are this file's to remove.
    const admin = h?.kafka.admin();
    await admin?.connect().catch(() => {});
    await admin?.deleteTopics({ topics: EXPERIMENT_TOPICS.map((t) => h.topic(t)) }).catch(() => {});
    await admin?.disconnect().catch(() => {});
    await h?.teardown();
  });

  const experimentBody = {
    name,
    description: "engagement-heavy candidate at 50%",
    variants: [
      { name: "control", weights: W, share: 50 },
      { name: "candidate", weights: W2, share: 50 },
    ],
    candidate: "candidate",
  };

  it("is for operators only: no token 401, a user's token or a user's signed request 403", async () => {
    expect((await call("GET", "", undefined, "")).status).toBe(401);
    const userJwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMTExMTExMS0xMTExLTQxMTEtODExMS0xMTExMTExMTExMTEifQ.c2ln";
    const asUser = await call("POST", "", experimentBody, `Bearer ${userJwt}`);
    expect(asUser.status).toBe(403);
    expect(((await asUser.json()) as { error: { code: string } }).error.code).toBe("forbidden");
    const signed = async (user: string) => {
      const headers = await signRequest(SECRET, {
        method: "GET",
        pathWithQuery: "/v1/experiments",
        userId: user,
        timestampMs: Date.now(),
        requestId: randomUUID(),
        body: new Uint8Array(),
      });
      return app.request("/v1/experiments", { headers });
    };
    expect((await signed(randomUUID())).status).toBe(403);
    expect((await signed("operator:alice")).status).toBe(200);
  });

  it("validates the body with the core schema, in the one error envelope", async () => {
    const bad = await json<{ error: { code: string; message: string } }>(
      call("POST", "", {
        ...experimentBody,
        variants: [experimentBody.variants[0], { ...experimentBody.variants[1], share: 40 }],
      }),
      400,
    );
    expect(bad.error).toMatchObject({ code: "bad_request" });
    expect(bad.error.message).toContain("sum to 90");
  });

  it("creates a draft, edits it, starts it, and the running experiment reaches Redis through CDC", async () => {
    await json(call("POST", "", experimentBody), 201);
    await json(call("POST", "", experimentBody), 409);
    const edited = await json<{ experiment: { variants: { share: number }[] } }>(
      call("PUT", `/${name}`, { variants: experimentBody.variants, candidate: "candidate" }),
      200,
    );
    expect(edited.experiment.variants.map((v) => v.share)).toEqual([50, 50]);
    expect(await inRedis()).toEqual([]);
    const t0 = Date.now();
    const started = await json<{ experiment: { status: string; started_at: string } }>(
      call("POST", `/${name}/start`),
      200,
    );
    expect(started.experiment.status).toBe("running");
    // The projection's periodic resync is a minute away: only the CDC event brings it this fast.
    await waitFor(async () => (await inRedis()).some((e) => e.name === name), 15_000, "the experiment in Redis");
    const lag = Date.now() - t0;
    const [e] = await inRedis();
    expect(e).toMatchObject({ name, control: "control", candidate: "candidate", promoted: null });
    expect(e?.started_at).toBe(Date.parse(started.experiment.started_at));
    console.log(`start → Redis via CDC: ${lag} ms`);
    // Editing a running experiment, or starting a second one, is refused.
    await json(call("PUT", `/${name}`, { variants: experimentBody.variants }), 409);
    await json(call("POST", "", { ...experimentBody, name: `${name}-2` }), 201);
    const second = await json<{ error: { message: string } }>(call("POST", `/${name}-2/start`), 409);
    expect(second.error.message).toContain("one runs at a time");
  });

  it("a flushed key is rebuilt from PostgreSQL", async () => {
    await redis.del(key);
    await waitFor(async () => (await inRedis()).some((e) => e.name === name), 10_000, "the rebuilt key");
  });

  let results: VariantResult[] = [];

  it("seeds two variants with known behaviour and reads the results table", async () => {
    const [running] = await inRedis();
    if (!running) throw new Error("not running");
    // 100 users per variant, assigned by the real hash; 10 posts by one author.
    const author = randomUUID();
    const byVariant: Record<string, string[]> = { control: [], candidate: [] };
    while ((byVariant.control?.length ?? 0) < 100 || (byVariant.candidate?.length ?? 0) < 100) {
      const u = randomUUID();
      const list = byVariant[assignVariant(running, u).name] as string[];
      if (list.length < 100) list.push(u);
    }
    const users = [author, ...(byVariant.control as string[]), ...(byVariant.candidate as string[])];
    await h.pg.query(
      "INSERT INTO users (id, handle) SELECT u, 'u' || substr(replace(u::text, '-', ''), 1, 16) FROM unnest($1::uuid[]) AS u",
      [users],
    );
    const posts = (
      await h.pg.query<{ id: string }>(
        "INSERT INTO posts (author_id, text) SELECT $1, 'post ' || g FROM generate_series(1, 10) g RETURNING id",
        [author],
      )
    ).rows.map((r) => r.id);

    // Control: 1000 impressions, 50 clicks, 20 likes. Candidate: 1000 impressions, 100 clicks,
    // 30 likes, 5 comments. Each click and like on a distinct (user, post) the user was shown.
    const plan = {
      control: { clicks: 50, likes: 20, comments: 0 },
      candidate: { clicks: 100, likes: 30, comments: 5 },
    };
    const now = Date.now();
    const records: EventRecord[] = [];
    const likes: [string, string][] = [];
    const comments: [string, string][] = [];
    for (const [variant, p] of Object.entries(plan)) {
      const pairs = (byVariant[variant] as string[]).flatMap((u) => posts.map((post) => [u, post] as [string, string]));
      const ev = (type: EventRecord["type"], [u, post]: [string, string]): EventRecord => ({
        event_id: randomUUID(),
        user_id: u,
        post_id: post,
        type,
        client_ts: now,
        received_at: now,
        dwell_ms: 0,
        experiment: name,
        variant,
      });
      for (const pair of pairs) records.push(ev("impression", pair));
      // Every 10th pair clicks (control) / every 10th and 5th… spread over users.
      for (let i = 0; i < p.clicks; i++)
        records.push(ev("click", pairs[Math.floor((i * pairs.length) / p.clicks)] as [string, string]));
      for (let i = 0; i < p.likes; i++)
        likes.push(pairs[Math.floor((i * pairs.length) / p.likes) + 1] as [string, string]);
      for (let i = 0; i < p.comments; i++)
        comments.push(pairs[Math.floor((i * pairs.length) / p.comments) + 2] as [string, string]);
    }
    // An event outside any experiment and a duplicate change nothing. The outside event is on a
    // post of its own: on a post the variant's users were shown it would compete with their
    // impression for "first of the day", and which one counts is decided by the order the sink
    // learns their post (an event that overtook its post's CDC settles later), not by the test.
    const outsidePost = (
      await h.pg.query<{ id: string }>("INSERT INTO posts (author_id, text) VALUES ($1, 'outside') RETURNING id", [
        author,
      ])
    ).rows[0]?.id as string;
    records.push({
      ...(records[0] as EventRecord),
      event_id: randomUUID(),
      post_id: outsidePost,
      received_at: now + 1,
      experiment: undefined,
      variant: undefined,
    });
    records.push(records[1] as EventRecord);
    const clean = records.map((r) => JSON.parse(JSON.stringify(r)) as EventRecord);
    for (let i = 0; i < clean.length; i += 500) {
      await producer.send({
        topic: h.topic(EVENTS_TOPIC),
        messages: clean.slice(i, i + 500).map((r) => ({ key: r.user_id, value: JSON.stringify(r) })),
      });
    }
    // Likes and comments are writes, after the impressions that led to them.
    await waitFor(
      async () => {
        const rs = await h.ch.query({
          query: "SELECT count() AS n FROM events_raw WHERE experiment = {e:String}",
          query_params: { e: name },
          format: "JSONEachRow",
        });
        return Number((await rs.json<{ n: string }>())[0]?.n) >= 2150;
      },
      30_000,
      "the events in ClickHouse",
    );
    for (const [u, post] of likes) await h.pg.query("INSERT INTO likes (user_id, post_id) VALUES ($1, $2)", [u, post]);
    for (const [u, post] of comments)
      await h.pg.query("INSERT INTO comments (post_id, author_id, text) VALUES ($1, $2, 'nice')", [post, u]);

    type Out = {
      variants: VariantResult[];
      control: string;
      daily: { day: string; variant: string; impressions: number }[];
    };
    let out: Out | null = null;
    await waitFor(
      async () => {
        out = await json<Out>(call("GET", `/${name}/results?daily=1`), 200);
        // The events overtook their posts' CDC: they count once the sink has settled them.
        const c = out.variants.find((v) => v.variant === "candidate");
        const k = out.variants.find((v) => v.variant === "control");
        return (
          c?.likes === 30 &&
          c.comments === 5 &&
          c.impressions === 1000 &&
          c.clicks === 100 &&
          k?.likes === 20 &&
          k.impressions === 1000 &&
          k.clicks === 50
        );
      },
      30_000,
      "likes and comments attributed",
    ).catch((err) => {
      throw new Error(`${(err as Error).message}: ${JSON.stringify(out)}`);
    });
    const o = out as unknown as Out;
    results = o.variants;
    console.log(`results of ${name}:\n${formatResultsTable(results)}`);
    const [control, candidate] = results;
    expect(o.control).toBe("control");
    expect(control).toMatchObject({
      variant: "control",
      isControl: true,
      users: 100,
      impressions: 1000,
      clicks: 50,
      likes: 20,
      comments: 0,
      ctr: 0.05,
      likeRate: 0.02,
      vsControl: null,
    });
    expect(candidate).toMatchObject({
      variant: "candidate",
      users: 100,
      impressions: 1000,
      clicks: 100,
      likes: 30,
      comments: 5,
      ctr: 0.1,
      likeRate: 0.03,
    });
    // CTR 5% → 10%: z = 0.05 / sqrt(0.075 · 0.925 · 2/1000) = 4.245, p ≈ 2e-5, CI [+2.70, +7.30] pp.
    const ctr = candidate?.vsControl?.ctr;
    expect(ctr?.z).toBeCloseTo(4.2448, 3);
    expect(ctr?.p).toBeLessThan(0.0001);
    expect(ctr?.ci95[0]).toBeCloseTo(0.027017, 5);
    expect(ctr?.ci95[1]).toBeCloseTo(0.072983, 5);
    expect(ctr?.significant).toBe(true);
    // Likes 2% → 3%: z = 1.42, p = 0.16: not significant at this size.
    expect(candidate?.vsControl?.likeRate.significant).toBe(false);
    expect(candidate?.vsControl?.likeRate.p).toBeCloseTo(0.152, 2);
    expect(o.daily.map((d) => [d.variant, d.impressions])).toEqual([
      ["candidate", 1000],
      ["control", 1000],
    ]);
  });

  it("an unlike leaves the count", async () => {
    const row = await h.pg.query<{ user_id: string; post_id: string }>(
      "SELECT user_id, post_id FROM likes ORDER BY created_at LIMIT 1",
    );
    const l = row.rows[0] as { user_id: string; post_id: string };
    await h.pg.query("UPDATE likes SET deleted_at = now() WHERE user_id = $1 AND post_id = $2", [l.user_id, l.post_id]);
    await waitFor(
      async () => {
        const o = await json<{ variants: VariantResult[] }>(call("GET", `/${name}/results`), 200);
        return o.variants.reduce((s, v) => s + v.likes, 0) === 49;
      },
      20_000,
      "the unlike",
    );
  });

  it("promotes the candidate: every user gets it, at the edge's next read; recorded in the audit trail", async () => {
    await json(call("POST", `/${name}/promote`, {}, `Bearer ${OPERATOR}`), 200);
    await waitFor(async () => (await inRedis())[0]?.promoted === "candidate", 15_000, "the promotion in Redis");
    const [e] = await inRedis();
    for (let i = 0; i < 50; i++) expect(assignVariant(e as RunningExperiment, randomUUID()).name).toBe("candidate");
    const got = await json<{ changes: { action: string; actor: string; detail: { variant?: string } }[] }>(
      call("GET", `/${name}`),
      200,
    );
    expect(got.changes.map((c) => c.action)).toEqual(["create", "update", "start", "promote"]);
    expect(got.changes.at(-1)).toMatchObject({ actor: "operator", detail: { variant: "candidate" } });
  });

  it("stop: gone from Redis, recorded; a stopped experiment neither starts nor promotes again", async () => {
    const res = await app.request(`/v1/experiments/${name}/stop`, {
      method: "POST",
      headers: { authorization: `Bearer ${OPERATOR}`, "x-operator": "alice" },
    });
    expect(res.status).toBe(200);
    await waitFor(async () => (await inRedis()).length === 0, 15_000, "the stop in Redis");
    await json(call("POST", `/${name}/start`), 409);
    await json(call("POST", `/${name}/promote`, { variant: "candidate" }), 409);
    const audit = await h.pg.query<{ action: string; actor: string }>(
      "SELECT c.action, c.actor FROM experiment_changes c JOIN experiments e ON e.id = c.experiment_id WHERE e.name = $1 ORDER BY c.id",
      [name],
    );
    expect(audit.rows.map((r) => `${r.action}:${r.actor}`)).toEqual([
      "create:operator",
      "update:operator",
      "start:operator",
      "promote:operator",
      "stop:operator:alice",
    ]);
    // The audit trail is captured too (cdc.experiment_changes).
    const list = await json<{ experiments: { name: string; status: string }[] }>(call("GET", ""), 200);
    expect(list.experiments.find((x) => x.name === name)?.status).toBe("stopped");
  });
});

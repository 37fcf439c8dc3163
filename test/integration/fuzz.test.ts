/**
 * Property-based fuzzing of the public API (issue 14) with fast-check, seeded and bounded:
 * FUZZ_RUNS batches of FUZZ_BATCH generated requests (10,000 by default) across every route,
 * method, path id, query parameter, header and body shape, against the real worker bundle under
 * plain workerd (scripts/lib/workerd.ts, as the benchmark runs it; FUZZ_RUNTIME=wrangler for
 * `wrangler dev`) over the real local stack: the Redis REST bridge, the ClickHouse gateway (a
 * migrated database of this file's own), and an origin write API on a PostgreSQL database of
 * this file's own. For every answer:
 * - no 5xx from the app;
 * - every error is the one envelope, `application/json`, its code matching its status;
 * - every answer says nosniff, every error no-store; a success is JSON (or empty where it must be);
 * and afterwards the worker and the origin still answer, and an authenticated feed still works.
 * Replay a failure with FUZZ_SEED=<seed> (printed, with the shrunk batch, on failure).
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { type ClickHouseClient, createClient } from "@clickhouse/client";
import { type ServerType, serve } from "@hono/node-server";
import fc from "fast-check";
import { Hono } from "hono";
import { Redis } from "ioredis";
import { SignJWT } from "jose";
import pg from "pg";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { STATUS_OF } from "#core/errors.ts";
import { encodeCursor } from "#core/feed/cursor.ts";
import { feedVersionKey, seenKey, snapshotPointerKey, suggestKey } from "#core/keys.ts";
import { migrateClickHouse } from "../../origin/ch/migrate.ts";
import { migrate } from "../../origin/db/migrate.ts";
import { writeApp } from "../../origin/src/writes/routes.ts";
import { startPlainWorkerd } from "../../scripts/lib/workerd.ts";
import { BRIDGE_TOKEN, BRIDGE_URL, CH_URL, dropKeys, REDIS_URL, tempDatabase } from "../../scripts/lib/world.ts";
import { freePort, startWranglerDev, type WranglerDev } from "../../scripts/lib/wrangler.ts";
import { devToken } from "../../scripts/token.ts";

const SEED = Number(process.env.FUZZ_SEED ?? 1414);
const RUNS = Number(process.env.FUZZ_RUNS ?? 100);
const BATCH = Number(process.env.FUZZ_BATCH ?? 100);
/** `workerd` (default: plain workerd, one process, as in production) or `wrangler` (wrangler dev). */
const RUNTIME = process.env.FUZZ_RUNTIME ?? "workerd";
const CONCURRENCY = Number(process.env.FUZZ_CONCURRENCY ?? 16);
const USERS = 8;

interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string | Uint8Array<ArrayBuffer> | null;
}

interface Answer {
  req: FuzzRequest;
  status: number;
  problem: string | null;
}

const uuid = fc.uuid({ version: 4 });
/** Path ids: real UUIDs, near-misses, injection, unicode, very long, encoded separators. */
const pathId = fc.oneof(
  { weight: 4, arbitrary: uuid },
  { weight: 1, arbitrary: uuid.map((u) => u.toUpperCase()) },
  { weight: 1, arbitrary: uuid.map((u) => `${u}x`) },
  { weight: 2, arbitrary: fc.string({ maxLength: 40 }).map(encodeURIComponent) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      "..",
      "%2e%2e",
      "%2F",
      "%00",
      "me",
      "null",
      "' OR 1=1 --",
      "%E2%80%AE",
      "a".repeat(3000),
    ),
  },
);
/** Integer-ish parameter values: good ones, boundaries, and everything a coercion would take. */
const intParam = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 1, max: 100 }).map(String) },
  { weight: 1, arbitrary: fc.integer({ min: -1_000_000, max: 1_000_000_000 }).map(String) },
  {
    weight: 2,
    arbitrary: fc.constantFrom("0x10", "1e1", "+5", " 5", "5 ", "05", "5.0", "", "NaN", "Infinity", "-0", "1_0", "١٢"),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
);
const cursorParam = fc.oneof(
  fc.base64String({ maxLength: 120 }).map((s) => s.replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_")),
  fc.string({ maxLength: 300 }),
  fc
    .record({
      rankingId: fc.string({ maxLength: 30 }),
      offset: fc.integer({ min: -5, max: 20_000 }),
    })
    .map((c) => {
      try {
        return encodeCursor(c as unknown as Parameters<typeof encodeCursor>[0]);
      } catch {
        return "x";
      }
    }),
);
const queryPart = fc
  .record(
    {
      limit: intParam,
      cursor: cursorParam,
      explain: fc.oneof(fc.constantFrom("0", "1", "true", "false", "yes"), fc.string({ maxLength: 5 })),
      extra: fc.string({ maxLength: 10 }),
      dup: intParam,
    },
    { requiredKeys: [] },
  )
  .map((q) => {
    const parts: string[] = [];
    if (q.limit !== undefined) parts.push(`limit=${encodeURIComponent(q.limit)}`);
    if (q.dup !== undefined) parts.push(`limit=${encodeURIComponent(q.dup)}`);
    if (q.cursor !== undefined) parts.push(`cursor=${encodeURIComponent(q.cursor)}`);
    if (q.explain !== undefined) parts.push(`explain=${encodeURIComponent(q.explain)}`);
    if (q.extra !== undefined) parts.push(`${encodeURIComponent(q.extra) || "x"}=1`);
    return parts.length ? `?${parts.join("&")}` : "";
  });

const anyText = fc.oneof(
  fc.string({ maxLength: 60 }),
  fc.string({ unit: "binary", maxLength: 60 }),
  fc.constantFrom("\u0000", "a\u0000b", "\uD800", " ", "x".repeat(2100), "<script>", "🙂".repeat(10)),
);
const event = fc.record(
  {
    event_id: fc.oneof(uuid, fc.string({ maxLength: 10 }), fc.integer()),
    type: fc.oneof(fc.constantFrom("impression", "view", "click", "share", "dwell"), fc.string({ maxLength: 8 })),
    post_id: fc.oneof(uuid, fc.string({ maxLength: 10 }), fc.constant(null)),
    ts: fc.oneof(
      fc.integer({ min: Date.now() - 10 * 86_400_000, max: Date.now() + 86_400_000 }),
      fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
      fc.string({ maxLength: 10 }),
      fc.double(),
    ),
    dwell_ms: fc.oneof(fc.integer({ min: -10, max: 10_000_000 }), fc.double(), fc.string({ maxLength: 4 })),
    user_id: uuid,
    extra: fc.jsonValue({ maxDepth: 2 }),
  },
  { requiredKeys: [] },
);
const jsonBody = fc.oneof(
  { weight: 3, arbitrary: fc.record({ events: fc.array(event, { maxLength: 8 }) }) },
  { weight: 1, arbitrary: fc.record({ events: fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 4 }) }) },
  { weight: 2, arbitrary: fc.record({ text: anyText }, { requiredKeys: [] }) },
  {
    weight: 2,
    arbitrary: fc.record(
      { handle: fc.oneof(fc.stringMatching(/^[A-Za-z0-9_]{1,32}$/), anyText), display_name: anyText, bio: anyText },
      { requiredKeys: [] },
    ),
  },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
);
const body = fc.oneof(
  { weight: 6, arbitrary: jsonBody.map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 80 }) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => new Uint8Array(b)) },
  { weight: 1, arbitrary: fc.constantFrom('{"events":', "[]", "null", '{"events":[{}]}', "\u0000") },
  { weight: 2, arbitrary: fc.constant(null) },
  // Around and over the body limits (16 KiB writes, 256 KiB events): 413 or the route's answer.
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: 15 * 1024, max: 300 * 1024 })
      .map((n) => JSON.stringify({ events: [], text: "a".repeat(n) })),
  },
);
const contentType = fc.oneof(
  { weight: 6, arbitrary: fc.constant("application/json") },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      "application/json; charset=utf-8",
      "APPLICATION/JSON",
      "application/vnd.api+json",
      "text/plain",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
      "application/jsonx",
      "",
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }).filter((s) => /^[\x20-\x7e]*$/.test(s)) },
  { weight: 1, arbitrary: fc.constant(undefined) },
);

/** Who is asking: a pool user (tokens made in beforeAll; the last two are expired and non-UUID), nobody, or a bad credential. */
type Auth = { kind: "user"; index: number } | { kind: "raw"; value: string } | { kind: "none" };
const auth: fc.Arbitrary<Auth> = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: USERS + 1 }).map((index) => ({ kind: "user" as const, index })) },
  { weight: 1, arbitrary: fc.constant({ kind: "none" as const }) },
  {
    weight: 2,
    arbitrary: fc
      .oneof(
        fc.constantFrom(
          "Bearer",
          "Bearer ",
          "Basic dXNlcjpwdw==",
          "Bearer a.b.c",
          "bearer x",
          "Bearer eyJhbGciOiJub25lIn0.e30.",
        ),
        fc.string({ maxLength: 40 }).map((s) => `Bearer ${s}`),
        fc.string({ maxLength: 30 }),
      )
      .filter((s) => /^[\x20-\x7e]*$/.test(s))
      .map((value) => ({ kind: "raw" as const, value })),
  },
);

/** Every route of the API with its methods and path shape. */
const ROUTES: { methods: string[]; path: (id: string) => string; query?: boolean }[] = [
  { methods: ["GET"], path: () => "/healthz" },
  { methods: ["GET"], path: () => "/api/v1/feed", query: true },
  { methods: ["GET"], path: () => "/api/v1/trending", query: true },
  { methods: ["GET"], path: () => "/api/v1/discover/suggested-users", query: true },
  { methods: ["POST"], path: () => "/api/v1/events" },
  { methods: ["PUT"], path: () => "/api/v1/users/me" },
  { methods: ["POST"], path: () => "/api/v1/posts" },
  { methods: ["DELETE"], path: (id) => `/api/v1/posts/${id}` },
  { methods: ["PUT", "DELETE"], path: (id) => `/api/v1/follows/${id}` },
  { methods: ["PUT", "DELETE"], path: (id) => `/api/v1/posts/${id}/like` },
  { methods: ["POST"], path: (id) => `/api/v1/posts/${id}/comments` },
  { methods: ["DELETE"], path: (id) => `/api/v1/comments/${id}` },
  { methods: ["PUT", "DELETE"], path: (id) => `/api/v1/blocks/${id}` },
  { methods: ["GET"], path: (id) => `/api/v1/${id}` },
];
// fetch refuses TRACE and CONNECT; hostile-input.test.ts sends those over a raw socket.
const OTHER_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "PROPFIND", "MKCOL", "REPORT"];

const request = fc
  .record({
    route: fc.integer({ min: 0, max: ROUTES.length - 1 }),
    methodPick: fc.oneof(
      { weight: 5, arbitrary: fc.constant(-1) },
      fc.integer({ min: 0, max: OTHER_METHODS.length - 1 }),
    ),
    id: pathId,
    query: queryPart,
    auth,
    contentType,
    body,
    origin: fc.option(fc.constantFrom("https://evil.example", "null"), { nil: undefined }),
    requestId: fc.option(
      fc.string({ maxLength: 140 }).filter((s) => /^[\x20-\x7e]*$/.test(s)),
      { nil: undefined },
    ),
  })
  .map((r) => {
    const route = ROUTES[r.route] as (typeof ROUTES)[number];
    const own = route.methods[r.id.length % route.methods.length] as string;
    return {
      ...r,
      method: r.methodPick < 0 ? own : (OTHER_METHODS[r.methodPick] as string),
      path: route.path(r.id) + (route.query ? r.query : ""),
    };
  });

type Generated = typeof request extends fc.Arbitrary<infer T> ? T : never;

describe("fuzzing the public API on the real worker and stack", () => {
  let db: Awaited<ReturnType<typeof tempDatabase>>;
  let pool: pg.Pool;
  let redis: Redis;
  let origin: ServerType;
  let originUrl: string;
  let edge: WranglerDev;
  let dir: string;
  let chAdmin: ClickHouseClient;
  const jwtSecret = `fuzz-${randomBytes(16).toString("hex")}`;
  const originSecret = `fuzz-origin-${randomBytes(16).toString("hex")}`;
  const id = randomBytes(4).toString("hex");
  const ns = `tfuzz${id}:`;
  const chDatabase = `t_fuzz_${id}`;
  const stream = `t:events:fuzz${id}`;
  const users = Array.from({ length: USERS }, () => randomUUID());
  const tokens: string[] = [];

  beforeAll(async () => {
    db = await tempDatabase("fuzz");
    pool = new pg.Pool({ connectionString: db.url, max: 8 });
    // The teardown drops the database WITH (FORCE): a client still closing then gets 57P01 as an
    // 'error' event, which without a listener is an unhandled error that fails the whole run.
    pool.on("error", () => {});
    const c = await pool.connect();
    await migrate(c);
    c.release();
    // A ClickHouse database of this file's own (migrated, empty): the cold path and trending read it.
    chAdmin = createClient({ url: CH_URL });
    const ch = createClient({ url: CH_URL, database: chDatabase });
    await migrateClickHouse(chAdmin, ch, chDatabase);
    await ch.close();
    redis = new Redis(REDIS_URL);
    const port = await freePort();
    const app = new Hono().route(
      "/v1",
      writeApp({ pg: pool, redis, sharedSecret: originSecret, log: pino({ level: "silent" }) }),
    );
    origin = serve({ fetch: app.fetch, hostname: "127.0.0.1", port });
    originUrl = `http://127.0.0.1:${port}`;
    const vars = {
      JWT_SECRET: jwtSecret,
      ORIGIN_SHARED_SECRET: originSecret,
      ORIGIN_URL: originUrl,
      UPSTASH_REDIS_REST_URL: BRIDGE_URL,
      UPSTASH_REDIS_REST_TOKEN: BRIDGE_TOKEN,
      CLICKHOUSE_URL: CH_URL,
      CLICKHOUSE_DATABASE: chDatabase,
      EVENTS_STREAM: stream,
      INDEX_NAMESPACE: ns,
    };
    // The per-key limits raised: the fuzz is one client with a few users, and the limits
    // themselves are pinned in hostile-input.test.ts.
    if (RUNTIME === "workerd") {
      const w = await startPlainWorkerd(vars, { rateLimit: 1_000_000 });
      edge = { url: w.url, stop: w.stop, output: () => "" };
    } else {
      const toml = readFileSync(resolve(import.meta.dirname, "../../wrangler.toml"), "utf8")
        .replace(/^main = "([^"]+)"/m, (_m, main: string) => `main = "${resolve(import.meta.dirname, "../..", main)}"`)
        .replace(/simple = \{ limit = \d+, period = 60 \}/g, "simple = { limit = 1000000, period = 60 }");
      dir = mkdtempSync(join(tmpdir(), "edge-fuzz-"));
      writeFileSync(join(dir, "wrangler.toml"), toml);
      edge = await startWranglerDev({ config: join(dir, "wrangler.toml"), vars });
    }
    for (const u of users) tokens.push(await devToken(u, 3600, jwtSecret));
    // Two more kinds of credential the generator picks by index: expired, and a non-UUID subject.
    tokens.push(await devToken(users[0] as string, -120, jwtSecret));
    tokens.push(
      await new SignJWT({})
        .setProtectedHeader({ alg: "HS256" })
        .setSubject("not-a-uuid")
        .setExpirationTime("1h")
        .sign(new TextEncoder().encode(jwtSecret)),
    );
  });

  afterAll(async () => {
    await edge?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
    await new Promise<void>((r) => (origin ? origin.close(() => r()) : r()));
    if (redis) {
      await redis
        .del(stream, ...users.flatMap((u) => [seenKey(u), feedVersionKey(u), snapshotPointerKey(u), suggestKey(u)]))
        .catch(() => {});
      await dropKeys(redis, `${ns}*`).catch(() => {});
      redis.disconnect();
    }
    await pool?.end();
    await db?.drop();
    if (chAdmin) {
      await chAdmin.command({ query: `DROP DATABASE IF EXISTS ${chDatabase}` }).catch(() => {});
      await chAdmin.close();
    }
  }, 120_000);

  const toRequest = (g: Generated): FuzzRequest => {
    const headers: Record<string, string> = {};
    if (g.auth.kind === "user") headers.authorization = `Bearer ${tokens[g.auth.index]}`;
    if (g.auth.kind === "raw") headers.authorization = g.auth.value;
    if (g.contentType !== undefined) headers["content-type"] = g.contentType;
    if (g.origin) headers.origin = g.origin;
    if (g.requestId !== undefined) headers["x-request-id"] = g.requestId;
    const withBody = g.body !== null && !["GET", "HEAD"].includes(g.method);
    return { method: g.method, path: g.path, headers, body: withBody ? g.body : null };
  };

  /** One answer checked against the properties; `problem` says what broke, null when none. */
  async function send(req: FuzzRequest): Promise<Answer> {
    let res: Response;
    try {
      res = await fetch(`${edge.url}${req.path}`, {
        method: req.method,
        headers: req.headers,
        body: req.body,
        signal: AbortSignal.timeout(15_000),
      });
    } catch (err) {
      return { req, status: 0, problem: `no answer: ${(err as Error).message}` };
    }
    const text = await res.text();
    const ct = res.headers.get("content-type") ?? "";
    const problem = (() => {
      if (res.headers.get("x-content-type-options") !== "nosniff") return "no nosniff";
      if (res.status >= 500 && res.status !== 501) return `app 5xx: ${text.slice(0, 200)}`;
      if (res.status >= 400 || res.status === 501) {
        if (!ct.startsWith("application/json")) return `error not JSON (${ct}): ${text.slice(0, 120)}`;
        if (!/no-store/.test(res.headers.get("cache-control") ?? "")) return "error without no-store";
        if (req.method === "HEAD") return null;
        let parsed: { error?: { code?: unknown; message?: unknown } };
        try {
          parsed = JSON.parse(text);
        } catch {
          return `error body not JSON: ${text.slice(0, 120)}`;
        }
        const code = parsed.error?.code;
        if (typeof code !== "string" || typeof parsed.error?.message !== "string")
          return `not the envelope: ${text.slice(0, 120)}`;
        if (Object.keys(parsed).length !== 1) return `extra top-level fields: ${text.slice(0, 120)}`;
        if (STATUS_OF[code as keyof typeof STATUS_OF] !== res.status) return `code ${code} under status ${res.status}`;
        return null;
      }
      if (res.status === 204 || req.method === "HEAD" || req.method === "OPTIONS" || text === "") return null;
      if (!ct.startsWith("application/json")) return `success not JSON (${ct})`;
      try {
        JSON.parse(text);
      } catch {
        return "success body not JSON";
      }
      return null;
    })();
    return { req, status: res.status, problem };
  }

  it(`${RUNS} × ${BATCH} generated requests: no app 5xx, every error in the envelope, the stack healthy after`, async () => {
    const t0 = Date.now();
    let sent = 0;
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(fc.array(request, { minLength: BATCH, maxLength: BATCH }), async (batch) => {
        const reqs = batch.map(toRequest);
        const answers: Answer[] = [];
        let next = 0;
        await Promise.all(
          Array.from({ length: CONCURRENCY }, async () => {
            while (next < reqs.length) {
              const req = reqs[next++] as FuzzRequest;
              answers.push(await send(req));
            }
          }),
        );
        sent += answers.length;
        for (const a of answers) statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
        const bad = answers.filter((a) => a.problem !== null);
        if (bad.length) {
          const b = bad[0] as Answer;
          const shown = {
            ...b.req,
            body: b.req.body instanceof Uint8Array ? `<${b.req.body.length} bytes>` : b.req.body?.slice(0, 300),
          };
          throw new Error(`${b.problem} (status ${b.status}) for ${JSON.stringify(shown)}`);
        }
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true, interruptAfterTimeLimit: 170_000, markInterruptAsFailure: true },
    );
    const ms = Date.now() - t0;
    console.log(
      `fuzz: seed ${SEED}, ${sent} requests in ${(ms / 1000).toFixed(1)} s; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}`,
    );
    expect(sent).toBeGreaterThanOrEqual(RUNS * BATCH);

    // The stack is still healthy: the worker, the origin, an authenticated feed and a write.
    expect((await fetch(`${edge.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${originUrl}/v1/users/me`, { method: "PUT" })).status).toBe(401);
    const feed = await fetch(`${edge.url}/api/v1/feed?limit=5`, { headers: { authorization: `Bearer ${tokens[1]}` } });
    expect(feed.status, await feed.clone().text()).toBe(200);
    const me = await fetch(`${edge.url}/api/v1/users/me`, {
      method: "PUT",
      headers: { authorization: `Bearer ${tokens[2]}`, "content-type": "application/json" },
      body: JSON.stringify({ handle: `fuzz_${id}` }),
    });
    expect(me.status, await me.clone().text()).toBe(200);
    expect(edge.output()).not.toMatch(/uncaught exception|Error inside ProxyWorker/i);
  }, 240_000);
});

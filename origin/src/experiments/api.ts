/**
 * The operator API of ranking experiments, mounted at /v1/experiments beside the write API.
 * Only an operator reaches it: `Authorization: Bearer <OPERATOR_TOKEN>`, or a request the edge
 * signed (ORIGIN_SHARED_SECRET) on behalf of an operator (signed user `operator` or
 * `operator:<name>`). Anything else that carries credentials (a user's JWT, a
 * request the edge signed for a user) is a 403; no credentials at all is a 401.
 *
 *   GET  /v1/experiments                 list
 *   POST /v1/experiments                 create (a draft)             body: newExperimentSchema
 *   GET  /v1/experiments/:name           one, with its audit trail
 *   PUT  /v1/experiments/:name           replace the variants (draft) body: updateExperimentSchema
 *   POST /v1/experiments/:name/start     draft → running (one running at a time: else 409)
 *   POST /v1/experiments/:name/stop      running → stopped
 *   POST /v1/experiments/:name/promote   the variant (default: the candidate) to everyone
 *   GET  /v1/experiments/:name/results   the comparison table from ClickHouse (?daily=1 adds days)
 *
 * Every change is one PostgreSQL transaction that also appends to experiment_changes (action,
 * actor, detail). Debezium carries the row to Kafka; the projection (projection.ts) puts the
 * running experiments into Redis, where the edge reads them.
 */
import type { ClickHouseClient } from "@clickhouse/client";
import { Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type pg from "pg";
import type { Logger } from "pino";
import { hasSignatureHeaders, verifyRequest } from "#core/auth/origin-auth.ts";
import { ApiError } from "#core/errors.ts";
import { newExperimentSchema, promoteSchema, updateExperimentSchema, type Variant } from "#core/experiments/schema.ts";
import { ORIGIN_REQUEST_TTL_S, originRequestKey } from "#core/keys.ts";
import { errorResponse } from "../http-errors.ts";
import type { AnyRedis } from "../redis-cluster.ts";
import { jsonBody } from "../writes/json-body.ts";
import { inTransaction } from "../writes/tx.ts";
import { type ExperimentRow, experimentResults, getExperiment, toExperimentOut } from "./store.ts";

export type ExperimentsEnv = { Variables: { actor: string; requestId: string } };

export interface ExperimentsDeps {
  pg: pg.Pool;
  redis: AnyRedis;
  clickhouse: ClickHouseClient;
  operatorToken: string;
  sharedSecret: string;
  log: Logger;
}

const MAX_BODY_BYTES = 16 * 1024;
/** What the edge signs as the user of an operator's request: `operator` or `operator:<name>`. */
const SIGNED_OPERATOR_RE = /^operator(?::[A-Za-z0-9._@-]{1,64})?$/;
/** An optional name for the audit trail beside the operator token (X-Operator). */
const OPERATOR_NAME_RE = /^[A-Za-z0-9._@-]{1,64}$/;

/** Constant-time string comparison (length leaks, the content does not). */
function safeEqual(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  if (x.length !== y.length) return false;
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= (x[i] as number) ^ (y[i] as number);
  return diff === 0;
}

function operatorOnly(deps: ExperimentsDeps): MiddlewareHandler<ExperimentsEnv> {
  return async (c, next) => {
    const auth = c.req.header("authorization");
    const signed = hasSignatureHeaders((n) => c.req.header(n));
    const body = new Uint8Array(await c.req.arrayBuffer());
    // A signed request is judged by its signature (the edge may pass the caller's header on).
    if (signed) {
      const url = new URL(c.req.url);
      const result = await verifyRequest(
        deps.sharedSecret,
        { method: c.req.method, pathWithQuery: url.pathname + url.search, headers: (n) => c.req.header(n), body },
        Date.now(),
      );
      if (!result.ok) throw new ApiError("unauthorized", `request not signed by the edge: ${result.reason}`);
      if (!SIGNED_OPERATOR_RE.test(result.userId))
        throw new ApiError("forbidden", "the experiments API is for operators, not users");
      const fresh = await deps.redis.set(originRequestKey(result.signature), "1", "EX", ORIGIN_REQUEST_TTL_S, "NX");
      if (fresh !== "OK") throw new ApiError("conflict", "replayed request");
      c.set("actor", `edge:${result.userId}`);
      if (!c.get("requestId")) c.set("requestId", result.requestId);
    } else if (auth !== undefined) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
      if (!m || !safeEqual(m[1] as string, deps.operatorToken))
        throw new ApiError("forbidden", "the experiments API is for operators: this token is not the operator token");
      const name = c.req.header("x-operator");
      c.set("actor", name && OPERATOR_NAME_RE.test(name) ? `operator:${name}` : "operator");
    } else {
      throw new ApiError("unauthorized", "the experiments API needs the operator token (Authorization: Bearer …)");
    }
    await next();
  };
}

function nameParam(v: string | undefined): string {
  const name = v ?? "";
  if (!/^[a-z0-9][a-z0-9-]{0,47}$/.test(name)) throw new ApiError("bad_request", "name: must be an experiment name");
  return name;
}

function mapPgError(err: unknown): never {
  const e = err as { code?: string; constraint?: string };
  if (e.code === "23505" && e.constraint === "experiments_one_running")
    throw new ApiError("conflict", "another experiment is running: stop it first (one runs at a time)");
  if (e.code === "23505") throw new ApiError("conflict", "an experiment with this name exists");
  if (e.code === "23514") throw new ApiError("bad_request", `not allowed (${e.constraint ?? "check"})`);
  throw err;
}

const tx = <T>(pool: pg.Pool, fn: (db: pg.PoolClient) => Promise<T>): Promise<T> =>
  inTransaction(pool, fn, (err) => {
    if (err instanceof ApiError) throw err;
    return mapPgError(err);
  });

/** The experiment, locked for the change; 404 when there is none. */
async function lockExperiment(db: pg.PoolClient, name: string): Promise<ExperimentRow> {
  const r = await db.query<ExperimentRow>("SELECT * FROM experiments WHERE name = $1 FOR UPDATE", [name]);
  const row = r.rows[0];
  if (!row) throw new ApiError("not_found", `no experiment named ${name}`);
  return row;
}

async function record(db: pg.PoolClient, experimentId: string, action: string, actor: string, detail: unknown) {
  await db.query("INSERT INTO experiment_changes (experiment_id, action, actor, detail) VALUES ($1, $2, $3, $4)", [
    experimentId,
    action,
    actor,
    JSON.stringify(detail ?? {}),
  ]);
}

export function experimentsApp(deps: ExperimentsDeps): Hono<ExperimentsEnv> {
  const app = new Hono<ExperimentsEnv>();
  app.use(
    "*",
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: () => {
        throw new ApiError("payload_too_large", `request body over ${MAX_BODY_BYTES} bytes`);
      },
    }),
  );
  app.use("*", operatorOnly(deps));

  app.get("/", async (c) => {
    const r = await deps.pg.query<ExperimentRow>("SELECT * FROM experiments ORDER BY created_at DESC, name");
    return c.json({ experiments: r.rows.map(toExperimentOut) });
  });

  app.post("/", ...jsonBody(newExperimentSchema), async (c) => {
    const p = c.req.valid("json");
    const control = p.control ?? (p.variants[0] as Variant).name;
    const row = await tx(deps.pg, async (db) => {
      const r = await db.query<ExperimentRow>(
        `INSERT INTO experiments (name, description, variants, control, candidate)
         VALUES ($1, $2, $3, $4, $5) RETURNING *`,
        [p.name, p.description ?? "", JSON.stringify(p.variants), control, p.candidate ?? null],
      );
      const e = r.rows[0] as ExperimentRow;
      await record(db, e.id, "create", c.get("actor"), {
        variants: p.variants,
        control,
        candidate: p.candidate ?? null,
      });
      return e;
    });
    return c.json({ experiment: toExperimentOut(row) }, 201);
  });

  app.get("/:name", async (c) => {
    const found = await getExperiment(deps.pg, nameParam(c.req.param("name")));
    if (!found) throw new ApiError("not_found", `no experiment named ${c.req.param("name")}`);
    return c.json(found);
  });

  app.put("/:name", ...jsonBody(updateExperimentSchema), async (c) => {
    const name = nameParam(c.req.param("name"));
    const p = c.req.valid("json");
    const row = await tx(deps.pg, async (db) => {
      const e = await lockExperiment(db, name);
      if (e.status !== "draft")
        throw new ApiError("conflict", `only a draft can change its variants (this one is ${e.status})`);
      const control = p.control ?? (p.variants[0] as Variant).name;
      const candidate = p.candidate === undefined ? e.candidate : p.candidate;
      if (candidate !== null && (!p.variants.some((v) => v.name === candidate) || candidate === control))
        throw new ApiError("bad_request", `candidate: ${candidate} is not a non-control variant`);
      const r = await db.query<ExperimentRow>(
        `UPDATE experiments SET variants = $2, control = $3, candidate = $4, description = COALESCE($5, description)
         WHERE id = $1 RETURNING *`,
        [e.id, JSON.stringify(p.variants), control, candidate, p.description ?? null],
      );
      await record(db, e.id, "update", c.get("actor"), { variants: p.variants, control, candidate });
      return r.rows[0] as ExperimentRow;
    });
    return c.json({ experiment: toExperimentOut(row) });
  });

  app.post("/:name/start", async (c) => {
    const name = nameParam(c.req.param("name"));
    const row = await tx(deps.pg, async (db) => {
      const e = await lockExperiment(db, name);
      if (e.status !== "draft") throw new ApiError("conflict", `only a draft can start (this one is ${e.status})`);
      const r = await db.query<ExperimentRow>(
        "UPDATE experiments SET status = 'running', started_at = now() WHERE id = $1 RETURNING *",
        [e.id],
      );
      await record(db, e.id, "start", c.get("actor"), {});
      return r.rows[0] as ExperimentRow;
    });
    return c.json({ experiment: toExperimentOut(row) });
  });

  app.post("/:name/stop", async (c) => {
    const name = nameParam(c.req.param("name"));
    const row = await tx(deps.pg, async (db) => {
      const e = await lockExperiment(db, name);
      if (e.status !== "running")
        throw new ApiError("conflict", `only a running experiment can stop (this one is ${e.status})`);
      const r = await db.query<ExperimentRow>(
        "UPDATE experiments SET status = 'stopped', stopped_at = now() WHERE id = $1 RETURNING *",
        [e.id],
      );
      await record(db, e.id, "stop", c.get("actor"), { promoted: e.promoted });
      return r.rows[0] as ExperimentRow;
    });
    return c.json({ experiment: toExperimentOut(row) });
  });

  app.post("/:name/promote", ...jsonBody(promoteSchema), async (c) => {
    const name = nameParam(c.req.param("name"));
    const p = c.req.valid("json");
    const row = await tx(deps.pg, async (db) => {
      const e = await lockExperiment(db, name);
      if (e.status !== "running")
        throw new ApiError("conflict", `only a running experiment can promote (this one is ${e.status})`);
      const variant = p.variant ?? e.candidate;
      if (!variant) throw new ApiError("bad_request", "variant: this experiment has no candidate; name the variant");
      if (!e.variants.some((v) => v.name === variant))
        throw new ApiError("bad_request", `variant: no variant named ${variant}`);
      const r = await db.query<ExperimentRow>(
        "UPDATE experiments SET promoted = $2, promoted_at = now() WHERE id = $1 RETURNING *",
        [e.id, variant],
      );
      await record(db, e.id, "promote", c.get("actor"), { variant, previous: e.promoted });
      return r.rows[0] as ExperimentRow;
    });
    return c.json({ experiment: toExperimentOut(row) });
  });

  app.get("/:name/results", async (c) => {
    const name = nameParam(c.req.param("name"));
    const daily = c.req.query("daily") === "1";
    const out = await experimentResults(deps.pg, deps.clickhouse, name, { daily });
    if (!out) throw new ApiError("not_found", `no experiment named ${name}`);
    return c.json(out);
  });

  app.onError((err, c) => errorResponse(err, c, deps.log));
  return app;
}

/**
 * The OpenAPI document (edge/openapi.json, GET /openapi.json) against the app it describes:
 * the committed file is what `npm run openapi` writes now; every route the app serves is in it
 * (walking hono's route table) and every documented operation is served; each operation lists
 * the error statuses its middleware and handler can answer, each as the one envelope; the typed
 * client's operation table matches it.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { STATUS_OF } from "#core/errors.ts";
import { buildRequest, OPERATIONS } from "../../edge/client/index.ts";
import { operations } from "../../edge/src/api/contract.ts";
import { type OpenApiDocument, openApiDocument } from "../../edge/src/api/document.ts";
import { createApp } from "../../edge/src/app.ts";
import { OPENAPI_PATH, openApiText } from "../../scripts/openapi.ts";

type Json = Record<string, unknown>;
interface Operation {
  operationId: string;
  security?: unknown[];
  parameters?: { in: string; name: string; required?: boolean }[];
  requestBody?: Json;
  responses: Record<string, Json>;
}

const app = createApp();
const doc = openApiDocument(app);
const METHODS = ["get", "put", "post", "delete", "patch"];

/** Follows a `$ref` inside the document. */
function resolveRef<T = Json>(value: unknown): T {
  const ref = (value as { $ref?: string }).$ref;
  if (!ref) return value as T;
  return ref
    .slice(2)
    .split("/")
    .reduce<unknown>((node, key) => (node as Json)[key], doc) as T;
}

const documented = Object.entries(doc.paths).flatMap(([path, item]) =>
  Object.entries(item)
    .filter(([method]) => METHODS.includes(method))
    .map(([method, op]) => ({ method: method.toUpperCase(), path, op: op as Operation })),
);

/**
 * Pages that are not API operations: the reference page's assets, the dev-only explorer, and the
 * origin's signed publish to the live channel (internal; docs/api.md "Live channel").
 */
const NOT_OPERATIONS = new Set([
  "POST /internal/live/publish",
  "GET /docs/init.js",
  "GET /docs/swagger-ui-bundle.js",
  "GET /docs/swagger-ui.css",
  "GET /explore",
  "GET /explore/app.js",
  "GET /explore/app.css",
]);

describe("OpenAPI document", () => {
  it("edge/openapi.json is what `npm run openapi` generates now", () => {
    const committed = JSON.parse(readFileSync(OPENAPI_PATH, "utf8")) as unknown;
    const current = JSON.parse(openApiText()) as unknown;
    if (JSON.stringify(committed) !== JSON.stringify(current)) {
      expect.fail("edge/openapi.json is out of date: run npm run openapi (and commit the file)");
    }
    expect(doc.openapi).toBe("3.1.0");
  });

  it("lists every route the app serves, and serves every operation it lists", () => {
    const served = new Set(
      app.routes.filter((r) => r.method !== "ALL").map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, "{$1}")}`),
    );
    const listed = new Set(documented.map((d) => `${d.method} ${d.path}`));
    const missing = [...served].filter((r) => !listed.has(r) && !NOT_OPERATIONS.has(r));
    expect(missing, "served but not in the document").toEqual([]);
    expect(
      [...listed].filter((r) => !served.has(r)),
      "in the document but not served",
    ).toEqual([]);
    expect(listed.size).toBe(28);
  });

  it("gives every operation a unique operationId, the contract's own", () => {
    const ids = documented.map((d) => d.op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(new Set(ids)).toEqual(new Set(Object.keys(operations)));
  });

  it("answers every error of every operation in the one envelope, with X-Request-Id", () => {
    const envelope = resolveRef<{ properties: { error: { properties: { code: { enum: string[] } } } } }>(
      (doc.components as { schemas: Json }).schemas.Error,
    );
    expect(new Set(envelope.properties.error.properties.code.enum)).toEqual(new Set(Object.keys(STATUS_OF)));
    for (const { op } of documented) {
      for (const [status, raw] of Object.entries(op.responses)) {
        const response = resolveRef<{ headers?: Json; content?: Record<string, { schema: Json }> }>(raw);
        expect(response.headers?.["X-Request-Id"], `${op.operationId} ${status}: X-Request-Id`).toBeDefined();
        if (Number(status) < 400) continue;
        expect(response.content?.["application/json"]?.schema, `${op.operationId} ${status}`).toEqual({
          $ref: "#/components/schemas/Error",
        });
        if (status === "429") expect(response.headers?.["Retry-After"], op.operationId).toBeDefined();
      }
    }
  });

  it("lists for each operation the error statuses its middleware and handler can answer", () => {
    for (const { method, path, op } of documented) {
      const statuses = new Set(Object.keys(op.responses).map(Number));
      const want = new Set([500]);
      // Forwarded to the origin: not the edge's own writes (the event intake, the seen mark).
      const edgeWrite = op.operationId === "postEvents" || op.operationId === "markNotificationsSeen";
      const writes = path.startsWith("/api/v1/") && method !== "GET" && !edgeWrite;
      if (op.operationId !== "getHealth") want.add(429); // every other route is rate-limited
      if (op.security?.length) want.add(401);
      if (op.parameters?.length || op.requestBody) want.add(400);
      if (op.requestBody || writes || op.operationId === "postEvents") {
        want.add(413);
        want.add(415);
      }
      if (path.startsWith("/api/")) want.add(503); // Redis, ClickHouse or the origin unreachable
      if (writes) want.add(409); // the origin's replay guard and unique values
      if (/^DELETE \/api\/v1\/(posts|comments)\/\{id\}$/.test(`${method} ${path}`)) {
        want.add(403);
        want.add(404);
      }
      if (method === "PUT" && /\{(id|user_id)\}/.test(path)) want.add(404);
      if (method === "POST" && path.startsWith("/api/v1/posts")) want.add(404);
      for (const s of want) expect(statuses.has(s), `${op.operationId} documents ${s}`).toBe(true);
      const success = [...statuses].filter((s) => s < 400);
      expect(success, `${op.operationId}: one success status`).toHaveLength(1);
      for (const s of statuses)
        if (s >= 400) expect(STATUS_OF, String(s)).toSatisfy((t: Json) => Object.values(t).includes(s));
    }
  });

  it("documents the response headers: X-Cache on the cached reads, Server-Timing on the feed", () => {
    const headersOf = (id: string) => {
      const d = documented.find((x) => x.op.operationId === id) as (typeof documented)[number];
      const ok = Object.entries(d.op.responses).find(([s]) => Number(s) < 400)?.[1] as { headers: Json };
      return Object.keys(ok.headers);
    };
    expect(headersOf("getFeed")).toEqual(expect.arrayContaining(["X-Cache", "Server-Timing", "X-Request-Id"]));
    expect(headersOf("getTrending")).toContain("X-Cache");
    expect(headersOf("getSuggestedUsers")).toContain("X-Cache");
  });

  it("shows the bodies the worker and the origin validate, from their zod schemas", () => {
    const schemas = (doc.components as { schemas: Record<string, Json> }).schemas;
    const events = schemas.EventsRequest as { properties: { events: Json } };
    expect(events.properties.events).toMatchObject({
      minItems: 1,
      maxItems: 500,
      items: { $ref: "#/components/schemas/ClientEvent" },
    });
    expect(schemas.ClientEvent).toMatchObject({ required: ["type", "post_id"], additionalProperties: false });
    expect(schemas.NewPost).toMatchObject({ properties: { text: { minLength: 1, maxLength: 2000 } } });
    const uuid = (schemas.ClientEvent as { properties: { post_id: { pattern: string } } }).properties.post_id;
    expect(new RegExp(uuid.pattern).test("0198c0de-0000-7000-8000-00000000000A")).toBe(true);
    expect(new RegExp(uuid.pattern).test("not-a-uuid")).toBe(false);
  });
});

describe("typed client", () => {
  it("knows every operation by the document's method and path", () => {
    const fromDoc = Object.fromEntries(documented.map((d) => [d.op.operationId, [d.method, d.path]]));
    expect(OPERATIONS).toEqual(fromDoc);
  });

  it("takes only types from the worker: at run time it needs fetch and URL, nothing of edge/src or Node", () => {
    const source = readFileSync(new URL("../../edge/client/index.ts", import.meta.url), "utf8");
    const imports = [...source.matchAll(/^import\s+(type\s+)?[^;]*?from\s+"([^"]+)";/gm)].map((m) => ({
      typeOnly: Boolean(m[1]),
      spec: m[2] as string,
    }));
    const exports = [...source.matchAll(/^export\s+(type\s+)?\{[^}]*\}\s+from\s+"([^"]+)";/gm)].map((m) => ({
      typeOnly: Boolean(m[1]),
      spec: m[2] as string,
    }));
    expect(imports.length).toBeGreaterThan(0);
    expect([...imports, ...exports].filter((i) => !i.typeOnly)).toEqual([]);
  });

  it("builds a request without sending it", () => {
    const base = { baseUrl: "https://feed.example/", token: "t0" };
    expect(buildRequest(base, "getFeed", { query: { limit: 5, cursor: "a b", explain: true } })).toEqual({
      url: "https://feed.example/api/v1/feed?limit=5&cursor=a+b&explain=true",
      init: { method: "GET", headers: { authorization: "Bearer t0" } },
    });
    const like = buildRequest(base, "like", {
      params: { id: "p/1" },
      token: "t1",
      headers: { "x-request-id": "abcdefgh1" },
    });
    expect(like).toEqual({
      url: "https://feed.example/api/v1/posts/p%2F1/like",
      init: { method: "PUT", headers: { authorization: "Bearer t1", "x-request-id": "abcdefgh1" } },
    });
    const post = buildRequest(base, "createPost", { body: { text: "hi" } });
    expect(post.init).toMatchObject({
      method: "POST",
      body: '{"text":"hi"}',
      headers: { "content-type": "application/json" },
    });
  });
});

// The document type the routes return is plain JSON.
const _typed: OpenApiDocument = doc;
void _typed;

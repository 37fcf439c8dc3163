/**
 * Conformance of the chDB-backed ClickHouse gateway, driven through the real client libraries
 * (@clickhouse/client and @clickhouse/client-web) the way the origin and the edge use them, plus
 * raw fetch for protocol-level details. One gateway (one chDB data directory) per file; every
 * test uses its own table names and drops them.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { brotliCompressSync, deflateSync, gunzipSync, gzipSync, zstdCompressSync, zstdDecompressSync } from "node:zlib";
import {
  type ClickHouseClient,
  ClickHouseError,
  type ClickHouseSettings,
  createClient as createNodeClient,
  isProgressRow,
  isRow,
  TupleParam,
} from "@clickhouse/client";
import {
  createClient as createWebClient,
  type ClickHouseClient as WebClickHouseClient,
  ClickHouseError as WebClickHouseError,
  TupleParam as WebTupleParam,
} from "@clickhouse/client-web";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrateClickHouse } from "../../../origin/ch/migrate.ts";
import { type GatewayUnderTest, startGatewayUnderTest } from "./in-process.ts";

let gw: GatewayUnderTest;
let node: ClickHouseClient;
let web: WebClickHouseClient;
const created: string[] = [];

function uniqueName(prefix: string): string {
  const name = `${prefix}_${randomBytes(5).toString("hex")}`;
  created.push(name);
  return name;
}

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
}

/** Runs `fn`, expecting the client to throw a ClickHouseError with `code`. */
async function expectCode(fn: () => Promise<unknown>, code: string): Promise<Error> {
  try {
    await fn();
  } catch (err) {
    expect(err instanceof ClickHouseError || err instanceof WebClickHouseError).toBe(true);
    expect((err as ClickHouseError).code).toBe(code);
    return err as Error;
  }
  throw new Error(`expected ClickHouse error ${code}, got success`);
}

async function raw(sql: string, search: Record<string, string> = {}, init: RequestInit = {}): Promise<Response> {
  const qs = new URLSearchParams(search);
  return fetch(`${gw.url}/?${qs}`, {
    method: "POST",
    body: sql,
    ...init,
    headers: { Authorization: basic("default", gw.password), ...(init.headers as Record<string, string>) },
  });
}

beforeAll(async () => {
  gw = await startGatewayUnderTest({
    CH_GATEWAY_SESSIONS: "4",
    CH_GATEWAY_QUEUE_SIZE: "200",
    CH_GATEWAY_TIMEOUT_MS: "15000",
  });
  node = createNodeClient({ url: gw.url, password: gw.password, request_timeout: 30_000 });
  web = createWebClient({ url: gw.url, password: gw.password, request_timeout: 30_000 });
});

afterAll(async () => {
  if (!gw) return;
  for (const name of created.reverse()) {
    const isDb = name.startsWith("db_");
    await node.command({ query: `DROP ${isDb ? "DATABASE" : "TABLE"} IF EXISTS ${name}` }).catch(() => {});
  }
  await node.close();
  await web.close();
  await gw.close();
});

describe("health and ping", () => {
  it("GET /ping answers Ok. like a server, and both clients' ping() succeed", async () => {
    const res = await fetch(`${gw.url}/ping`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("Ok.\n");
    expect((await node.ping()).success).toBe(true);
    expect((await web.ping()).success).toBe(true);
  });
});

describe("query parameters round-trip exactly", () => {
  const nasty = "it's \"quoted\" \\ back\\slash\\' \n new\tline\r ✓ ünïcødé 🚀 \\N {x:String} ; -- not a comment";
  const values = {
    id: randomUUID(),
    ts: "2026-11-25 12:34:56.789",
    s: nasty,
    empty: "",
    tags: ["a", "b'c", "d\\e", "f,g]", "h\ni", "", nasty],
    ids: [randomUUID(), randomUUID()],
    n: null,
    n2: "not null",
    u: "18446744073709551615",
    i: "-9223372036854775808",
    f: 0.1 + 0.2,
  };
  const sql = `SELECT {id:UUID} AS id, {ts:DateTime64(3)} AS ts, {s:String} AS s, {empty:String} AS empty,
      {tags:Array(String)} AS tags, {ids:Array(UUID)} AS ids, {n:Nullable(String)} AS n,
      {n2:Nullable(String)} AS n2, {u:UInt64} AS u, {i:Int64} AS i, {f:Float64} AS f,
      toTypeName({ts:DateTime64(3)}) AS ts_type`;

  for (const [label, client] of [
    ["@clickhouse/client", () => node],
    ["@clickhouse/client-web", () => web],
  ] as const) {
    it(`via ${label}`, async () => {
      // Exact 64-bit values need them quoted (JSON numbers lose precision past 2^53).
      const rs = await client().query({
        query: sql,
        query_params: values,
        format: "JSONEachRow",
        clickhouse_settings: { output_format_json_quote_64bit_integers: 1 },
      });
      const [row] = (await rs.json()) as Array<Record<string, unknown>>;
      expect(row).toEqual({ ...values, ts_type: "DateTime64(3)" });
    });
  }

  it("a JS Date (sent as a unix timestamp with millis) binds to DateTime64(3)", async () => {
    const when = new Date("2026-11-25T01:02:03.456Z");
    const rs = await web.query({
      query: "SELECT toUnixTimestamp64Milli({t:DateTime64(3)}) AS ms",
      query_params: { t: when },
      format: "JSONEachRow",
    });
    expect(await rs.json()).toEqual([{ ms: when.getTime() }]);
  });

  it("the same values survive an insert and a parameterized point query over a table", async () => {
    const table = uniqueName("params_rt");
    await node.command({
      query: `CREATE TABLE ${table} (id UUID, s String, tags Array(String), n Nullable(String), u UInt64)
              ENGINE = MergeTree ORDER BY id`,
    });
    const row = { id: values.id, s: nasty, tags: values.tags, n: null, u: values.u };
    await web.insert({ table, values: [row], format: "JSONEachRow" });
    const rs = await node.query({
      query: `SELECT * FROM ${table} WHERE id = {id:UUID} AND s = {s:String} AND has({tags:Array(String)}, {t:String})`,
      query_params: { id: values.id, s: nasty, tags: values.tags, t: "b'c" },
      format: "JSONEachRow",
      clickhouse_settings: { output_format_json_quote_64bit_integers: 1 },
    });
    expect(await rs.json()).toEqual([row]);
  });

  it("an unset placeholder is the server's UNKNOWN_QUERY_PARAMETER", async () => {
    await expectCode(() => web.query({ query: "SELECT {missing:String}" }), "456");
  });
});

describe("inserts and materialized views", () => {
  it("100k rows inserted with JSONCompactEachRow are all counted", async () => {
    const table = uniqueName("bulk");
    await node.command({ query: `CREATE TABLE ${table} (id UInt64, note String) ENGINE = MergeTree ORDER BY id` });
    const rows = Array.from({ length: 100_000 }, (_, i) => [i, `row ${i} it's "q"`]);
    await node.insert({ table, values: rows, format: "JSONCompactEachRow" });
    const rs = await web.query({ query: `SELECT count() AS c, sum(id) AS s FROM ${table}`, format: "JSONEachRow" });
    expect(await rs.json()).toEqual([{ c: 100_000, s: (99_999 * 100_000) / 2 }]);
  });

  it("an insert fires a materialized view into a SummingMergeTree", async () => {
    const src = uniqueName("events");
    const agg = uniqueName("events_sum");
    const mv = uniqueName("events_mv");
    await node.command({
      query: `CREATE TABLE ${src} (post_id UUID, kind String, n UInt32) ENGINE = MergeTree ORDER BY post_id`,
    });
    await node.command({
      query: `CREATE TABLE ${agg} (post_id UUID, kind String, total UInt64) ENGINE = SummingMergeTree ORDER BY (post_id, kind)`,
    });
    await node.command({
      query: `CREATE MATERIALIZED VIEW ${mv} TO ${agg} AS SELECT post_id, kind, toUInt64(n) AS total FROM ${src}`,
    });
    const post = randomUUID();
    await web.insert({
      table: src,
      values: [
        { post_id: post, kind: "like", n: 1 },
        { post_id: post, kind: "like", n: 2 },
        { post_id: post, kind: "view", n: 5 },
      ],
      format: "JSONEachRow",
    });
    await node.insert({ table: src, values: [{ post_id: post, kind: "like", n: 4 }], format: "JSONEachRow" });
    const rs = await node.query({
      query: `SELECT kind, sum(total) AS total FROM ${agg} WHERE post_id = {p:UUID} GROUP BY kind ORDER BY kind`,
      query_params: { p: post },
      format: "JSONEachRow",
    });
    expect(await rs.json()).toEqual([
      { kind: "like", total: 7 },
      { kind: "view", total: 5 },
    ]);
  });
});

describe("errors carry the server's status and code", () => {
  it("syntax error → 400 / 62", async () => {
    await expectCode(() => node.query({ query: "SELEC 1" }), "62");
    await expectCode(() => web.query({ query: "SELEC 1" }), "62");
    const res = await raw("SELEC 1");
    expect(res.status).toBe(400);
    expect(res.headers.get("x-clickhouse-exception-code")).toBe("62");
    expect(res.headers.has("x-clickhouse-exception-tag")).toBe(false);
    expect(await res.text()).toMatch(/^Code: 62\. DB::Exception: .*\(SYNTAX_ERROR\) \(version [\d.]+\)\n$/s);
  });

  it("unknown table → 404 / 60", async () => {
    const missing = `missing_${randomBytes(4).toString("hex")}`;
    await expectCode(() => web.query({ query: `SELECT * FROM ${missing}` }), "60");
    const res = await raw(`SELECT * FROM ${missing}`);
    expect(res.status).toBe(404);
    expect(res.headers.get("x-clickhouse-exception-code")).toBe("60");
  });

  it("unknown setting → 404 / 115", async () => {
    // Not a setting the client knows either; the cast is what an untyped caller would send.
    const settings = { no_such_setting_xyz: 1 } as unknown as ClickHouseSettings;
    await expectCode(() => node.query({ query: "SELECT 1", clickhouse_settings: settings }), "115");
    const res = await raw("SELECT 1", { no_such_setting_xyz: "1" });
    expect(res.status).toBe(404);
    expect(res.headers.get("x-clickhouse-exception-code")).toBe("115");
  });

  it("bad credentials → 403 / 516 from every auth method", async () => {
    const badNode = createNodeClient({ url: gw.url, password: "wrong" });
    const badWeb = createWebClient({ url: gw.url, username: "nobody", password: gw.password });
    await expectCode(() => badNode.query({ query: "SELECT 1" }), "516");
    await expectCode(() => badWeb.query({ query: "SELECT 1" }), "516");
    expect((await badWeb.ping()).success).toBe(false);
    await badNode.close();
    await badWeb.close();
    const badHeaders: Array<Record<string, string>> = [
      { Authorization: basic("default", "nope") },
      { "X-ClickHouse-User": "default", "X-ClickHouse-Key": "nope" },
    ];
    for (const headers of badHeaders) {
      const res = await fetch(`${gw.url}/`, { method: "POST", body: "SELECT 1", headers });
      expect(res.status).toBe(403);
      expect(res.headers.get("x-clickhouse-exception-code")).toBe("516");
    }
    const noAuth = await fetch(`${gw.url}/?query=SELECT%201`);
    expect(noAuth.status).toBe(403);
    const urlAuth = await fetch(
      `${gw.url}/?${new URLSearchParams({ query: "SELECT 7", user: "default", password: gw.password })}`,
    );
    expect(await urlAuth.text()).toBe("7\n");
    const headerAuth = await fetch(`${gw.url}/`, {
      method: "POST",
      body: "SELECT 8",
      headers: { "X-ClickHouse-User": "default", "X-ClickHouse-Key": gw.password },
    });
    expect(await headerAuth.text()).toBe("8\n");
  });

  it("a query over its max_execution_time → 408 / 159, and the sessions keep working", async () => {
    const t0 = Date.now();
    await expectCode(
      () => web.query({ query: "SELECT sleep(3)", clickhouse_settings: { max_execution_time: 1 } }),
      "159",
    );
    await expectCode(
      () => node.query({ query: "SELECT count() FROM numbers(1e12)", clickhouse_settings: { max_execution_time: 1 } }),
      "159",
    );
    expect(Date.now() - t0).toBeLessThan(5000);
    const res = await raw("SELECT count() FROM numbers(1e12)", { max_execution_time: "0.5" });
    expect(res.status).toBe(408);
    expect(res.headers.get("x-clickhouse-exception-code")).toBe("159");
    // More queries than sessions: every session (recycled or not) answers.
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        node.query({ query: `SELECT ${i} AS i`, format: "JSONEachRow" }).then((r) => r.json()),
      ),
    );
    expect(answers).toEqual(Array.from({ length: 8 }, (_, i) => [{ i }]));
  });

  it("GET implies read-only and multi-statements are refused, as on the server", async () => {
    const get = await fetch(
      `${gw.url}/?${new URLSearchParams({ query: "CREATE TABLE x_never (a UInt8) ENGINE = Memory" })}`,
      {
        headers: { Authorization: basic("default", gw.password) },
      },
    );
    expect(get.headers.get("x-clickhouse-exception-code")).toBe("164");
    const multi = await raw("SELECT 1; SELECT 2");
    expect(multi.status).toBe(400);
    expect(multi.headers.get("x-clickhouse-exception-code")).toBe("62");
    expect(await multi.text()).toContain("Multi-statements are not allowed");
    const trailing = await raw("SELECT 'a;b' -- ; comment\n;");
    expect(await trailing.text()).toBe("a;b\n");
  });
});

describe("settings, database and output", () => {
  it("a setting in one request is not visible in the next on the same sessions", async () => {
    const read = async (client: ClickHouseClient | WebClickHouseClient, settings?: ClickHouseSettings) => {
      const rs = await (client as ClickHouseClient).query({
        query:
          "SELECT getSetting('max_threads') AS t, getSetting('output_format_json_quote_64bit_integers') AS q, toUInt64(1) AS one",
        format: "JSONEachRow",
        ...(settings ? { clickhouse_settings: settings } : {}),
      });
      return ((await rs.json()) as Array<Record<string, unknown>>)[0];
    };
    const baseline = await read(node);
    expect(baseline?.q).toBe(false);
    expect(baseline?.one).toBe(1);
    const changed = await read(web, { max_threads: 1, output_format_json_quote_64bit_integers: 1 });
    expect(changed).toEqual({ t: 1, q: true, one: "1" });
    expect(baseline?.t).not.toBe(1);
    // Twice as many reads as sessions, sequentially: each session is visited after the change.
    for (let i = 0; i < 8; i++) expect(await read(i % 2 ? node : web)).toEqual(baseline);
  });

  it("the database parameter selects the database for that request only", async () => {
    const db = uniqueName("db_gw");
    await node.command({ query: `CREATE DATABASE ${db}` });
    const inDb = createWebClient({ url: gw.url, password: gw.password, database: db });
    const nodeInDb = createNodeClient({ url: gw.url, password: gw.password, database: db });
    const table = `only_here_${randomBytes(3).toString("hex")}`;
    await nodeInDb.command({ query: `CREATE TABLE ${table} (a UInt8) ENGINE = MergeTree ORDER BY a` });
    await inDb.insert({ table, values: [{ a: 42 }], format: "JSONEachRow" });
    const rs = await inDb.query({ query: `SELECT a, currentDatabase() AS db FROM ${table}`, format: "JSONEachRow" });
    expect(await rs.json()).toEqual([{ a: 42, db }]);
    for (let i = 0; i < 6; i++) {
      const r = await node.query({ query: "SELECT currentDatabase() AS db", format: "JSONEachRow" });
      expect(await r.json()).toEqual([{ db: "default" }]);
    }
    await expectCode(() => node.query({ query: `SELECT * FROM ${table}` }), "60");
    await inDb.close();
    await nodeInDb.close();
  });

  it("64-bit integers come back from json() as numbers by default and quoted when asked, like a 25.8+ server", async () => {
    for (const client of [node, web]) {
      const query = "SELECT toUInt64(9007199254740991) AS u, toInt64(-42) AS i, toUInt32(7) AS small";
      const rs = await client.query({ query });
      const body = (await rs.json()) as { data: Array<Record<string, unknown>> };
      expect(body.data).toEqual([{ u: 9007199254740991, i: -42, small: 7 }]);
      const exact = await client.query({
        query: "SELECT toUInt64(18446744073709551615) AS u, toInt64(-42) AS i, toUInt32(7) AS small",
        clickhouse_settings: { output_format_json_quote_64bit_integers: 1 },
      });
      const quoted = (await exact.json()) as { data: Array<Record<string, unknown>> };
      expect(quoted.data).toEqual([{ u: "18446744073709551615", i: "-42", small: 7 }]);
    }
  });

  it("headers: query id echoed, format, content type, summary; gzip when asked", async () => {
    const queryId = randomUUID();
    const res = await raw("SELECT number FROM numbers(3) FORMAT JSONEachRow", { query_id: queryId });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-clickhouse-query-id")).toBe(queryId);
    expect(res.headers.get("x-clickhouse-format")).toBe("JSONEachRow");
    expect(res.headers.get("content-type")).toBe("application/x-ndjson; charset=UTF-8");
    const summary = JSON.parse(res.headers.get("x-clickhouse-summary") ?? "{}");
    expect(summary).toMatchObject({ result_rows: "3", written_rows: "0" });
    expect(Number(summary.elapsed_ns)).toBeGreaterThan(0);
    expect(await res.text()).toBe('{"number":0}\n{"number":1}\n{"number":2}\n');
    const generated = await raw("SELECT 1");
    expect(generated.headers.get("x-clickhouse-query-id")).toMatch(/^[0-9a-f-]{36}$/);
    expect(generated.headers.get("x-clickhouse-format")).toBe("TabSeparated");

    const gz = await raw(
      "SELECT 'zipped'",
      { enable_http_compression: "1" },
      { headers: { "Accept-Encoding": "gzip" } },
    );
    // fetch decodes Content-Encoding itself; either way the text must be intact.
    expect(await gz.text()).toBe("zipped\n");
    const compressed = createNodeClient({
      url: gw.url,
      password: gw.password,
      compression: { request: true, response: true },
    });
    const rs = await compressed.query({ query: "SELECT repeat('x', 1000) AS x", format: "JSONEachRow" });
    expect(await rs.json()).toEqual([{ x: "x".repeat(1000) }]);
    await compressed.close();
    expect(gunzipSync).toBeTypeOf("function");
  });

  it("long parameters sent as multipart/form-data bind like URL ones", async () => {
    const big = "y'".repeat(20_000);
    const rs = await node.query({
      query: "SELECT length({big:String}) AS n, {big:String} = repeat('y\\'', 20000) AS same",
      query_params: { big },
      use_multipart_params: true,
      format: "JSONEachRow",
    } as Parameters<ClickHouseClient["query"]>[0]);
    expect(await rs.json()).toEqual([{ n: 40000, same: 1 }]);
  });
});

describe("concurrency and back-pressure", () => {
  it("50 concurrent queries from both libraries are all answered correctly", async () => {
    const clients = [
      node,
      web,
      createNodeClient({ url: gw.url, password: gw.password }),
      createWebClient({ url: gw.url, password: gw.password }),
    ];
    const results = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        const client = clients[i % clients.length] as ClickHouseClient;
        const rs = await client.query({
          query: "SELECT toUInt32({i:UInt32} * 2) AS v, {s:String} AS s, sleep(0.05) AS z",
          query_params: { i, s: `n'${i}` },
          format: "JSONEachRow",
        });
        return (await rs.json()) as unknown;
      }),
    );
    expect(results).toEqual(Array.from({ length: 50 }, (_, i) => [{ v: i * 2, s: `n'${i}`, z: 0 }]));
    await Promise.all(clients.slice(2).map((c) => c.close()));
  });

  it("a full queue answers 503 with a clear ClickHouse-format message", async () => {
    // A second gateway on the same data directory (same-path chDB sessions coexist) with one
    // session and a queue of one.
    const small = await startGatewayUnderTest(
      { CH_GATEWAY_SESSIONS: "1", CH_GATEWAY_QUEUE_SIZE: "1", CH_GATEWAY_PASSWORD: gw.password },
      gw.dataDir,
    );
    try {
      const send = () =>
        fetch(`${small.url}/`, {
          method: "POST",
          body: "SELECT sleep(1)",
          headers: { Authorization: basic("default", gw.password) },
        }).then(async (r) => ({
          status: r.status,
          code: r.headers.get("x-clickhouse-exception-code"),
          text: await r.text(),
        }));
      const answers = await Promise.all([send(), send(), send()]);
      const rejected = answers.filter((a) => a.status === 503);
      expect(answers.filter((a) => a.status === 200)).toHaveLength(2);
      expect(rejected).toHaveLength(1);
      expect(rejected[0]?.code).toBe("202");
      expect(rejected[0]?.text).toMatch(
        /^Code: 202\. DB::Exception: Too many simultaneous queries: all 1 chDB sessions are busy/,
      );
      // Through the client: one of three simultaneous queries is refused with code 202.
      const smallClient = createWebClient({ url: small.url, password: gw.password });
      const settled = await Promise.allSettled(
        [0, 1, 2].map(() => smallClient.query({ query: "SELECT sleep(1)" }).then((r) => r.text())),
      );
      const failures = settled.filter((r): r is PromiseRejectedResult => r.status === "rejected");
      expect(failures.map((f) => (f.reason as WebClickHouseError).code)).toEqual(["202"]);
      await smallClient.close();
    } finally {
      await small.close({ keepData: true });
    }
  });
});

describe("hostile SQL: what the engine refuses", () => {
  /** A second gateway on the same data directory with no password (allowed on loopback only). */
  let open: GatewayUnderTest;
  beforeAll(async () => {
    open = await startGatewayUnderTest({ CH_GATEWAY_PASSWORD: "" }, gw.dataDir);
  });
  afterAll(async () => {
    await open?.close({ keepData: true });
  });

  /** GET with no credentials at all, as the outside probe sent it. */
  async function anonymousGet(sql: string): Promise<{ status: number; code: string | null; text: string }> {
    const res = await fetch(`${open.url}/?${new URLSearchParams({ query: sql })}`);
    return { status: res.status, code: res.headers.get("x-clickhouse-exception-code"), text: await res.text() };
  }

  async function post(sql: string): Promise<{ status: number; code: string | null; text: string }> {
    const res = await raw(sql);
    return { status: res.status, code: res.headers.get("x-clickhouse-exception-code"), text: await res.text() };
  }

  async function databaseExists(name: string): Promise<boolean> {
    const rs = await node.query({ query: `EXISTS DATABASE ${name}`, format: "JSONEachRow" });
    return ((await rs.json()) as Array<{ result: number }>)[0]?.result === 1;
  }

  it("file() and url() are refused with ACCESS_DENIED (403 / 497), with or without credentials, GET or POST", async () => {
    const file = await anonymousGet("SELECT * FROM file('/etc/hostname', 'LineAsString')");
    expect(file).toMatchObject({ status: 403, code: "497" });
    expect(file.text).toMatch(
      /^Code: 497\. DB::Exception: .*necessary to have the grant READ ON FILE.*\(ACCESS_DENIED\)/s,
    );
    const url = await anonymousGet(`SELECT * FROM url('${gw.url}/ping', 'LineAsString')`);
    expect(url).toMatchObject({ status: 403, code: "497" });
    expect(url.text).toContain("necessary to have the grant READ ON URL");
    const authed = await post("SELECT * FROM file('/etc/hostname', 'LineAsString')");
    expect(authed).toMatchObject({ status: 403, code: "497" });
    await expectCode(() => web.query({ query: `SELECT * FROM url('${gw.url}/ping', 'LineAsString')` }), "497");
  });

  it("every table function, engine and statement that reaches the host or the network is refused", async () => {
    const refused: Array<[string, RegExp]> = [
      ["SELECT * FROM s3('http://127.0.0.1:1/x.csv')", /READ ON S3/],
      ["SELECT * FROM remote('127.0.0.1:9000', system.one)", /READ ON REMOTE/],
      ["SELECT * FROM mysql('127.0.0.1:3306', 'd', 't', 'u', 'p')", /READ ON MYSQL/],
      ["SELECT * FROM postgresql('127.0.0.1:5432', 'test', 't', 'postgres', '')", /READ ON POSTGRES/],
      ["SELECT * FROM hdfs('hdfs://127.0.0.1:1/x', 'TSV', 'a String')", /READ ON HDFS/],
      ["SELECT * FROM jdbc('x', 'y', 'z')", /READ ON JDBC/],
      ["SELECT * FROM odbc('x', 'y', 'z')", /READ ON ODBC/],
      ["SELECT * FROM sqlite('/etc/passwd', 't')", /READ ON SQLITE/],
      ["SELECT * FROM redis('127.0.0.1:6379', 'k', 'k String')", /READ ON REDIS/],
      ["SELECT * FROM azureBlobStorage('http://127.0.0.1:1', 'c', 'b')", /READ ON AZURE/],
      ["INSERT INTO FUNCTION file('gw_out.tsv', 'TSV', 'a String') VALUES ('x')", /WRITE ON FILE/],
      ["CREATE TABLE gw_file_engine (a String) ENGINE = File(LineAsString, '/etc/hostname')", /TABLE ENGINE ON File/],
      [`CREATE TABLE gw_url_engine (a String) ENGINE = URL('${gw.url}/ping', LineAsString)`, /TABLE ENGINE ON URL/],
      [
        "CREATE TABLE gw_kafka_engine (a String) ENGINE = Kafka SETTINGS kafka_broker_list = '127.0.0.1:9092', kafka_topic_list = 't', kafka_group_name = 'g', kafka_format = 'JSONEachRow'",
        /TABLE ENGINE ON Kafka|READ ON KAFKA/,
      ],
      ["SYSTEM SHUTDOWN", /SYSTEM SHUTDOWN/],
    ];
    for (const [sql, why] of refused) {
      const r = await post(sql);
      expect({ sql, status: r.status, code: r.code }).toEqual({ sql, status: 403, code: "497" });
      expect(r.text).toMatch(why);
    }
    // executable() needs no grant; the gateway's user_scripts_path is an empty directory of its own.
    const exe = await post("SELECT * FROM executable('cat', 'TSV', 'a String', (SELECT 'x'))");
    expect(exe.status).not.toBe(200);
    expect(exe.text).toMatch(/does not exist inside user scripts folder .*gateway-access/);
    expect((await post("SELECT 'still alive'")).text).toBe("still alive\n");
    // The engine's parser check is plumbing: its SQL never shows in the client's error.
    const syntax = await post("SELEC 1");
    expect(syntax.code).toBe("62");
    expect(syntax.text).not.toContain("formatQuerySingleLine");
  });

  it("GET is read-only in the engine: readonly = 2, which the SQL cannot turn off", async () => {
    expect((await anonymousGet("SELECT getSetting('readonly')")).text).toBe("2\n");
    expect((await post("SELECT getSetting('readonly')")).text).toBe("0\n");
    const off = await anonymousGet("SELECT 1 SETTINGS readonly = 0");
    expect(off.code).toBe("164");
    expect(off.text).toContain("Cannot modify 'readonly' setting in readonly mode");
    // Read-only sessions are not handed on: the next POST may write again.
    const table = uniqueName("after_get");
    expect((await post(`CREATE TABLE ${table} (a UInt8) ENGINE = Memory`)).status).toBe(200);
  });

  it("a CREATE DATABASE hidden in a $$ string over GET does not run (the probe's bypass)", async () => {
    const db = uniqueName("db_dollar");
    const r = await anonymousGet(`SELECT $$'$$; CREATE DATABASE ${db}; SELECT 1 -- '`);
    expect(r.status).toBe(400);
    expect(r.code).toBe("62");
    expect(r.text).toContain("Multi-statements are not allowed");
    expect(await databaseExists(db)).toBe(false);
  });

  it("a second statement behind nested comments does not run (the probe's other bypass)", async () => {
    const db = uniqueName("db_nested");
    for (const send of [anonymousGet, post]) {
      // The engine's comment nests and ends after the quote; a flat lexer saw a string to the end.
      const r = await send(`SELECT 1 /* /* */ ' */ ; CREATE DATABASE ${db}; -- '`);
      expect(r.status).toBe(400);
      expect(r.code).toBe("62");
      expect(r.text).toContain("Multi-statements are not allowed");
      // All one comment for the engine: one statement, nothing created.
      expect((await send(`SELECT 1 /* /* */ ; CREATE DATABASE ${db}; /* */ */`)).text).toBe("1\n");
    }
    expect(await databaseExists(db)).toBe(false);
  });

  it("one statement per request is the engine's rule: a split the lexer cannot see (Unicode quotes) is refused", async () => {
    // ClickHouse reads ‘…’ as a string; the gateway's lexer does not, so it sees one statement.
    const db = uniqueName("db_unicode");
    for (const send of [anonymousGet, post]) {
      const r = await send(`SELECT ‘'’; CREATE DATABASE ${db}; SELECT 1 -- '`);
      expect(r.status).toBe(400);
      expect(r.code).toBe("62");
      expect(r.text).toContain("Multi-statements are not allowed");
    }
    expect(await databaseExists(db)).toBe(false);
    // A SET hidden the same way cannot stay behind on a session for the next request.
    await post("SELECT ‘'’; SET max_threads = 1; SELECT 1 -- '");
    for (let i = 0; i < 8; i++) {
      expect((await post("SELECT getSetting('max_threads') = 1")).text).toBe("0\n");
    }
  });

  it("the product's own work still runs: migrations, the sink's inserts, the edge's queries, INSERT … SELECT FROM numbers()", async () => {
    const db = uniqueName("db_product");
    const inDb = createNodeClient({ url: gw.url, password: gw.password, database: db });
    try {
      const { applied } = await migrateClickHouse(node, inDb, db);
      expect(applied.length).toBeGreaterThan(0);
      const table = uniqueName("bulk_numbers");
      await node.command({
        query: `CREATE TABLE ${table} (id UInt64, s String) ENGINE = ReplacingMergeTree ORDER BY id`,
      });
      await node.command({ query: `INSERT INTO ${table} SELECT number, toString(number) FROM numbers(10000)` });
      await web.insert({ table, values: [[10_000, "sink"]], format: "JSONCompactEachRow" });
      const rs = await web.query({
        query: `SELECT count() AS c FROM ${table} WHERE id >= {from:UInt64}`,
        query_params: { from: 0 },
        format: "JSONEachRow",
      });
      expect(await rs.json()).toEqual([{ c: 10001 }]);
    } finally {
      await inDb.close();
    }
  });
});

describe("the gateway behaves like a ClickHouse server where it once differed", () => {
  const clients = [
    ["@clickhouse/client", () => node],
    ["@clickhouse/client-web", () => web],
  ] as const;

  /** Every parameter type the official clients can send, with the value the row must hold. */
  const cases = (
    Tuple: typeof TupleParam,
  ): Array<{ name: string; type: string; value: unknown; expected: unknown }> => [
    { name: "map", type: "Map(String, UInt32)", value: { a: 1, "it's": 2 }, expected: { a: 1, "it's": 2 } },
    { name: "jsmap", type: "Map(String, Array(UInt8))", value: new Map([["k", [1, 2]]]), expected: { k: [1, 2] } },
    { name: "mapint", type: "Map(UInt8, String)", value: new Map([[7, "x"]]), expected: { "7": "x" } },
    { name: "emptymap", type: "Map(String, UInt8)", value: {}, expected: {} },
    { name: "arrmap", type: "Array(Map(String, UInt8))", value: [{ a: 1 }, {}], expected: [{ a: 1 }, {}] },
    {
      name: "tuple",
      type: "Tuple(UInt8, String, Nullable(String))",
      value: new Tuple([1, "it's", null]),
      expected: [1, "it's", null],
    },
    { name: "nested", type: "Array(Array(String))", value: [["a", "b'c"], []], expected: [["a", "b'c"], []] },
    { name: "nullnum", type: "Nullable(UInt8)", value: null, expected: null },
    { name: "num", type: "Nullable(UInt8)", value: 5, expected: 5 },
    { name: "arrnull", type: "Array(Nullable(String))", value: ["x", null], expected: ["x", null] },
    {
      name: "dt64",
      type: "DateTime64(3, 'Europe/Berlin')",
      value: new Date("2024-01-02T03:04:05.123Z"),
      expected: "2024-01-02 04:04:05.123",
    },
    {
      name: "dt64s",
      type: "DateTime64(3, 'Europe/Berlin')",
      value: "2024-01-02 04:04:05.123",
      expected: "2024-01-02 04:04:05.123",
    },
    { name: "ip4", type: "IPv4", value: "192.168.1.20", expected: "192.168.1.20" },
    { name: "ip6", type: "IPv6", value: "2001:db8::1", expected: "2001:db8::1" },
    { name: "enum", type: "Enum8('a' = 1, 'b' = 2)", value: "b", expected: "b" },
    { name: "dec", type: "Decimal(10, 3)", value: "123.456", expected: 123.456 },
    { name: "decnum", type: "Decimal(10, 3)", value: 1.5, expected: 1.5 },
    { name: "yes", type: "Bool", value: true, expected: true },
    { name: "no", type: "Bool", value: false, expected: false },
    { name: "bools", type: "Array(Bool)", value: [true, false], expected: [true, false] },
  ];

  for (const [label, client] of clients) {
    it(`Map, Tuple, nested Array, Nullable, DateTime64 with a timezone, IPv4/6, Enum, Decimal, Bool bind via ${label}`, async () => {
      const all = cases(label === "@clickhouse/client" ? TupleParam : (WebTupleParam as typeof TupleParam));
      const select = all.map((c) => `{${c.name}:${c.type}} AS ${c.name}, toTypeName(${c.name}) AS ${c.name}_t`);
      const rs = await client().query({
        query: `SELECT ${select.join(", ")}`,
        query_params: Object.fromEntries(all.map((c) => [c.name, c.value])),
        format: "JSONEachRow",
      });
      const [row] = (await rs.json()) as Array<Record<string, unknown>>;
      for (const c of all) {
        expect(row?.[c.name], c.name).toEqual(c.expected);
        expect(row?.[`${c.name}_t`], c.name).toBe(c.type);
      }
    });
  }

  it("a Map parameter: SELECT {v:Map(String, UInt32)} with param_v={'a':1}", async () => {
    const res = await raw("SELECT {v:Map(String, UInt32)} AS v FORMAT JSONEachRow", { param_v: "{'a':1}" });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('{"v":{"a":1}}\n');
    // A value that is not a Map is the engine's parse error, not something else running.
    const bad = await raw("SELECT {v:Map(String, UInt32)} AS v", { param_v: "{'a':1}) , (1" });
    expect(bad.status).not.toBe(200);
  });

  it("invalid SQL is SYNTAX_ERROR (400 / 62), as on a server (no implicit SELECT)", async () => {
    const res = await raw("foobar");
    expect(res.status).toBe(400);
    expect(res.headers.get("x-clickhouse-exception-code")).toBe("62");
    expect(await res.text()).toMatch(/^Code: 62\. DB::Exception: Syntax error/);
    for (const [, client] of clients) {
      const err = await expectCode(() => client().query({ query: "foobar" }), "62");
      expect(err.message).toMatch(/Syntax error/);
      await expectCode(() => client().command({ query: "foobar" }), "62");
    }
    expect(await (await raw("SELECT 1")).text()).toBe("1\n");
  });

  it("an INSERT with an empty body inserts nothing and succeeds, as on a server", async () => {
    const table = uniqueName("empty_insert");
    await node.command({ query: `CREATE TABLE ${table} (a UInt8) ENGINE = MergeTree ORDER BY a` });
    for (const format of ["JSONEachRow", "JSONCompactEachRow", "TabSeparated", "CSV"]) {
      const viaParam = await raw("", { query: `INSERT INTO ${table} FORMAT ${format}` });
      expect(viaParam.status, format).toBe(200);
      expect(await viaParam.text()).toBe("");
      const inBody = await raw(`INSERT INTO ${table} FORMAT ${format}\n`);
      expect(inBody.status, format).toBe(200);
    }
    expect((await raw(`INSERT INTO ${table} VALUES`)).status).toBe(200);
    expect(await (await raw(`SELECT count() FROM ${table}`)).text()).toBe("0\n");
    // The SQL is still checked, and rows still land.
    expect((await raw("", { query: `INSERT INTO ${table} FORMT JSONEachRow` })).status).toBe(400);
    await node.insert({ table, values: [{ a: 3 }], format: "JSONEachRow" });
    expect(await (await raw(`SELECT sum(a) FROM ${table}`)).text()).toBe("3\n");
  });

  it("readonly=1 and readonly=2 restrict like a server; GET cannot lower the enforced readonly", async () => {
    const table = uniqueName("ro");
    await node.command({ query: `CREATE TABLE ${table} (a UInt8) ENGINE = MergeTree ORDER BY a` });
    const insert = `INSERT INTO ${table} VALUES (1)`;
    for (const readonly of ["1", "2"] as const) {
      const settings: ClickHouseSettings = { readonly };
      await expectCode(() => node.command({ query: insert, clickhouse_settings: settings }), "164");
      await expectCode(() => web.command({ query: `DROP TABLE ${table}`, clickhouse_settings: { readonly } }), "164");
      const rs = await node.query({
        query: "SELECT getSetting('readonly') AS r",
        format: "JSONEachRow",
        clickhouse_settings: settings,
      });
      expect(await rs.json()).toEqual([{ r: Number(readonly) }]);
    }
    // readonly=1 also forbids changing settings in the query; readonly=2 allows it.
    await expectCode(
      () => node.query({ query: "SELECT 1 SETTINGS max_threads = 1", clickhouse_settings: { readonly: "1" } }),
      "164",
    );
    const two = await node.query({
      query: "SELECT 1 AS x SETTINGS max_threads = 1",
      format: "JSONEachRow",
      clickhouse_settings: { readonly: "2" },
    });
    expect(await two.json()).toEqual([{ x: 1 }]);
    // Other settings of the same request still apply under readonly=1.
    const both = await raw("SELECT getSetting('max_threads')", { readonly: "1", max_threads: "3" });
    expect(await both.text()).toBe("3\n");
    // readonly=0 on POST is the default; the table is untouched by all of the above.
    await node.command({ query: insert, clickhouse_settings: { readonly: "0" } });
    expect(await (await raw(`SELECT count() FROM ${table}`)).text()).toBe("1\n");
    // GET: stricter is fine, lower is the server's READONLY error.
    const get = (params: Record<string, string>) =>
      fetch(`${gw.url}/?${new URLSearchParams(params)}`, { headers: { Authorization: basic("default", gw.password) } });
    expect(await (await get({ query: "SELECT getSetting('readonly')", readonly: "1" })).text()).toBe("1\n");
    expect(await (await get({ query: "SELECT getSetting('readonly')", readonly: "2" })).text()).toBe("2\n");
    for (const lower of ["0", "abc"]) {
      const res = await get({ query: "SELECT getSetting('readonly')", readonly: lower });
      expect(res.headers.get("x-clickhouse-exception-code")).toBe("164");
      expect(await res.text()).toContain("Cannot modify 'readonly' setting in readonly mode");
    }
    // allow_ddl=0: no DDL, data changes still allowed; it cannot be switched back in the query.
    await expectCode(
      () =>
        node.command({
          query: `CREATE TABLE ${uniqueName("ddl")} (a UInt8) ENGINE = Memory`,
          clickhouse_settings: { allow_ddl: 0 },
        }),
      "392", // QUERY_IS_PROHIBITED: "DDL queries are prohibited for the user"
    );
    await node.command({ query: insert, clickhouse_settings: { allow_ddl: 0 } });
    expect(await (await raw(`SELECT count() FROM ${table}`)).text()).toBe("2\n");
    // The next request on the same sessions is back to the defaults.
    expect(await (await raw("SELECT getSetting('readonly'), getSetting('allow_ddl')")).text()).toBe("0\ttrue\n");
  });

  it("errors are compressed when the client asked for compression, so the node client shows them", async () => {
    const compressed = createNodeClient({
      url: gw.url,
      password: gw.password,
      compression: { request: true, response: true },
    });
    try {
      const err = await expectCode(() => compressed.query({ query: "SELECT * FROM no_such_table_i15" }), "60");
      expect(err.message).toMatch(/no_such_table_i15/);
      await expectCode(() => compressed.command({ query: "foobar" }), "62");
    } finally {
      await compressed.close();
    }
    const res = await raw(
      "SELECT * FROM no_such_table_i15",
      { enable_http_compression: "1" },
      { headers: { "Accept-Encoding": "gzip" } },
    );
    expect(res.status).toBe(404);
    expect(res.headers.get("content-encoding")).toBe("gzip");
    expect(res.headers.get("x-clickhouse-exception-code")).toBe("60");
    // fetch decodes gzip itself: the text arrived compressed and intact.
    expect(await res.text()).toMatch(/^Code: 60\. DB::Exception: /);
    const plain = await raw("SELECT * FROM no_such_table_i15");
    expect(plain.headers.get("content-encoding")).toBeNull();
  });

  it("JSONEachRow is application/x-ndjson; the other JSON formats application/json", async () => {
    const types: Record<string, string> = {
      JSONEachRow: "application/x-ndjson; charset=UTF-8",
      JSONStringsEachRow: "application/x-ndjson; charset=UTF-8",
      JSONLines: "application/x-ndjson; charset=UTF-8",
      NDJSON: "application/x-ndjson; charset=UTF-8",
      JSONEachRowWithProgress: "application/json; charset=UTF-8",
      JSON: "application/json; charset=UTF-8",
      JSONCompact: "application/json; charset=UTF-8",
    };
    for (const [format, type] of Object.entries(types)) {
      const res = await raw(`SELECT 1 AS x FORMAT ${format}`);
      expect(res.headers.get("content-type"), format).toBe(type);
      await res.text();
    }
    const array = await raw("SELECT 1 AS x FORMAT JSONEachRow", { output_format_json_array_of_rows: "1" });
    expect(array.headers.get("content-type")).toBe("application/json; charset=UTF-8");
    expect(JSON.parse(await array.text())).toEqual([{ x: 1 }]);
    const viaClient = await web.query({ query: "SELECT 1 AS x", format: "JSONEachRow" });
    expect(viaClient.response_headers["content-type"]).toBe("application/x-ndjson; charset=UTF-8");
  });

  it("JSONEachRowWithProgress carries rows and progress rows the client recognises", async () => {
    const rs = await node.query({ query: "SELECT number FROM numbers(5)", format: "JSONEachRowWithProgress" });
    const rows: unknown[] = [];
    const progress: unknown[] = [];
    for await (const batch of rs.stream()) {
      for (const r of batch) {
        const v = r.json();
        if (isRow(v)) rows.push((v as { row: unknown }).row);
        else if (isProgressRow(v)) progress.push((v as { progress: unknown }).progress);
      }
    }
    expect(rows).toEqual([0, 1, 2, 3, 4].map((n) => ({ number: n })));
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)).toMatchObject({ read_rows: "5", read_bytes: "40" });
  });

  it("64-bit and wider integers are quoted in every JSON format when the setting asks (off by default, as on a 25.8+ server)", async () => {
    const sql =
      "SELECT toUInt64(18446744073709551615) AS u, toInt64(-2) AS i, toUInt32(3) AS s, toInt128(-4) AS h, toUInt256(5) AS w";
    const quoted = { u: "18446744073709551615", i: "-2", s: 3, h: "-4", w: "5" };
    const clickhouse_settings = { output_format_json_quote_64bit_integers: 1 } as const;
    for (const [, client] of clients) {
      const each = await client().query({ query: sql, format: "JSONEachRow", clickhouse_settings });
      expect(await each.json()).toEqual([quoted]);
      const compact = await client().query({ query: sql, format: "JSONCompactEachRow", clickhouse_settings });
      expect(await compact.json()).toEqual([Object.values(quoted)]);
    }
    const text = await (await raw(`${sql} FORMAT JSONEachRow`)).text();
    expect(text).toBe('{"u":18446744073709551615,"i":-2,"s":3,"h":-4,"w":5}\n');
    const off = await (await raw(`${sql} FORMAT JSONEachRow`, { output_format_json_quote_64bit_integers: "0" })).text();
    expect(off).toBe(text);
  });

  it("a query that fails while writing its result leaves nothing behind for the next request", async () => {
    // chDB prepends a failed query's partial output to the session's next result; the gateway
    // retires such a session. Sessions are reused last-in first-out, so the next request would
    // land on the same one.
    for (const format of ["JSON", "JSONEachRowWithProgress", "TabSeparatedWithNames"]) {
      const failed = await raw(`SELECT throwIf(number = 2) FROM numbers(5) FORMAT ${format}`);
      expect(failed.headers.get("x-clickhouse-exception-code"), format).toBe("395");
      await failed.text();
      expect(await (await raw("SELECT 42")).text(), format).toBe("42\n");
    }
  });
});

describe("where clickhouse-js's own suites found the gateway unlike a server", () => {
  const clients = [
    ["@clickhouse/client", () => node],
    ["@clickhouse/client-web", () => web],
  ] as const;

  it("64-bit integers are unquoted in JSON by default (the server's default since 25.8); the setting quotes them", async () => {
    const plain = await raw("SELECT toUInt64(1) AS x FORMAT JSONEachRow");
    expect(await plain.text()).toBe('{"x":1}\n');
    const quoted = await raw("SELECT toUInt64(1) AS x FORMAT JSONEachRow", {
      output_format_json_quote_64bit_integers: "1",
    });
    expect(await quoted.text()).toBe('{"x":"1"}\n');
    const sql =
      "SELECT toUInt64(9007199254740991) AS u, toInt64(-2) AS i, toUInt32(3) AS s, getSetting('output_format_json_quote_64bit_integers') AS q";
    for (const [label, client] of clients) {
      const byDefault = await client().query({ query: sql, format: "JSONEachRow" });
      expect(await byDefault.json(), label).toEqual([{ u: 9007199254740991, i: -2, s: 3, q: false }]);
      const compact = await client().query({ query: sql, format: "JSONCompact" });
      expect(((await compact.json()) as { data: unknown[] }).data, label).toEqual([[9007199254740991, -2, 3, false]]);
      const asked = await client().query({
        query: sql,
        format: "JSONEachRow",
        clickhouse_settings: { output_format_json_quote_64bit_integers: 1 },
      });
      expect(await asked.json(), label).toEqual([{ u: "9007199254740991", i: "-2", s: 3, q: true }]);
    }
    // A client that sets it for every request (createClient's clickhouse_settings) gets it on each.
    const quoting = createWebClient({
      url: gw.url,
      password: gw.password,
      clickhouse_settings: { output_format_json_quote_64bit_integers: 1 },
    });
    try {
      const rs = await quoting.query({ query: "SELECT count() AS n FROM numbers(3)", format: "JSONEachRow" });
      expect(await rs.json()).toEqual([{ n: "3" }]);
    } finally {
      await quoting.close();
    }
  });

  it("zstd request bodies are accepted (as gzip, deflate and br are), and a zstd response is sent when asked", async () => {
    const table = uniqueName("zstd_body");
    await node.command({ query: `CREATE TABLE ${table} (id UInt32, s String) ENGINE = MergeTree ORDER BY id` });
    const rows = (from: number) =>
      Array.from({ length: 3 }, (_, k) => JSON.stringify({ id: from + k, s: `row ${from + k}` })).join("\n");
    const insert = `INSERT INTO ${table} FORMAT JSONEachRow`;
    const encoders: Array<[string, (b: Buffer) => Buffer]> = [
      ["zstd", (b) => zstdCompressSync(b)],
      ["gzip", (b) => gzipSync(b)],
      ["deflate", (b) => deflateSync(b)],
      ["br", (b) => brotliCompressSync(b)],
    ];
    for (const [i, [encoding, encode]] of encoders.entries()) {
      const res = await raw(
        "",
        { query: insert },
        {
          body: new Uint8Array(encode(Buffer.from(rows(i * 10)))),
          headers: { "Content-Encoding": encoding },
        },
      );
      expect(res.status, `${encoding}: ${await res.clone().text()}`).toBe(200);
      await res.text();
    }
    // The SQL itself in a zstd body, as a client compressing its requests sends it.
    const counted = await raw(
      "",
      {},
      {
        body: new Uint8Array(zstdCompressSync(Buffer.from(`SELECT count(), sum(id) FROM ${table}`))),
        headers: { "Content-Encoding": "zstd" },
      },
    );
    expect(await counted.text()).toBe("12\t192\n");
    // Asked for zstd (and offered others): the server's preference puts zstd first.
    const compressed = await raw(
      `SELECT s FROM ${table} ORDER BY id LIMIT 2`,
      { enable_http_compression: "1" },
      { headers: { "Accept-Encoding": "gzip, zstd" } },
    );
    expect(compressed.headers.get("content-encoding")).toBe("zstd");
    expect(zstdDecompressSync(Buffer.from(await compressed.arrayBuffer())).toString()).toBe("row 0\nrow 1\n");
    const gz = await raw("SELECT 1", { enable_http_compression: "1" }, { headers: { "Accept-Encoding": "gzip" } });
    expect(gz.headers.get("content-encoding")).toBe("gzip");
    await gz.text();
    // An encoding no server knows is still refused as the server does.
    const unknown = await raw("SELECT 1", {}, { headers: { "Content-Encoding": "compress" } });
    expect(unknown.status).toBe(415);
    expect(await unknown.text()).toMatch(
      /^Code: 779\. DB::Exception: Unknown Content-Encoding of HTTP request: compress/,
    );
  });

  it("an INSERT without data into a missing table or column fails like a server: 60 (404) / 16", async () => {
    const missing = `missing_${randomBytes(4).toString("hex")}`;
    // The clients skip an insert() of no values, so the SQL is sent as a command, body and all.
    for (const [, client] of clients) {
      await expectCode(() => client().command({ query: `INSERT INTO ${missing} FORMAT JSONEachRow` }), "60");
      await expectCode(() => client().command({ query: `INSERT INTO ${missing} (a) VALUES` }), "60");
    }
    const res = await raw("", { query: `INSERT INTO ${missing} FORMAT JSONEachRow` });
    expect(res.status).toBe(404);
    expect(res.headers.get("x-clickhouse-exception-code")).toBe("60");
    expect(await res.text()).toMatch(
      new RegExp(
        `^Code: 60\\. DB::Exception: Table default\\.${missing} does not exist\\. \\(UNKNOWN_TABLE\\) \\(version [\\d.]+\\)\\n$`,
      ),
    );
    const noDb = await raw("", { query: `INSERT INTO no_such_db_${missing}.t FORMAT JSONEachRow` });
    expect(noDb.status).toBe(404);
    expect(noDb.headers.get("x-clickhouse-exception-code")).toBe("81");
    await noDb.text();

    const table = uniqueName("empty_insert");
    await node.command({ query: `CREATE TABLE ${table} (a UInt8, b String) ENGINE = MergeTree ORDER BY a` });
    const column = await raw("", { query: `INSERT INTO ${table} (a, zz) FORMAT JSONCompactEachRow` });
    expect(column.status).toBe(500);
    expect(column.headers.get("x-clickhouse-exception-code")).toBe("16");
    expect(await column.text()).toMatch(
      new RegExp(
        `^Code: 16\\. DB::Exception: No such column zz in table default\\.${table} \\([0-9a-f-]+\\)\\. \\(NO_SUCH_COLUMN_IN_TABLE\\) \\(version [\\d.]+\\)\\n$`,
      ),
    );
    // The same answer as the same INSERT with rows gives.
    const withRows = await raw('[1,"x"]', { query: `INSERT INTO ${table} (a, zz) FORMAT JSONCompactEachRow` });
    expect(withRows.status).toBe(500);
    expect(withRows.headers.get("x-clickhouse-exception-code")).toBe("16");
    await withRows.text();
    for (const [label, client] of clients) {
      const err = await expectCode(
        () => client().command({ query: `INSERT INTO ${table} (a, zz) FORMAT JSONCompactEachRow` }),
        "16",
      );
      expect(err.message, label).toMatch(/No such column zz/);
      // Into columns that exist, nothing is inserted and nothing fails.
      await client().command({ query: `INSERT INTO ${table} FORMAT JSONEachRow` });
      await client().command({ query: `INSERT INTO ${table} (a, b) VALUES` });
    }
    const ok = await raw("", { query: `INSERT INTO ${table} (a, b) FORMAT JSONEachRow` });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe("");
    expect(await (await raw(`SELECT count() FROM ${table}`)).text()).toBe("0\n");
  });
});

/**
 * X-Request-Id from the client through the edge into the origin's write API: the real worker
 * (`wrangler dev`) in front of a real origin process (`origin/main.ts`, ORIGIN_PARTS=http) on
 * a database of its own. The same `request_id` is in the worker's log line and in the origin's
 * log line for that write; the replay guard does not key on it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { feedVersionKey } from "#core/keys.ts";
import { migrate } from "../../origin/db/migrate.ts";
import { waitFor } from "../../scripts/lib/wait.ts";
import { BRIDGE_TOKEN, BRIDGE_URL, REDIS_URL, tempDatabase } from "../../scripts/lib/world.ts";
import { freePort } from "../../scripts/lib/wrangler.ts";
import { devToken } from "../../scripts/token.ts";

const ROOT = resolve(import.meta.dirname, "../..");

interface Worker {
  url: string;
  output(): string;
  stop(): Promise<void>;
}

/**
 * `wrangler dev` at its default log level: the shared helper (scripts/lib/wrangler.ts) runs it at
 * `warn`, which drops the worker's console.log lines this test reads.
 */
async function startWorker(vars: Record<string, string>): Promise<Worker> {
  const port = await freePort();
  const persist = mkdtempSync(join(tmpdir(), "wrangler-reqid-"));
  const args = ["dev", "-c", resolve(ROOT, "wrangler.toml"), "--ip", "127.0.0.1", "--port", String(port)];
  args.push("--persist-to", persist, "--log-level", "log", "--show-interactive-dev-session=false");
  for (const [k, v] of Object.entries(vars)) args.push("--var", `${k}:${v}`);
  const child = spawn(join(ROOT, "node_modules/.bin/wrangler"), args, {
    cwd: ROOT,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true" },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true, // own process group: stop() ends workerd too
  });
  let out = "";
  child.stdout?.on("data", (d) => (out += String(d)));
  child.stderr?.on("data", (d) => (out += String(d)));
  const stop = async () => {
    if (child.exitCode === null && child.pid) {
      const exited = new Promise((r) => child.once("exit", r));
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {}
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      try {
        if (child.exitCode === null) process.kill(-child.pid, "SIGKILL");
      } catch {}
    }
    rmSync(persist, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`wrangler dev exited (${child.exitCode}):\n${out}`);
        return fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) })
          .then((r) => r.ok)
          .catch(() => false);
      },
      90_000,
      "wrangler dev",
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, stop, output: () => out };
}

/** The JSON log lines of a process's output (anything else skipped). */
function jsonLines(out: string): Record<string, unknown>[] {
  return out
    .split("\n")
    .map((l) => l.slice(l.indexOf("{")))
    .flatMap((l) => {
      try {
        const v = JSON.parse(l);
        return v && typeof v === "object" ? [v as Record<string, unknown>] : [];
      } catch {
        return [];
      }
    });
}

describe("X-Request-Id: edge → origin → both logs", () => {
  let db: Awaited<ReturnType<typeof tempDatabase>>;
  let origin: ChildProcess;
  let originOut = "";
  let edge: Worker;
  let redis: Redis;
  const jwtSecret = `request-id-${randomBytes(16).toString("hex")}`;
  const originSecret = `origin-${randomBytes(16).toString("hex")}`;
  const user = randomUUID();
  const ns = `reqid-${randomBytes(4).toString("hex")}:`;
  let token: string;

  const write = (method: string, path: string, body: unknown, requestId?: string) =>
    fetch(`${edge.url}/api/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        "content-type": "application/json",
        ...(requestId ? { "x-request-id": requestId } : {}),
      },
      body: JSON.stringify(body),
    });
  const originLines = (id: string) => jsonLines(originOut).filter((l) => l.request_id === id && l.msg === "request");
  const edgeLines = (id: string) => jsonLines(edge.output()).filter((l) => l.request_id === id && l.msg === "request");

  beforeAll(async () => {
    db = await tempDatabase("reqid");
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    const c = await pool.connect();
    await migrate(c);
    c.release();
    await pool.end();
    redis = new Redis(REDIS_URL);
    token = await devToken(user, 3600, jwtSecret);

    const port = await freePort();
    origin = spawn(resolve(ROOT, "node_modules/.bin/node"), ["--import", "tsx", "origin/main.ts"], {
      cwd: ROOT,
      env: {
        ...process.env,
        PATH: `${resolve(ROOT, "node_modules/.bin")}:${process.env.PATH}`,
        DATABASE_URL: db.url,
        ORIGIN_PARTS: "http",
        ORIGIN_HOST: "127.0.0.1",
        ORIGIN_PORT: String(port),
        ORIGIN_SHARED_SECRET: originSecret,
        // Its own serving-index keys: the write API writes each change to the index at once, and
        // the default namespace on this shared Redis is the local product's (check:index found
        // this test's user and posts there).
        INDEX_NAMESPACE: ns,
        LOG_LEVEL: "info",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    origin.stdout?.on("data", (d) => (originOut += String(d)));
    origin.stderr?.on("data", (d) => (originOut += String(d)));
    await waitFor(
      async () => {
        if (origin.exitCode !== null) throw new Error(`origin exited (${origin.exitCode}):\n${originOut}`);
        return fetch(`http://127.0.0.1:${port}/healthz`)
          .then((r) => r.ok)
          .catch(() => false);
      },
      60_000,
      "the origin to listen",
    );
    edge = await startWorker({
      JWT_SECRET: jwtSecret,
      ORIGIN_SHARED_SECRET: originSecret,
      ORIGIN_URL: `http://127.0.0.1:${port}`,
      UPSTASH_REDIS_REST_URL: BRIDGE_URL,
      UPSTASH_REDIS_REST_TOKEN: BRIDGE_TOKEN,
      INDEX_NAMESPACE: ns,
    });
  }, 180_000);

  afterAll(async () => {
    await edge?.stop();
    if (origin && origin.exitCode === null) {
      const exited = new Promise((r) => origin.once("exit", r));
      origin.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (origin.exitCode === null) origin.kill("SIGKILL");
    }
    await redis?.del(feedVersionKey(user));
    if (redis) {
      const keys: string[] = [];
      for await (const batch of redis.scanStream({ match: `${ns}*`, count: 1000 })) keys.push(...(batch as string[]));
      if (keys.length) await redis.unlink(...keys);
    }
    redis?.disconnect();
    await db?.drop();
  }, 60_000);

  it("a client's X-Request-Id is answered, forwarded and logged by the worker and the origin", async () => {
    const id = `it-${randomBytes(8).toString("hex")}`;
    const res = await write("PUT", "/users/me", { handle: `rid${randomBytes(3).toString("hex")}` }, id);
    expect(res.status, await res.clone().text()).toBe(200);
    expect(res.headers.get("x-request-id")).toBe(id);

    await waitFor(async () => originLines(id).length > 0, 10_000, "the origin's log line");
    const [o] = originLines(id);
    expect(o).toMatchObject({ request_id: id, method: "PUT", path: "/v1/users/me", status: 200, service: "origin" });
    await waitFor(async () => edgeLines(id).length > 0, 15_000, "the worker's log line");
    const [e] = edgeLines(id);
    expect(e).toMatchObject({ request_id: id, method: "PUT", path: "/api/v1/users/me", status: 200, user_id: user });
  });

  it("without one, the id the edge made and returned is the one both logs carry", async () => {
    const res = await write("POST", "/posts", { text: "hello from the request-id test" });
    expect(res.status, await res.clone().text()).toBe(201);
    const id = res.headers.get("x-request-id") ?? "";
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    await waitFor(async () => originLines(id).length > 0, 10_000, "the origin's log line");
    expect(originLines(id)[0]).toMatchObject({ path: "/v1/posts", status: 201 });
    await waitFor(async () => edgeLines(id).length > 0, 15_000, "the worker's log line");
    expect(edgeLines(id)[0]).toMatchObject({ path: "/api/v1/posts", status: 201 });
  });

  it("two different writes with the same request id both go through (the replay guard keys on the signature)", async () => {
    const id = `same-${randomBytes(8).toString("hex")}`;
    const a = await write("POST", "/posts", { text: "first" }, id);
    const b = await write("POST", "/posts", { text: "second" }, id);
    expect([a.status, b.status]).toEqual([201, 201]);
    const [pa, pb] = [(await a.json()) as { post: { id: string } }, (await b.json()) as { post: { id: string } }];
    expect(pa.post.id).not.toBe(pb.post.id);
    await waitFor(async () => originLines(id).length === 2, 10_000, "both origin log lines");
    expect(originLines(id).map((l) => l.status)).toEqual([201, 201]);
  });
});

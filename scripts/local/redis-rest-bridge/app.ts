/**
 * The bridge's HTTP face (Hono on node:http) and its lifecycle. `createRedisBridge` builds the
 * whole thing from a config so tests and benchmarks can run it in-process on port 0.
 *
 * Routes: `POST /` one command, `POST /pipeline`, `POST /multi-exec`, the Upstash path form
 * (`GET /get/key`, `POST /set/key` with the value as body, query parameters appended as further
 * arguments), server-sent-events `POST /subscribe/<channel>` and `/psubscribe/<pattern>`
 * (subscribe.ts), `GET /healthz` (liveness, reports Redis) and `GET /readyz` (503 while Redis does
 * not answer). PUT works wherever POST does and HEAD wherever GET does, as on Upstash; any other
 * method is 405. Everything but the health routes needs `Authorization: Bearer <REDIS_BRIDGE_TOKEN>`
 * or, as Upstash documents, `?_token=<REDIS_BRIDGE_TOKEN>`.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type ServerType, serve } from "@hono/node-server";
import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { Logger } from "pino";
import { ApiError } from "#core/errors.ts";
import { CONTRACT_VERSION, SERVICE_NAME } from "#core/health.ts";
import type { Part } from "../../../origin/src/lifecycle.ts";
import { AclProvisioner, aclRules, aclUserName, readOrCreateSecret } from "./acl.ts";
import { ClusterPool, clusterNodeUrls } from "./cluster.ts";
import type { BridgeConfig } from "./config.ts";
import {
  parseCommandBody,
  parseCommandListBody,
  type RedisArg,
  type ResponseEncoding,
  responseEncodingOf,
} from "./encoding.ts";
import { BridgeExecutor } from "./executor.ts";
import { RedisPool, sendRaw } from "./pool.ts";
import { Subscriptions } from "./subscribe.ts";

type BridgeEnv = { Variables: { commands: string[]; logPath: string } };

/** How long a health check waits for Redis's PONG. */
const HEALTH_PING_TIMEOUT_MS = 1000;
/** Log at most this many command names per request (a pipeline may hold thousands). */
const LOGGED_COMMANDS = 20;

/** A lifecycle part (origin/src/lifecycle.ts), so `runProcess` runs it like the origin's parts. */
export interface RedisBridge extends Part {
  readonly app: Hono<BridgeEnv>;
  /** Listens on config.host:config.port (0 = a free port) once Redis answered or 2 s passed. */
  start(): Promise<{ port: number; url: string }>;
  /** Stops accepting, lets in-flight requests finish (bounded by the shutdown timeout), closes Redis. */
  stop(): Promise<void>;
}

function digest(token: string): Buffer {
  return createHash("sha256").update(token).digest();
}

/**
 * Constant-time token check: both sides hashed first so lengths never leak through timing. The
 * token comes from `Authorization: Bearer …` or, when that header is absent, from `?_token=…`.
 */
function tokenMatches(header: string | undefined, queryToken: string | undefined, expected: Buffer): boolean {
  const match = /^Bearer\s+(.+)$/i.exec(header ?? "");
  const token = header === undefined ? queryToken : match?.[1]?.trim();
  const given = digest(token ?? "");
  return timingSafeEqual(given, expected) && token !== undefined && token !== "";
}

/** Methods Upstash accepts; anything else is 405. */
const ALLOWED_METHODS = new Set(["GET", "HEAD", "POST", "PUT"]);

function json(c: Context, status: number, body: unknown): Response {
  return c.body(JSON.stringify(body), status as 200, { "content-type": "application/json" });
}

async function pingRedis(pool: RedisPool | ClusterPool): Promise<{ ok: boolean; ms?: number; error?: string }> {
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      sendRaw(pool.shared, ["PING"]),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error("no PONG within 1 s")), HEALTH_PING_TIMEOUT_MS);
      }),
    ]);
    return { ok: true, ms: Math.round((performance.now() - t0) * 10) / 10 };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

export function createRedisBridge(config: BridgeConfig, log: Logger): RedisBridge {
  const cluster = config.clusterNodes.length > 0;
  /** Where Redis is, for logs: the single URL or the cluster's seeds. */
  const target = cluster ? config.clusterNodes.map(redactUrl).join(",") : redactUrl(config.redisUrl);
  const user = {
    username: aclUserName(config.aclUser, config.allowCommands),
    password: readOrCreateSecret(config.aclPasswordFile),
  };
  const rules = aclRules(config.allowCommands);
  // ACL users live per node: in cluster mode every node gets the user (the seeds plus what CLUSTER SLOTS lists).
  const acl =
    config.aclUser === ""
      ? null
      : {
          user,
          ensure: async () => {
            const urls = cluster ? await clusterNodeUrls(config.clusterNodes) : [config.redisUrl];
            await Promise.all(urls.map((u) => new AclProvisioner(u, user, rules).ensure()));
          },
        };
  let provisioning: Promise<boolean> | null = null;
  const provision = (why: string): Promise<boolean> => {
    if (!acl) return Promise.resolve(true);
    provisioning ??= (async () => {
      try {
        await acl.ensure();
        log.info({ user: acl.user.username, why }, "redis ACL user provisioned");
        return true;
      } catch (err) {
        log.warn(
          { user: acl.user.username, why, err: (err as Error).message },
          "could not provision the redis ACL user",
        );
        return false;
      } finally {
        provisioning = null;
      }
    })();
    return provisioning;
  };
  let lastAuthRepair = 0;
  const poolOptions = {
    size: config.poolSize,
    commandTimeoutMs: config.commandTimeoutMs,
    ...(acl
      ? {
          auth: acl.user,
          // E.g. Redis restarted and lost the in-memory user: recreate it (at most once a second).
          onAuthFailure: () => {
            if (Date.now() - lastAuthRepair < 1000) return;
            lastAuthRepair = Date.now();
            void provision("redis refused the bridge's credentials");
          },
        }
      : {}),
  };
  const pool = cluster
    ? new ClusterPool({ nodes: config.clusterNodes, ...poolOptions }, log.child({ part: "redis-cluster-pool" }))
    : new RedisPool({ url: config.redisUrl, ...poolOptions }, log.child({ part: "redis-pool" }));
  const executor = new BridgeExecutor(pool, {
    allowCommands: config.allowCommands,
    commandTimeoutMs: config.commandTimeoutMs,
  });
  const subscriptions = new Subscriptions(
    {
      // A cluster forwards PUBLISH to every node, so one node's subscription sees all of it.
      url: cluster ? (config.clusterNodes[0] as string) : config.redisUrl,
      connectTimeoutMs: config.commandTimeoutMs,
      ...(acl ? { auth: acl.user } : {}),
    },
    log.child({ part: "redis-subscriber" }),
  );
  const expectedToken = digest(config.token);
  let inFlight = 0;
  let drained: (() => void) | null = null;

  const app = new Hono<BridgeEnv>();

  app.use(async (c, next) => {
    const t0 = performance.now();
    try {
      await next();
    } finally {
      const path = c.get("logPath") ?? c.req.path;
      const line = {
        method: c.req.method,
        path,
        status: c.res.status,
        ms: Math.round((performance.now() - t0) * 10) / 10,
        ...(c.get("commands") ? commandSummary(c.get("commands")) : {}),
      };
      if (path === "/healthz" || path === "/readyz") log.debug(line, "request");
      else log.info(line, "request");
    }
  });

  const health = async (c: Context<BridgeEnv>, strict: boolean) => {
    const redis = await pingRedis(pool);
    const body = {
      status: redis.ok ? "ok" : "degraded",
      service: SERVICE_NAME,
      component: "redis-bridge",
      mode: cluster ? "cluster" : "single",
      version: CONTRACT_VERSION,
      redis,
      pool: pool.stats(),
    };
    return json(c, strict && !redis.ok ? 503 : 200, body);
  };
  app.get("/healthz", (c) => health(c, false));
  app.get("/readyz", (c) => health(c, true));

  app.use(async (c, next) => {
    // Path-form URLs carry keys and values: log only the command's position, never the path.
    if (!["/", "/pipeline", "/multi-exec"].includes(c.req.path)) c.set("logPath", "/:command/*");
    if (!ALLOWED_METHODS.has(c.req.method)) {
      return c.body(
        JSON.stringify({ error: `ERR method ${c.req.method} is not allowed; use GET, HEAD, POST or PUT` }),
        405,
        {
          "content-type": "application/json",
          allow: "GET, HEAD, POST, PUT",
        },
      );
    }
    if (!tokenMatches(c.req.header("authorization"), c.req.query("_token"), expectedToken)) {
      return json(c, 401, { error: "Unauthorized" });
    }
    await next();
  });
  app.use(
    bodyLimit({
      maxSize: config.maxBodyBytes,
      onError: (c) => json(c, 413, { error: `ERR request body is larger than ${config.maxBodyBytes} bytes` }),
    }),
  );

  const encodingOf = (c: Context): ResponseEncoding => responseEncodingOf(c.req.header("upstash-encoding"));

  app.on(["POST", "PUT"], "/", async (c) => {
    const args = parseCommandBody(await c.req.text());
    c.set("commands", [args[0] as string]);
    const reply = await executor.command(args, encodingOf(c));
    return json(c, reply.status, reply.body);
  });
  app.on(["POST", "PUT"], "/pipeline", async (c) => {
    const commands = parseCommandListBody(await c.req.text());
    c.set(
      "commands",
      commands.map((cmd) => cmd[0] as string),
    );
    return json(c, 200, await executor.pipeline(commands, encodingOf(c)));
  });
  app.on(["POST", "PUT"], "/multi-exec", async (c) => {
    const commands = parseCommandListBody(await c.req.text());
    c.set(
      "commands",
      commands.map((cmd) => cmd[0] as string),
    );
    const reply = await executor.multiExec(commands, encodingOf(c));
    return json(c, reply.status, reply.body);
  });
  // Upstash's path form: `/set/key/value`, each segment URL-decoded; a POST/PUT body is the next
  // argument, as bytes; then each query parameter, as `name value` (`?EX=100` → EX 100) or just
  // `name` when it has no value (`?NX`). `_token` is the credential, not an argument.
  app.on(["GET", "POST", "PUT"], "/*", async (c) => {
    const args: RedisArg[] = c.req.path
      .split("/")
      .filter((s) => s !== "")
      .map((s) => {
        try {
          return decodeURIComponent(s);
        } catch {
          throw new ApiError("bad_request", "ERR malformed percent-encoding in the path");
        }
      });
    if (args.length === 0) throw new ApiError("bad_request", "ERR no command in the path");
    const name = String(args[0]).toUpperCase();
    c.set("commands", [name]);
    if (name === "SUBSCRIBE" || name === "PSUBSCRIBE") {
      const stream = await subscriptions.stream(
        name === "SUBSCRIBE" ? "subscribe" : "psubscribe",
        args.slice(1).map(String),
        c.req.raw.signal,
      );
      return new Response(stream, {
        status: 200,
        headers: {
          "content-type": "text/event-stream",
          "cache-control": "no-cache",
          connection: "keep-alive",
          "x-accel-buffering": "no",
        },
      });
    }
    if (c.req.method !== "GET") {
      const body = Buffer.from(await c.req.arrayBuffer());
      if (body.length > 0) args.push(body);
    }
    for (const [key, value] of new URL(c.req.url).searchParams) {
      if (key === "_token") continue;
      args.push(key);
      if (value !== "") args.push(value);
    }
    const reply = await executor.command(args, encodingOf(c));
    return json(c, reply.status, reply.body);
  });

  app.notFound((c) => json(c, 404, { error: `ERR no route for ${c.req.method} ${c.req.path}` }));
  app.onError((err, c) => {
    if (err instanceof ApiError) {
      if (err.status >= 500) log.warn({ err: err.message }, "redis unavailable");
      return json(c, err.status, { error: err.message });
    }
    log.error({ err }, "unhandled bridge error");
    return json(c, 500, { error: "ERR internal bridge error" });
  });

  let server: ServerType | null = null;
  let stopping: Promise<void> | null = null;

  return {
    name: "redis-bridge",
    app,
    health: () => ({ ok: server !== null && stopping === null, detail: pool.stats() }),
    async start() {
      await provision("start");
      pool.connectShared();
      if (!(await pool.waitReady(2000))) {
        log.warn({ redis: target }, "Redis is not answering yet; serving 503s until it does");
      }
      const port = await new Promise<number>((resolve, reject) => {
        server = serve({ fetch: app.fetch, hostname: config.host, port: config.port }, (info) => resolve(info.port));
        server.once("error", reject);
      });
      // Counted at the socket level: a request is done once its response is fully written, which
      // is after Hono's handlers return, so shutdown never cuts a response mid-flight.
      server?.on("request", (_req, res: ServerResponse) => {
        inFlight++;
        res.once("close", () => {
          inFlight--;
          if (inFlight === 0) drained?.();
        });
      });
      const address = (server as unknown as { address(): AddressInfo }).address();
      const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
      log.info(
        { host: config.host, port, redis: target, mode: cluster ? "cluster" : "single" },
        "redis-bridge listening",
      );
      return { port, url: `http://${host}:${port}` };
    },
    stop() {
      stopping ??= (async () => {
        const deadline = Date.now() + config.shutdownTimeoutMs;
        const s = server as (ServerType & { closeAllConnections?: () => void }) | null;
        const closed = new Promise<void>((resolve) => (s ? s.close(() => resolve()) : resolve()));
        // Subscriptions never finish on their own: end them so their requests complete.
        subscriptions.closeAll();
        if (inFlight > 0) {
          await Promise.race([
            new Promise<void>((resolve) => {
              drained = resolve;
            }),
            new Promise((resolve) => setTimeout(resolve, Math.max(0, deadline - Date.now()))),
          ]);
        }
        s?.closeAllConnections?.();
        await closed;
        await pool.close();
        log.info({ inFlight }, "redis-bridge stopped");
      })();
      return stopping;
    },
  };
}

function commandSummary(names: string[]): { commands: string[]; commandCount?: number } {
  const upper = names.slice(0, LOGGED_COMMANDS).map((n) => n.toUpperCase());
  return names.length > LOGGED_COMMANDS ? { commands: upper, commandCount: names.length } : { commands: upper };
}

/** The Redis URL without its password, for logs. */
function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(unparseable)";
  }
}

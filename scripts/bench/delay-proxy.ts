/**
 * Distance, modelled: an HTTP reverse proxy on 127.0.0.1 that holds each request and each
 * response for a one-way delay before passing it on (this machine has no netem). One proxy per
 * hop of a latency profile (scripts/bench/phases/distance.ts): user → edge, edge → Redis,
 * edge → ClickHouse, edge → origin, user → baseline.
 *
 * The delay may depend on the request (`oneWayMs(req, body)`): a Redis REST call with any write
 * in it goes to the primary in the data region, reads stay at the replica next to the edge.
 * Bodies are small (feed pages, pipelines, event batches), so they are buffered whole and
 * bandwidth is not modelled; only propagation is.
 */
import { Agent, createServer, type IncomingMessage, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface DelayProxy {
  url: string;
  /** Requests forwarded so far, by the one-way delay they were given. */
  counts: Map<number, number>;
  close(): Promise<void>;
}

export interface DelayProxyOptions {
  /** Where requests go, e.g. http://127.0.0.1:8079. */
  target: string;
  /** One-way delay in ms, applied before forwarding the request and again before answering. */
  oneWayMs: number | ((req: IncomingMessage, body: Buffer) => number);
}

const hold = (ms: number) => (ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve());

async function readAll(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export async function startDelayProxy(opts: DelayProxyOptions): Promise<DelayProxy> {
  const target = new URL(opts.target);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const counts = new Map<number, number>();
  const server: Server = createServer(async (req, res) => {
    try {
      const body = await readAll(req);
      const ms = typeof opts.oneWayMs === "number" ? opts.oneWayMs : opts.oneWayMs(req, body);
      counts.set(ms, (counts.get(ms) ?? 0) + 1);
      await hold(ms);
      const headers = { ...req.headers, host: target.host };
      delete headers["content-length"];
      delete headers["transfer-encoding"];
      const upstream = request(
        {
          agent,
          host: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          headers: { ...headers, "content-length": String(body.length) },
        },
        async (up) => {
          try {
            const answer = await readAll(up);
            await hold(ms);
            const out = { ...up.headers };
            delete out["transfer-encoding"];
            res.writeHead(up.statusCode ?? 502, { ...out, "content-length": String(answer.length) });
            res.end(answer);
          } catch {
            if (!res.headersSent) res.writeHead(502);
            res.end();
          }
        },
      );
      upstream.on("error", () => {
        if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
        res.end("delay proxy: upstream unreachable");
      });
      upstream.end(body);
    } catch {
      if (!res.headersSent) res.writeHead(400);
      res.end();
    }
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    counts,
    close: () =>
      new Promise<void>((r) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** Redis commands that only read: a request made of these alone is served by a nearby replica. */
const READ_COMMANDS = new Set([
  "GET",
  "MGET",
  "HGET",
  "HGETALL",
  "HMGET",
  "HEXISTS",
  "HLEN",
  "SMEMBERS",
  "SISMEMBER",
  "SMISMEMBER",
  "SCARD",
  "ZRANGE",
  "ZSCORE",
  "ZMSCORE",
  "ZCARD",
  "ZCOUNT",
  "ZRANK",
  "ZREVRANK",
  "LRANGE",
  "LINDEX",
  "LLEN",
  "EXISTS",
  "TTL",
  "PTTL",
  "XLEN",
  "EVALSHA_RO",
  "EVAL_RO",
  "PING",
]);

/**
 * Whether an Upstash REST request (`POST /` with one command, `/pipeline` or `/multi-exec` with
 * a list, or the path form `/get/key`) contains any write. Unknown shapes count as writes, and so
 * does EVAL (Redis cannot tell a replica may run it; EVAL_RO says so), unless its script is one of
 * `readOnlyScripts`: what the request would cost were that script sent as EVAL_RO.
 */
export function upstashRequestWrites(
  path: string,
  body: Buffer,
  readOnlyScripts: ReadonlySet<string> = new Set(),
): boolean {
  const p = (path.split("?")[0] ?? "/").replace(/\/+$/, "");
  let commands: unknown[][];
  try {
    if (p === "" || p === "/") commands = [JSON.parse(body.toString("utf8")) as unknown[]];
    else if (p === "/pipeline" || p === "/multi-exec") commands = JSON.parse(body.toString("utf8")) as unknown[][];
    else commands = [[decodeURIComponent(p.split("/")[1] ?? "")]];
  } catch {
    return true;
  }
  const reads = (c: unknown) => {
    if (!Array.isArray(c)) return false;
    const verb = String(c[0]).toUpperCase();
    return READ_COMMANDS.has(verb) || (verb === "EVAL" && readOnlyScripts.has(String(c[1])));
  };
  return commands.some((c) => !reads(c));
}

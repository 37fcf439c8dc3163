/**
 * Connections to Redis: one shared connection that pipelines every ordinary command, and up to
 * `size` dedicated connections leased for a request (transactions, blocking commands, WATCH) and
 * returned clean, or destroyed when their state is in doubt.
 */
import { type Cluster, Command, Redis, type RedisOptions } from "ioredis";
import type { Logger } from "pino";
import { ApiError } from "#core/errors.ts";
import type { RedisArg, RedisReply } from "./encoding.ts";

export interface PoolOptions {
  url: string;
  /** Credentials that replace REDIS_URL's (the bridge's ACL user), if any. */
  auth?: { username: string; password: string };
  /** Called when Redis refuses the credentials (WRONGPASS/NOAUTH); ioredis then reconnects. */
  onAuthFailure?: () => void;
  size: number;
  commandTimeoutMs: number;
}

/** Sends one command and resolves to its raw reply; Redis errors reject with a ReplyError. */
export function sendRaw(conn: Redis | Cluster, args: readonly RedisArg[]): Promise<RedisReply> {
  // An upper-case name keeps ioredis's per-command reply transformers (HGETALL → object) out of
  // the way; `replyEncoding: null` keeps bulk strings as Buffers so binary values survive.
  // Buffer arguments are written to Redis as their bytes.
  const [name = "", ...rest] = args;
  return conn.sendCommand(
    new Command(String(name).toUpperCase(), rest as (string | Buffer)[], { replyEncoding: null }),
  ) as Promise<RedisReply>;
}

/** A Redis error reply, as opposed to a connection failure or a timeout. */
export function isReplyError(err: unknown): err is Error {
  return err instanceof Error && err.name === "ReplyError";
}

/** Turns a connection-level failure into the HTTP error the bridge answers with. */
export function connectionFailure(err: unknown): ApiError {
  const message = err instanceof Error ? err.message : String(err);
  if (/timed out/i.test(message)) {
    return new ApiError("timeout", `ERR Redis did not answer in time (${message})`, undefined, { cause: err });
  }
  return new ApiError("unavailable", `ERR Redis is unavailable: ${message}`, undefined, { cause: err });
}

export class RedisPool {
  readonly shared: Redis;
  private readonly idle: Redis[] = [];
  private readonly leased = new Set<Redis>();
  private readonly waiters: Array<(conn: Redis | Error) => void> = [];
  private open = 0;
  private closed = false;

  constructor(
    private readonly options: PoolOptions,
    private readonly log: Logger,
  ) {
    // Connected by `connectShared()`, so the bridge can provision its ACL user first: a first AUTH that
    // fails still makes ioredis emit "ready" (without a ready check) on a socket it then drops.
    this.shared = this.connect("shared", true);
  }

  /** Connects the shared connection (dedicated ones connect when first leased). */
  connectShared(): void {
    if (this.shared.status === "wait") this.shared.connect().catch(() => {}); // errors reach the "error" listener
  }

  private connect(role: string, lazy = false): Redis {
    const opts: RedisOptions = {
      lazyConnect: lazy,
      connectionName: `redis-bridge:${role}`,
      // Fail fast while Redis is down: queued commands would otherwise pile up for a client
      // that only retries network errors, and a replayed INCR after a reconnect would count twice.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      // Dedicated connections carry blocking commands already capped to the command timeout;
      // the extra second lets Redis answer "timed out" (null) itself before the client gives up.
      commandTimeout: this.options.commandTimeoutMs + (role === "shared" ? 0 : 1000),
      retryStrategy: (attempt) => Math.min(100 * 2 ** attempt, 2000),
      // The ready check sends INFO, which the bridge's ACL user may not run.
      enableReadyCheck: false,
      ...(this.options.auth ?? {}),
    };
    const conn = new Redis(this.options.url, opts);
    conn.on("error", (err: Error) => {
      this.log.debug({ role, err: err.message }, "redis connection error");
      if (/^(WRONGPASS|NOAUTH)/.test(err.message)) this.options.onAuthFailure?.();
    });
    return conn;
  }

  /** Waits (bounded) for the shared connection; resolves false if Redis is not there yet. */
  async waitReady(timeoutMs: number): Promise<boolean> {
    if (this.shared.status === "ready") return true;
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.shared.off("ready", onReady);
        resolve(ok);
      };
      const onReady = () => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.shared.on("ready", onReady);
    });
  }

  /**
   * Runs `work` on a dedicated connection; `work` returns whether the connection is clean to reuse.
   * (The commands it will send only matter to the cluster pool, cluster.ts, which routes by them.)
   */
  async withDedicated<T>(
    work: (conn: Redis) => Promise<{ value: T; reusable: boolean }>,
    _commands?: readonly (readonly RedisArg[])[],
    _sameSlot?: boolean,
  ): Promise<T> {
    const conn = await this.acquire();
    let reusable = false;
    try {
      const out = await work(conn);
      reusable = out.reusable;
      return out.value;
    } finally {
      this.release(conn, reusable);
    }
  }

  private async acquire(): Promise<Redis> {
    const conn = await this.take();
    this.leased.add(conn);
    return conn;
  }

  private async take(): Promise<Redis> {
    if (this.closed) throw new ApiError("unavailable", "ERR the bridge is shutting down");
    while (this.idle.length > 0) {
      const conn = this.idle.pop() as Redis;
      if (conn.status === "ready") return conn;
      this.destroy(conn);
    }
    if (this.open < this.options.size) {
      this.open++;
      const conn = this.connect("dedicated");
      try {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error("connect timed out")), this.options.commandTimeoutMs);
          conn.once("ready", () => {
            clearTimeout(timer);
            resolve();
          });
          conn.once("end", () => {
            clearTimeout(timer);
            reject(new Error("connection closed"));
          });
        });
        return conn;
      } catch (err) {
        this.destroy(conn);
        throw connectionFailure(err);
      }
    }
    return new Promise<Redis>((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(waiter);
        if (i !== -1) this.waiters.splice(i, 1);
        reject(
          new ApiError(
            "unavailable",
            `ERR all ${this.options.size} dedicated Redis connections are busy (REDIS_BRIDGE_POOL_SIZE)`,
          ),
        );
      }, this.options.commandTimeoutMs);
      const waiter = (conn: Redis | Error) => {
        clearTimeout(timer);
        if (conn instanceof Error) reject(conn);
        else resolve(conn);
      };
      this.waiters.push(waiter);
    });
  }

  private release(conn: Redis, reusable: boolean): void {
    this.leased.delete(conn);
    if (!reusable || this.closed || conn.status !== "ready") {
      this.destroy(conn);
      // A slot freed up: let the next waiter open a fresh connection.
      const waiter = this.waiters.shift();
      if (waiter) this.take().then(waiter, waiter);
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter) waiter(conn);
    else this.idle.push(conn);
  }

  private destroy(conn: Redis): void {
    this.open--;
    conn.disconnect();
  }

  stats(): { open: number; idle: number; waiting: number; size: number } {
    return { open: this.open, idle: this.idle.length, waiting: this.waiters.length, size: this.options.size };
  }

  /** Closes every connection; leased ones are cut, so call after in-flight requests drained. */
  async close(): Promise<void> {
    this.closed = true;
    for (const waiter of this.waiters.splice(0)) waiter(new ApiError("unavailable", "ERR the bridge is shutting down"));
    for (const conn of this.idle.splice(0)) this.destroy(conn);
    for (const conn of this.leased) conn.disconnect();
    if (this.shared.status === "wait") this.shared.disconnect();
    else await this.shared.quit().catch(() => this.shared.disconnect());
  }
}

/**
 * Runs parsed commands against Redis and shapes the replies the way @upstash/redis reads them:
 * `POST /` → one `{result}` (200) or `{error}` (400, as Upstash does); `/pipeline` → one entry
 * per command, always 200, a failing command never stops the others; `/multi-exec` → EXEC's
 * results per command, or 400 with an EXECABORT error when Redis refused to queue a command.
 */
import type { Cluster, Redis } from "ioredis";
import { ApiError } from "#core/errors.ts";
import { broadcastKind, type ClusterPool, CrossSlotError } from "./cluster.ts";
import { capBlockingTimeout, classifyCommand, TRANSACTION_COMMANDS } from "./commands.ts";
import { type RedisArg, type RedisReply, type ResponseEncoding, toWireEntry, type WireEntry } from "./encoding.ts";
import { connectionFailure, isReplyError, type RedisPool, sendRaw } from "./pool.ts";
import { ScriptShaMap } from "./scripts.ts";

export interface ExecutorOptions {
  allowCommands: ReadonlySet<string>;
  commandTimeoutMs: number;
}

export interface BridgeReply {
  status: number;
  body: WireEntry | WireEntry[];
}

type Outcome = { ok: true; reply: RedisReply } | { ok: false; error: unknown };

async function settle(promises: Promise<RedisReply>[]): Promise<Outcome[]> {
  const settled = await Promise.allSettled(promises);
  return settled.map((s) => (s.status === "fulfilled" ? { ok: true, reply: s.value } : { ok: false, error: s.reason }));
}

/** Connection failures fail the whole request: whether earlier commands ran is unknown. */
function firstConnectionFailure(outcomes: Outcome[]): unknown {
  return outcomes.find((o) => !o.ok && !isReplyError(o.error) && !(o.error instanceof CrossSlotError)) as
    | { error: unknown }
    | undefined;
}

function entryOf(outcome: Outcome, encoding: ResponseEncoding): WireEntry {
  if (outcome.ok) return toWireEntry(outcome.reply, encoding);
  return { error: (outcome.error as Error).message };
}

export class BridgeExecutor {
  /** Scripts whose Upstash-only shebang flags were dropped (see scripts.ts). */
  private readonly scripts = new ScriptShaMap();

  constructor(
    private readonly pool: RedisPool | ClusterPool,
    private readonly options: ExecutorOptions,
  ) {}

  /** Sends one command, translating Upstash-only script flags on the way. */
  private async send(conn: Redis | Cluster, args: readonly RedisArg[]): Promise<RedisReply> {
    // A command carrying raw bytes (a path-form body) is no script text to rewrite.
    if (!args.every((a) => typeof a === "string")) return this.dispatch(conn, args);
    const { args: forRedis, loadedSha } = this.scripts.rewrite(args as string[]);
    const reply = await this.dispatch(conn, forRedis);
    return loadedSha === undefined ? reply : Buffer.from(loadedSha);
  }

  /** In cluster mode, keyless per-node commands on the shared client reach every master. */
  private dispatch(conn: Redis | Cluster, args: readonly RedisArg[]): Promise<RedisReply> {
    if ("broadcast" in this.pool && conn === this.pool.shared) {
      const combine = broadcastKind(args);
      if (combine !== null) return this.pool.broadcast(args, combine);
    }
    return sendRaw(conn, args);
  }

  async command(args: RedisArg[], encoding: ResponseEncoding): Promise<BridgeReply> {
    const [entry] = await this.pipeline([args], encoding);
    const e = entry as WireEntry;
    return { status: "error" in e ? 400 : 200, body: e };
  }

  async pipeline(commands: RedisArg[][], encoding: ResponseEncoding): Promise<WireEntry[]> {
    const classes = commands.map((c) => classifyCommand(c.map(String), this.options.allowCommands));
    const runnable = commands.filter((_, i) => classes[i]?.kind !== "denied");
    const needsDedicated = classes.some((c) => c.kind === "dedicated");
    let outcomes: Outcome[];
    try {
      outcomes =
        runnable.length === 0 ? [] : needsDedicated ? await this.onDedicated(runnable) : await this.onShared(runnable);
    } catch (err) {
      // Cluster mode: a pipeline that needs one connection (WATCH/MULTI, blocking commands) but
      // whose keys live on several nodes runs nothing; each command says why.
      if (!(err instanceof CrossSlotError)) throw err;
      outcomes = runnable.map(() => ({ ok: false, error: err }));
    }
    const failure = firstConnectionFailure(outcomes);
    if (failure) throw connectionFailure((failure as { error: unknown }).error);
    let next = 0;
    return classes.map((c) => {
      if (c.kind === "denied") return { error: c.message };
      return entryOf(outcomes[next++] as Outcome, encoding);
    });
  }

  private onShared(commands: RedisArg[][]): Promise<Outcome[]> {
    // Written back to back in one tick, so the commands travel as one pipeline on the socket.
    return settle(commands.map((c) => this.send(this.pool.shared, c)));
  }

  private onDedicated(commands: RedisArg[][]): Promise<Outcome[]> {
    const stateful = commands.some((c) => TRANSACTION_COMMANDS.has(String(c[0] ?? "").toUpperCase()));
    return this.pool.withDedicated(
      async (conn) => {
        const outcomes = await settle(
          commands.map((c) =>
            this.send(
              conn,
              c.every((a) => typeof a === "string")
                ? capBlockingTimeout(c as string[], this.options.commandTimeoutMs)
                : c,
            ),
          ),
        );
        let reusable = !firstConnectionFailure(outcomes);
        if (reusable && stateful) reusable = await this.resetTransactionState(conn);
        return { value: outcomes, reusable };
      },
      commands,
      stateful,
    );
  }

  /** Leaves no open MULTI or WATCH behind for the connection's next user. */
  private async resetTransactionState(conn: Redis): Promise<boolean> {
    const [discard, unwatch] = await settle([sendRaw(conn, ["DISCARD"]), sendRaw(conn, ["UNWATCH"])]);
    return !firstConnectionFailure([discard as Outcome, unwatch as Outcome]);
  }

  async multiExec(commands: string[][], encoding: ResponseEncoding): Promise<BridgeReply> {
    for (const [i, c] of commands.entries()) {
      const name = (c[0] ?? "").toUpperCase();
      if (TRANSACTION_COMMANDS.has(name)) {
        throw new ApiError("bad_request", `ERR ${name} cannot be used inside /multi-exec (command ${i + 1})`);
      }
      const cls = classifyCommand(c, this.options.allowCommands);
      if (cls.kind === "denied") return execAbort(i, cls.message);
    }
    let outcomes: Outcome[];
    try {
      outcomes = await this.pool.withDedicated(
        async (conn) => {
          const sent = await settle([
            sendRaw(conn, ["MULTI"]),
            ...commands.map((c) => this.send(conn, c)),
            sendRaw(conn, ["EXEC"]),
          ]);
          return { value: sent, reusable: !firstConnectionFailure(sent) };
        },
        commands,
        true,
      );
    } catch (err) {
      // Cluster mode, keys in several slots: Redis would refuse to queue it; nothing ran.
      if (err instanceof CrossSlotError) return { status: 400, body: { error: err.message } };
      throw err;
    }
    const failure = firstConnectionFailure(outcomes);
    if (failure) throw connectionFailure((failure as { error: unknown }).error);
    const exec = outcomes[outcomes.length - 1] as Outcome;
    if (exec.ok && Array.isArray(exec.reply)) {
      return { status: 200, body: exec.reply.map((r) => toWireEntry(r, encoding)) };
    }
    // EXECABORT: say which command Redis refused, so the caller does not have to guess.
    const queued = outcomes.slice(1, -1);
    const refused = queued.findIndex((o) => !o.ok);
    if (refused !== -1) return execAbort(refused, (queued[refused] as { error: Error }).error.message);
    const message = exec.ok ? "EXECABORT Transaction aborted" : (exec.error as Error).message;
    return { status: 400, body: { error: message } };
  }
}

/**
 * A transaction Redis (or the bridge's deny-list) refused to queue runs nothing. The client
 * parses /multi-exec only as an array, so a 200 with one error object would surface as a
 * TypeError; a 400 with `{error}` surfaces as an UpstashError carrying this text.
 */
function execAbort(index: number, reason: string): BridgeReply {
  return {
    status: 400,
    body: {
      error: `EXECABORT Transaction discarded because of previous errors: command ${index + 1}: ${reason}`,
    },
  };
}

/**
 * chDB sessions as the gateway uses them: every query goes through the async API (the sync one
 * blocks the event loop) and each session remembers its current database. How a request's
 * settings reach a session, and why a session that ran them is retired, is in settings.ts.
 */
import { Session } from "chdb";
import { ClickHouseException, fromEngineError } from "./errors.ts";
import { connectionArgs } from "./settings.ts";

export interface RunResult {
  body: Uint8Array;
  resultRows: number;
  resultBytes: number;
  elapsedNs: number;
}

/**
 * The JS-side deadline passed while chDB was still running the query. chDB has no interrupt, so
 * the query may go on inside the engine: the session must be retired, not reused.
 */
export class SessionInDoubtTimeout extends ClickHouseException {}

let nextSessionId = 1;

/** One chDB connection on the shared data directory. */
export class ChdbSession {
  readonly id = nextSessionId++;
  /** Database selected on the connection; undefined when a failed USE left it unknown. */
  database: string | undefined = "default";
  private readonly session: Session;

  constructor(dataDir: string, timeoutMs: number, configFile?: string) {
    this.session = new Session(dataDir, { connectionArgs: connectionArgs(timeoutMs, configFile) });
  }

  /**
   * Runs `sql` (prelude included). `watchdogMs` bounds the wait in JS: chDB cannot interrupt a
   * running query, so past that the caller gets TIMEOUT_EXCEEDED and must retire the session;
   * the engine's own `max_execution_time` normally fires first and returns the real error.
   */
  async run(sql: string, format: string, watchdogMs: number): Promise<RunResult> {
    try {
      const r = await this.session.queryAsync(sql, { format, timeout: watchdogMs });
      const body = r.bytes();
      return {
        body,
        resultRows: r.rowsRead,
        resultBytes: r.bytesRead,
        elapsedNs: Math.round(r.elapsed * 1e9),
      };
    } catch (err) {
      if ((err as { code?: unknown }).code === "CHDB_TIMEOUT") {
        throw new SessionInDoubtTimeout(
          159,
          `Timeout exceeded: elapsed ${watchdogMs} ms and the engine did not stop the query; its chDB session was retired`,
          { type: "TIMEOUT_EXCEEDED", cause: err, status: 408 },
        );
      }
      throw fromEngineError(err);
    }
  }

  /** Closes the connection; chDB defers the teardown until a still-running query finishes. */
  close(): void {
    this.session.close();
  }
}

/**
 * How one request's settings reach a chDB session: a `SET …; USE …;` prelude sent in the same
 * native call as the query.
 *
 * Why a prelude and not a query-level SETTINGS clause: a clause has to be spliced into arbitrary
 * SQL (before FORMAT, inside INSERT … FORMAT, not at all in DDL); `SET` works for every statement.
 * `SET` persists on a chDB session, and `SET x = DEFAULT` resets to the compiled default rather
 * than to the session's connection arguments (measured with a quoting connection argument: it
 * turned the JSON 64-bit quoting off), so it cannot undo a request's changes faithfully. A session that ran request settings is therefore
 * retired and replaced (opening a session on the already-open data directory takes ~0.1–0.3 ms).
 * `max_execution_time` is set on every query, so it never leaks.
 */
import { ClickHouseException, chError } from "./errors.ts";
import { quoteString } from "./sql.ts";

/**
 * Engine-wide defaults every session starts from, matching a real server's HTTP output. JSON
 * formats keep the engine's default for 64-bit integers: unquoted, as on a server since 25.8
 * (`output_format_json_quote_64bit_integers` = 0; the engine reports 26.7). A request that sets
 * it to 1 gets them quoted.
 */
export function connectionArgs(timeoutMs: number, configFile?: string): string[] {
  return [
    // chDB runs a bare expression (`foobar`) as `SELECT foobar`; a server's parser refuses it (62).
    "--implicit_select=0",
    `--max_execution_time=${timeoutMs / 1000}`,
    // Users, grants and server settings (access.ts): what a query may touch.
    ...(configFile ? [`--config-file=${configFile}`] : []),
  ];
}

const SETTING_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const DATABASE_NAME = /^[^\0]+$/;

export interface PreludeInput {
  settings: ReadonlyMap<string, string>;
  /** Engine-side limit for this query, seconds. */
  maxExecutionSeconds: number;
  /** Database the session is in now; undefined when unknown (after a failed USE). */
  currentDatabase: string | undefined;
  targetDatabase: string;
  /**
   * GET: `readonly = 2` for this query, as a server does for GET. The engine then refuses every
   * write and DDL, and refuses changing `readonly` back (READONLY, 164), whatever the SQL hides.
   */
  readonly?: boolean;
}

/**
 * Settings that restrict what the statement may do. They go last in the prelude: `readonly = 1`
 * forbids changing any setting after it (so the gateway's own `max_execution_time` comes first),
 * and `allow_ddl = 0` forbids changing `allow_ddl` back.
 */
const RESTRICTING = ["allow_ddl", "readonly"] as const;

/**
 * The `readonly` value a request ends up with. POST: what it asked for (the engine parses it).
 * GET: the gateway enforces `readonly = 2` as a server does; a request may make it stricter
 * (`readonly = 1`, no setting changes at all) or repeat it, never lower it (a server refuses
 * that with READONLY, 164: "Cannot modify 'readonly' setting in readonly mode").
 */
export function effectiveReadonly(asked: string | undefined, get: boolean): string | undefined {
  if (!get) return asked;
  if (asked === undefined) return "2";
  const n = /^\s*\d+\s*$/.test(asked) ? Number(asked) : Number.NaN;
  if (n === 1) return "1";
  if (n >= 2) return asked.trim();
  throw new ClickHouseException(164, "Cannot modify 'readonly' setting in readonly mode", { type: "READONLY" });
}

/** The statements that put a session into the state one request asks for. */
export function buildPrelude(input: PreludeInput): string {
  const assignments: string[] = [];
  for (const [name, value] of input.settings) {
    if (!SETTING_NAME.test(name)) {
      throw new ClickHouseException(115, `Unknown setting '${name}'`, { type: "UNKNOWN_SETTING" });
    }
    if (name === "max_execution_time" || (RESTRICTING as readonly string[]).includes(name)) continue;
    // Settings arrive as text in the URL; the engine converts a string literal to the setting's
    // type the same way the server parses a URL value.
    assignments.push(`${name} = ${quoteString(value)}`);
  }
  assignments.push(`max_execution_time = ${Number(input.maxExecutionSeconds.toFixed(3))}`);
  let prelude = `SET ${assignments.join(", ")};\n`;
  if (input.currentDatabase !== input.targetDatabase) {
    if (!DATABASE_NAME.test(input.targetDatabase)) throw chError("BAD_ARGUMENTS", "Empty database name");
    prelude += `USE \`${input.targetDatabase.replace(/\\/g, "\\\\").replace(/`/g, "\\`")}\`;\n`;
  }
  // Last, so nothing the gateway sets comes after them. One SET: the engine checks every change
  // against the settings before it, so `readonly` is the gateway's computed value, never a pair
  // such as `readonly = 2, readonly = 0` that would end lower than it started.
  const restricting: string[] = [];
  const allowDdl = input.settings.get("allow_ddl");
  if (allowDdl !== undefined) restricting.push(`allow_ddl = ${quoteString(allowDdl)}`);
  const readonly = effectiveReadonly(input.settings.get("readonly"), input.readonly === true);
  if (readonly !== undefined) restricting.push(`readonly = ${input.readonly ? readonly : quoteString(readonly)}`);
  if (restricting.length > 0) prelude += `SET ${restricting.join(", ")};\n`;
  return prelude;
}

/**
 * A statement the engine runs right before the query, in the same call (after the prelude, so
 * the request's own limits such as `max_query_size` apply to it too): the engine's own parser
 * (`formatQuerySingleLine`, which refuses multi-statements with SYNTAX_ERROR 62) reads the SQL the
 * gateway is about to run and the kind it finds must be the kind the gateway's lexer found. So a
 * second statement hidden from the lexer (`$$` strings, nested comments, anything the lexer gets
 * wrong) is refused by the engine, and a SET/USE in disguise cannot leave state on a session the
 * gateway believes clean. chDB stops a multi-statement call at the first error, so nothing after a
 * failed guard runs (a prelude that ran already retires its session, see app.ts). `statement` is
 * the SQL without INSERT data.
 */
export function statementGuard(statement: string, kind: string): string {
  const word = `extract(formatQuerySingleLine(${quoteString(statement)}), '^[^A-Za-z_]*([A-Za-z_]+)')`;
  const engineKind =
    `multiIf(upper(w) IN ('SELECT', 'WITH', 'SHOW', 'DESCRIBE', 'DESC', 'EXPLAIN', 'EXISTS', 'CHECK'), 'select', ` +
    `upper(w) = 'INSERT', 'insert', upper(w) = 'SET', 'set', upper(w) = 'USE', 'use', 'command')`;
  const message = quoteString(
    "The gateway and the engine read this SQL differently (the statement kind differs); refused",
  );
  return `WITH ${word} AS w SELECT throwIf(${engineKind} != ${quoteString(kind)}, ${message}) FORMAT Null;\n`;
}

const GUARD_SCOPE = /:? In scope WITH extract\(formatQuerySingleLine\([\s\S]*$/;

/**
 * The engine's error without the guard's text: a syntax error found by the guard ends with
 * `In scope WITH extract(formatQuerySingleLine('<the SQL>')…`, which is the gateway's plumbing, not
 * the client's query. Positions in the message are already relative to the client's statement.
 */
export function withoutGuardScope(err: unknown): unknown {
  if (!(err instanceof ClickHouseException) || !GUARD_SCOPE.test(err.message)) return err;
  return new ClickHouseException(err.code, err.message.replace(GUARD_SCOPE, "").trimEnd(), {
    type: err.type,
    status: err.status,
    cause: err.cause,
  });
}

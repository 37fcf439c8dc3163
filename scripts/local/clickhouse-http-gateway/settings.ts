/**
 * How one request's settings reach a chDB session: a `SET …; USE …;` prelude sent in the same
 * native call as the query.
 *
 * Why a prelude and not a query-level SETTINGS clause: a clause has to be spliced into arbitrary
 * SQL (before FORMAT, inside INSERT … FORMAT, not at all in DDL); `SET` works for every statement.
 * `SET` persists on a chDB session, and `SET x = DEFAULT` resets to the compiled default rather
 * than to the session's connection arguments (measured: it turns the JSON 64-bit quoting off), so
 * it cannot undo a request's changes faithfully. A session that ran request settings is therefore
 * retired and replaced (opening a session on the already-open data directory takes ~0.1–0.3 ms).
 * `max_execution_time` is set on every query, so it never leaks.
 */
import { ClickHouseException, chError } from "./errors.ts";
import { quoteString } from "./sql.ts";

/** Engine-wide defaults every session starts from, matching a real server's HTTP output. */
export function connectionArgs(timeoutMs: number): string[] {
  return [
    // A real server quotes 64-bit integers in JSON formats; chDB does not by default.
    "--output_format_json_quote_64bit_integers=1",
    `--max_execution_time=${timeoutMs / 1000}`,
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
}

/** The statements that put a session into the state one request asks for. */
export function buildPrelude(input: PreludeInput): string {
  const assignments: string[] = [];
  for (const [name, value] of input.settings) {
    if (!SETTING_NAME.test(name)) {
      throw new ClickHouseException(115, `Unknown setting '${name}'`, { type: "UNKNOWN_SETTING" });
    }
    if (name === "max_execution_time") continue;
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
  return prelude;
}

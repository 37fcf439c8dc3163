/**
 * Just enough of ClickHouse's SQL lexer to do what the real HTTP handler does before execution:
 * tell the statement kind (GET is read-only), refuse multi-statements (chDB would run them), find
 * the output format, find where inline INSERT data begins, and substitute `{name:Type}` query
 * parameters outside strings, quoted identifiers and comments.
 *
 * Parameters are substituted the way the server's ReplaceQueryParameterVisitor does it, as
 * `_CAST(<literal>, '<Type>')`, instead of going through chDB's queryBind: that path escapes
 * strings itself (so pre-escaped HTTP values would be escaped twice), cannot take array literals
 * as text, and is serialized process-wide in the JS binding. See `paramLiteral` for the proof
 * obligations.
 */
import { ClickHouseException, chError } from "./errors.ts";

export type StatementKind = "select" | "insert" | "set" | "use" | "command";

export interface AnalyzedSql {
  /** SQL to execute: placeholders substituted, trailing `;` removed, INSERT data appended verbatim. */
  sql: string;
  kind: StatementKind;
  /** Format named by a trailing `FORMAT x` clause of a non-INSERT statement. */
  format: string | undefined;
  /** `sql` without INSERT data: the statement the engine's parser is asked to confirm. */
  statement: string;
  /** The inline data of an `INSERT … FORMAT x` / `INSERT … VALUES` (possibly ""), else undefined. */
  insertData: string | undefined;
}

const READ_KEYWORDS = new Set(["SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXPLAIN", "EXISTS", "CHECK"]);

interface Token {
  type: "ws" | "comment" | "string" | "qident" | "word" | "placeholder" | "punct" | "other";
  start: number;
  end: number;
}

const WORD_RE = /[A-Za-z_][A-Za-z0-9_$]*/y;
const WS_RE = /\s+/y;
const HEREDOC_RE = /\$[A-Za-z0-9_]*\$/y;

/** Index just past a quoted run starting at `start` (backslash escapes; a doubled quote is a quote). */
function skipQuoted(sql: string, start: number, quote: string): number {
  let i = start + 1;
  while (i < sql.length) {
    const ch = sql[i];
    if (ch === "\\") {
      i += 2;
      continue;
    }
    if (ch === quote) {
      if (sql[i + 1] === quote) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i++;
  }
  throw chError("SYNTAX_ERROR", `Syntax error: unterminated quoted ${quote === "'" ? "string" : "identifier"}`);
}

/** `{name:Type}` at `start`, or undefined when the brace opens something else (a map literal). */
function matchPlaceholder(sql: string, start: number): { end: number; name: string; type: string } | undefined {
  const head = /\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*:\s*/y;
  head.lastIndex = start;
  const m = head.exec(sql);
  if (!m) return undefined;
  let i = head.lastIndex;
  // A type may hold quoted strings (`DateTime64(3, 'UTC')`, `Enum8('a' = 1)`) but never a brace.
  while (i < sql.length && sql[i] !== "}") {
    const ch = sql[i];
    if (ch === "'" || ch === '"' || ch === "`") i = skipQuoted(sql, i, ch);
    else if (ch === "{") return undefined;
    else i++;
  }
  if (i >= sql.length) return undefined;
  const type = sql.slice(head.lastIndex, i).trim();
  if (type === "") return undefined;
  return { end: i + 1, name: m[1] as string, type };
}

/** Tokens until `stop` says the rest is data (or the text ends). */
function* tokens(sql: string): Generator<Token> {
  let i = 0;
  while (i < sql.length) {
    const start = i;
    const ch = sql[i] as string;
    WS_RE.lastIndex = i;
    if (WS_RE.exec(sql)) {
      i = WS_RE.lastIndex;
      yield { type: "ws", start, end: i };
      continue;
    }
    if ((ch === "-" && sql[i + 1] === "-") || ch === "#") {
      const nl = sql.indexOf("\n", i);
      i = nl === -1 ? sql.length : nl + 1;
      yield { type: "comment", start, end: i };
      continue;
    }
    if (ch === "/" && sql[i + 1] === "*") {
      // ClickHouse's comments nest: `/* a /* b */ c */` is one comment.
      let depth = 1;
      i += 2;
      while (depth > 0) {
        if (i >= sql.length) throw chError("SYNTAX_ERROR", "Syntax error: unterminated comment");
        if (sql[i] === "/" && sql[i + 1] === "*") {
          depth++;
          i += 2;
        } else if (sql[i] === "*" && sql[i + 1] === "/") {
          depth--;
          i += 2;
        } else i++;
      }
      yield { type: "comment", start, end: i };
      continue;
    }
    if (ch === "$") {
      // Heredoc string: `$$…$$` or `$tag$…$tag$`, no escapes inside.
      HEREDOC_RE.lastIndex = i;
      const m = HEREDOC_RE.exec(sql);
      if (m) {
        const close = sql.indexOf(m[0], i + m[0].length);
        if (close === -1) throw chError("SYNTAX_ERROR", "Syntax error: unterminated heredoc string");
        i = close + m[0].length;
        yield { type: "string", start, end: i };
        continue;
      }
    }
    if (ch === "'") {
      i = skipQuoted(sql, i, "'");
      yield { type: "string", start, end: i };
      continue;
    }
    if (ch === '"' || ch === "`") {
      i = skipQuoted(sql, i, ch);
      yield { type: "qident", start, end: i };
      continue;
    }
    if (ch === "{") {
      const p = matchPlaceholder(sql, i);
      if (p) {
        i = p.end;
        yield { type: "placeholder", start, end: i };
        continue;
      }
    }
    WORD_RE.lastIndex = i;
    if (WORD_RE.exec(sql)) {
      i = WORD_RE.lastIndex;
      yield { type: "word", start, end: i };
      continue;
    }
    i++;
    yield { type: /[;(),[\]{}]/.test(ch) ? "punct" : "other", start, end: i };
  }
}

/**
 * Analyzes and rewrites one request's SQL. `params` are the raw `param_<name>` values exactly as
 * they arrived (ClickHouse text-escaped form). Throws a ClickHouseException for multi-statements
 * and for placeholders without a value, like the server does.
 */
export function analyzeSql(text: string, params: ReadonlyMap<string, string>): AnalyzedSql {
  let out = "";
  let copied = 0;
  let kind: StatementKind | undefined;
  let depth = 0;
  let format: string | undefined;
  let afterFormat = false;
  let statementEnded = false;
  let dataStart: number | undefined;
  let sawSemicolonAt: number | undefined;

  for (const t of tokens(text)) {
    if (t.type === "ws" || t.type === "comment") continue;
    const word = t.type === "word" ? text.slice(t.start, t.end).toUpperCase() : "";
    if (statementEnded) {
      // Anything but more `;` after the end of the first statement is a second statement.
      if (t.type === "punct" && text[t.start] === ";") continue;
      throw chError(
        "SYNTAX_ERROR",
        `Syntax error (Multi-statements are not allowed): failed at position ${t.start + 1} (end of query)`,
      );
    }
    if (kind === undefined) {
      if (t.type === "punct" && text[t.start] === "(") {
        depth++;
        continue;
      }
      kind = READ_KEYWORDS.has(word)
        ? "select"
        : word === "INSERT"
          ? "insert"
          : word === "SET"
            ? "set"
            : word === "USE"
              ? "use"
              : "command";
    }
    if (afterFormat) {
      afterFormat = false;
      if (t.type === "word" || t.type === "qident") {
        const name = t.type === "word" ? text.slice(t.start, t.end) : text.slice(t.start + 1, t.end - 1);
        if (kind === "insert") {
          // The server reads INSERT data from right after the format name; nothing after it is SQL.
          dataStart = t.end;
          break;
        }
        format = name;
        continue;
      }
    }
    if (t.type === "punct") {
      const ch = text[t.start];
      if (ch === "(" || ch === "[") depth++;
      else if (ch === ")" || ch === "]") depth = Math.max(0, depth - 1);
      else if (ch === ";" && depth === 0) {
        statementEnded = true;
        sawSemicolonAt = t.start;
      }
      continue;
    }
    if (t.type === "word" && depth === 0 && word === "FORMAT") {
      afterFormat = true;
      continue;
    }
    if (t.type === "word" && kind === "insert" && depth === 0 && word === "VALUES") {
      // VALUES data is parsed by the Values input format, not as SQL: leave it untouched.
      dataStart = t.end;
      break;
    }
    if (t.type === "placeholder") {
      const p = matchPlaceholder(text, t.start) as { name: string; type: string };
      const raw = params.get(p.name);
      if (raw === undefined) {
        throw chError("UNKNOWN_QUERY_PARAMETER", `Substitution \`${p.name}\` is not set`);
      }
      out += text.slice(copied, t.start) + paramLiteral(p.type, raw, p.name);
      copied = t.end;
    }
  }

  let sql: string;
  let statement: string;
  let insertData: string | undefined;
  if (dataStart !== undefined) {
    sql = out + text.slice(copied);
    statement = out + text.slice(copied, Math.max(copied, dataStart));
    insertData = text.slice(Math.max(copied, dataStart));
  } else {
    const end = sawSemicolonAt ?? text.length;
    sql = out + text.slice(copied, Math.max(copied, end));
    statement = sql;
  }
  if (kind === undefined) throw chError("SYNTAX_ERROR", "Syntax error: Empty query");
  return { sql, kind, format, statement, insertData };
}

// Types whose text form is a SQL-literal-like structure (`['a','b\'c']`, `{'k':1}`, `(1,'x')`):
// the server reads those without a string-unescaping pass, so their text is passed as is.
const COMPOSITE = /^(Array|Map|Tuple|Nested|Object|JSON|Variant|Dynamic)\b/i;

function innerType(type: string): string {
  let t = type.trim();
  for (;;) {
    const m = /^(Nullable|LowCardinality)\s*\((.*)\)$/is.exec(t);
    if (!m) return t;
    t = (m[2] as string).trim();
  }
}

/**
 * The SQL that stands for one parameter: `_CAST('<text>', '<Type>')`, `<text>` being what the
 * server hands to the type's text parser.
 *
 * Why this is exact: the server parses `param_x` with the type's *escaped* text deserializer.
 * For scalar types that is "unescape ClickHouse escapes (\t \n \r \' \\ \xHH …), then parse the
 * text"; `\N` alone is NULL. For composite types the escaped form is the plain text form. We do
 * the unescaping here (`unescapeText`), then write the result as a SQL string literal (escaping
 * only `\` and `'`, which the SQL lexer turns back into the same characters) and let `_CAST` run
 * the type's text parser on it, the same function the server applies.
 */
export function paramLiteral(type: string, raw: string, name = "?"): string {
  const inner = innerType(type);
  const typeLiteral = quoteString(type);
  if (/^Identifier$/i.test(inner)) {
    return `\`${unescapeText(raw).replace(/\\/g, "\\\\").replace(/`/g, "\\`")}\``;
  }
  // The engine casts a String to Array, Tuple, … by running the type's text parser, but refuses
  // String → Map (TYPE_MISMATCH). A one-element Tuple around the Map goes through the same text
  // parser (a Map's quoted text form is its text form), and tupleElement takes the Map back out.
  if (/^Map\b/i.test(inner)) {
    return `tupleElement(_CAST(${quoteString(`(${raw})`)}, ${quoteString(`Tuple(${type})`)}), 1)`;
  }
  if (COMPOSITE.test(inner)) return `_CAST(${quoteString(raw)}, ${typeLiteral})`;
  if (raw === "\\N") return `_CAST(NULL, ${typeLiteral})`;
  try {
    return `_CAST(${quoteString(unescapeText(raw))}, ${typeLiteral})`;
  } catch (err) {
    throw new ClickHouseException(
      457,
      `Value ${raw} cannot be parsed as ${type} for query parameter '${name}': ${(err as Error).message}`,
      { type: "BAD_QUERY_PARAMETER", status: 400, cause: err },
    );
  }
}

/** A single-quoted SQL string literal that the ClickHouse lexer reads back as exactly `s`. */
export function quoteString(s: string): string {
  return `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

const SIMPLE_ESCAPES: Record<string, number> = { b: 8, f: 12, n: 10, r: 13, t: 9, "0": 0, a: 7, v: 11, e: 27 };

/**
 * ClickHouse's escaped-text unescaping (readEscapedString / parseComplexEscapeSequence): `\b \f \n
 * \r \t \0 \a \v \e`, `\xHH` as a byte, and `\c` → `c` for any other character. Works on bytes so
 * `\xHH` sequences that spell a UTF-8 character come out as that character.
 */
export function unescapeText(raw: string): string {
  if (!raw.includes("\\")) return raw;
  const src = Buffer.from(raw, "utf8");
  const out = Buffer.allocUnsafe(src.length);
  let o = 0;
  for (let i = 0; i < src.length; i++) {
    const b = src[i] as number;
    if (b !== 0x5c) {
      out[o++] = b;
      continue;
    }
    const next = src[i + 1];
    if (next === undefined) throw new Error("a lone backslash at the end of the value");
    const c = String.fromCharCode(next);
    if (c === "x" || c === "X") {
      const hex = src.subarray(i + 2, i + 4).toString("latin1");
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new Error(`a bad \\x escape at ${i}`);
      out[o++] = Number.parseInt(hex, 16);
      i += 3;
      continue;
    }
    const simple = SIMPLE_ESCAPES[c];
    out[o++] = simple ?? next;
    i++;
  }
  return out.subarray(0, o).toString("utf8");
}

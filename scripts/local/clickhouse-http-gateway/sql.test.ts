import { formatQueryParams } from "@clickhouse/client-common";
import { describe, expect, it } from "vitest";
import { ClickHouseException } from "./errors.ts";
import { analyzeSql, paramLiteral, quoteString, unescapeText } from "./sql.ts";

const none = new Map<string, string>();

function codeOf(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof ClickHouseException ? err.code : -1;
  }
  return undefined;
}

describe("analyzeSql", () => {
  it("tells the statement kind", () => {
    expect(analyzeSql("SELECT 1", none).kind).toBe("select");
    expect(analyzeSql("  -- c\n/* x */ (SELECT 1)", none).kind).toBe("select");
    expect(analyzeSql("with a as (select 1) select * from a", none).kind).toBe("select");
    expect(analyzeSql("SHOW TABLES", none).kind).toBe("select");
    expect(analyzeSql("INSERT INTO t FORMAT JSONEachRow", none).kind).toBe("insert");
    expect(analyzeSql("CREATE TABLE t (a UInt8) ENGINE = Memory", none).kind).toBe("command");
    expect(analyzeSql("SET max_threads = 1", none).kind).toBe("set");
    expect(analyzeSql("USE db", none).kind).toBe("use");
  });

  it("finds a trailing FORMAT of a query, not of function names or INSERT input", () => {
    expect(analyzeSql("SELECT formatDateTime(now(), '%Y') FORMAT JSONEachRow", none).format).toBe("JSONEachRow");
    expect(analyzeSql("SELECT format('{} FORMAT CSV', 'x')", none).format).toBeUndefined();
    expect(analyzeSql("SELECT 1\nFORMAT JSON", none).format).toBe("JSON");
    expect(analyzeSql("INSERT INTO t FORMAT JSONEachRow\n{}", none).format).toBeUndefined();
  });

  it("refuses multi-statements but allows trailing semicolons and semicolons in strings/comments", () => {
    expect(codeOf(() => analyzeSql("SELECT 1; SELECT 2", none))).toBe(62);
    expect(codeOf(() => analyzeSql("SELECT 1;\nDROP TABLE t", none))).toBe(62);
    expect(analyzeSql("SELECT ';' -- ; x\n;;  ", none).sql).toBe("SELECT ';' -- ; x\n");
    expect(analyzeSql('SELECT 1 AS "a;b"', none).sql).toBe('SELECT 1 AS "a;b"');
  });

  it("reads $$ heredoc strings and nested comments as the engine does (no statement hides in them)", () => {
    // Both once let a second statement past the lexer.
    expect(analyzeSql("SELECT $$;$$", none)).toMatchObject({ kind: "select", sql: "SELECT $$;$$" });
    expect(analyzeSql("SELECT $tag$ ' ; $$ $tag$", none).kind).toBe("select");
    expect(codeOf(() => analyzeSql("SELECT $$'$$; CREATE DATABASE x; SELECT '", none))).toBe(62);
    expect(codeOf(() => analyzeSql("SELECT 1 /* /* */ ; */ ; CREATE DATABASE x", none))).toBe(62);
    expect(analyzeSql("/* /* */ */ SET max_threads = 1", none).kind).toBe("set");
    expect(analyzeSql("SELECT 1 /* a /* ; */ b */", none).kind).toBe("select");
    expect(codeOf(() => analyzeSql("SELECT 1 /* /* */", none))).toBe(62);
    expect(codeOf(() => analyzeSql("SELECT $$ x", none))).toBe(62);
    expect(analyzeSql("SELECT a$b$ FROM t", none).kind).toBe("select");
  });

  it("leaves INSERT data after FORMAT and VALUES untouched (semicolons, braces, placeholders)", () => {
    const sql = 'INSERT INTO t FORMAT JSONEachRow\n{"a":"x;y {p:String}"}\n{"a":"z"}; {b:String}';
    expect(analyzeSql(sql, none)).toEqual({
      sql,
      kind: "insert",
      format: undefined,
      statement: "INSERT INTO t FORMAT JSONEachRow",
      insertData: '\n{"a":"x;y {p:String}"}\n{"a":"z"}; {b:String}',
    });
    const values = "INSERT INTO t VALUES ('a;b', '{p:String}'); ";
    expect(analyzeSql(values, none).sql).toBe(values);
  });

  it("tells an INSERT without data from one with data and from INSERT … SELECT", () => {
    expect(analyzeSql("INSERT INTO t FORMAT JSONEachRow", none).insertData).toBe("");
    expect(analyzeSql("INSERT INTO t FORMAT CSV\n  \n", none).insertData).toBe("\n  \n");
    expect(analyzeSql("INSERT INTO t VALUES", none).insertData).toBe("");
    expect(analyzeSql("INSERT INTO t VALUES (1)", none).insertData).toBe(" (1)");
    expect(analyzeSql("INSERT INTO t SELECT 1", none).insertData).toBeUndefined();
    expect(analyzeSql("SELECT 1", none).insertData).toBeUndefined();
  });

  it("binds a Map through a one-element Tuple (String → Map is not a CAST the engine does)", () => {
    expect(paramLiteral("Map(String, UInt32)", "{'a':1}")).toBe(
      "tupleElement(_CAST('({\\'a\\':1})', 'Tuple(Map(String, UInt32))'), 1)",
    );
  });

  it("substitutes placeholders outside strings, comments and quoted identifiers", () => {
    const params = new Map([
      ["id", "42"],
      ["s", "it\\'s"],
    ]);
    const out = analyzeSql(
      "SELECT {id:UInt64}, '{s:String}', `{s:String}` -- {s:String}\n, { s : Nullable(String) }, {'k':1}",
      params,
    );
    expect(out.sql).toBe(
      "SELECT _CAST('42', 'UInt64'), '{s:String}', `{s:String}` -- {s:String}\n, _CAST('it\\'s', 'Nullable(String)'), {'k':1}",
    );
  });

  it("reads types with quotes and nesting", () => {
    const params = new Map([["t", "2026-01-01 00:00:00.000"]]);
    expect(analyzeSql("SELECT {t:DateTime64(3, 'UTC')}", params).sql).toBe(
      "SELECT _CAST('2026-01-01 00:00:00.000', 'DateTime64(3, \\'UTC\\')')",
    );
  });

  it("a missing parameter is UNKNOWN_QUERY_PARAMETER (456); an empty query is a syntax error", () => {
    expect(codeOf(() => analyzeSql("SELECT {x:String}", none))).toBe(456);
    expect(codeOf(() => analyzeSql("  -- only a comment", none))).toBe(62);
    expect(codeOf(() => analyzeSql("SELECT 'unterminated", none))).toBe(62);
  });
});

describe("unescapeText", () => {
  it("undoes ClickHouse escapes", () => {
    expect(unescapeText("a\\tb\\nc\\rd\\\\e\\'f\\0g")).toBe("a\tb\nc\rd\\e'f\0g");
    expect(unescapeText("\\x41\\xe2\\x9c\\x93")).toBe("A✓");
    expect(unescapeText("\\q")).toBe("q");
    expect(unescapeText("plain ✓ 🚀")).toBe("plain ✓ 🚀");
    expect(() => unescapeText("trailing\\")).toThrow();
  });
});

describe("paramLiteral: what the clients send binds to exactly the value they meant", () => {
  // The proof obligation: for every value, the text @clickhouse/client-common produces
  // (`formatQueryParams`) must turn into a SQL literal that reads back as the original value.
  const nasty = [
    "",
    "plain",
    "it's",
    'double "quotes"',
    "back\\slash",
    "ends with backslash\\",
    "\\'",
    "\\N",
    "new\nline\r\ncr\ttab",
    "ünïcødé ✓ 🚀 中文",
    "{x:String} ; -- /* */",
    "\0nul",
  ];
  for (const s of nasty) {
    it(`String ${JSON.stringify(s)}`, () => {
      expect(paramLiteral("String", formatQueryParams({ value: s }))).toBe(`_CAST(${quoteString(s)}, 'String')`);
    });
  }

  it("null is \\N → NULL; the string '\\N' stays a string", () => {
    expect(paramLiteral("Nullable(String)", formatQueryParams({ value: null }))).toBe(
      "_CAST(NULL, 'Nullable(String)')",
    );
    expect(paramLiteral("Nullable(String)", formatQueryParams({ value: "\\N" }))).toBe(
      "_CAST('\\\\N', 'Nullable(String)')",
    );
  });

  it("arrays pass their literal text through, quoted once as a whole", () => {
    const text = formatQueryParams({ value: ["a", "b'c", "d\\e", "f,g]", null] });
    expect(text).toBe("['a','b\\'c','d\\\\e','f,g]',NULL]");
    expect(paramLiteral("Array(Nullable(String))", text)).toBe(
      `_CAST(${quoteString(text)}, 'Array(Nullable(String))')`,
    );
  });

  it("numbers, UUIDs, DateTime64 and 64-bit integers are cast from their text", () => {
    expect(paramLiteral("UInt64", formatQueryParams({ value: 18446744073709551615n }))).toBe(
      "_CAST('18446744073709551615', 'UInt64')",
    );
    expect(paramLiteral("Float64", formatQueryParams({ value: 0.1 + 0.2 }))).toBe(
      "_CAST('0.30000000000000004', 'Float64')",
    );
    expect(paramLiteral("DateTime64(3)", formatQueryParams({ value: new Date(1_700_000_000_123) }))).toBe(
      "_CAST('1700000000.123', 'DateTime64(3)')",
    );
    expect(paramLiteral("UUID", "0190a3c2-0000-7000-8000-000000000001")).toBe(
      "_CAST('0190a3c2-0000-7000-8000-000000000001', 'UUID')",
    );
  });

  it("Identifier parameters become quoted identifiers", () => {
    expect(paramLiteral("Identifier", "my`table")).toBe("`my\\`table`");
  });

  it("a malformed escape is BAD_QUERY_PARAMETER (457) with status 400", () => {
    try {
      paramLiteral("String", "oops\\");
      throw new Error("expected a throw");
    } catch (err) {
      expect(err).toBeInstanceOf(ClickHouseException);
      expect((err as ClickHouseException).code).toBe(457);
      expect((err as ClickHouseException).status).toBe(400);
    }
  });
});

import { describe, expect, it } from "vitest";
import { ClickHouseException } from "./errors.ts";
import { buildPrelude, connectionArgs, effectiveReadonly, statementGuard, withoutGuardScope } from "./settings.ts";

describe("buildPrelude", () => {
  it("sets the request's settings as string literals and always bounds the query", () => {
    expect(
      buildPrelude({
        settings: new Map([
          ["max_threads", "2"],
          ["log_comment", "it's"],
          ["max_execution_time", "9"],
        ]),
        maxExecutionSeconds: 1.23456,
        currentDatabase: "default",
        targetDatabase: "default",
      }),
    ).toBe("SET max_threads = '2', log_comment = 'it\\'s', max_execution_time = 1.235;\n");
  });

  it("switches database only when the session is elsewhere or unknown", () => {
    const base = { settings: new Map<string, string>(), maxExecutionSeconds: 30 };
    expect(buildPrelude({ ...base, currentDatabase: "default", targetDatabase: "a`b" })).toBe(
      "SET max_execution_time = 30;\nUSE `a\\`b`;\n",
    );
    expect(buildPrelude({ ...base, currentDatabase: undefined, targetDatabase: "default" })).toBe(
      "SET max_execution_time = 30;\nUSE `default`;\n",
    );
  });

  it("refuses setting names that are not identifiers (no SQL through a name)", () => {
    expect(() =>
      buildPrelude({
        settings: new Map([["x = 1; DROP TABLE t; --", "1"]]),
        maxExecutionSeconds: 1,
        currentDatabase: "default",
        targetDatabase: "default",
      }),
    ).toThrow(ClickHouseException);
  });

  it("starts every session with the engine's JSON defaults (64-bit integers unquoted, as a 25.8+ server) and the gateway's time limit", () => {
    expect(connectionArgs(30_000)).toEqual(["--implicit_select=0", "--max_execution_time=30"]);
    expect(connectionArgs(30_000, "/d/gateway-access/config.xml")).toContain(
      "--config-file=/d/gateway-access/config.xml",
    );
  });

  it("GET adds readonly = 2 last, after the request's own settings", () => {
    expect(
      buildPrelude({
        settings: new Map([["max_threads", "2"]]),
        maxExecutionSeconds: 5,
        currentDatabase: "default",
        targetDatabase: "default",
        readonly: true,
      }),
    ).toBe("SET max_threads = '2', max_execution_time = 5;\nSET readonly = 2;\n");
  });

  it("readonly and allow_ddl go last, after the gateway's own limit and USE", () => {
    expect(
      buildPrelude({
        settings: new Map([
          ["readonly", "1"],
          ["allow_ddl", "0"],
          ["max_threads", "2"],
        ]),
        maxExecutionSeconds: 5,
        currentDatabase: "default",
        targetDatabase: "db",
      }),
    ).toBe("SET max_threads = '2', max_execution_time = 5;\nUSE `db`;\nSET allow_ddl = '0', readonly = '1';\n");
    expect(
      buildPrelude({
        settings: new Map([["readonly", "1"]]),
        maxExecutionSeconds: 5,
        currentDatabase: "default",
        targetDatabase: "default",
        readonly: true,
      }),
    ).toBe("SET max_execution_time = 5;\nSET readonly = 1;\n");
  });

  it("GET keeps readonly at 2 or stricter; lowering it is the server's READONLY error", () => {
    expect(effectiveReadonly(undefined, true)).toBe("2");
    expect(effectiveReadonly("1", true)).toBe("1");
    expect(effectiveReadonly("2", true)).toBe("2");
    for (const lower of ["0", "", "x", "-1", "1; SET readonly = 0"]) {
      expect(() => effectiveReadonly(lower, true), lower).toThrow(/Cannot modify 'readonly' setting in readonly mode/);
    }
    expect(effectiveReadonly("0", false)).toBe("0");
    expect(effectiveReadonly(undefined, false)).toBeUndefined();
  });
});

describe("statementGuard", () => {
  it("asks the engine's parser for the statement's kind, with the SQL as one quoted literal", () => {
    const guard = statementGuard("SELECT $$x'$$; DROP TABLE t", "select");
    expect(guard).toContain("formatQuerySingleLine('SELECT $$x\\'$$; DROP TABLE t')");
    expect(guard).toContain("!= 'select'");
    expect(guard.endsWith("FORMAT Null;\n")).toBe(true);
  });
});

describe("withoutGuardScope", () => {
  it("drops the guard's own SQL from an engine error, keeps everything else", () => {
    const err = new ClickHouseException(
      62,
      "Syntax error: failed at position 7 (1): 1 FORMAT JSON. Expected one of: FROM: In scope WITH extract(formatQuerySingleLine('SELEC 1'), 'x') AS w SELECT throwIf(1)",
      { type: "SYNTAX_ERROR" },
    );
    const out = withoutGuardScope(err) as ClickHouseException;
    expect(out.message).toBe("Syntax error: failed at position 7 (1): 1 FORMAT JSON. Expected one of: FROM");
    expect([out.code, out.type, out.status]).toEqual([62, "SYNTAX_ERROR", 400]);
    const other = new ClickHouseException(60, "Unknown table", { type: "UNKNOWN_TABLE" });
    expect(withoutGuardScope(other)).toBe(other);
  });
});

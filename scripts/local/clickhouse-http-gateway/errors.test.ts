import { describe, expect, it } from "vitest";
import { ClickHouseException, chError, formatExceptionText, fromEngineError, statusForType } from "./errors.ts";

describe("statusForType (ClickHouse's exceptionCodeToHTTPStatus)", () => {
  it.each([
    ["SYNTAX_ERROR", 400],
    ["CANNOT_PARSE_UUID", 400],
    ["TYPE_MISMATCH", 400],
    ["UNKNOWN_TABLE", 404],
    ["UNKNOWN_DATABASE", 404],
    ["UNKNOWN_SETTING", 404],
    ["UNKNOWN_FUNCTION", 404],
    ["REQUIRED_PASSWORD", 401],
    ["AUTHENTICATION_FAILED", 403],
    ["WRONG_PASSWORD", 403],
    ["ACCESS_DENIED", 403],
    ["TIMEOUT_EXCEEDED", 408],
    ["QUERY_IS_TOO_LARGE", 413],
    ["NOT_IMPLEMENTED", 501],
    ["CANNOT_SCHEDULE_TASK", 503],
    ["TOO_MANY_SIMULTANEOUS_QUERIES", 500],
    ["READONLY", 500],
    ["MEMORY_LIMIT_EXCEEDED", 500],
  ])("%s → %i", (type, status) => {
    expect(statusForType(type)).toBe(status);
  });
});

describe("fromEngineError", () => {
  it("keeps chDB's code, name and message", () => {
    const e = fromEngineError(
      Object.assign(
        new Error(
          "Code: 60. DB::Exception: Unknown table expression identifier 'x' in scope SELECT * FROM x. (UNKNOWN_TABLE)",
        ),
        {
          clickhouseCode: 60,
        },
      ),
    );
    expect(e).toMatchObject({ code: 60, type: "UNKNOWN_TABLE", status: 404 });
    expect(e.message).toBe("Unknown table expression identifier 'x' in scope SELECT * FROM x");
  });

  it("handles messages with parentheses and lines inside", () => {
    const e = fromEngineError(
      new Error(
        "Code: 62. DB::Exception: Syntax error: failed at position 7 (1):\n1. Expected one of: a, b. (SYNTAX_ERROR)",
      ),
    );
    expect(e).toMatchObject({ code: 62, type: "SYNTAX_ERROR", status: 400 });
    expect(e.message).toBe("Syntax error: failed at position 7 (1):\n1. Expected one of: a, b");
  });

  it("anything else is UNKNOWN_EXCEPTION 1002 / 500", () => {
    expect(fromEngineError(new Error("addon exploded"))).toMatchObject({
      code: 1002,
      type: "UNKNOWN_EXCEPTION",
      status: 500,
    });
  });
});

describe("formatExceptionText", () => {
  it("writes the server's text, which the client's regex parses", () => {
    const text = formatExceptionText(chError("AUTHENTICATION_FAILED", "default: Authentication failed"), "26.7.2.1");
    expect(text).toBe(
      "Code: 516. DB::Exception: default: Authentication failed. (AUTHENTICATION_FAILED) (version 26.7.2.1)\n",
    );
    // The regex @clickhouse/client-common uses to parse errors.
    const m =
      /(Code|Error): (?<code>\d+).*Exception: (?<message>.+?)\((?<type>(?=[A-Z0-9_]*[A-Z]{3})[A-Z0-9_]+)\)/s.exec(text);
    expect(m?.groups).toMatchObject({ code: "516", type: "AUTHENTICATION_FAILED" });
  });

  it("does not double the final period", () => {
    const e = new ClickHouseException(159, "Timeout exceeded.", { type: "TIMEOUT_EXCEEDED" });
    expect(formatExceptionText(e, "v")).toBe(
      "Code: 159. DB::Exception: Timeout exceeded. (TIMEOUT_EXCEEDED) (version v)\n",
    );
  });
});

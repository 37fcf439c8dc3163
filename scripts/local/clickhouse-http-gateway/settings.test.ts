import { describe, expect, it } from "vitest";
import { ClickHouseException } from "./errors.ts";
import { buildPrelude, connectionArgs } from "./settings.ts";

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

  it("starts every session quoting 64-bit integers in JSON and with the gateway's time limit", () => {
    expect(connectionArgs(30_000)).toEqual(["--output_format_json_quote_64bit_integers=1", "--max_execution_time=30"]);
  });
});

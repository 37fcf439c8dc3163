import { describe, expect, it } from "vitest";
import { ClickHouseException } from "./errors.ts";
import {
  composeSqlText,
  isHttpOnlyParameter,
  parseRequestParameters,
  readCredentials,
  requestedTimeoutMs,
} from "./request.ts";

const noHeaders = new Headers();

describe("settings filtering", () => {
  it("keeps settings and strips HTTP-only parameters", () => {
    const search = new URLSearchParams({
      query: "SELECT 1",
      query_id: "q1",
      database: "analytics",
      default_format: "JSON",
      wait_end_of_query: "1",
      session_id: "",
      session_timeout: "60",
      session_check: "0",
      role: "r",
      compress: "1",
      decompress: "1",
      enable_http_compression: "1",
      buffer_size: "1000",
      http_headers_progress_interval_ms: "100",
      quota_key: "k",
      param_id: "7",
      max_threads: "2",
      output_format_json_quote_64bit_integers: "0",
      max_execution_time: "5",
    });
    const req = parseRequestParameters(search, noHeaders);
    expect([...req.settings]).toEqual([
      ["max_threads", "2"],
      ["output_format_json_quote_64bit_integers", "0"],
      ["max_execution_time", "5"],
    ]);
    expect([...req.params]).toEqual([["id", "7"]]);
    expect(req).toMatchObject({
      queryParam: "SELECT 1",
      queryId: "q1",
      database: "analytics",
      defaultFormat: "JSON",
      sessionId: undefined,
      compressResponse: true,
    });
  });

  it.each(["user", "password", "param_x", "http_zlib_compression_level", "stacktrace", "close_session"])(
    "%s is HTTP-only",
    (name) => expect(isHttpOnlyParameter(name)).toBe(true),
  );
  it.each(["max_threads", "max_execution_time", "join_use_nulls"])("%s is a setting", (name) =>
    expect(isHttpOnlyParameter(name)).toBe(false),
  );

  it("readonly and allow_ddl are settings like the others", () => {
    const req = parseRequestParameters(new URLSearchParams({ readonly: "1", allow_ddl: "0" }), noHeaders);
    expect([...req.settings]).toEqual([
      ["readonly", "1"],
      ["allow_ddl", "0"],
    ]);
  });
});

describe("credentials", () => {
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  it("reads Basic auth, X-ClickHouse headers, URL parameters, or falls back to default", () => {
    expect(
      readCredentials(new URLSearchParams(), new Headers({ Authorization: `Basic ${b64("u:p:with:colons")}` })),
    ).toEqual({
      user: "u",
      password: "p:with:colons",
      source: "basic",
    });
    expect(
      readCredentials(new URLSearchParams(), new Headers({ "X-ClickHouse-User": "u", "X-ClickHouse-Key": "k" })),
    ).toEqual({ user: "u", password: "k", source: "headers" });
    expect(readCredentials(new URLSearchParams({ user: "u", password: "p" }), noHeaders)).toEqual({
      user: "u",
      password: "p",
      source: "url",
    });
    expect(readCredentials(new URLSearchParams(), noHeaders)).toEqual({
      user: "default",
      password: "",
      source: "none",
    });
    expect(readCredentials(new URLSearchParams(), new Headers({ Authorization: "Bearer x" })).source).toBe("bearer");
  });

  it("mixing methods is AUTHENTICATION_FAILED", () => {
    expect(() =>
      readCredentials(new URLSearchParams({ user: "u" }), new Headers({ Authorization: `Basic ${b64("u:p")}` })),
    ).toThrow(/not allowed/);
  });
});

describe("composeSqlText and requestedTimeoutMs", () => {
  it("joins the query parameter and the body with a newline, like the server", () => {
    expect(composeSqlText("INSERT INTO t FORMAT JSONEachRow", '{"a":1}')).toBe(
      'INSERT INTO t FORMAT JSONEachRow\n{"a":1}',
    );
    expect(composeSqlText(undefined, "SELECT 1")).toBe("SELECT 1");
    expect(composeSqlText("SELECT 1", "")).toBe("SELECT 1");
  });

  it("reads max_execution_time in seconds; 0 means no request limit", () => {
    expect(requestedTimeoutMs(new Map([["max_execution_time", "1.5"]]))).toBe(1500);
    expect(requestedTimeoutMs(new Map([["max_execution_time", "0"]]))).toBeUndefined();
    expect(requestedTimeoutMs(new Map())).toBeUndefined();
    expect(() => requestedTimeoutMs(new Map([["max_execution_time", "soon"]]))).toThrow(ClickHouseException);
  });
});

// The real framework error, to pin that errorAnswer recognises it by shape (tests may import it).
import { HTTPException } from "hono/http-exception";
import { describe, expect, it } from "vitest";
import { ApiError, errorAnswer, errorBody, STATUS_OF } from "./errors.ts";
import { healthBody } from "./health.ts";

describe("error envelope", () => {
  it("has exactly code and message when there are no details", () => {
    expect(errorBody("not_found", "no such post")).toEqual({ error: { code: "not_found", message: "no such post" } });
  });

  it("carries details only when given", () => {
    expect(errorBody("bad_request", "bad", [{ index: 0 }]).error.details).toEqual([{ index: 0 }]);
  });

  it("maps each code to its conventional status", () => {
    expect(STATUS_OF.unauthorized).toBe(401);
    expect(STATUS_OF.payload_too_large).toBe(413);
    expect(STATUS_OF.rate_limited).toBe(429);
    expect(STATUS_OF.unavailable).toBe(503);
  });

  it("ApiError takes its status from the code unless overridden", () => {
    expect(new ApiError("rate_limited", "slow down").status).toBe(429);
    expect(new ApiError("internal", "x", undefined, { status: 502 }).status).toBe(502);
  });
});

describe("errorAnswer", () => {
  it("keeps an ApiError's code, status, details and headers", () => {
    const err = new ApiError("rate_limited", "slow down", [1], { headers: { "Retry-After": "3" } });
    expect(errorAnswer(err)).toEqual({
      status: 429,
      body: { error: { code: "rate_limited", message: "slow down", details: [1] } },
      headers: { "Retry-After": "3" },
      unexpected: false,
    });
  });

  it.each([
    [400, "bad_request"],
    [401, "unauthorized"],
    [413, "payload_too_large"],
    [405, "method_not_allowed"],
    [415, "unsupported_media_type"],
    [418, "bad_request"],
    [503, "unavailable"],
    [507, "internal"],
  ] as const)("maps a framework HTTP error %i to %s, keeping its status", (status, code) => {
    const a = errorAnswer(new HTTPException(status, { message: "Malformed JSON in request body" }));
    expect([a.status, a.body.error.code, a.body.error.message, a.unexpected]).toEqual([
      status,
      code,
      "Malformed JSON in request body",
      false,
    ]);
  });

  it("answers anything else as a bare 500 and flags it for the log", () => {
    for (const err of [new Error("db password is hunter2"), "a string", null]) {
      expect(errorAnswer(err)).toEqual({
        status: 500,
        body: { error: { code: "internal", message: "internal error" } },
        headers: {},
        unexpected: true,
      });
    }
  });

  it("does not take an ordinary error with a status field for a framework error", () => {
    expect(errorAnswer(Object.assign(new Error("upstream"), { status: 404 })).status).toBe(500);
  });
});

describe("health body", () => {
  it("names the component that answered", () => {
    expect(healthBody("edge")).toMatchObject({ status: "ok", component: "edge" });
  });
});

import { describe, expect, it } from "vitest";
import { ApiError, errorBody, STATUS_OF } from "./errors.ts";
import { healthBody } from "./service.ts";

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

describe("health body", () => {
  it("names the component that answered", () => {
    expect(healthBody("edge")).toMatchObject({ status: "ok", component: "edge" });
  });
});

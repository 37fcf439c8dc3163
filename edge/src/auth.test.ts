import { describe, expect, it } from "vitest";
import { ApiError } from "#core/errors.ts";
import { checkLifetime } from "./auth.ts";

describe("checkLifetime", () => {
  const now = 1_800_000_000;
  it("accepts a token within the cap (and the clock tolerance)", () => {
    expect(() => checkLifetime({ exp: now + 86_400 }, 86_400, now)).not.toThrow();
    expect(() => checkLifetime({ exp: now + 86_420, iat: now + 20 }, 86_400, now)).not.toThrow();
  });
  it.each([
    ["exp too far ahead", { exp: now + 86_400 + 31 }],
    ["exp - iat over the cap", { exp: now + 3600, iat: now - 86_000 }],
    ["no numeric exp", { exp: "soon" }],
  ])("refuses %s with a 401", (_name, payload) => {
    let err: unknown;
    try {
      checkLifetime(payload, 86_400, now);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(401);
    expect((err as ApiError).message).toMatch(/lifetime exceeds the maximum of 86400 s/);
  });
});

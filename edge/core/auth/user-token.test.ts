import { describe, expect, it } from "vitest";
import { ApiError } from "../errors.ts";
import { authenticateUser, MAX_TOKEN_LENGTH, userTokenChecks } from "./user-token.ts";

const USER = "11111111-1111-4111-8111-111111111111";
const accept = (sub: unknown) => async () => ({ sub });
const refuse = (code?: string) => async () => {
  throw Object.assign(new Error("refused"), code ? { code } : {});
};

async function rejected(p: Promise<unknown>): Promise<ApiError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApiError);
  return err as ApiError;
}

describe("authenticateUser", () => {
  it("returns the subject, lowercased, of a token the verifier accepts", async () => {
    expect(await authenticateUser("Bearer a.b.c", accept(USER.toUpperCase()))).toBe(USER);
  });

  it.each([undefined, "", "Basic abc", "Bearer ", "Bearer a b", `Bearer ${"a".repeat(MAX_TOKEN_LENGTH + 1)}`])(
    "401 without reading %j",
    async (header) => {
      let called = false;
      const err = await rejected(
        authenticateUser(header, async () => {
          called = true;
          return { sub: USER };
        }),
      );
      expect(err.status).toBe(401);
      expect(called).toBe(false);
    },
  );

  it.each([
    ["ERR_JWT_EXPIRED", "token expired"],
    ["ERR_JOSE_ALG_NOT_ALLOWED", "token algorithm not allowed"],
    ["ERR_JWS_SIGNATURE_VERIFICATION_FAILED", "invalid token"],
    [undefined, "invalid token"],
  ])("401 saying why when the verifier refuses (%s)", async (code, message) => {
    const err = await rejected(authenticateUser("Bearer a.b.c", refuse(code)));
    expect([err.status, err.message]).toEqual([401, message]);
  });

  it("passes the verifier's own ApiError through (authentication not configured is a 500)", async () => {
    const err = await rejected(
      authenticateUser("Bearer a.b.c", async () => {
        throw new ApiError("internal", "authentication is not configured");
      }),
    );
    expect(err.status).toBe(500);
  });

  it.each([["admin"], [42], [undefined]])("401 when sub is not a user UUID (%j)", async (sub) => {
    const err = await rejected(authenticateUser("Bearer a.b.c", async () => (sub === undefined ? {} : { sub })));
    expect(err.message).toMatch(/subject/);
  });
});

describe("userTokenChecks", () => {
  it("requires exp and sub, and iss/aud only when configured", () => {
    expect(userTokenChecks()).toEqual({ requiredClaims: ["exp", "sub"], clockTolerance: 30 });
    expect(userTokenChecks({ issuer: "i", audience: "a" })).toMatchObject({ issuer: "i", audience: "a" });
  });
});

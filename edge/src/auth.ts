/**
 * Bearer JWT authentication. HS256 with a shared secret (JWT_SECRET), or RS256/ES256 against a
 * JWKS URL (JWT_JWKS_URL); `sub` is the user's UUID. Algorithms are pinned, so `alg: none` and
 * algorithm-confusion tokens are refused; `exp` is required. The header, claim and subject
 * rules are edge/core/user-token.ts; this file only picks the key and runs jose.
 */
import { createRemoteJWKSet, jwtVerify } from "jose";
import { ApiError, authenticateUser, type TokenVerifier, userTokenChecks } from "../core/index.ts";
import type { AuthConfig } from "./config.ts";

/** The key set fetches and caches keys itself; one per isolate per URL. */
let jwksCache: { url: string; set: ReturnType<typeof createRemoteJWKSet> } | null = null;

function jwksFor(url: string): ReturnType<typeof createRemoteJWKSet> {
  if (jwksCache?.url !== url) {
    jwksCache = { url, set: createRemoteJWKSet(new URL(url), { timeoutDuration: 2000, cooldownDuration: 30_000 }) };
  }
  return jwksCache.set;
}

function verifierFor(auth: AuthConfig): TokenVerifier {
  const checks = userTokenChecks({ issuer: auth.issuer, audience: auth.audience });
  return async (token) => {
    if (auth.jwksUrl) {
      return (await jwtVerify(token, jwksFor(auth.jwksUrl), { algorithms: ["RS256", "ES256"], ...checks })).payload;
    }
    if (!auth.jwtSecret) {
      throw new ApiError(
        "internal",
        "authentication is not configured (JWT_SECRET of at least 32 chars, or JWT_JWKS_URL)",
      );
    }
    const key = new TextEncoder().encode(auth.jwtSecret);
    return (await jwtVerify(token, key, { algorithms: ["HS256"], ...checks })).payload;
  };
}

/** Verifies the request's bearer token and returns the user id (`sub`); throws a 401 ApiError otherwise. */
export function authenticate(authorization: string | undefined, auth: AuthConfig): Promise<string> {
  return authenticateUser(authorization, verifierFor(auth));
}

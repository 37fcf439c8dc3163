/**
 * Bearer JWT authentication. HS256 with a shared secret (JWT_SECRET), or RS256/ES256 against a
 * JWKS URL (JWT_JWKS_URL); `sub` is the user's UUID. Algorithms are pinned, so `alg: none` and
 * algorithm-confusion tokens are refused; `exp` is required. The header, claim and subject
 * rules are edge/core/auth/user-token.ts; this file only picks the key and runs jose.
 */
import { createRemoteJWKSet, jwtVerify } from "jose";
import {
  authenticateUser,
  TOKEN_CLOCK_TOLERANCE_S,
  type TokenVerifier,
  userTokenChecks,
} from "#core/auth/user-token.ts";
import { ApiError } from "#core/errors.ts";
import type { AuthConfig } from "./config.ts";

/** The key set fetches and caches keys itself; one per isolate per URL. */
let jwksCache: { url: string; set: ReturnType<typeof createRemoteJWKSet> } | null = null;

function jwksFor(url: string): ReturnType<typeof createRemoteJWKSet> {
  if (jwksCache?.url !== url) {
    jwksCache = { url, set: createRemoteJWKSet(new URL(url), { timeoutDuration: 2000, cooldownDuration: 30_000 }) };
  }
  return jwksCache.set;
}

/**
 * Refuses a token that lives longer than `maxTtlS`: `exp` further than that from now (plus the
 * clock tolerance), or further than that from its own `iat`. A stolen long-lived token is the
 * risk; 24 h by default (JWT_MAX_TTL_S).
 */
export function checkLifetime(payload: { exp?: unknown; iat?: unknown }, maxTtlS: number, nowS: number): void {
  const exp = typeof payload.exp === "number" ? payload.exp : Number.NaN;
  const tooLong = new ApiError("unauthorized", `token lifetime exceeds the maximum of ${maxTtlS} s`);
  if (!(exp - nowS <= maxTtlS + TOKEN_CLOCK_TOLERANCE_S)) throw tooLong;
  if (typeof payload.iat === "number" && !(exp - payload.iat <= maxTtlS)) throw tooLong;
}

function verifierFor(auth: AuthConfig): TokenVerifier {
  const checks = userTokenChecks({ issuer: auth.issuer, audience: auth.audience });
  const verify = verifyToken(auth, checks);
  return async (token) => {
    const payload = await verify(token);
    checkLifetime(payload, auth.maxTtlS, Math.floor(Date.now() / 1000));
    return payload;
  };
}

function verifyToken(
  auth: AuthConfig,
  checks: ReturnType<typeof userTokenChecks>,
): (token: string) => Promise<{ sub?: unknown; exp?: unknown; iat?: unknown }> {
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

/** RFC 7235: the auth scheme is case-insensitive and may be followed by several spaces. */
const ANY_CASE_BEARER = /^bearer +(\S+)$/i;

/** Verifies the request's bearer token and returns the user id (`sub`); throws a 401 ApiError otherwise. */
export function authenticate(authorization: string | undefined, auth: AuthConfig): Promise<string> {
  const m = ANY_CASE_BEARER.exec(authorization ?? "");
  return authenticateUser(m ? `Bearer ${m[1]}` : authorization, verifierFor(auth));
}

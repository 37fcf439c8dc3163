/**
 * Bearer JWT authentication. HS256 with a shared secret (JWT_SECRET), or RS256/ES256 against a
 * JWKS URL (JWT_JWKS_URL); `sub` is the user's UUID. Algorithms are pinned, so `alg: none` and
 * algorithm-confusion tokens are refused; `exp` is required.
 */
import { createRemoteJWKSet, errors, type JWTPayload, jwtVerify } from "jose";
import { ApiError } from "../core/index.ts";
import type { Env } from "./env.ts";

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MAX_TOKEN_LENGTH = 8192;

let jwksCache: { url: string; set: ReturnType<typeof createRemoteJWKSet> } | null = null;

/** The bindings authentication reads (so a Node process can verify tokens the same way). */
export type AuthEnv = Pick<Env, "JWT_SECRET" | "JWT_JWKS_URL" | "JWT_ISSUER" | "JWT_AUDIENCE">;

function verifierFor(env: AuthEnv): { key: Uint8Array | ReturnType<typeof createRemoteJWKSet>; algorithms: string[] } {
  if (env.JWT_JWKS_URL) {
    if (jwksCache?.url !== env.JWT_JWKS_URL) {
      jwksCache = {
        url: env.JWT_JWKS_URL,
        set: createRemoteJWKSet(new URL(env.JWT_JWKS_URL), { timeoutDuration: 2000, cooldownDuration: 30_000 }),
      };
    }
    return { key: jwksCache.set, algorithms: ["RS256", "ES256"] };
  }
  if (!env.JWT_SECRET || env.JWT_SECRET.length < 32) {
    throw new ApiError(
      "internal",
      "authentication is not configured (JWT_SECRET of at least 32 chars, or JWT_JWKS_URL)",
    );
  }
  return { key: new TextEncoder().encode(env.JWT_SECRET), algorithms: ["HS256"] };
}

/** Verifies the request's bearer token and returns the user id (`sub`); throws a 401 ApiError otherwise. */
export async function authenticate(authorization: string | undefined, env: AuthEnv): Promise<string> {
  const m = /^Bearer ([A-Za-z0-9_\-.]+)$/.exec(authorization ?? "");
  if (!m || (m[1] as string).length > MAX_TOKEN_LENGTH) {
    throw new ApiError("unauthorized", "missing or malformed Authorization: Bearer <token>");
  }
  const { key, algorithms } = verifierFor(env);
  let payload: JWTPayload;
  try {
    const opts = {
      algorithms,
      requiredClaims: ["exp", "sub"],
      ...(env.JWT_ISSUER ? { issuer: env.JWT_ISSUER } : {}),
      ...(env.JWT_AUDIENCE ? { audience: env.JWT_AUDIENCE } : {}),
      clockTolerance: 30,
    };
    // jwtVerify is overloaded on the key's kind (secret vs key set); branch so each call types.
    const token = m[1] as string;
    payload =
      key instanceof Uint8Array
        ? (await jwtVerify(token, key, opts)).payload
        : (await jwtVerify(token, key, opts)).payload;
  } catch (err) {
    const reason =
      err instanceof errors.JWTExpired
        ? "token expired"
        : err instanceof errors.JOSEAlgNotAllowed
          ? "token algorithm not allowed"
          : "invalid token";
    throw new ApiError("unauthorized", reason, undefined, { cause: err });
  }
  const sub = typeof payload.sub === "string" ? payload.sub.toLowerCase() : "";
  if (!UUID_RE.test(sub)) throw new ApiError("unauthorized", "token subject must be a user UUID");
  return sub;
}

/**
 * The runtime-neutral half of bearer authentication: reading the `Authorization` header, the
 * claims every user token must carry, turning a verifier's failure into a 401 with a reason,
 * and the `sub` → user id rule. The signature check itself is injected (`TokenVerifier`):
 * the edge verifies with jose against its configured key or JWKS (edge/src/auth.ts), the
 * benchmark's baseline with the same HS256 secret.
 */
import { ApiError } from "../errors.ts";
import { isUuid } from "../uuid.ts";

/** Longer bearer tokens are refused unread. */
export const MAX_TOKEN_LENGTH = 8192;
/** Seconds of clock skew tolerated on `exp` and `nbf`. */
export const TOKEN_CLOCK_TOLERANCE_S = 30;

/** Claim checks for the verifier (jose's `JWTVerifyOptions` shape): `exp` and `sub` required. */
export interface UserTokenChecks {
  requiredClaims: string[];
  clockTolerance: number;
  issuer?: string;
  audience?: string;
}

/** The claim checks of a user token; `iss` and `aud` only when configured. */
export function userTokenChecks(
  opts: { issuer?: string | undefined; audience?: string | undefined } = {},
): UserTokenChecks {
  return {
    requiredClaims: ["exp", "sub"],
    clockTolerance: TOKEN_CLOCK_TOLERANCE_S,
    ...(opts.issuer ? { issuer: opts.issuer } : {}),
    ...(opts.audience ? { audience: opts.audience } : {}),
  };
}

/**
 * Checks a token's signature and claims and resolves to its payload; rejects otherwise, with
 * jose's error `code` where there is one. An ApiError it throws (e.g. "not configured") passes
 * through unchanged.
 */
export type TokenVerifier = (token: string) => Promise<{ sub?: unknown }>;

const BEARER_RE = /^Bearer ([A-Za-z0-9_\-.]+)$/;

/** Why a token was refused, as the 401 says it (jose's error codes; anything else is "invalid"). */
function rejection(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === "ERR_JWT_EXPIRED") return "token expired";
  if (code === "ERR_JOSE_ALG_NOT_ALLOWED") return "token algorithm not allowed";
  return "invalid token";
}

/** Verifies the request's bearer token and returns the user id (`sub`, lowercase); throws a 401 ApiError otherwise. */
export async function authenticateUser(authorization: string | undefined, verify: TokenVerifier): Promise<string> {
  const m = BEARER_RE.exec(authorization ?? "");
  const token = m?.[1];
  if (token === undefined || token.length > MAX_TOKEN_LENGTH) {
    throw new ApiError("unauthorized", "missing or malformed Authorization: Bearer <token>");
  }
  let payload: { sub?: unknown };
  try {
    payload = await verify(token);
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw new ApiError("unauthorized", rejection(err), undefined, { cause: err });
  }
  const sub = typeof payload.sub === "string" ? payload.sub.toLowerCase() : "";
  if (!isUuid(sub)) throw new ApiError("unauthorized", "token subject must be a user UUID");
  return sub;
}

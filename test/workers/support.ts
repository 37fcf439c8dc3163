/**
 * What the workers tests share: the test user and a token the worker accepts for it (signed
 * with the JWT_SECRET of vitest.config.ts's workers project).
 */
import { SignJWT } from "jose";

export const SECRET = "workers-test-secret-0123456789-abcdefghij";
export const USER = "11111111-1111-4111-8111-111111111111";

/** A signed HS256 user token, valid 10 minutes unless told otherwise. */
export async function token(opts: { secret?: string; exp?: number; sub?: string; alg?: "HS256" | "HS512" } = {}) {
  return new SignJWT({})
    .setProtectedHeader({ alg: opts.alg ?? "HS256" })
    .setSubject(opts.sub ?? USER)
    .setExpirationTime(opts.exp ?? Math.floor(Date.now() / 1000) + 600)
    .sign(new TextEncoder().encode(opts.secret ?? SECRET));
}

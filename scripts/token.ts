/**
 * `npm run token -- <user-uuid> [--ttl 86400]`: prints a development JWT (HS256) for that user,
 * signed with JWT_SECRET from the environment, else from .dev.vars, else .dev.vars.example.
 * The last line printed is the bare token, so scripts can take `| tail -1`.
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { SignJWT } from "jose";
import { isUuid } from "#core/uuid.ts";
import { argsOrExit, intArg, parseCli, UsageError } from "./lib/cli.ts";

const ROOT = resolve(import.meta.dirname, "..");

export function readDevVar(name: string): string | undefined {
  if (process.env[name]) return process.env[name];
  for (const file of [".dev.vars", ".dev.vars.example"]) {
    const path = resolve(ROOT, file);
    if (!existsSync(path)) continue;
    for (const line of readFileSync(path, "utf8").split("\n")) {
      const m = /^\s*([A-Z0-9_]+)\s*=\s*(.*?)\s*$/.exec(line);
      if (m && m[1] === name) return m[2]?.replace(/^"(.*)"$/, "$1");
    }
  }
  return undefined;
}

export async function devToken(
  userId: string,
  ttlSeconds = 86_400,
  secret = readDevVar("JWT_SECRET"),
): Promise<string> {
  if (!secret) throw new Error("JWT_SECRET is not set (see .dev.vars.example)");
  return new SignJWT({})
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(userId)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
    .sign(new TextEncoder().encode(secret));
}

const isMain = process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename);
if (isMain) {
  const usage = "npm run token -- <user-uuid> [--ttl seconds]";
  const { userId, ttl } = argsOrExit("[token]", () => {
    const { values, positionals } = parseCli(usage, { ttl: { type: "string" } }, { positionals: 1 });
    const userId = positionals[0];
    if (!userId || !isUuid(userId)) {
      throw new UsageError(`${userId ? `'${userId}' is not a UUID` : "a user UUID is required"}\nusage: ${usage}`);
    }
    return { userId, ttl: intArg(usage, "--ttl", values.ttl, 86_400, 1) };
  });
  const token = await devToken(userId.toLowerCase(), ttl);
  console.log(`# development token for ${userId.toLowerCase()}, valid ${ttl} s`);
  console.log(token);
}

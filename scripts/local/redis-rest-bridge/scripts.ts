/**
 * Lua shebang flags Upstash accepts but Redis does not. @upstash/ratelimit 2.x starts every script
 * with `#!lua flags=allow-key-locking`, which Redis 7 refuses ("Unexpected flag in script
 * shebang"). The bridge drops flags Redis does not know before EVAL / SCRIPT LOAD, and remembers
 * which SHA1 the client computed for the original text so EVALSHA and SCRIPT EXISTS with that SHA
 * still find the script Redis cached under the rewritten text's SHA1.
 */
import { createHash } from "node:crypto";

/** The shebang flags Redis 7 understands (https://redis.io/docs/latest/develop/programmability/lua-api/). */
const REDIS_SCRIPT_FLAGS = new Set(["no-writes", "allow-oom", "allow-stale", "no-cluster", "allow-cross-slot-keys"]);
/** Bound on remembered SHA pairs; scripts are few, this only guards against a client generating them. */
const MAX_REMEMBERED = 10_000;

export function sha1(text: string): string {
  return createHash("sha1").update(text).digest("hex");
}

/** The script with unknown shebang flags removed, or null when Redis accepts it as it is. */
export function stripUnknownScriptFlags(script: string): string | null {
  const match = /^#!lua([^\n]*)/.exec(script);
  if (!match) return null;
  const options = (match[1] ?? "").trim().split(/\s+/).filter(Boolean);
  let changed = false;
  const kept = options.map((opt) => {
    if (!opt.startsWith("flags=")) return opt;
    const flags = opt.slice("flags=".length).split(",").filter(Boolean);
    const known = flags.filter((f) => REDIS_SCRIPT_FLAGS.has(f));
    if (known.length === flags.length) return opt;
    changed = true;
    // An empty `flags=` is valid and keeps the shebang's semantics (declared-flags mode).
    return `flags=${known.join(",")}`;
  });
  if (!changed) return null;
  return `#!lua${kept.length > 0 ? ` ${kept.join(" ")}` : ""}${script.slice(match[0].length)}`;
}

/** SHA1 the client knows (of its text) → SHA1 Redis knows (of the rewritten text). */
export class ScriptShaMap {
  private readonly map = new Map<string, string>();

  remember(clientSha: string, redisSha: string): void {
    if (this.map.size >= MAX_REMEMBERED) this.map.delete(this.map.keys().next().value as string);
    this.map.set(clientSha.toLowerCase(), redisSha);
  }

  resolve(sha: string): string {
    return this.map.get(sha.toLowerCase()) ?? sha;
  }

  /**
   * Rewrites one command for Redis: EVAL/EVAL_RO/SCRIPT LOAD get their script's flags fixed,
   * EVALSHA/EVALSHA_RO/SCRIPT EXISTS get remembered SHAs swapped. Returns the command to send and,
   * for SCRIPT LOAD, the SHA to answer with (the client checks it against its own).
   */
  rewrite(args: readonly string[]): { args: string[]; loadedSha?: string } {
    const name = (args[0] ?? "").toUpperCase();
    const sub = (args[1] ?? "").toUpperCase();
    if ((name === "EVAL" || name === "EVAL_RO") && args[1] !== undefined) {
      const fixed = stripUnknownScriptFlags(args[1]);
      if (fixed === null) return { args: [...args] };
      this.remember(sha1(args[1]), sha1(fixed));
      return { args: [args[0] as string, fixed, ...args.slice(2)] };
    }
    if (name === "SCRIPT" && sub === "LOAD" && args[2] !== undefined) {
      const fixed = stripUnknownScriptFlags(args[2]);
      if (fixed === null) return { args: [...args] };
      const clientSha = sha1(args[2]);
      this.remember(clientSha, sha1(fixed));
      return { args: [args[0] as string, args[1] as string, fixed], loadedSha: clientSha };
    }
    if ((name === "EVALSHA" || name === "EVALSHA_RO") && args[1] !== undefined && this.map.size > 0) {
      return { args: [args[0] as string, this.resolve(args[1]), ...args.slice(2)] };
    }
    if (name === "SCRIPT" && sub === "EXISTS" && this.map.size > 0) {
      return { args: [args[0] as string, args[1] as string, ...args.slice(2).map((s) => this.resolve(s))] };
    }
    return { args: [...args] };
  }
}

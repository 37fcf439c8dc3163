/**
 * The restricted Redis user the bridge's connections run as. The bridge's own deny-list
 * (commands.ts) only sees the commands a request names; a script (`EVAL "return
 * redis.call('flushall')" 0`) runs whatever it likes inside Redis. Redis checks ACLs for every
 * command, scripts included, so the real boundary is a user that cannot run them at all.
 *
 * At start (and again whenever a connection is refused with WRONGPASS/NOAUTH, e.g. after a Redis
 * restart dropped the in-memory user), the bridge connects with REDIS_URL's credentials (the
 * admin side) and runs one `ACL SETUSER <user> reset on >password …rules`: `reset` first, so the
 * user ends up with exactly these rules however often it runs (idempotent, atomic). The `default`
 * user is never touched. The password is a random secret kept in a local file (under .stack/,
 * gitignored), shared by every bridge of this checkout so they never undo each other.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { Redis } from "ioredis";

/**
 * Denied beyond `-@dangerous` (which already holds FLUSHALL, FLUSHDB, SWAPDB, KEYS, INFO, SLOWLOG,
 * CONFIG, DEBUG, SHUTDOWN, ACL, MONITOR, CLIENT KILL, SORT, MIGRATE, RESTORE, …): named again so
 * the rule set reads as what the issue asked for, plus what the bridge's deny-list refuses.
 */
export const ACL_DENIED: readonly string[] = [
  "flushall",
  "flushdb",
  "swapdb",
  "keys",
  "info",
  "slowlog",
  "latency",
  "config",
  "debug",
  "shutdown",
  "acl",
  "monitor",
  "client|kill",
  "client|list",
  "client|pause",
  "client|unpause",
  "client|no-evict",
  "module",
  "save",
  "bgsave",
  "bgrewriteaof",
  "replicaof",
  "slaveof",
  "failover",
  "migrate",
  "restore",
  "script|flush",
  "script|kill",
  "function|flush",
  "function|delete",
  "function|restore",
  "function|kill",
  "pfdebug",
  "pfselftest",
];

/**
 * The rules after `reset on >password`: every key and channel, every command but the denied ones,
 * then whatever REDIS_BRIDGE_ALLOW_COMMANDS lifts (`FLUSHDB` → `+flushdb`, `CONFIG|GET` →
 * `+config|get`), so one setting governs both layers.
 */
export function aclRules(allow: ReadonlySet<string>): string[] {
  const rules = ["~*", "&*", "+@all", "-@dangerous", ...ACL_DENIED.map((c) => `-${c}`)];
  for (const entry of [...allow].sort()) rules.push(`+${entry.toLowerCase()}`);
  return rules;
}

/**
 * The user's name: the configured one for the default rules; with REDIS_BRIDGE_ALLOW_COMMANDS a
 * name of its own (suffix from the rules), so a bridge allowing more never widens another's user.
 */
export function aclUserName(base: string, allow: ReadonlySet<string>): string {
  if (allow.size === 0) return base;
  const digest = createHash("sha256").update(aclRules(allow).join(" ")).digest("hex").slice(0, 8);
  return `${base}-${digest}`;
}

/** The secret in `path`, created (0600, 32 random bytes hex) when missing; concurrent starts agree. */
export function readOrCreateSecret(path: string): string {
  try {
    const existing = readFileSync(path, "utf8").trim();
    if (existing !== "") return existing;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  mkdirSync(dirname(path), { recursive: true });
  const secret = randomBytes(32).toString("hex");
  try {
    writeFileSync(path, `${secret}\n`, { flag: "wx", mode: 0o600 });
    return secret;
  } catch (err) {
    // Another bridge created it first: use theirs.
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return readFileSync(path, "utf8").trim();
    throw err;
  }
}

export interface AclUser {
  username: string;
  password: string;
}

/** Runs ACL SETUSER on demand, one attempt at a time. */
export class AclProvisioner {
  private running: Promise<void> | null = null;

  constructor(
    private readonly adminUrl: string,
    readonly user: AclUser,
    private readonly rules: readonly string[],
  ) {}

  /** Creates or resets the user; rejects with why (Redis down, the admin side lacks ACL rights…). */
  ensure(): Promise<void> {
    this.running ??= this.provision().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async provision(): Promise<void> {
    const admin = new Redis(this.adminUrl, {
      lazyConnect: true,
      connectTimeout: 1000,
      commandTimeout: 2000,
      maxRetriesPerRequest: 0,
      enableReadyCheck: false,
      enableOfflineQueue: false,
      retryStrategy: () => null,
      connectionName: "redis-bridge:acl",
    });
    admin.on("error", () => {}); // surfaces through the rejected commands
    try {
      await admin.connect();
      await admin.call("ACL", "SETUSER", this.user.username, "reset", "on", `>${this.user.password}`, ...this.rules);
    } finally {
      admin.disconnect();
    }
  }
}

/**
 * Which commands the bridge runs, and where. Pure: the HTTP layer asks `classifyCommand` before
 * anything reaches Redis.
 *
 * - Never (even if listed in REDIS_BRIDGE_ALLOW_COMMANDS): commands that change the state of the
 *   connection they run on (SELECT, HELLO → RESP3, CLIENT REPLY OFF, …) or turn it into a push
 *   stream (SUBSCRIBE, MONITOR, SYNC). Over request/response they cannot work, and on the shared
 *   pipelined connection they would corrupt every other request's replies.
 * - Denied by default: admin and destructive commands a team may still choose to allow, and
 *   commands that read other clients' data or the server's (KEYS, INFO, SLOWLOG shows other
 *   clients' arguments). This list only sees the commands a request names; what a script calls is
 *   refused by the bridge's Redis ACL user (acl.ts), which REDIS_BRIDGE_ALLOW_COMMANDS lifts too.
 * - Dedicated: blocking commands and the transaction commands (WATCH, MULTI, EXEC, …) run on a
 *   connection leased from the pool for the request, never on the shared one.
 */

/** Denied unless REDIS_BRIDGE_ALLOW_COMMANDS names them (`NAME` or `NAME|SUB` for one subcommand). */
export const DENIED_BY_DEFAULT: readonly string[] = [
  "ACL",
  "BGREWRITEAOF",
  "BGSAVE",
  "CLIENT",
  "CLUSTER",
  "CONFIG",
  "DEBUG",
  "FAILOVER",
  "FLUSHALL",
  "FLUSHDB",
  "FUNCTION|DELETE",
  "FUNCTION|FLUSH",
  "FUNCTION|KILL",
  "FUNCTION|RESTORE",
  "INFO",
  "KEYS",
  "LATENCY",
  "MIGRATE",
  "MODULE",
  "PFDEBUG",
  "PFSELFTEST",
  "REPLICAOF",
  "RESTORE",
  "RESTORE-ASKING",
  "SAVE",
  "SCRIPT|FLUSH",
  "SCRIPT|KILL",
  "SHUTDOWN",
  "SLAVEOF",
  "SLOWLOG",
  "SWAPDB",
];

/** Read-only CLIENT subcommands that stay allowed while CLIENT itself is denied. */
const HARMLESS_SUBCOMMANDS = new Set(["CLIENT|ID", "CLIENT|INFO", "CLIENT|GETNAME"]);

/** Never run, whatever the configuration says (see the module comment). */
export const NEVER_ALLOWED: readonly string[] = [
  "AUTH",
  "CLIENT|CACHING",
  "CLIENT|NO-EVICT",
  "CLIENT|NO-TOUCH",
  "CLIENT|REPLY",
  "CLIENT|SETINFO",
  "CLIENT|SETNAME",
  "CLIENT|TRACKING",
  "HELLO",
  "MONITOR",
  "PSUBSCRIBE",
  "PSYNC",
  "PUNSUBSCRIBE",
  "QUIT",
  "READONLY",
  "READWRITE",
  "REPLCONF",
  "RESET",
  "SELECT",
  "SSUBSCRIBE",
  "SUBSCRIBE",
  "SUNSUBSCRIBE",
  "SYNC",
  "UNSUBSCRIBE",
];

/** Commands that change per-connection transaction state: only valid on a dedicated connection. */
export const TRANSACTION_COMMANDS: ReadonlySet<string> = new Set(["WATCH", "UNWATCH", "MULTI", "EXEC", "DISCARD"]);

/** Blocking commands whose timeout (seconds) is the last argument. */
const LAST_ARG_SECONDS = new Set(["BLPOP", "BRPOP", "BRPOPLPUSH", "BLMOVE", "BZPOPMIN", "BZPOPMAX"]);
/** Blocking commands whose timeout (seconds) is the first argument. */
const FIRST_ARG_SECONDS = new Set(["BLMPOP", "BZMPOP"]);
/** Blocking commands whose timeout (milliseconds) is the last argument. */
const LAST_ARG_MILLIS = new Set(["WAIT", "WAITAOF"]);
/** Block only when given a `BLOCK <ms>` option. */
const BLOCK_OPTION = new Set(["XREAD", "XREADGROUP"]);

const deniedSet = new Set(DENIED_BY_DEFAULT);
const neverSet = new Set(NEVER_ALLOWED);

/** Whether an REDIS_BRIDGE_ALLOW_COMMANDS entry lifts something (a typo would silently do nothing). */
export function isAllowableEntry(entry: string): boolean {
  const upper = entry.toUpperCase();
  if (neverSet.has(upper)) return false;
  if (deniedSet.has(upper)) return true;
  const [name, sub] = upper.split("|");
  return sub !== undefined && name !== undefined && deniedSet.has(name) && !neverSet.has(upper);
}

export type CommandClass =
  | { kind: "shared" }
  | { kind: "dedicated"; blocking: boolean }
  | { kind: "denied"; message: string };

function disabled(name: string, why = ""): CommandClass {
  return { kind: "denied", message: `ERR command '${name.toLowerCase()}' is disabled on this bridge${why}` };
}

/** Decides whether a command runs and on which kind of connection. */
export function classifyCommand(args: readonly string[], allow: ReadonlySet<string>): CommandClass {
  const name = (args[0] ?? "").toUpperCase();
  const full = args.length > 1 ? `${name}|${String(args[1]).toUpperCase()}` : name;
  if (name === "SUBSCRIBE" || name === "PSUBSCRIBE") {
    return disabled(name, ` in a command body; use the server-sent-events form POST /${name.toLowerCase()}/<channel>`);
  }
  if (neverSet.has(name)) return disabled(name, " (it cannot work over request/response)");
  if (neverSet.has(full)) return disabled(full, " (it cannot work over request/response)");
  if (deniedSet.has(full) && !allow.has(full)) return disabled(full);
  if (deniedSet.has(name) && !HARMLESS_SUBCOMMANDS.has(full) && !allow.has(name) && !allow.has(full)) {
    return disabled(name);
  }
  if (TRANSACTION_COMMANDS.has(name)) return { kind: "dedicated", blocking: false };
  if (isBlocking(name, args)) return { kind: "dedicated", blocking: true };
  return { kind: "shared" };
}

function isBlocking(name: string, args: readonly string[]): boolean {
  if (LAST_ARG_SECONDS.has(name) || FIRST_ARG_SECONDS.has(name) || LAST_ARG_MILLIS.has(name)) return true;
  return BLOCK_OPTION.has(name) && blockOptionIndex(args) !== -1;
}

/** Index of the `BLOCK` keyword of XREAD/XREADGROUP (options come before STREAMS), else -1. */
function blockOptionIndex(args: readonly string[]): number {
  for (let i = 1; i < args.length; i++) {
    const a = String(args[i]).toUpperCase();
    if (a === "STREAMS") return -1;
    if (a === "BLOCK") return i;
  }
  return -1;
}

/**
 * Rewrites a blocking command so it waits at most `capMs`: a timeout of 0 (forever) or above the
 * cap becomes the cap, so Redis itself answers (null, as on any timeout) before the bridge's
 * command timeout fires. Arguments that are not numbers are left for Redis to reject.
 */
export function capBlockingTimeout(args: readonly string[], capMs: number): string[] {
  const out = [...args];
  const name = (args[0] ?? "").toUpperCase();
  const capSeconds = String(capMs / 1000);
  const clamp = (i: number, unitMs: number, capText: string) => {
    const raw = out[i];
    if (raw === undefined) return;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < 0) return;
    if (value === 0 || value * unitMs > capMs) out[i] = capText;
  };
  if (LAST_ARG_SECONDS.has(name)) clamp(out.length - 1, 1000, capSeconds);
  else if (FIRST_ARG_SECONDS.has(name)) clamp(1, 1000, capSeconds);
  else if (LAST_ARG_MILLIS.has(name)) clamp(out.length - 1, 1, String(capMs));
  else if (BLOCK_OPTION.has(name)) {
    const i = blockOptionIndex(args);
    if (i !== -1) clamp(i + 1, 1, String(capMs));
  }
  return out;
}

import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { aclRules, aclUserName, readOrCreateSecret } from "./acl.ts";

describe("aclRules", () => {
  it("allows keys, channels and commands but the dangerous ones, which scripts then cannot run either", () => {
    const rules = aclRules(new Set());
    expect(rules.slice(0, 4)).toEqual(["~*", "&*", "+@all", "-@dangerous"]);
    for (const c of ["-flushall", "-flushdb", "-swapdb", "-keys", "-info", "-slowlog", "-config", "-debug"]) {
      expect(rules).toContain(c);
    }
    for (const c of ["-shutdown", "-acl", "-monitor", "-client|kill", "-script|flush", "-function|flush"]) {
      expect(rules).toContain(c);
    }
    // What the product uses stays: scripts (ratelimit), transactions, streams, sorted sets…
    const kept =
      /^-(@scripting|eval|evalsha|eval_ro|evalsha_ro|script|script\|load|multi|exec|xadd|zadd|hgetall|lrange)$/;
    expect(rules.filter((r) => kept.test(r))).toEqual([]);
  });

  it("adds REDIS_BRIDGE_ALLOW_COMMANDS entries after the denials, so they win", () => {
    const rules = aclRules(new Set(["FLUSHDB", "CONFIG|GET"]));
    expect(rules.slice(-2)).toEqual(["+config|get", "+flushdb"]);
  });
});

describe("aclUserName", () => {
  it("is the configured name for the default rules, a name of its own for wider ones", () => {
    expect(aclUserName("edge-feed-bridge", new Set())).toBe("edge-feed-bridge");
    const wider = aclUserName("edge-feed-bridge", new Set(["FLUSHDB"]));
    expect(wider).toMatch(/^edge-feed-bridge-[0-9a-f]{8}$/);
    expect(aclUserName("edge-feed-bridge", new Set(["FLUSHDB"]))).toBe(wider);
    expect(aclUserName("edge-feed-bridge", new Set(["KEYS"]))).not.toBe(wider);
  });
});

describe("readOrCreateSecret", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it("creates a 0600 random secret once, then reads the same one back", () => {
    const dir = mkdtempSync(join(tmpdir(), "acl-secret-"));
    dirs.push(dir);
    const path = join(dir, "nested", "acl-password");
    const first = readOrCreateSecret(path);
    expect(first).toMatch(/^[0-9a-f]{64}$/);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readOrCreateSecret(path)).toBe(first);
    expect(readFileSync(path, "utf8").trim()).toBe(first);
  });

  it("keeps a secret someone put there", () => {
    const dir = mkdtempSync(join(tmpdir(), "acl-secret-"));
    dirs.push(dir);
    const path = join(dir, "acl-password");
    writeFileSync(path, "chosen-by-hand\n");
    expect(readOrCreateSecret(path)).toBe("chosen-by-hand");
  });
});

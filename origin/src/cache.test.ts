import type { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { FEED_VERSION_TTL_S, feedKey, feedKeyUser, suggestKey } from "../../edge/core/index.ts";
import { invalidateKeys } from "./cache.ts";

const U = "11111111-1111-4111-8111-111111111111";
const V = "22222222-2222-4222-8222-222222222222";

/** Records the commands of one MULTI. */
function fakeRedis() {
  const commands: unknown[][] = [];
  let execs = 0;
  const record = (...command: unknown[]) => {
    commands.push(command);
    return multi;
  };
  const multi = {
    del: (...keys: string[]) => record("del", ...keys),
    incr: (key: string) => record("incr", key),
    expire: (key: string, s: number) => record("expire", key, s),
    exec: async () => {
      execs++;
      return [];
    },
  };
  return { redis: { multi: () => multi } as unknown as Redis, commands, execs: () => execs };
}

describe("invalidateKeys", () => {
  it("deletes the keys and bumps the version of each feed among them, in one MULTI", async () => {
    const f = fakeRedis();
    await invalidateKeys(f.redis, [feedKey(U), suggestKey(U), feedKey(V)]);
    expect(f.commands).toEqual([
      ["del", feedKey(U), suggestKey(U), feedKey(V)],
      ["incr", `feed:v1:${U}:ver`],
      ["expire", `feed:v1:${U}:ver`, FEED_VERSION_TTL_S],
      ["incr", `feed:v1:${V}:ver`],
      ["expire", `feed:v1:${V}:ver`, FEED_VERSION_TTL_S],
    ]);
    expect(f.execs()).toBe(1);
  });

  it("sends nothing for no keys", async () => {
    const f = fakeRedis();
    await invalidateKeys(f.redis, []);
    expect([f.commands, f.execs()]).toEqual([[], 0]);
  });
});

describe("feedKeyUser", () => {
  it("is the inverse of feedKey and nothing else", () => {
    expect(feedKeyUser(feedKey(U))).toBe(U);
    expect(feedKeyUser(`feed:v1:${U}:ver`)).toBeNull();
    expect(feedKeyUser(`${feedKey(U)}:last`)).toBeNull();
    expect(feedKeyUser(suggestKey(U))).toBeNull();
    expect(feedKeyUser("feed:v1:not-a-user")).toBeNull();
  });
});

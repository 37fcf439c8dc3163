import { describe, expect, it } from "vitest";
import { broadcastKind, commandKeys, keySlot, slotsOf } from "./cluster.ts";

describe("keySlot", () => {
  it("matches Redis's CLUSTER KEYSLOT", () => {
    // Values from `redis-cli CLUSTER KEYSLOT …` on Redis 7.0.
    expect(keySlot("foo")).toBe(12182);
    expect(keySlot("123456789")).toBe(12739);
    expect(keySlot("")).toBe(0);
    expect(keySlot(Buffer.from("foo"))).toBe(12182);
  });

  it("hashes only a non-empty hash tag", () => {
    expect(keySlot("feed:{42}")).toBe(keySlot("42"));
    expect(keySlot("seen:{42}:x")).toBe(keySlot("feed:{42}"));
    // `{}` is no tag: the whole key is hashed; only the first `{…}` counts.
    expect(keySlot("a{}b")).not.toBe(keySlot(""));
    expect(keySlot("x{a}{b}")).toBe(keySlot("a"));
    expect(keySlot("x{ab")).toBe(keySlot("x{ab")); // no closing brace: whole key
  });
});

describe("commandKeys / slotsOf", () => {
  it("reads keys the way Redis's command table declares them, any case", () => {
    expect(commandKeys(["SET", "k", "v"])).toEqual(["k"]);
    expect(commandKeys(["mget", "a", "b"])).toEqual(["a", "b"]);
    expect(commandKeys(["EVAL", "return 1", "2", "a", "b", "arg"])).toEqual(["a", "b"]);
    expect(commandKeys(["PING"])).toEqual([]);
    expect(commandKeys(["NOSUCHCOMMAND", "x"])).toEqual([]);
  });

  it("counts the distinct slots of a transaction", () => {
    expect(slotsOf([["SET", "{u1}a", "1"], ["INCR", "{u1}b"], ["PING"]]).size).toBe(1);
    expect(
      slotsOf([
        ["SET", "a", "1"],
        ["INCR", "b"],
      ]).size,
    ).toBe(2);
  });
});

describe("broadcastKind", () => {
  it("sends per-node keyless commands to every master", () => {
    expect(broadcastKind(["SCRIPT", "LOAD", "return 1"])).toBe("first");
    expect(broadcastKind(["script", "exists", "abc"])).toBe("all-of");
    expect(broadcastKind(["DBSIZE"])).toBe("sum");
    expect(broadcastKind(["GET", "k"])).toBeNull();
    expect(broadcastKind(["PING"])).toBeNull();
  });
});

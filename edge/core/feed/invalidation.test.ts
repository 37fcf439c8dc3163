import { describe, expect, it } from "vitest";
import { FEED_VERSION_TTL_S } from "../keys.ts";
import { invalidationCommands } from "./invalidation.ts";

const U = "11111111-1111-4111-8111-111111111111";
const V = "22222222-2222-4222-8222-222222222222";
const TTL = String(FEED_VERSION_TTL_S);

describe("invalidationCommands", () => {
  it("deletes the suggestions by name, one key a command, and bumps each feed's version, every user once", () => {
    expect(invalidationCommands({ feeds: [U, V, U], suggestions: [U, U, V] })).toEqual([
      ["DEL", `suggest:users:${U}`],
      ["DEL", `suggest:users:${V}`],
      ["INCR", `feed:v1:${U}:ver`],
      ["EXPIRE", `feed:v1:${U}:ver`, TTL],
      ["INCR", `feed:v1:${V}:ver`],
      ["EXPIRE", `feed:v1:${V}:ver`, TTL],
    ]);
  });

  it("names no key for a feed itself (nothing stores one) and sends nothing when nothing is stale", () => {
    expect(invalidationCommands({ feeds: [U] }).flatMap(([, key]) => key)).toEqual([
      `feed:v1:${U}:ver`,
      `feed:v1:${U}:ver`,
    ]);
    expect(invalidationCommands({ feeds: [] })).toEqual([]);
    expect(invalidationCommands({ feeds: new Set<string>(), suggestions: [] })).toEqual([]);
  });
});

import { describe, expect, it } from "vitest";
import { CursorError, decodeCursor, encodeCursor } from "./cursor.ts";

describe("feed cursor codec", () => {
  it("round-trips ranking id and offset", () => {
    const c = { rankingId: "r_Ab12-xyz", offset: 40 };
    expect(decodeCursor(encodeCursor(c))).toEqual(c);
  });

  it("is opaque base64url text", () => {
    expect(encodeCursor({ rankingId: "abcdef", offset: 0 })).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  it.each([
    ["empty", ""],
    ["not base64url", "a+b/c="],
    ["garbage", "bm90IGEgY3Vyc29y"],
    ["negative offset", btoa("v1.abcdef.-1")],
    ["leading zero offset", btoa("v1.abcdef.01")],
    ["offset too large", btoa("v1.abcdef.99999")],
    ["wrong version", btoa("v2.abcdef.1")],
    ["too long", "A".repeat(500)],
  ])("rejects a malformed cursor: %s", (_name, raw) => {
    expect(() => decodeCursor(raw.replace(/=+$/, ""))).toThrow(CursorError);
  });

  it("refuses to encode a bad offset", () => {
    expect(() => encodeCursor({ rankingId: "abcdef", offset: 1.5 })).toThrow(CursorError);
  });
});

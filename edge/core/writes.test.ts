import { describe, expect, it } from "vitest";
import { newCommentSchema, newPostSchema, profileSchema } from "./writes.ts";

describe("write bodies", () => {
  it("refuse a NUL character in any user text, naming the field (PostgreSQL cannot store it)", () => {
    const cases = [
      [newPostSchema, { text: "a\u0000b" }, "text"],
      [newCommentSchema, { text: "\u0000" }, "text"],
      [profileSchema, { handle: "ok", bio: "x\u0000" }, "bio"],
      [profileSchema, { handle: "ok", display_name: "\u0000" }, "display_name"],
    ] as const;
    for (const [schema, body, field] of cases) {
      const r = schema.safeParse(body);
      expect(r.success).toBe(false);
      expect(r.error?.issues[0]?.path).toEqual([field]);
      expect(r.error?.issues[0]?.message).toMatch(/NUL/);
    }
  });

  it("keep the limits and accept ordinary text, tabs and emoji included", () => {
    expect(newPostSchema.parse({ text: "  hi\tthere 🎉 " })).toEqual({ text: "hi\tthere 🎉" });
    expect(newPostSchema.safeParse({ text: "x".repeat(2001) }).success).toBe(false);
    expect(newCommentSchema.safeParse({ text: "   " }).success).toBe(false);
    expect(profileSchema.safeParse({ handle: "ok", bio: "y".repeat(281) }).success).toBe(false);
  });
});

import { describe, expect, it } from "vitest";
import { candidatesFromRows } from "./rows.ts";

describe("candidatesFromRows", () => {
  it("maps quoted 64-bit numbers, sources and rule flags", () => {
    const { bySource, blockedAuthorIds } = candidatesFromRows([
      {
        post_id: "p1",
        author_id: "a1",
        text: "x",
        created_at_ms: "1000",
        src: 1,
        likes: "3",
        comments: "1",
        shares: "0",
        impressions: "10",
        affinity: "2",
        author_blocked: 0,
        author_deleted: 0,
      },
      {
        post_id: "p2",
        author_id: "a2",
        text: "y",
        created_at_ms: 2000,
        src: 3,
        likes: 0,
        comments: 0,
        shares: 0,
        impressions: 0,
        affinity: 0,
        author_blocked: 1,
        author_deleted: true,
      },
    ]);
    expect(bySource.follow[0]).toMatchObject({
      postId: "p1",
      likes: 3,
      impressions: 10,
      authorInteractions90d: 2,
      createdAtMs: 1000,
    });
    expect(bySource.affinity[0]?.authorDeleted).toBe(true);
    expect([...blockedAuthorIds]).toEqual(["a2"]);
  });
});

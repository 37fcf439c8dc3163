import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { encodeListCursor } from "#core/reads/cursor.ts";
import { token } from "./support.ts";

const U = "22222222-2222-4222-8222-222222222222";

async function get(path: string, auth = true) {
  const headers: Record<string, string> = {};
  if (auth) headers.authorization = `Bearer ${await token()}`;
  return exports.default.fetch(`http://edge.test${path}`, { headers });
}

async function message(res: Response): Promise<string> {
  return ((await res.json()) as { error: { message: string } }).error.message;
}

describe("read endpoints at the edge", () => {
  it.each([
    `/api/v1/users/${U}`,
    "/api/v1/users/me",
    `/api/v1/users/${U}/posts`,
    `/api/v1/users/${U}/followers`,
    `/api/v1/users/${U}/following`,
    `/api/v1/posts/${U}`,
    `/api/v1/posts/${U}/comments`,
  ])("%s requires a token", async (path) => {
    const res = await get(path, false);
    expect(res.status).toBe(401);
  });

  it.each([
    ["/api/v1/users/bob", /^id: must be a UUID, `me` or `@handle`/],
    ["/api/v1/users/@bad-handle!", /^id: must be a UUID/],
    ["/api/v1/users/@/posts", /^id: must be a UUID/],
    ["/api/v1/posts/not-a-uuid", /^id: must be a UUID/],
    ["/api/v1/posts/1234/comments", /^id: must be a UUID/],
    [`/api/v1/users/${U}/posts?limit=0`, /^limit/],
    [`/api/v1/users/${U}/posts?limit=101`, /^limit/],
    [`/api/v1/users/${U}/followers?cursor=${"x".repeat(301)}`, /^cursor/],
    [`/api/v1/posts/${U}/comments?order=sideways`, /^order/],
    [`/api/v1/posts/${U}/comments?nope=1`, /nope|unrecognized/i],
  ])("refuses %s with 400", async (path, pattern) => {
    const res = await get(path);
    expect(res.status).toBe(400);
    expect(await message(res)).toMatch(pattern);
  });

  it.each([
    [`/api/v1/users/${U}/posts?cursor=%%%`, /^cursor: cursor is malformed/],
    [`/api/v1/users/${U}/posts?cursor=e30`, /^cursor: cursor is malformed/],
    // A real cursor of another list, or of another user's list.
    [
      `/api/v1/users/${U}/posts?cursor=${encodeListCursor({ kind: "followers", owner: U, score: 1, id: U })}`,
      /another list/,
    ],
    [
      `/api/v1/users/${U}/followers?cursor=${encodeListCursor({ kind: "followers", owner: "someone-else", score: 1, id: U })}`,
      /another list/,
    ],
  ])("refuses a malformed or foreign cursor %s with 400, before reading anything", async (path, pattern) => {
    // Redis is unreachable here (port 9): a 400 proves the cursor is checked before any read.
    const res = await get(path);
    expect(res.status).toBe(400);
    expect(await message(res)).toMatch(pattern);
  });

  it("answers 503 in the envelope when the index is unreachable", async () => {
    const res = await get(`/api/v1/users/${U}`);
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("unavailable");
  });
});

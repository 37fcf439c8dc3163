import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { token } from "./support.ts";

const OTHER = "22222222-2222-4222-8222-222222222222";

async function call(method: string, path: string, body?: string, auth = true) {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (auth) {
    headers.authorization = `Bearer ${await token()}`;
  }
  return exports.default.fetch(`http://edge.test${path}`, { method, headers, body: body ?? null });
}

describe("write endpoints at the edge", () => {
  it("require a token", async () => {
    expect((await call("PUT", `/api/v1/follows/${OTHER}`, undefined, false)).status).toBe(401);
  });

  it("refuse a path id that is not a UUID", async () => {
    const res = await call("PUT", "/api/v1/follows/bob");
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/user_id: must be a UUID/);
  });

  it.each([
    ["DELETE", "/api/v1/posts/not-a-uuid", /^id: must be a UUID/],
    ["POST", "/api/v1/posts/1234/comments", /^id: must be a UUID/],
    ["PUT", "/api/v1/blocks/22222222-2222-4222-8222-22222222222", /^user_id: must be a UUID/],
  ])("refuse %s %s (a bad path id) with 400", async (method, path, message) => {
    const res = await call(method, path);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(message);
  });

  it("take path ids in either case", async () => {
    // Past validation, the origin (unreachable here) is what answers.
    expect((await call("PUT", `/api/v1/follows/${OTHER.toUpperCase()}`)).status).toBe(503);
  });

  it("refuse a body over 16 KiB with 413", async () => {
    const res = await call("POST", "/api/v1/posts", JSON.stringify({ text: "x".repeat(20_000) }));
    expect(res.status).toBe(413);
  });

  it("answer 503 in the envelope when the origin is unreachable", async () => {
    const res = await call("PUT", `/api/v1/follows/${OTHER}`);
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("unavailable");
  });

  it("leave unknown API paths a 404, not a 401", async () => {
    expect((await call("GET", "/api/v1/nothing-here", undefined, false)).status).toBe(404);
  });
});

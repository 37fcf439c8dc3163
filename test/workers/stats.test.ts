import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { token } from "./support.ts";

const POST = "22222222-2222-4222-8222-222222222222";

async function get(path: string, auth = true, method = "GET") {
  const headers: Record<string, string> = {};
  if (auth) {
    headers.authorization = `Bearer ${await token()}`;
  }
  return exports.default.fetch(`http://edge.test${path}`, { method, headers });
}

describe("GET /api/v1/posts/:id/stats: routing, auth and validation", () => {
  it("401 without a token", async () => {
    const res = await get(`/api/v1/posts/${POST}/stats`, false);
    expect(res.status).toBe(401);
  });

  it("400 for a post id that is not a UUID", async () => {
    const res = await get("/api/v1/posts/not-a-uuid/stats");
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("bad_request");
    expect(body.error.message).toMatch(/id/);
  });

  it("405 with Allow for another method", async () => {
    const res = await get(`/api/v1/posts/${POST}/stats`, true, "POST");
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toContain("GET");
  });

  it("503 in the envelope when neither Redis nor ClickHouse can answer", async () => {
    const res = await get(`/api/v1/posts/${POST}/stats`);
    expect(res.status).toBe(503);
    const body = (await res.json()) as { error: { code: string } };
    expect(body.error.code).toBe("unavailable");
  });
});

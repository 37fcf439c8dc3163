import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { token } from "./support.ts";

async function get(path: string, auth = true) {
  const headers: Record<string, string> = {};
  if (auth) {
    headers.authorization = `Bearer ${await token()}`;
  }
  return exports.default.fetch(`http://edge.test${path}`, { headers });
}

describe("GET /api/v1/feed: routing, auth and validation", () => {
  it("401 without a token", async () => {
    const res = await get("/api/v1/feed", false);
    expect(res.status).toBe(401);
  });

  it.each([
    ["limit=0", /limit/],
    ["limit=101", /limit/],
    ["limit=abc", /limit/],
    ["cursor=%21%21%21", /cursor/],
    ["cursor=bm90IGEgY3Vyc29y", /cursor/],
    ["explain=maybe", /explain/],
    ["colour=blue", /colour|Unrecognized/],
  ])("400 for %s", async (query, message) => {
    const res = await get(`/api/v1/feed?${query}`);
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("bad_request");
    expect(body.error.message).toMatch(message);
  });

  it("503 in the envelope, not a 500, when neither ClickHouse nor any cache can answer", async () => {
    const res = await get("/api/v1/feed");
    expect(res.status).toBe(503);
    const body = (await res.json()) as { error: { code: string } };
    expect(body.error.code).toBe("unavailable");
  });
});

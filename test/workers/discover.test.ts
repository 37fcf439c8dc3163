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

async function badRequest(res: Response): Promise<string> {
  expect(res.status).toBe(400);
  const body = (await res.json()) as { error: { code: string; message: string } };
  expect(body.error.code).toBe("bad_request");
  return body.error.message;
}

describe("GET /api/v1/trending", () => {
  it.each([
    ["limit=0", /^limit: /],
    ["limit=101", /^limit: /],
    ["limit=abc", /^limit: /],
    ["colour=blue", /colour|Unrecognized/],
  ])("400 for %s, without a token", async (query, message) => {
    expect(await badRequest(await get(`/api/v1/trending?${query}`, false))).toMatch(message);
  });

  it("503 in the envelope when neither Redis nor ClickHouse answers", async () => {
    const res = await get("/api/v1/trending", false);
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("unavailable");
  });
});

describe("GET /api/v1/discover/suggested-users", () => {
  it("401 without a token", async () => {
    expect((await get("/api/v1/discover/suggested-users", false)).status).toBe(401);
  });

  it.each([["limit=0"], ["limit=1.5"]])("400 for %s", async (query) => {
    expect(await badRequest(await get(`/api/v1/discover/suggested-users?${query}`))).toMatch(/^limit: /);
  });
});

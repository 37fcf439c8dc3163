import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { token, USER } from "./support.ts";

const POST = "22222222-2222-4222-8222-222222222222";

async function post(body: string, auth?: string) {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (auth !== undefined) headers.authorization = auth;
  return exports.default.fetch("http://edge.test/api/v1/events", { method: "POST", headers, body });
}

async function envelope(res: Response) {
  return (await res.json()) as { error: { code: string; message: string; details?: unknown } };
}

const b64url = (s: string) => btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const one = JSON.stringify({ events: [{ type: "impression", post_id: POST }] });

describe("POST /api/v1/events: authentication", () => {
  it.each([
    ["no Authorization header", undefined],
    ["not a bearer token", "Basic abc"],
    ["garbage token", "Bearer not.a.jwt"],
  ])("401 for %s", async (_name, auth) => {
    const res = await post(one, auth);
    expect(res.status).toBe(401);
    expect((await envelope(res)).error.code).toBe("unauthorized");
  });

  it("401 for an expired token", async () => {
    const res = await post(one, `Bearer ${await token({ exp: Math.floor(Date.now() / 1000) - 3600 })}`);
    expect(res.status).toBe(401);
    expect((await envelope(res)).error.message).toMatch(/expired/);
  });

  it("401 for a token signed with another secret", async () => {
    const res = await post(one, `Bearer ${await token({ secret: "another-secret-another-secret-1234567" })}`);
    expect(res.status).toBe(401);
  });

  it("401 for alg: none", async () => {
    const unsigned = `${b64url(JSON.stringify({ alg: "none", typ: "JWT" }))}.${b64url(
      JSON.stringify({ sub: USER, exp: Math.floor(Date.now() / 1000) + 600 }),
    )}.`;
    const res = await post(one, `Bearer ${unsigned}`);
    expect(res.status).toBe(401);
  });

  it("401 for an algorithm other than the configured one (HS512)", async () => {
    const res = await post(one, `Bearer ${await token({ alg: "HS512" })}`);
    expect(res.status).toBe(401);
    expect((await envelope(res)).error.message).toMatch(/algorithm/);
  });

  it("401 when sub is not a user UUID", async () => {
    const res = await post(one, `Bearer ${await token({ sub: "admin" })}`);
    expect(res.status).toBe(401);
  });
});

describe("POST /api/v1/events: validation", () => {
  it.each([
    ["a body that is not JSON", "{nope", /must be JSON/],
    ["no events array", JSON.stringify({ items: [] }), /events/],
    ["an empty events array", JSON.stringify({ events: [] }), /at least one/],
    [
      "more than 500 events",
      JSON.stringify({ events: Array.from({ length: 501 }, () => ({ type: "view", post_id: POST })) }),
      /at most 500/,
    ],
  ])("400 for %s, naming the problem", async (_name, body, message) => {
    const res = await post(body, `Bearer ${await token()}`);
    expect(res.status).toBe(400);
    const e = await envelope(res);
    expect(e.error.code).toBe("bad_request");
    expect(e.error.message).toMatch(message);
  });

  it("415 for a body not sent as JSON, saying so", async () => {
    const res = await exports.default.fetch("http://edge.test/api/v1/events", {
      method: "POST",
      headers: { authorization: `Bearer ${await token()}`, "content-type": "text/plain" },
      body: one,
    });
    expect(res.status).toBe(415);
    expect((await envelope(res)).error.message).toMatch(/must be JSON \(Content-Type: application\/json\)/);
  });

  it("400 listing each event's problem when no event is valid", async () => {
    const res = await post(
      JSON.stringify({
        events: [
          { type: "like", post_id: POST },
          { type: "view", post_id: "not-a-uuid" },
          { type: "view", post_id: POST, user_id: USER },
          { type: "view", post_id: POST, ts: Date.now() + 30 * 86_400_000 },
          { type: "dwell", post_id: POST },
        ],
      }),
      `Bearer ${await token()}`,
    );
    expect(res.status).toBe(400);
    const e = await envelope(res);
    expect(e.error.details).toEqual([
      { index: 0, error: expect.stringMatching(/^type:/) },
      { index: 1, error: expect.stringMatching(/^post_id:/) },
      { index: 2, error: expect.stringMatching(/user_id|Unrecognized/) },
      { index: 3, error: expect.stringMatching(/^ts:/) },
      { index: 4, error: expect.stringMatching(/^dwell_ms:/) },
    ]);
  });

  it("413 for a body over 256 KiB", async () => {
    const big = JSON.stringify({ events: [{ type: "view", post_id: POST, pad: "x".repeat(300 * 1024) }] });
    const res = await post(big, `Bearer ${await token()}`);
    expect(res.status).toBe(413);
    expect((await envelope(res)).error.code).toBe("payload_too_large");
  });

  it("503 (not 202) when the event store cannot be reached: nothing is claimed accepted", async () => {
    const res = await post(one, `Bearer ${await token()}`);
    expect(res.status).toBe(503);
    expect((await envelope(res)).error.code).toBe("unavailable");
  });
});

describe("edge basics", () => {
  it("every response carries a request id", async () => {
    const res = await exports.default.fetch("http://edge.test/healthz", {
      headers: { "x-request-id": "req-12345678" },
    });
    expect(res.headers.get("x-request-id")).toBe("req-12345678");
  });

  it("CORS preflight is answered for the API", async () => {
    const res = await exports.default.fetch("http://edge.test/api/v1/events", {
      method: "OPTIONS",
      headers: { origin: "https://app.example", "access-control-request-method": "POST" },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
  });
});

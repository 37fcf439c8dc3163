import { describe, expect, it } from "vitest";
import { type SignedParts, signRequest, verifyRequest } from "./origin-auth.ts";

const SECRET = "shared-secret-for-tests-0123456789";
const NOW = 1_795_608_000_000;
const parts: SignedParts = {
  method: "PUT",
  pathWithQuery: "/v1/follows/22222222-2222-4222-8222-222222222222",
  userId: "11111111-1111-4111-8111-111111111111",
  timestampMs: NOW,
  requestId: "req-0001",
  body: new TextEncoder().encode('{"a":1}'),
};

async function verify(headers: Record<string, string>, over: Partial<SignedParts> = {}, now = NOW) {
  const p = { ...parts, ...over };
  return verifyRequest(
    SECRET,
    { method: p.method, pathWithQuery: p.pathWithQuery, body: p.body, headers: (n) => headers[n] },
    now,
  );
}

describe("origin request signatures", () => {
  it("accepts what the edge signed", async () => {
    const h = await signRequest(SECRET, parts);
    expect(await verify(h)).toEqual({
      ok: true,
      userId: parts.userId,
      requestId: "req-0001",
      signature: h["x-edge-signature"],
    });
  });

  it.each([
    ["another user", { "x-edge-user": "33333333-3333-4333-8333-333333333333" }, {}],
    ["another path", {}, { pathWithQuery: "/v1/follows/44444444-4444-4444-8444-444444444444" }],
    ["another method", {}, { method: "DELETE" }],
    ["another body", {}, { body: new TextEncoder().encode('{"a":2}') }],
  ])("refuses a request whose %s was changed after signing", async (_n, headerOver, partOver) => {
    const h = { ...(await signRequest(SECRET, parts)), ...headerOver };
    expect((await verify(h, partOver)).ok).toBe(false);
  });

  it("refuses an unsigned request, a wrong secret and a stale timestamp", async () => {
    expect(await verify({})).toEqual({ ok: false, reason: "unsigned request" });
    expect((await verify(await signRequest("some-other-secret-0123456789-xyz", parts))).ok).toBe(false);
    expect(await verify(await signRequest(SECRET, parts), {}, NOW + 61_000)).toEqual({
      ok: false,
      reason: "stale or malformed signature timestamp",
    });
  });
});

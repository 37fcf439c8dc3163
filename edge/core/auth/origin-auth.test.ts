import { createHash, createHmac } from "node:crypto";
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
      reason: "stale signature timestamp",
    });
  });

  /** Headers whose MAC is over exactly these texts (what a signer that sends them would sign). */
  function macOver(texts: { timestamp: string; requestId: string; userId: string }): Record<string, string> {
    const bodyHash = createHash("sha256").update(parts.body).digest("hex");
    const text = [texts.timestamp, texts.requestId, parts.method, parts.pathWithQuery, texts.userId, bodyHash].join(
      "\n",
    );
    return {
      "x-edge-user": texts.userId,
      "x-edge-timestamp": texts.timestamp,
      "x-edge-request-id": texts.requestId,
      "x-edge-signature": createHmac("sha256", SECRET).update(text).digest("hex"),
    };
  }

  const RESPELLED_TIMESTAMPS = [
    `${NOW}.0`,
    `${NOW}.`,
    `+${NOW}`,
    ` ${NOW}`,
    `${NOW} `,
    `0${NOW}`,
    "1.795608e12",
    "1795608e6",
    `0x${NOW.toString(16)}`,
    `${NOW}\t`,
    "-0",
    "1".repeat(17),
  ];

  it.each(RESPELLED_TIMESTAMPS)("refuses a signed request whose timestamp is sent as %j", async (ts) => {
    const h = { ...(await signRequest(SECRET, parts)), "x-edge-timestamp": ts };
    expect(await verify(h)).toEqual({ ok: false, reason: "malformed signature timestamp" });
    // Even with the MAC over that very text: the timestamp has one spelling.
    const fresh = macOver({ timestamp: ts, requestId: parts.requestId, userId: parts.userId });
    expect(await verify(fresh)).toEqual({ ok: false, reason: "malformed signature timestamp" });
  });

  it.each([
    ["short", "malformed signed request id"],
    ["req 0001 with spaces", "malformed signed request id"],
    ["req-0001\u00e9", "malformed signed request id"],
    ["r".repeat(129), "malformed signed request id"],
  ])("refuses a request id %j even when the MAC is over it", async (requestId, reason) => {
    expect(await verify(macOver({ timestamp: String(NOW), requestId, userId: parts.userId }))).toEqual({
      ok: false,
      reason,
    });
  });

  it.each([` ${parts.userId}`, `${parts.userId} `, `${parts.userId}\u00e9`, "", "u".repeat(257)])(
    "refuses a user id %j even when the MAC is over it",
    async (userId) => {
      const r = await verify(macOver({ timestamp: String(NOW), requestId: parts.requestId, userId }));
      expect(r.ok).toBe(false);
    },
  );

  it("checks the MAC over the user id as sent: another case is another signature", async () => {
    const userId = "abcdef01-2345-4789-8abc-def012345678";
    const h = { ...(await signRequest(SECRET, { ...parts, userId })), "x-edge-user": userId.toUpperCase() };
    expect(await verify(h)).toEqual({ ok: false, reason: "bad signature" });
  });

  it("accepts exactly the texts signRequest sends, and signs nothing the origin would refuse", async () => {
    const h = macOver({ timestamp: String(NOW), requestId: parts.requestId, userId: parts.userId });
    expect(h).toEqual(await signRequest(SECRET, parts));
    for (const timestampMs of [NOW + 0.5, Number.NaN, -1, 1e17]) {
      await expect(signRequest(SECRET, { ...parts, timestampMs })).rejects.toThrow(/timestampMs/);
    }
    await expect(signRequest(SECRET, { ...parts, requestId: "short" })).rejects.toThrow(/requestId/);
    await expect(signRequest(SECRET, { ...parts, userId: " padded" })).rejects.toThrow(/userId/);
  });
});

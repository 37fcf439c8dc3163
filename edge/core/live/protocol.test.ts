import { describe, expect, it } from "vitest";
import {
  byUser,
  encodeEventId,
  MAX_CLIENT_MESSAGE_BYTES,
  parseClientMessage,
  parseEventId,
  publishBodySchema,
  upgradeCredentials,
} from "./protocol.ts";

const U = "11111111-1111-4111-8111-111111111111";
const P = "22222222-2222-4222-8222-222222222222";

describe("live protocol", () => {
  it("event ids round-trip and only their one spelling parses", () => {
    expect(parseEventId(encodeEventId({ epoch: "0a1b2c3d", seq: 42 }))).toEqual({ epoch: "0a1b2c3d", seq: 42 });
    for (const bad of ["0a1b2c3d.042", "0A1B2C3D.1", "0a1b2c3d.-1", "0a1b2c3d.1e3", "0a1b2c3.1", "x", ""]) {
      expect(parseEventId(bad), bad).toBeNull();
    }
  });

  it("takes new_posts_seen and refuses anything else, by size first", () => {
    expect(parseClientMessage('{"type":"new_posts_seen","until":"2026-12-07T10:00:00.000Z"}')).toMatchObject({
      ok: true,
    });
    expect(parseClientMessage('{"type":"new_posts_seen","until":5}')).toMatchObject({ ok: true });
    expect(parseClientMessage("x".repeat(MAX_CLIENT_MESSAGE_BYTES + 1))).toMatchObject({ ok: false, code: 1009 });
    expect(parseClientMessage("é".repeat(MAX_CLIENT_MESSAGE_BYTES / 2 + 1))).toMatchObject({ ok: false, code: 1009 });
    expect(parseClientMessage(new ArrayBuffer(4))).toMatchObject({ ok: false, code: 1003 });
    expect(parseClientMessage("PING")).toMatchObject({ ok: false, code: 1008 });
    expect(parseClientMessage('{"type":"new_posts_seen","until":5,"x":1}')).toMatchObject({ ok: false, code: 1008 });
    expect(parseClientMessage('{"type":"subscribe"}')).toMatchObject({ ok: false, code: 1008 });
  });

  it("validates the origin's publish and groups it by user", () => {
    const body = {
      messages: [
        { type: "new_post", user: U, post_id: P, at: 1 },
        { type: "unread", user: U, unread: 2, at: 3 },
      ],
    };
    const parsed = publishBodySchema.parse(body);
    expect([...byUser(parsed.messages).keys()]).toEqual([U]);
    expect(publishBodySchema.safeParse({ messages: [] }).success).toBe(false);
    expect(
      publishBodySchema.safeParse({
        messages: [{ type: "unread", user: "AAAAAAAA-1111-4111-8111-111111111111", unread: 1, at: 1 }],
      }).success,
    ).toBe(false);
    expect(publishBodySchema.safeParse({ messages: [{ type: "unread", user: U, unread: -1, at: 1 }] }).success).toBe(
      false,
    );
    expect(publishBodySchema.safeParse({ messages: Array(501).fill(body.messages[1]) }).success).toBe(false);
  });

  it("finds the token in the header, a bearer subprotocol or the query, in that order", () => {
    expect(
      upgradeCredentials({ authorization: "Bearer h", protocols: "feed-live.v1, bearer.p", accessToken: "q" }),
    ).toEqual({
      ok: true,
      authorization: "Bearer h",
      subprotocol: "feed-live.v1",
    });
    expect(upgradeCredentials({ protocols: "feed-live.v1, bearer.a.b.c", accessToken: "q" })).toMatchObject({
      authorization: "Bearer a.b.c",
    });
    expect(upgradeCredentials({ accessToken: "q.r.s" })).toEqual({
      ok: true,
      authorization: "Bearer q.r.s",
      subprotocol: null,
    });
    expect(upgradeCredentials({})).toEqual({ ok: true, authorization: undefined, subprotocol: null });
    expect(upgradeCredentials({ protocols: "bearer.a.b.c" })).toMatchObject({ ok: false });
    expect(upgradeCredentials({ accessToken: "a b" })).toMatchObject({ authorization: "Bearer invalid" });
  });
});

import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ApiError } from "./errors.ts";
import { uuidSchema } from "./uuid.ts";
import { firstIssueError, rejectInvalid } from "./validation.ts";

describe("validation errors", () => {
  it("name the first issue's field and keep zod's message", () => {
    const r = z.object({ limit: z.number().max(100), cursor: z.string() }).safeParse({ limit: 500, cursor: 1 });
    const err = firstIssueError(r.error?.issues ?? [], "query");
    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(400);
    expect(err.code).toBe("bad_request");
    expect(err.message).toMatch(/^limit: /);
  });

  it("fall back to the request part when the whole value is wrong", () => {
    const r = z.object({ events: z.array(z.unknown()) }).safeParse("nope");
    expect(firstIssueError(r.error?.issues ?? [], "body").message).toMatch(/^body: /);
  });

  it("join nested paths with dots", () => {
    const r = z.object({ events: z.array(z.object({ type: z.string() })) }).safeParse({ events: [{ type: 1 }] });
    expect(firstIssueError(r.error?.issues ?? [], "body").message).toMatch(/^events\.0\.type: /);
  });
});

describe("rejectInvalid (the validator hook)", () => {
  it("lets a valid value through", () => {
    expect(() => rejectInvalid({ success: true, target: "query" })).not.toThrow();
  });

  it("throws the 400 envelope error, naming the JSON body 'body'", () => {
    const r = z.object({ events: z.array(z.unknown()) }).safeParse([]);
    expect(() => rejectInvalid({ success: false, error: r.error, target: "json" })).toThrow(/^body: /);
  });

  it("keeps a path parameter's own name", () => {
    const r = z.object({ user_id: uuidSchema }).safeParse({ user_id: "bob" });
    expect(() => rejectInvalid({ success: false, error: r.error, target: "param" })).toThrow("user_id: must be a UUID");
  });
});

import { describe, expect, it } from "vitest";
import { countedKey, decideCounted } from "./counting.ts";

const U = "11111111-1111-4111-8111-111111111111";
const AUTHOR = "22222222-2222-4222-8222-222222222222";
const P = "33333333-3333-4333-8333-333333333333";
const Q = "44444444-4444-4444-8444-444444444444";
const DAY1 = Date.UTC(2026, 11, 1, 10);
const DAY2 = Date.UTC(2026, 11, 2, 0, 0, 1);
const ev = (type: "impression" | "view" | "click" | "share" | "dwell", post = P, at = DAY1, user = U) => ({
  user_id: user,
  post_id: post,
  type,
  received_at_ms: at,
});
const author = (p: string) => (p === P || p === Q ? AUTHOR : undefined);

describe("decideCounted", () => {
  it("counts 500 shares of one post by one user as one", () => {
    const flags = decideCounted(
      Array.from({ length: 500 }, () => ev("share")),
      author,
      new Set(),
    );
    expect(flags.filter(Boolean)).toHaveLength(1);
    expect(flags[0]).toBe(true);
  });

  it("counts one click and one share per (user, post), separately per post", () => {
    const flags = decideCounted(
      [ev("click"), ev("share"), ev("click"), ev("click", Q), ev("share", Q)],
      author,
      new Set(),
    );
    expect(flags).toEqual([true, true, false, true, true]);
  });

  it("counts an impression once per UTC day", () => {
    const flags = decideCounted([ev("impression"), ev("impression"), ev("impression", P, DAY2)], author, new Set());
    expect(flags).toEqual([true, false, true]);
  });

  it("never counts events on the user's own post, of any type", () => {
    const own = ["impression", "view", "click", "share", "dwell"].map((t) => ev(t as "view", P, DAY1, AUTHOR));
    expect(decideCounted(own, author, new Set())).toEqual([false, false, false, false, false]);
  });

  it("does not bound views and dwell", () => {
    expect(decideCounted([ev("view"), ev("view"), ev("dwell"), ev("dwell")], author, new Set())).toEqual([
      true,
      true,
      true,
      true,
    ]);
  });

  it("respects what counted in an earlier batch and records what this one counts", () => {
    const already = new Set([countedKey(ev("share")) as string]);
    expect(decideCounted([ev("share"), ev("click")], author, already)).toEqual([false, true]);
    expect(already.has(countedKey(ev("click")) as string)).toBe(true);
  });

  it("keys match what ClickHouse prints for event_counted_keys", () => {
    expect(countedKey(ev("share"))).toBe(`${U}|${P}|share|1970-01-01`);
    expect(countedKey(ev("impression", P, DAY2))).toBe(`${U}|${P}|impression|2026-12-02`);
    expect(countedKey(ev("view"))).toBeNull();
  });
});

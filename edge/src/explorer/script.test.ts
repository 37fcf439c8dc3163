/**
 * The explorer script's pure part (EXPLORER_MODEL_JS), evaluated as the browser does, and the
 * rules the whole script keeps: it parses, and it puts nothing on the page as markup.
 */
import { describe, expect, it } from "vitest";
import { EXPLORER_JS, EXPLORER_MODEL_JS } from "./script.ts";

interface Obs {
  value: boolean;
  t: number;
}
interface Pending {
  value: boolean;
  at: number;
}
interface Model {
  PENDING_MS: number;
  plural(n: number, one: string, many: string): string;
  nameOf(card: unknown): string;
  handleOf(card: unknown): string;
  parseRoute(hash: string): { view: string; id: string | null };
  hrefOf(view: string, id: string): string;
  observe(map: Map<string, { value: unknown; t: number }>, key: string, value: unknown, t: number): boolean;
  flagView(
    obs: Obs | undefined,
    pending: Pending | undefined,
    now: number,
  ): { value: boolean; pending: boolean; settled: boolean };
  countFor(count: number, serverFlag: boolean, shownFlag: boolean): number;
  mergeById<T>(list: T[], incoming: T[], key: keyof T): T[];
  threadComments<T extends { comment_id: string }>(read: T[], mine: T[]): T[];
  commentFromWrite(created: Record<string, string>, me: unknown): Record<string, unknown>;
}

const M = new Function(`${EXPLORER_MODEL_JS}; return explorerModel();`)() as Model;

describe("explorer model", () => {
  it("routes: #/ the feed, #/user/<id> an author, #/post/<id> a thread; anything else the feed", () => {
    expect(M.parseRoute("")).toEqual({ view: "feed", id: null });
    expect(M.parseRoute("#/")).toEqual({ view: "feed", id: null });
    expect(M.parseRoute("#/user/me")).toEqual({ view: "author", id: "me" });
    expect(M.parseRoute("#/user/%40ada")).toEqual({ view: "author", id: "@ada" });
    expect(M.parseRoute("#/post/0b6f")).toEqual({ view: "thread", id: "0b6f" });
    expect(M.parseRoute("#/post/%E0%A4%A")).toEqual({ view: "feed", id: null }); // malformed escape
    expect(M.parseRoute("#/post/a/b")).toEqual({ view: "feed", id: null });
    expect(M.parseRoute("#/nope/x")).toEqual({ view: "feed", id: null });
    for (const [view, id] of [
      ["author", "@ada"],
      ["thread", "x/y?z#"],
    ] as const)
      expect(M.parseRoute(M.hrefOf(view, id))).toEqual({ view, id });
    expect(M.hrefOf("feed", "")).toBe("#/");
  });

  it("names: display name, else @handle, else a short id", () => {
    expect(M.nameOf({ id: "u1", handle: "ada", display_name: "Ada L." })).toBe("Ada L.");
    expect(M.nameOf({ id: "u1", handle: "ada", display_name: "" })).toBe("@ada");
    expect(M.nameOf({ id: "0123456789abcdef", handle: "", display_name: "" })).toBe("user 01234567");
    expect(M.nameOf(null)).toBe("unknown user");
    expect(M.handleOf({ handle: "ada" })).toBe("@ada");
    expect(M.handleOf({ handle: "" })).toBe("");
    expect(M.plural(1, "like", "likes")).toBe("1 like");
    expect(M.plural(0, "like", "likes")).toBe("0 likes");
  });

  it("keeps the newest reading per key (by when its request started)", () => {
    const m = new Map<string, { value: unknown; t: number }>();
    expect(M.observe(m, "p", 1, 10)).toBe(true);
    expect(M.observe(m, "p", 0, 5)).toBe(false); // an older read answering late
    expect(m.get("p")).toEqual({ value: 1, t: 10 });
    expect(M.observe(m, "p", 2, 10)).toBe(true);
    expect(m.get("p")).toEqual({ value: 2, t: 10 });
  });

  it("shows a pending write over older and lagging reads until a read after it agrees", () => {
    const at = 1000;
    const pending = { value: true, at };
    // No write: the read.
    expect(M.flagView({ value: true, t: 1 }, undefined, at)).toEqual({ value: true, pending: false, settled: false });
    expect(M.flagView(undefined, undefined, at).value).toBe(false);
    // A read from before the write: the write, even if it agrees by chance.
    expect(M.flagView({ value: false, t: 900 }, pending, at + 10)).toEqual({
      value: true,
      pending: true,
      settled: false,
    });
    expect(M.flagView({ value: true, t: 900 }, pending, at + 10)).toEqual({
      value: true,
      pending: false,
      settled: false,
    });
    // A read after the write that lags: still the write.
    expect(M.flagView({ value: false, t: 1500 }, pending, 1600)).toEqual({
      value: true,
      pending: true,
      settled: false,
    });
    // A read after the write that agrees: settled.
    expect(M.flagView({ value: true, t: 1500 }, pending, 1600)).toEqual({ value: true, pending: false, settled: true });
    // Too old a write: the read, whatever it says.
    expect(M.flagView({ value: false, t: 1500 }, pending, at + M.PENDING_MS + 1)).toEqual({
      value: false,
      pending: false,
      settled: true,
    });
    // Taking a like back works the same way.
    expect(M.flagView({ value: true, t: 900 }, { value: false, at }, at + 10).value).toBe(false);
  });

  it("moves a count read with a flag by the one write the read has not seen", () => {
    expect(M.countFor(3, false, true)).toBe(4);
    expect(M.countFor(3, true, false)).toBe(2);
    expect(M.countFor(3, true, true)).toBe(3);
    expect(M.countFor(0, true, false)).toBe(0);
    expect(M.countFor(Number.NaN, false, false)).toBe(0);
  });

  it("pages without repeats, and shows the viewer's comments until the thread lists them", () => {
    const a = { comment_id: "a" };
    const b = { comment_id: "b" };
    const c = { comment_id: "c" };
    expect(M.mergeById([a, b], [b, c, c], "comment_id")).toEqual([a, b, c]);
    expect(M.threadComments([a], [c])).toEqual([a, c]);
    expect(M.threadComments([a, c], [c])).toEqual([a, c]);
    const me = { id: "u1", handle: "ada", display_name: "Ada" };
    const created = { id: "c1", post_id: "p1", author_id: "u1", text: "hi", created_at: "2024-01-01T00:00:00.000Z" };
    expect(M.commentFromWrite(created, me)).toEqual({
      comment_id: "c1",
      post_id: "p1",
      author: me,
      created_at: "2024-01-01T00:00:00.000Z",
      text: "hi",
    });
    expect((M.commentFromWrite(created, null).author as { id: string }).id).toBe("u1");
  });
});

describe("explorer script", () => {
  it("parses as a script and never writes markup", () => {
    expect(() => new Function(EXPLORER_JS)).not.toThrow();
    expect(EXPLORER_JS).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/);
  });
});

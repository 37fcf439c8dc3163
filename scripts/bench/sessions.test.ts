import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { interleavedRounds } from "./rounds.ts";
import { byCache, feedSessions } from "./sessions.ts";

// A feed stand-in: a new session (no cursor) is a MISS with a next cursor, except for viewer
// "short" (no next page) and "broken" (a 503); a next page is a HIT; every request is logged.
const seen: string[] = [];
const server = createServer((req, res) => {
  const u = new URL(req.url ?? "/", "http://x");
  const viewer = u.searchParams.get("viewer") ?? "";
  const cursor = u.searchParams.get("cursor");
  seen.push(`${viewer}:${cursor ?? "-"}`);
  if (viewer === "broken") {
    res.statusCode = 503;
    res.end("{}");
    return;
  }
  res.setHeader("x-cache", cursor ? "HIT" : "MISS");
  res.end(JSON.stringify({ items: [], next_cursor: cursor || viewer === "short" ? null : `c-${viewer}` }));
});
let base = "";
beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const request = (viewer: string, cursor?: string) => ({
  url: `${base}/feed?viewer=${viewer}${cursor ? `&cursor=${cursor}` : ""}`,
});

describe("bench feed sessions", () => {
  it("new sessions in the viewers' order, then passes over their next pages; X-Cache split and counted", async () => {
    seen.length = 0;
    const viewers = ["a", "short", "b", "broken"];
    const run = await feedSessions({ viewers, clients: 1, hitPasses: 2, request });
    expect(run.asked).toEqual(viewers);
    expect(seen).toEqual(["a:-", "short:-", "b:-", "broken:-", "a:c-a", "b:c-b", "a:c-a", "b:c-b"]);
    expect(run.noNextPage).toBe(2);
    expect(run.miss.shots.every((s) => s.body === undefined)).toBe(true);
    const miss = byCache(run.miss, "MISS");
    expect(miss.kept.requests).toBe(3);
    expect(miss.leftOut).toBe(1);
    expect(byCache(run.hit, "HIT")).toMatchObject({ leftOut: 0, kept: { requests: 4 } });
  });

  it("two runtimes and the baseline on the same viewers pass the same-inputs check; other viewers fail it", async () => {
    const viewers = ["a", "b", "c"];
    const ok = await interleavedRounds({
      what: "feed",
      sides: ["plain", "wrangler", "baseline"] as const,
      run: async () => {
        const s = await feedSessions({ viewers, clients: 2, hitPasses: 1, request });
        return { value: byCache(s.miss, "MISS").kept.requests, asked: s.asked };
      },
    });
    expect(ok).toEqual({ plain: [3, 3, 3], wrangler: [3, 3, 3], baseline: [3, 3, 3] });
    await expect(
      interleavedRounds({
        what: "feed",
        sides: ["plain", "baseline"] as const,
        run: async (side) => {
          const s = await feedSessions({
            viewers: side === "plain" ? ["x", "y", "z"] : viewers,
            clients: 1,
            hitPasses: 1,
            request,
          });
          return { value: 0, asked: s.asked };
        },
      }),
    ).rejects.toThrow(/not given the same inputs/);
  });
});

import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { rng } from "../lib/rng.ts";
import { closedLoop, percentile, summarize, zipf } from "./load.ts";

describe("bench load generator: pure parts", () => {
  it("percentile is the nearest rank", () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(xs, 0.5)).toBe(50);
    expect(percentile(xs, 0.95)).toBe(95);
    expect(percentile(xs, 0.99)).toBe(99);
    expect(percentile([7], 0.99)).toBe(7);
    expect(percentile([], 0.5)).toBe(0);
  });

  it("summarize counts cache outcomes, statuses and errors", () => {
    const r = summarize(
      [
        { ms: 1, status: 200, cache: "HIT", timing: null },
        { ms: 2, status: 200, cache: "MISS", timing: null },
        { ms: 3, status: 503, cache: null, timing: null },
        { ms: 4, status: 0, cache: null, timing: null },
      ],
      2,
    );
    expect(r.cache).toEqual({ HIT: 1, MISS: 1, none: 2 });
    expect(r.status).toEqual({ "200": 2, "503": 1, "0": 1 });
    expect(r.errors).toBe(2);
    expect(r.rps).toBe(2);
  });

  it("zipf(1.1) puts rank 0 first and follows 1/k^s", () => {
    const draw = zipf(1000, 1.1, rng(3));
    const counts = new Array(1000).fill(0);
    for (let i = 0; i < 200_000; i++) counts[draw()]++;
    // P(0)/P(1) = 2^1.1 ≈ 2.14
    expect(counts[0] / counts[1]).toBeGreaterThan(1.9);
    expect(counts[0] / counts[1]).toBeLessThan(2.4);
    expect(counts[0]).toBeGreaterThan(counts[10]);
    expect(counts[999]).toBeLessThan(counts[0] / 500);
  });

  it("closedLoop keeps shots in request order when several clients finish out of order", async () => {
    // Request i is answered after (8 - i % 8) ms with its own index: later requests overtake.
    const server = createServer((req, res) => {
      const i = Number(new URL(req.url ?? "/", "http://x").searchParams.get("i"));
      setTimeout(() => res.end(String(i)), 8 - (i % 8));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const { port } = server.address() as AddressInfo;
    try {
      const { shots } = await closedLoop({
        concurrency: 4,
        requests: 40,
        keepBody: true,
        request: (i) => ({ url: `http://127.0.0.1:${port}/?i=${i}`, init: {} }),
      });
      expect(shots.map((s) => Number(s.body))).toEqual(Array.from({ length: 40 }, (_, i) => i));
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});

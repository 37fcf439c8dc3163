import { describe, expect, it } from "vitest";
import { growthMarkdown, growthSvg } from "./growth.ts";

const report = (scale: string, users: number, missP95: number, baseP95: number) => ({
  scale,
  complete: true,
  date: "2026-12-01T00:00:00.000Z",
  commit: "abc1234",
  dataset: { users, posts: users * 10, events: users * 100 },
  load_seconds: users / 1000,
  figures: [
    {
      name: "feed MISS p95 (ms), plain workerd, 1 client",
      ours: missP95,
      baseline: baseP95,
      ratio: null,
      target: null,
      met: null,
    },
    // An earlier report's name for the wrangler dev Zipf figure.
    {
      name: "feed under Zipf mix p95 (ms)",
      ours: missP95 * 2,
      baseline: baseP95 * 2,
      ratio: null,
      target: null,
      met: null,
    },
  ],
  details: { stores: { redis_index_mib: users / 100 } },
});

describe("bench growth table", () => {
  it("shows each figure per scale with its growth factor, and the M → L target on ours", () => {
    const md = growthMarkdown([report("M", 100_000, 20, 40), report("L", 1_000_000, 25, 90)]);
    const miss = md.split("\n").filter((l) => l.startsWith("| feed MISS p95, plain workerd"));
    expect(miss).toHaveLength(2);
    expect(miss[0]).toContain("| ours | 20 | 25 | 1.25× | M→L ≤ 1.5×: yes |");
    expect(miss[1]).toContain("| baseline | 40 | 90 | 2.25× | – |");
    // Found under the name an earlier report used.
    expect(md).toContain("| feed p95 under the Zipf mix, wrangler dev, 4 clients (ms) | ours | 40 | 50 | 1.25× |");
    expect(md).toContain("| Redis: serving index memory (MiB) | ours | 1000 | 10000 | 10× | – |");
  });

  it("flags growth above the target", () => {
    const md = growthMarkdown([report("M", 100_000, 20, 40), report("L", 1_000_000, 40, 90)]);
    expect(md).toContain("| ours | 20 | 40 | 2× | M→L ≤ 1.5×: **no** |");
  });

  it("plots a line per side of each plotted figure, at the scales' user counts", () => {
    const svg = growthSvg([report("S", 10_000, 10, 12), report("M", 100_000, 20, 40), report("L", 1_000_000, 25, 90)]);
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg).toContain("1M users");
    expect(svg).toContain("feed MISS p95, plain workerd, 1 client: baseline");
    expect((svg.match(/<path /g) ?? []).length).toBe(2);
    expect((svg.match(/<circle /g) ?? []).length).toBe(6);
  });
});

import { describe, expect, it } from "vitest";
import { type CpuProfile, summarize } from "./cpu-profile.ts";

const frame = (functionName: string, lineNumber = 0) => ({
  functionName,
  url: "index.js",
  lineNumber,
  columnNumber: 0,
});

/** root → handler → rank → score, and handler → parse; idle beside. */
const PROFILE: CpuProfile = {
  nodes: [
    { id: 1, callFrame: frame("(root)"), children: [2, 6] },
    { id: 2, callFrame: frame("handler"), children: [3, 5] },
    { id: 3, callFrame: frame("rankFeed"), children: [4] },
    { id: 4, callFrame: frame("scorePost") },
    { id: 5, callFrame: frame("parseViewerState") },
    { id: 6, callFrame: frame("(idle)") },
  ],
  startTime: 0,
  endTime: 5700,
  // score ×3, rank ×1, parse ×2, handler ×1, idle ×1; the last parse sample is followed by a long wait.
  samples: [4, 4, 4, 3, 5, 2, 6, 5],
  timeDeltas: [0, 100, 100, 100, 100, 100, 100, 100],
};

describe("CPU profile summary", () => {
  it("sums self time by function and busy time by the innermost named stage, idle apart", () => {
    const s = summarize(PROFILE, { rank: ["rankFeed"], parse: ["parseViewerState"] });
    expect(s.idleUs).toBe(100);
    expect(s.byFunction.find((f) => f.name === "scorePost")?.selfUs).toBe(300);
    expect(s.byFunction.find((f) => f.name === "rankFeed")).toMatchObject({ selfUs: 100, totalUs: 400 });
    // scorePost is inside rankFeed: its samples are the rank stage's.
    expect(s.byStage.rank).toBe(400);
    expect(s.byStage.other).toBe(100);
  });

  it("caps a sample followed by a wait at twice the median gap (workerd samples only while the isolate runs)", () => {
    const s = summarize(PROFILE, { parse: ["parseViewerState"] });
    // The first parse sample 100 µs; the last one, before a 5,000 µs gap, counts 200 µs.
    expect(s.byStage.parse).toBe(100 + 200);
    expect(s.busyUs).toBe(300 + 100 + 100 + 100 + 200);
  });
});

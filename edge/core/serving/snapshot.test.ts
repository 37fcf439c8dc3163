import { describe, expect, it } from "vitest";
import type { RankedItem } from "../ranking/rank.ts";
import {
  decodeSnapshotItem,
  nextCursor,
  pageFromReplies,
  pageRange,
  reusable,
  SNAPSHOT_REUSE_MS,
  SnapshotError,
  type SnapshotMeta,
  snapshotElements,
} from "./snapshot.ts";

const V = "00000000-0000-4000-8000-000000000001";
const meta: SnapshotMeta = {
  v: 2,
  rankingId: "abcdef0123456789",
  viewerId: V,
  builtAtMs: 1000,
  count: 3,
  path: "index",
  ver: 2,
};
const item = (n: number): RankedItem => ({
  postId: `p${n}`,
  authorId: `a${n}`,
  createdAtMs: 1_700_000_000_000 + n,
  text: `text ${n}\twith a tab`,
  source: "follow",
  score: 1 / n,
  explain: { freshness: 0.5, engagement: Math.log1p(n), affinity: 0, score: 1 / n, diversityMultiplier: 1 },
});
const stored = snapshotElements({ meta, items: [item(1), item(2), item(3)] });

describe("snapshots", () => {
  it("a page is one LRANGE after the metadata element, and the last page has no next cursor", () => {
    expect(pageRange(0, 2)).toEqual([1, 2]);
    expect(pageRange(2, 2)).toEqual([3, 4]);
    const first = pageFromReplies(V, { rankingId: meta.rankingId, offset: 0 }, 2, stored[0], stored.slice(1, 3));
    expect(first.items.map((i) => i.postId)).toEqual(["p1", "p2"]);
    expect(first.next).toEqual({ rankingId: meta.rankingId, offset: 2 });
    const last = pageFromReplies(V, { rankingId: meta.rankingId, offset: 2 }, 2, stored[0], stored.slice(3));
    expect(last.items.map((i) => i.postId)).toEqual(["p3"]);
    expect(last.next).toBeNull();
    expect(nextCursor(meta, 0, 3)).toBeNull();
  });

  it("stores items tab-separated (v3) and reads them back exactly; reads a v2 snapshot's JSON items too", () => {
    expect(JSON.parse(stored[0] as string).v).toBe(3);
    expect(stored[1]?.startsWith("p1\ta1\t")).toBe(true);
    const all = pageFromReplies(V, { rankingId: meta.rankingId, offset: 0 }, 3, stored[0], stored.slice(1));
    expect(all.items).toEqual([item(1), item(2), item(3)]);
    const v2 = [JSON.stringify({ ...meta, v: 2 }), ...[item(1), item(2)].map((i) => JSON.stringify(i))];
    expect(pageFromReplies(V, { rankingId: meta.rankingId, offset: 0 }, 2, v2[0], v2.slice(1)).items).toEqual([
      item(1),
      item(2),
    ]);
    expect(decodeSnapshotItem("p1\ta1\t1\tnowhere\t1\t1\t1\t1\t1\t1\tx")).toBeNull();
    expect(decodeSnapshotItem("too\tshort")).toBeNull();
  });

  it("a gone snapshot, another viewer's, or an offset past its end is a SnapshotError", () => {
    const c = { rankingId: meta.rankingId, offset: 0 };
    const reason = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e instanceof SnapshotError ? e.reason : "other";
      }
      return "none";
    };
    expect(reason(() => pageFromReplies(V, c, 2, null, []))).toBe("expired");
    expect(reason(() => pageFromReplies("someone-else", c, 2, stored[0], []))).toBe("foreign");
    expect(reason(() => pageFromReplies(V, { ...c, offset: 4 }, 2, stored[0], []))).toBe("out_of_range");
    expect(reason(() => pageFromReplies(V, { ...c, rankingId: "other0123456789a" }, 2, stored[0], []))).toBe("expired");
  });

  it("a new session reuses the newest snapshot only while it is young and the version unchanged", () => {
    const p = { rankingId: meta.rankingId, builtAtMs: 1000, ver: 2, count: 3 };
    expect(reusable(p, 2, 1000 + SNAPSHOT_REUSE_MS - 1)).toBe(true);
    expect(reusable(p, 2, 1000 + SNAPSHOT_REUSE_MS)).toBe(false);
    expect(reusable(p, 3, 1001)).toBe(false);
    expect(reusable(null, 0, 1001)).toBe(false);
  });
});

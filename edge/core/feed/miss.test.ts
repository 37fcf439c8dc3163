import { describe, expect, it } from "vitest";
import { ExperimentCopies } from "../experiments/assignment.ts";
import { encodeRunningExperiments, type RunningExperiment } from "../experiments/schema.ts";
import {
  feedVersionKey,
  indexKeys,
  SNAPSHOT_PAGING_TTL_S,
  SNAPSHOT_TTL_S,
  snapshotKey,
  snapshotPointerKey,
} from "../keys.ts";
import type { Command } from "../serving/read.ts";
import { missReads, parseMissReads, rankMiss, readMiss, snapshotWrites } from "./miss.ts";
import type { CandidateRowLike } from "./rows.ts";

const NOW = Date.UTC(2026, 11, 1, 12);
const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;
const V = id(1);
const keys = indexKeys("t:");

const experiment: RunningExperiment = {
  id: id(77),
  name: "exp-a",
  variants: [
    {
      name: "control",
      share: 100,
      weights: { freshness: 0.3, engagement: 0.4, affinity: 0.3, freshnessDecayPerHour: 0.1 },
    },
    { name: "b", share: 0, weights: { freshness: 0.9, engagement: 0.05, affinity: 0.05, freshnessDecayPerHour: 0.1 } },
  ],
  control: "control",
  candidate: "b",
  promoted: null,
  started_at: NOW - 1000,
};

/** Replies to round trip 1 as a Redis answers them: index not ready, one seen post. */
function replies(plan: { commands: Command[] }, over: Record<number, unknown> = {}): unknown[] {
  return plan.commands.map((c, i) => {
    if (i in over) return over[i];
    if (c[0] === "ZRANGE") return [id(500)];
    if (c[0] === "SMEMBERS") return [];
    if (c[0] === "HGETALL") return null;
    return null;
  });
}

describe("a feed miss as plans", () => {
  it("round trip 1 reads the pointer and version first, the index keys, then the experiments only when due", () => {
    const copies = new ExperimentCopies(5000);
    const exp = copies.forNamespace("t:");
    const first = missReads(keys, V, exp, NOW);
    expect(first.commands.slice(0, 2)).toEqual([
      ["GET", snapshotPointerKey(V)],
      ["GET", feedVersionKey(V)],
    ]);
    expect(first.readsExperiments).toBe(true);
    expect(first.commands.at(-1)).toEqual(["GET", exp.key]);
    expect(first.commands).toHaveLength(2 + first.viewerReadCount + 2);
    expect(first.commands[2 + first.viewerReadCount]?.slice(0, 2)).toEqual(["ZRANGE", keys.recentLikes(V)]);

    const doc = encodeRunningExperiments([experiment], 1, NOW);
    const state = parseMissReads(first, replies(first, { 1: "7", [first.commands.length - 1]: doc }), exp, NOW);
    expect(state.ver).toBe(7);
    expect(state.pointer).toBeNull();
    expect(state.viewer.ready).toBe(false);
    expect(state.viewer.seenPostIds).toEqual(new Set([id(500)]));
    expect(exp.copy.current().map((e) => e.name)).toEqual(["exp-a"]);

    // Within the refresh interval the copy is not due: no experiments read.
    const second = missReads(keys, V, exp, NOW + 1000);
    expect(second.readsExperiments).toBe(false);
    expect(second.commands).toHaveLength(3 + second.viewerReadCount);
    // Without experiments at all, nothing is read for them.
    expect(missReads(keys, V, null, NOW).commands).toHaveLength(3 + second.viewerReadCount);
  });

  it("a copies registry hands out one copy per namespace", () => {
    const copies = new ExperimentCopies();
    expect(copies.forNamespace("a:").copy).toBe(copies.forNamespace("a:").copy);
    expect(copies.forNamespace("a:").copy).not.toBe(copies.forNamespace("b:").copy);
    expect(copies.forNamespace("a:").key).not.toBe(copies.forNamespace("b:").key);
  });

  it("a cold miss ranks the candidates query's rows minus the seen set, under the viewer's variant, and saves atomically-shaped writes", async () => {
    const exp = new ExperimentCopies().forNamespace("t:");
    exp.copy.update(encodeRunningExperiments([experiment], 1, NOW), NOW);
    const row = (n: number, src: number): CandidateRowLike => ({
      post_id: id(n),
      author_id: id(900 + n),
      text: `p${n}`,
      created_at_ms: NOW - n * 60_000,
      src,
      likes: 0,
      comments: 0,
      shares: 0,
      impressions: 0,
      affinity: 0,
      author_blocked: 0,
      author_deleted: 0,
    });
    const executed: Command[][] = [];
    const exec = async (commands: Command[]) => {
      executed.push(commands);
      return replies({ commands });
    };
    const state = await readMiss(exec, keys, V, exp, NOW);
    const saved: Command[][] = [];
    const { snapshot, display } = await rankMiss(
      {
        exec,
        coldRows: async (viewer) => {
          expect(viewer).toBe(V);
          return [row(500, 1), row(501, 1), row(502, 2)];
        },
        save: async (s) => {
          saved.push(snapshotWrites(s));
        },
      },
      keys,
      V,
      state,
      { nowMs: NOW, experiments: exp },
    );
    expect(executed).toHaveLength(1); // the cold path reads no author posts
    expect(snapshot.meta.path).toBe("clickhouse");
    expect(display).toBeNull(); // the cold path reads nothing to render with
    expect(snapshot.meta.experiment).toEqual({ experiment: "exp-a", variant: "control" });
    expect(snapshot.items.map((i) => i.postId).sort()).toEqual([id(501), id(502)]); // 500 was seen
    const [writes] = saved;
    expect(writes?.map((c) => c.slice(0, 2))).toEqual([
      ["RPUSH", snapshotKey(V, snapshot.meta.rankingId)],
      ["EXPIRE", snapshotKey(V, snapshot.meta.rankingId)],
      ["SET", snapshotPointerKey(V)],
    ]);
    expect(writes?.[0]).toHaveLength(2 + 1 + snapshot.items.length);
    expect(writes?.[1]?.[2]).toBe(String(SNAPSHOT_TTL_S));
    expect(writes?.[2]?.slice(3)).toEqual(["EX", String(SNAPSHOT_PAGING_TTL_S)]);
  });

  it("with no round trip 1 (Redis down) the miss still ranks from the cold path, at version 0", async () => {
    const { snapshot } = await rankMiss(
      { exec: async () => [], coldRows: async () => [], save: async () => {} },
      keys,
      V,
      null,
      { nowMs: NOW, experiments: null },
    );
    expect(snapshot.meta.ver).toBe(0);
    expect(snapshot.meta.path).toBe("clickhouse");
    expect(snapshot.items).toEqual([]);
  });

  it("a viewer the ready index does not hold ranks from ClickHouse, and from the index when ClickHouse fails", async () => {
    const plan = missReads(keys, V, null, NOW);
    // Index ready (the GET of the ready key answers), the viewer's profile absent (EXISTS 0).
    const r = replies(plan, { 2: "{}" }).map((x, i) => (plan.commands[i]?.[0] === "EXISTS" ? 0 : x));
    const state = parseMissReads(plan, r, null, NOW);
    expect(state.viewer).toMatchObject({ ready: false, notReady: "viewer" });
    const run = (coldRows: () => Promise<CandidateRowLike[]>) =>
      rankMiss({ exec: async (cmds) => cmds.map(() => null), coldRows, save: async () => {} }, keys, V, state, {
        nowMs: NOW,
        experiments: null,
      });
    expect((await run(async () => [])).snapshot.meta.path).toBe("clickhouse");
    const down = await run(async () => {
      throw new Error("ClickHouse unreachable");
    });
    expect(down.snapshot.meta.path).toBe("index");
  });
});

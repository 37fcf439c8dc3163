/**
 * Issue 17 at the edge, the pure parts: the in-memory copy of the running experiments (read at
 * most once per refresh interval), buildRanking under a variant (its weights, decay included,
 * recorded in the snapshot and its pointer), the intake's experiment tags (the reference of the
 * Lua that fills them in), and the creator stats' window and answer.
 */
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  type EventRecord,
  EXPERIMENT_TAG_PLACEHOLDER,
  encodeBatchForTagging,
  eventRecordSchema,
  experimentTagOf,
  fillExperimentTags,
} from "#core/events/schema.ts";
import { assignVariant, RunningExperimentsCopy } from "#core/experiments/assignment.ts";
import { EXPERIMENTS_REFRESH_MS, encodeRunningExperiments, type RunningExperiment } from "#core/experiments/schema.ts";
import { buildRanking } from "#core/feed/build.ts";
import type { Candidate } from "#core/ranking/candidates.ts";
import { rankFeed } from "#core/ranking/rank.ts";
import { DEFAULT_WEIGHTS } from "#core/ranking/score.ts";
import { authorFromIndex, POST_STATS_HOURS, postStatsBody, postStatsSince } from "#core/reads/post-stats.ts";
import type { IndexCandidates } from "#core/serving/read.ts";
import { pointerOf, type Snapshot, snapshotExperiment } from "#core/serving/snapshot.ts";

const HOUR = 3_600_000;
const NOW = Date.UTC(2026, 11, 1, 12, 30);

const experiment = (over: Partial<RunningExperiment> = {}): RunningExperiment => ({
  id: "1",
  name: "fresh-vs-engaged",
  variants: [
    { name: "control", share: 50, weights: { freshness: 1, engagement: 0, affinity: 0, freshnessDecayPerHour: 0.1 } },
    { name: "candidate", share: 50, weights: { freshness: 0, engagement: 1, affinity: 0, freshnessDecayPerHour: 0.1 } },
  ],
  control: "control",
  candidate: "candidate",
  promoted: null,
  started_at: 1,
  ...over,
});

describe("RunningExperimentsCopy", () => {
  it("is due before the first read, then once per refresh interval", () => {
    const copy = new RunningExperimentsCopy();
    expect(copy.due(NOW)).toBe(true);
    expect(copy.current()).toEqual([]);
    copy.update(encodeRunningExperiments([experiment()], 1, NOW), NOW);
    expect(copy.current().map((e) => e.name)).toEqual(["fresh-vs-engaged"]);
    expect(copy.due(NOW + 1)).toBe(false);
    expect(copy.due(NOW + EXPERIMENTS_REFRESH_MS - 1)).toBe(false);
    expect(copy.due(NOW + EXPERIMENTS_REFRESH_MS)).toBe(true);
    // A clock that went backwards reads again rather than trusting a copy from the future.
    expect(copy.due(NOW - 1)).toBe(true);
  });

  it("a missing or malformed key is 'none running'; an unchanged value is not parsed again", () => {
    const copy = new RunningExperimentsCopy(10);
    const raw = encodeRunningExperiments([experiment()], 1, NOW);
    copy.update(raw, NOW);
    const first = copy.current();
    copy.update(raw, NOW + 20);
    expect(copy.current()).toBe(first);
    copy.update(null, NOW + 40);
    expect(copy.current()).toEqual([]);
    copy.update("{not json", NOW + 60);
    expect(copy.current()).toEqual([]);
    // A client that parsed the JSON already hands over the object.
    copy.update(JSON.parse(raw), NOW + 80);
    expect(copy.current()).toHaveLength(1);
  });
});

describe("buildRanking under an experiment", () => {
  const viewer = (variant: string, e = experiment()) => {
    for (;;) {
      const u = randomUUID();
      if (assignVariant(e, u).name === variant) return u;
    }
  };
  // An old post with lots of engagement and a brand new one without: freshness-only ranks the
  // new one first, engagement-only the old one.
  const candidates = (): IndexCandidates => {
    const c = (postId: string, ageH: number, likes: number): Candidate => ({
      postId,
      authorId: randomUUID(),
      text: postId,
      source: "follow",
      createdAtMs: NOW - ageH * HOUR,
      likes,
      comments: 0,
      shares: 0,
      impressions: 10,
      authorInteractions90d: 0,
    });
    return {
      bySource: { follow: [c("old-popular", 30, 10), c("new-quiet", 0.1, 0)], trending: [], affinity: [] },
      blockedAuthorIds: new Set(),
      seenPostIds: new Set(),
    };
  };
  const build = async (viewerId: string, experiments: RunningExperiment[]) => {
    let saved: Snapshot | null = null;
    const s = await buildRanking(
      {
        candidates: { load: async () => ({ candidates: candidates(), path: "index" }) },
        snapshots: {
          save: async (x) => {
            saved = x;
          },
        },
      },
      viewerId,
      { now: () => NOW, ver: 0, experiments, ranking: { weights: DEFAULT_WEIGHTS } },
    );
    expect(saved).toBe(s);
    return s;
  };

  it("ranks with the viewer's variant and records it in the snapshot and its pointer", async () => {
    const e = experiment();
    const c = await build(viewer("control"), [e]);
    const k = await build(viewer("candidate"), [e]);
    expect(c.items.map((i) => i.postId)).toEqual(["new-quiet", "old-popular"]);
    expect(k.items.map((i) => i.postId)).toEqual(["old-popular", "new-quiet"]);
    expect(c.meta.experiment).toEqual({ experiment: e.name, variant: "control" });
    expect(k.meta.experiment).toEqual({ experiment: e.name, variant: "candidate" });
    expect(pointerOf(k.meta).experiment).toEqual({ experiment: e.name, variant: "candidate" });
    // The candidate's order is exactly rankFeed with the candidate's weights.
    const expected = rankFeed(
      candidates().bySource,
      { viewerId: "x", blockedAuthorIds: new Set(), seenPostIds: new Set() },
      NOW,
      {
        weights: e.variants[1]?.weights,
      },
    );
    expect(k.items.map((i) => [i.postId, i.score])).toEqual(expected.map((i) => [i.postId, i.score]));
  });

  it("uses the variant's decay: with decay 0 a 30-hour-old post is as fresh as a new one", async () => {
    const e = experiment({
      variants: [
        { name: "control", share: 0, weights: { ...DEFAULT_WEIGHTS } },
        { name: "flat", share: 100, weights: { freshness: 1, engagement: 0, affinity: 0, freshnessDecayPerHour: 0 } },
      ],
    });
    const s = await build(randomUUID(), [e]);
    expect(s.items.every((i) => i.explain.freshness === 1)).toBe(true);
    expect(s.meta.experiment?.variant).toBe("flat");
  });

  it("without a running experiment: the configured weights, experiment null", async () => {
    const s = await build(randomUUID(), []);
    expect(s.meta.experiment).toBeNull();
    expect(snapshotExperiment(s.meta)).toBeNull();
    expect(pointerOf(s.meta).experiment).toBeNull();
    const expected = rankFeed(
      candidates().bySource,
      { viewerId: "x", blockedAuthorIds: new Set(), seenPostIds: new Set() },
      NOW,
      {
        weights: DEFAULT_WEIGHTS,
      },
    );
    expect(s.items.map((i) => i.score)).toEqual(expected.map((i) => i.score));
  });

  it("a promoted variant ranks everyone; an older snapshot without the field reads as none", async () => {
    const e = experiment({ promoted: "candidate" });
    for (let i = 0; i < 20; i++) expect((await build(randomUUID(), [e])).meta.experiment?.variant).toBe("candidate");
    expect(snapshotExperiment({})).toBeNull();
  });
});

describe("experiment tags at intake", () => {
  const record = (over: Partial<EventRecord> = {}): EventRecord => ({
    event_id: randomUUID(),
    user_id: randomUUID(),
    post_id: randomUUID(),
    type: "impression",
    client_ts: NOW,
    received_at: NOW,
    dwell_ms: 0,
    ...over,
  });
  const pointer = (e: { experiment: string; variant: string } | null) =>
    JSON.stringify({ rankingId: "abc123", builtAtMs: NOW, ver: 3, count: 20, experiment: e });

  it("fills the snapshot's experiment into the records that name none, keeps the others", () => {
    const a = record();
    const b = record({ experiment: "other", variant: "x" });
    const { body, tagged } = encodeBatchForTagging([a, b]);
    expect(tagged).toBe(true);
    expect(body.split(EXPERIMENT_TAG_PLACEHOLDER)).toHaveLength(2);
    const filled = JSON.parse(fillExperimentTags(body, pointer({ experiment: "exp-1", variant: "candidate" })));
    expect(filled).toEqual([
      { ...a, experiment: "exp-1", variant: "candidate" },
      { ...b, experiment: "other", variant: "x" },
    ]);
    for (const r of filled) expect(eventRecordSchema.safeParse(r).success).toBe(true);
  });

  it("without a pointer, or one outside any experiment, a record stays byte for byte what it was", () => {
    const records = [record(), record({ type: "click" })];
    const { body } = encodeBatchForTagging(records);
    expect(fillExperimentTags(body, null)).toBe(JSON.stringify(records));
    expect(fillExperimentTags(body, pointer(null))).toBe(JSON.stringify(records));
    expect(fillExperimentTags(body, JSON.stringify({ rankingId: "old" }))).toBe(JSON.stringify(records));
    expect(experimentTagOf("garbage")).toBe("");
  });

  it("a batch whose records all name an experiment needs no pointer read", () => {
    const records = [record({ experiment: "e", variant: "v" })];
    expect(encodeBatchForTagging(records)).toEqual({ body: JSON.stringify(records), tagged: false });
  });
});

describe("creator stats", () => {
  it("the window is the current hour and the 167 before it", () => {
    const since = postStatsSince(NOW);
    expect(since).toBe(Date.UTC(2026, 11, 1, 12) - 167 * HOUR);
    expect((Date.UTC(2026, 11, 1, 12) - since) / HOUR + 1).toBe(POST_STATS_HOURS);
  });

  it("rows (64-bit integers as strings) → hours oldest first, empty hours left out, totals", () => {
    const h = (t: number) => Math.floor(t / 1000);
    const body = postStatsBody(
      "p",
      "a",
      [
        {
          hour_s: h(NOW - 2 * HOUR),
          n_impressions: "5",
          n_views: "1",
          n_clicks: "2",
          n_likes: "1",
          n_comments: "0",
          n_shares: "1",
        },
        {
          hour_s: String(h(NOW - 30 * HOUR)),
          n_impressions: 3,
          n_views: 0,
          n_clicks: 0,
          n_likes: -1,
          n_comments: 2,
          n_shares: 0,
        },
        { hour_s: h(NOW - HOUR), n_impressions: 0, n_views: 0, n_clicks: 0, n_likes: 0, n_comments: 0, n_shares: 0 },
      ],
      NOW,
    );
    expect(body.hours.map((x) => x.hour)).toEqual([
      new Date(h(NOW - 30 * HOUR) * 1000).toISOString(),
      new Date(h(NOW - 2 * HOUR) * 1000).toISOString(),
    ]);
    expect(body.totals).toEqual({ impressions: 8, views: 1, clicks: 2, likes: 0, comments: 2, shares: 1 });
    expect(body.from).toBe(new Date(postStatsSince(NOW)).toISOString());
  });

  it("reads authorship from the index's post hash (an HMGET answer of either client)", () => {
    const a = "AAAAAAAA-0000-4000-8000-000000000000";
    expect(authorFromIndex({ a, d: null })).toEqual({ author: a.toLowerCase(), deleted: false });
    expect(authorFromIndex([a, "1"])).toEqual({ author: a.toLowerCase(), deleted: true });
    expect(authorFromIndex(null)).toBeNull();
    expect(authorFromIndex({ a: null, d: null })).toBeNull();
  });
});

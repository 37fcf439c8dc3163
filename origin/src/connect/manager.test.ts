import type { Admin } from "kafkajs";
import { describe, expect, it } from "vitest";
import { ensureTopics, topicsShortOfPartitions } from "./manager.ts";

/** An admin of a broker holding `have` (topic → partition count). */
function fakeAdmin(have: Record<string, number>) {
  const created: { topic: string; numPartitions?: number }[] = [];
  const admin = {
    listTopics: async () => Object.keys(have),
    createTopics: async ({ topics }: { topics: { topic: string; numPartitions?: number }[] }) => {
      created.push(...topics);
      for (const t of topics) have[t.topic] = t.numPartitions ?? 1;
      return true;
    },
    fetchTopicMetadata: async ({ topics }: { topics: string[] }) => ({
      topics: topics
        .filter((t) => t in have)
        .map((name) => ({
          name,
          partitions: Array.from({ length: have[name] as number }, (_, i) => ({ partitionId: i })),
        })),
    }),
  };
  return { admin: admin as unknown as Admin, created };
}

describe("topics and their partitions", () => {
  it("creates only the missing topics, with the configured partitions, and leaves existing ones as they are", async () => {
    const { admin, created } = fakeAdmin({ "cdc.posts": 3 });
    expect(await ensureTopics(admin, ["cdc.posts", "events"], 12, 1)).toEqual(["events"]);
    expect(created).toEqual([{ topic: "events", numPartitions: 12, replicationFactor: 1 }]);
    expect(await topicsShortOfPartitions(admin, ["cdc.posts", "events"], 12)).toEqual([
      { topic: "cdc.posts", partitions: 3 },
    ]);
  });
});

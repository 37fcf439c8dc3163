import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { pino } from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { jobLockKey } from "#core/keys.ts";
import { PeriodicJob } from "../../origin/src/jobs/periodic.ts";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

describe("periodic jobs under a Redis leader lock", () => {
  const name = `test-${randomBytes(4).toString("hex")}`;
  const redisA = new Redis(REDIS_URL);
  const redisB = new Redis(REDIS_URL);

  afterAll(async () => {
    await redisA.del(jobLockKey(name));
    redisA.disconnect();
    redisB.disconnect();
  });

  it("two origins side by side run the job once per interval between them", async () => {
    const runs: { who: string; at: number }[] = [];
    const intervalMs = 1000;
    const make = (who: string, redis: Redis) =>
      new PeriodicJob(
        {
          name,
          intervalMs,
          jitter: 0.05,
          run: async () => {
            runs.push({ who, at: Date.now() });
            return {};
          },
        },
        redis,
        pino({ level: "silent" }),
      );
    const a = make("a", redisA);
    const b = make("b", redisB);
    await Promise.all([a.start(), b.start()]);
    await new Promise((r) => setTimeout(r, 6500));
    await Promise.all([a.stop(), b.stop()]);

    // About one run per interval in total (not two), and never two inside one lock window.
    expect(runs.length).toBeGreaterThanOrEqual(4);
    expect(runs.length).toBeLessThanOrEqual(7);
    const times = runs.map((r) => r.at).sort((x, y) => x - y);
    for (let i = 1; i < times.length; i++)
      expect((times[i] as number) - (times[i - 1] as number)).toBeGreaterThanOrEqual(intervalMs * 0.9 - 20);
    expect(a.stats.skippedNotLeader + b.stats.skippedNotLeader).toBeGreaterThan(0);
  }, 20_000);
});

/**
 * The Redis lease (origin/src/lease.ts) that keeps two sink processes from settling early events
 * at once: one holder at a time, renewed while it works, released by its holder only, and left
 * to expire by a holder that died.
 */
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { RedisLease } from "../../origin/src/lease.ts";

const redis = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
const key = `test:lease:${randomUUID()}`;

afterAll(async () => {
  await redis.del(key);
  redis.disconnect();
});

describe("RedisLease", () => {
  it("runs one holder at a time: a second taker gets null and does not run; after the release it runs", async () => {
    const a = new RedisLease(redis, key, 2000);
    const b = new RedisLease(redis, key, 2000);
    let release!: () => void;
    const held = a.tryRun(() => new Promise<string>((r) => (release = () => r("a"))));
    await sleep(50);
    let ranB = false;
    expect(
      await b.tryRun(async () => {
        ranB = true;
        return "b";
      }),
    ).toBeNull();
    expect(ranB).toBe(false);
    release();
    expect(await held).toBe("a");
    expect(await redis.exists(key)).toBe(0);
    expect(await b.tryRun(async () => "b")).toBe("b");
  });

  it("is renewed while its work outlasts the TTL, so nobody else takes it meanwhile", async () => {
    const a = new RedisLease(redis, key, 300);
    const b = new RedisLease(redis, key, 300);
    const held = a.tryRun(() => sleep(1200).then(() => "a"));
    await sleep(900);
    expect(await b.tryRun(async () => "b")).toBeNull();
    expect(await held).toBe("a");
  });

  it("a holder that died leaves it to expire, and a holder never releases another's", async () => {
    await redis.set(key, "a dead holder's token", "PX", 300);
    const b = new RedisLease(redis, key, 300);
    expect(await b.tryRun(async () => "b")).toBeNull();
    await sleep(400);
    expect(await b.tryRun(async () => "b")).toBe("b");
    // b's release compared its own token: a key another holder took since stays.
    const c = new RedisLease(redis, key, 5000);
    const held = c.tryRun(async () => {
      await redis.set(key, "someone else", "PX", 5000);
      return "c";
    });
    expect(await held).toBe("c");
    expect(await redis.get(key)).toBe("someone else");
  });
});

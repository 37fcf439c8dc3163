import { afterEach, describe, expect, it, vi } from "vitest";
import { ClickHouseException } from "./errors.ts";
import { SessionPool } from "./pool.ts";

interface Fake {
  id: number;
}

function makePool(size: number, queueSize: number) {
  let next = 1;
  const retired: number[] = [];
  const pool = new SessionPool<Fake>({
    size,
    queueSize,
    create: () => ({ id: next++ }),
    retire: (s) => retired.push(s.id),
  });
  return { pool, retired };
}

afterEach(() => vi.useRealTimers());

describe("SessionPool", () => {
  it("hands out up to `size` sessions, queues FIFO, and rejects beyond the queue with 503/202", async () => {
    const { pool } = makePool(1, 2);
    const a = await pool.acquire(1000);
    const order: number[] = [];
    const w1 = pool.acquire(1000).then((s) => {
      order.push(1);
      return s;
    });
    const w2 = pool.acquire(1000).then((s) => {
      order.push(2);
      return s;
    });
    const full = await pool.acquire(1000).catch((e: unknown) => e);
    expect(full).toBeInstanceOf(ClickHouseException);
    expect(full).toMatchObject({ code: 202, status: 503 });
    expect((full as Error).message).toMatch(/all 1 chDB sessions are busy and 2 requests are already waiting/);
    expect(pool.stats()).toMatchObject({ busy: 1, waiting: 2, idle: 0 });
    pool.release(a, { retire: false });
    const s1 = await w1;
    expect(s1).toBe(a);
    pool.release(s1, { retire: false });
    pool.release(await w2, { retire: false });
    expect(order).toEqual([1, 2]);
    expect(pool.stats()).toMatchObject({ busy: 0, waiting: 0, idle: 1 });
  });

  it("retiring replaces the session with a fresh one", async () => {
    const { pool, retired } = makePool(1, 0);
    const a = await pool.acquire(10);
    pool.release(a, { retire: true });
    const b = await pool.acquire(10);
    expect(retired).toEqual([a.id]);
    expect(b.id).not.toBe(a.id);
    expect(pool.stats().retired).toBe(1);
  });

  it("a waiter that outlives its wait gets TIMEOUT_EXCEEDED (159 / 408) and leaves the line", async () => {
    vi.useFakeTimers();
    const { pool } = makePool(1, 5);
    await pool.acquire(10);
    const waiting = pool.acquire(50).catch((e: unknown) => e);
    vi.advanceTimersByTime(60);
    expect(await waiting).toMatchObject({ code: 159, status: 408 });
    expect(pool.stats().waiting).toBe(0);
  });

  it("close fails waiters, retires idle sessions, and retires busy ones as they come back", async () => {
    const { pool, retired } = makePool(2, 5);
    const a = await pool.acquire(10);
    const b = await pool.acquire(10);
    pool.release(b, { retire: false });
    expect(pool.stats().idle).toBe(1);
    await pool.acquire(10); // b again: both busy now
    const waiter = pool.acquire(1000).catch((e: unknown) => e);
    pool.close();
    expect(await waiter).toMatchObject({ code: 439, status: 503 });
    pool.release(a, { retire: false });
    expect(retired).toContain(a.id);
    expect(await pool.acquire(10).catch((e: unknown) => e)).toMatchObject({ code: 439, status: 503 });
  });
});

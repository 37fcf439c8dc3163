import { describe, expect, it } from "vitest";
import { SharedLock } from "./shared-lock.ts";

const tick = () => new Promise((r) => setTimeout(r, 5));

describe("SharedLock", () => {
  it("lets shared holders run together and keeps an exclusive holder alone", async () => {
    const lock = new SharedLock();
    const log: string[] = [];
    let active = 0;
    let maxShared = 0;
    const reader = (name: string) =>
      lock.shared(async () => {
        active++;
        maxShared = Math.max(maxShared, active);
        log.push(`${name}+`);
        await tick();
        log.push(`${name}-`);
        active--;
      });
    const writer = () =>
      lock.exclusive(async () => {
        expect(active).toBe(0);
        log.push("w+");
        await tick();
        log.push("w-");
      });
    await Promise.all([reader("a"), reader("b"), writer(), reader("c")]);
    expect(maxShared).toBe(2);
    // The writer waited for a and b, and c (which came after it) waited for the writer.
    expect(log.indexOf("w+")).toBeGreaterThan(log.indexOf("b-"));
    expect(log.indexOf("c+")).toBeGreaterThan(log.indexOf("w-"));
  });

  it("releases the lock when the holder throws", async () => {
    const lock = new SharedLock();
    await expect(lock.exclusive(async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    await expect(lock.shared(async () => 1)).resolves.toBe(1);
  });
});

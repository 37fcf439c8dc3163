import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { Lifecycle, type Part } from "./lifecycle.ts";

const log = pino({ level: "silent" });

function part(name: string, events: string[], opts: { failStop?: boolean; health?: () => never } = {}): Part {
  return {
    name,
    start: async () => {
      events.push(`start ${name}`);
    },
    stop: async (deadline) => {
      events.push(`stop ${name} ${deadline > Date.now() ? "before" : "after"} the deadline`);
      if (opts.failStop) throw new Error(`${name} stuck`);
    },
    health: opts.health ?? (() => ({ ok: true, detail: name })),
  };
}

describe("Lifecycle", () => {
  it("starts parts in the order added and stops them in reverse, within the deadline", async () => {
    const events: string[] = [];
    const lc = new Lifecycle(log);
    for (const n of ["clients", "sink", "http"]) lc.add(part(n, events));
    await lc.start();
    expect(await lc.stop(10_000)).toBe(true);
    expect(events).toEqual([
      "start clients",
      "start sink",
      "start http",
      "stop http before the deadline",
      "stop sink before the deadline",
      "stop clients before the deadline",
    ]);
  });

  it("stops every part even when one fails to, says so, and stops once", async () => {
    const events: string[] = [];
    const lc = new Lifecycle(log);
    lc.add(part("a", events));
    lc.add(part("b", events, { failStop: true }));
    await lc.start();
    const [first, second] = await Promise.all([lc.stop(1000), lc.stop(1000)]);
    expect([first, second]).toEqual([false, false]);
    expect(events.filter((e) => e.startsWith("stop"))).toEqual([
      "stop b before the deadline",
      "stop a before the deadline",
    ]);
  });

  it("stops only the parts that started when a start fails", async () => {
    const events: string[] = [];
    const lc = new Lifecycle(log);
    lc.add(part("a", events));
    lc.add({ ...part("b", events), start: () => Promise.reject(new Error("no broker")) });
    lc.add(part("c", events));
    await expect(lc.start()).rejects.toThrow("no broker");
    await lc.stop(1000);
    expect(events).toEqual(["start a", "stop a before the deadline"]);
  });

  it("reports every part's health by name; a throwing check is not ok, with the reason", async () => {
    const lc = new Lifecycle(log);
    lc.add(part("relay", []));
    lc.add(
      part("sink", [], {
        health: () => {
          throw new Error("boom");
        },
      }),
    );
    expect(await lc.health()).toEqual({
      relay: { ok: true, detail: "relay" },
      sink: { ok: false, detail: "Error: boom" },
    });
  });

  it("refuses a part added after start", async () => {
    const lc = new Lifecycle(log);
    lc.add(part("a", []));
    await lc.start();
    expect(() => lc.add(part("late", []))).toThrow(/added after start/);
  });
});

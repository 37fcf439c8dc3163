import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { progress } from "./progress.ts";

const ROOT = resolve(import.meta.dirname, "../..");

/** A non-TTY stream that keeps what was written. */
function capture() {
  let text = "";
  const stream = new Writable({
    write(chunk, _enc, done) {
      text += String(chunk);
      done();
    },
  });
  return { stream, text: () => text };
}

describe("progress", () => {
  it("draws label, bar, percentage, counts, rate and ETA, and ends the line at the total", () => {
    const out = capture();
    const tick = progress("users", 10, out.stream);
    tick(5);
    tick(10);
    const lines = out.text().split("\n");
    expect(lines[0]).toMatch(/^\[seed\] users {4}\[#{10}\.{10}\] 50% 5\/10 \d+\/s ETA \d+s$/);
    expect(lines.at(-2)).toMatch(/^\[seed\] users {4}\[#{20}\] 100% 10\/10 \d+\/s ETA 0s$/);
    expect(lines.at(-1)).toBe("");
  });

  it("finishes at once for an empty step", () => {
    const out = capture();
    progress("events", 0, out.stream)(0);
    expect(out.text()).toMatch(/\[seed\] events {3}\[#{20}\] 100% 0\/0 /);
  });

  it("does not keep the process alive when a step stops before its total", () => {
    const code = `import { progress } from "./scripts/lib/progress.ts"; progress("x", 100)(10);`;
    const t0 = Date.now();
    const r = spawnSync(resolve(ROOT, "node_modules/.bin/tsx"), ["--eval", code], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 10_000,
    });
    expect(r.status, r.stderr).toBe(0);
    expect(Date.now() - t0).toBeLessThan(10_000);
  }, 15_000);
});

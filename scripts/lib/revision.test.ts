import { execSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startRevision } from "./revision.ts";

const dirs: string[] = [];
function repo(): string {
  const dir = mkdtempSync(join(tmpdir(), "revision-test-"));
  dirs.push(dir);
  const git = (a: string) => execSync(`git ${a}`, { cwd: dir, stdio: "pipe" });
  git("init -q");
  git("config user.email t@example.com");
  git("config user.name t");
  mkdirSync(join(dir, "docs", "bench-results"), { recursive: true });
  writeFileSync(join(dir, "code.ts"), "1\n");
  writeFileSync(join(dir, "docs", "bench-results", "bench-S.md"), "old\n");
  git("add -A");
  git("commit -q -m init");
  return dir;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("the run's commit label", () => {
  it("is the bare commit when only earlier runs' reports changed", () => {
    const dir = repo();
    writeFileSync(join(dir, "docs", "bench-results", "bench-S.md"), "new run\n");
    writeFileSync(join(dir, "docs", "bench-results", "growth.md"), "new\n");
    expect(startRevision(dir).label()).not.toMatch(/\+dirty$/);
  });

  it("is +dirty when code changed, tracked or new", () => {
    const dir = repo();
    writeFileSync(join(dir, "code.ts"), "2\n");
    expect(startRevision(dir).label()).toMatch(/\+dirty$/);
    execSync("git checkout -q code.ts", { cwd: dir });
    writeFileSync(join(dir, "new.ts"), "x\n");
    expect(startRevision(dir).label()).toMatch(/\+dirty$/);
  });
});

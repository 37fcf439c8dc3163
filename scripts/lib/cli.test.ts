import { describe, expect, it } from "vitest";
import { parseSeedArgs } from "../seed.ts";
import { intArg, parseCli, UsageError } from "./cli.ts";

const USAGE = "tool [--n N] [--flag] [file]";
const OPTIONS = { n: { type: "string" }, flag: { type: "boolean", default: false } } as const;

function usageError(fn: () => unknown): UsageError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return err as UsageError;
  }
  throw new Error("expected a UsageError");
}

describe("parseCli", () => {
  it("reads flags, defaults and positionals", () => {
    const r = parseCli(USAGE, OPTIONS, { args: ["--n", "3", "a.txt"], positionals: 1 });
    expect(r.values).toEqual({ n: "3", flag: false });
    expect(r.positionals).toEqual(["a.txt"]);
    expect(parseCli(USAGE, OPTIONS, { args: ["--flag", "--n=4"] }).values).toEqual({ n: "4", flag: true });
  });

  it("names an unknown flag and repeats the usage", () => {
    const e = usageError(() => parseCli(USAGE, OPTIONS, { args: ["--nope"] }));
    expect(e.message).toBe(`Unknown option '--nope'\nusage: ${USAGE}`);
  });

  it("names a flag without its value", () => {
    const e = usageError(() => parseCli(USAGE, OPTIONS, { args: ["--n"] }));
    expect(e.message).toMatch(/^Option '--n <value>' argument missing\nusage: /);
  });

  it("refuses more positionals than allowed", () => {
    expect(usageError(() => parseCli(USAGE, OPTIONS, { args: ["x"] })).message).toBe(
      `Unexpected argument 'x'\nusage: ${USAGE}`,
    );
    expect(usageError(() => parseCli(USAGE, OPTIONS, { args: ["a", "b"], positionals: 1 })).message).toBe(
      `Unexpected argument 'b'\nusage: ${USAGE}`,
    );
  });
});

describe("intArg", () => {
  it("falls back when absent and accepts whole numbers from min up", () => {
    expect(intArg(USAGE, "--n", undefined, 7)).toBe(7);
    expect(intArg(USAGE, "--n", "0", 7)).toBe(0);
    expect(intArg(USAGE, "--n", "12", 7, 1)).toBe(12);
  });

  it("names the argument when the value is not a whole number >= min", () => {
    for (const raw of ["", "abc", "1.5", "-1"]) {
      expect(usageError(() => intArg(USAGE, "--n", raw, 7)).message).toBe(
        `--n must be a whole number >= 0, not '${raw}'\nusage: ${USAGE}`,
      );
    }
    expect(usageError(() => intArg(USAGE, "iterations", "0", 7, 1)).message).toMatch(/^iterations must be .* >= 1/);
  });
});

describe("npm run seed arguments", () => {
  it("has the documented defaults", () => {
    expect(parseSeedArgs([])).toEqual({ bulk: false, users: 1000, seed: 1, postsPerUser: 3, eventsPerUser: 30 });
  });

  it("reads every flag", () => {
    expect(
      parseSeedArgs(["--users", "50", "--bulk", "--seed", "9", "--posts-per-user", "2", "--events-per-user", "0"]),
    ).toEqual({ bulk: true, users: 50, seed: 9, postsPerUser: 2, eventsPerUser: 0 });
  });

  it("rejects unknown flags, bad numbers and fewer than two users", () => {
    expect(usageError(() => parseSeedArgs(["--user", "5"])).message).toMatch(
      /^Unknown option '--user'\nusage: npm run seed/,
    );
    expect(usageError(() => parseSeedArgs(["--users", "many"])).message).toMatch(/^--users must be a whole number/);
    expect(usageError(() => parseSeedArgs(["--users", "1"])).message).toBe("--users must be at least 2");
  });
});

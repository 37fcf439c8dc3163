import { describe, expect, it } from "vitest";
import {
  ACTIVE_USERS_SQL,
  FEED_CANDIDATES_SQL,
  SUGGESTED_USERS_BATCH_SQL,
  TRENDING_CANDIDATES_SQL,
} from "#core/sql/queries.ts";
import { asBackground } from "./generators.ts";

describe("generator queries run as background work", () => {
  it("adds max_threads = 1 to a query without a SETTINGS clause", () => {
    expect(asBackground("SELECT 1\nLIMIT 3\n")).toBe("SELECT 1\nLIMIT 3\nSETTINGS max_threads = 1");
  });

  it("extends a trailing SETTINGS clause instead of adding a second one", () => {
    expect(asBackground("SELECT 1 SETTINGS join_use_nulls = 1\n")).toBe(
      "SELECT 1 SETTINGS join_use_nulls = 1, max_threads = 1",
    );
  });

  it("leaves exactly one SETTINGS clause at the end of every generator query", () => {
    for (const sql of [FEED_CANDIDATES_SQL, TRENDING_CANDIDATES_SQL, SUGGESTED_USERS_BATCH_SQL, ACTIVE_USERS_SQL]) {
      const out = asBackground(sql);
      expect(out.endsWith("max_threads = 1")).toBe(true);
      const tail = out.slice(out.lastIndexOf("SETTINGS"));
      expect(tail).not.toMatch(/\bFROM\b|\bWHERE\b/);
    }
  });
});

import { describe, expect, it } from "vitest";
import { loadChMigrations, splitStatements } from "./migrate.ts";

describe("ClickHouse DDL splitting", () => {
  it("drops comment lines and splits at a semicolon ending a line", () => {
    const sql = "-- header; with a semicolon\nCREATE TABLE a (x UInt8) ENGINE = Memory;\n\nSELECT 'a;b';  \n-- tail\n";
    expect(splitStatements(sql)).toEqual(["CREATE TABLE a (x UInt8) ENGINE = Memory", "SELECT 'a;b'"]);
  });

  it("finds the project's migrations in order, every statement idempotent", () => {
    const ms = loadChMigrations();
    expect(ms.map((m) => m.version)).toEqual([...ms.map((m) => m.version)].sort());
    for (const m of ms) {
      for (const s of m.statements) {
        // DDL with IF NOT EXISTS, or a backfill that only runs while its target is empty.
        const backfill = /^INSERT INTO (\w+)\b/.exec(s);
        if (backfill) expect(s).toContain(`WHERE (SELECT count() FROM ${backfill[1]}) = 0`);
        else expect(s).toMatch(/^CREATE (TABLE|MATERIALIZED VIEW|VIEW|DATABASE) IF NOT EXISTS /);
      }
    }
  });
});

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
      m.statements.forEach((s, i) => {
        const before = m.statements.slice(0, i);
        const after = m.statements.slice(i + 1);
        // A backfill that only runs while its target is empty, or a rebuild: the file empties
        // the target first, or the target replaces rows by key and the file merges it FINAL after.
        const insert = /^INSERT INTO (\w+)\b/.exec(s);
        if (insert) {
          const t = insert[1] as string;
          const guarded = s.includes(`WHERE (SELECT count() FROM ${t}) = 0`);
          const rebuilt = before.includes(`TRUNCATE TABLE IF EXISTS ${t}`);
          const replaced = after.includes(`OPTIMIZE TABLE ${t} FINAL`);
          expect(guarded || rebuilt || replaced, `${m.version}: ${s.slice(0, 60)}`).toBe(true);
          return;
        }
        // DDL that can run again.
        expect(s).toMatch(
          /^(CREATE (TABLE|MATERIALIZED VIEW|VIEW|DATABASE) IF NOT EXISTS |DROP VIEW IF EXISTS |TRUNCATE TABLE IF EXISTS |ALTER TABLE \w+ ADD COLUMN IF NOT EXISTS |ALTER TABLE \w+ MODIFY SETTING \w+ = \d+$|OPTIMIZE TABLE \w+ FINAL$)/,
        );
      });
    }
  });
});

import { readdirSync, readFileSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { describe, expect, it } from "vitest";

// scripts/ holds local-only tooling (the stack manager, the Redis REST bridge, the ClickHouse
// HTTP gateway, seeding, benchmarks). The product must run without it: nothing in edge/ or
// origin/, tests included, may import from there.
const ROOT = resolve(import.meta.dirname, "../..");
const PRODUCT = ["edge", "origin"];
const FORBIDDEN = join(ROOT, "scripts");
const SOURCE = /\.(?:[cm]?[jt]s|tsx)$/;

// Every way a module names another: static import/export … from, side-effect import,
// dynamic import(), require(), import.meta.resolve().
const SPECIFIERS = [
  /\b(?:import|export)\s[^'"`;]*?\bfrom\s*["'`]([^"'`]+)["'`]/g,
  /\bimport\s*["'`]([^"'`]+)["'`]/g,
  /\bimport\s*\(\s*["'`]([^"'`]+)["'`]/g,
  /\brequire\s*\(\s*["'`]([^"'`]+)["'`]/g,
  /\bimport\.meta\.resolve\s*\(\s*["'`]([^"'`]+)["'`]/g,
];

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.name === "node_modules"
      ? []
      : e.isDirectory()
        ? sources(join(dir, e.name))
        : SOURCE.test(e.name)
          ? [join(dir, e.name)]
          : [],
  );
}

function importSpecifiers(text: string): string[] {
  return SPECIFIERS.flatMap((re) => [...text.matchAll(re)].map((m) => m[1] as string));
}

/** The absolute path a specifier points at, or null for a package or built-in module. */
function resolveSpecifier(fromFile: string, spec: string): string | null {
  if (spec.startsWith("file://")) return new URL(spec).pathname;
  // package.json "imports": code outside edge/core names core modules as #core/<path>.
  if (spec.startsWith("#core/")) return join(ROOT, "edge/core", spec.slice("#core/".length));
  if (spec.startsWith(".")) return resolve(dirname(fromFile), spec);
  if (isAbsolute(spec)) return spec;
  return null;
}

const inside = (path: string, dir: string) => path === dir || path.startsWith(dir + sep);

describe("product boundaries", () => {
  it("finds every kind of import specifier", () => {
    const text = [
      'import { a } from "../x.ts";',
      'import type { B } from "./y.ts";',
      'export * from "../../z.ts";',
      'import "./side-effect.ts";',
      'const m = await import("../../scripts/local/stack/cli.ts");',
      'const r = require("pg");',
    ].join("\n");
    expect(importSpecifiers(text).sort()).toEqual(
      ["../x.ts", "./y.ts", "../../z.ts", "./side-effect.ts", "../../scripts/local/stack/cli.ts", "pg"].sort(),
    );
    expect(resolveSpecifier(join(ROOT, "origin/src/a.ts"), "../../scripts/seed.ts")).toBe(
      join(ROOT, "scripts/seed.ts"),
    );
    expect(resolveSpecifier(join(ROOT, "origin/src/a.ts"), "kafkajs")).toBeNull();
    expect(resolveSpecifier(join(ROOT, "origin/src/a.ts"), "#core/feed/build.ts")).toBe(
      join(ROOT, "edge/core/feed/build.ts"),
    );
  });

  it("nothing in edge/ or origin/ imports from scripts/", () => {
    const offenders: string[] = [];
    for (const top of PRODUCT) {
      for (const file of sources(join(ROOT, top))) {
        for (const spec of importSpecifiers(readFileSync(file, "utf8"))) {
          const target = resolveSpecifier(file, spec);
          if (target !== null && inside(target, FORBIDDEN)) offenders.push(`${relative(ROOT, file)}: ${spec}`);
        }
      }
    }
    expect(offenders).toEqual([]);
  });

  it("nothing in scripts/ imports from test/ (the tools stand on their own; tests use the tools)", () => {
    const forbidden = join(ROOT, "test");
    const offenders: string[] = [];
    for (const file of sources(join(ROOT, "scripts"))) {
      if (/\.test\.ts$/.test(file)) continue; // a tool's own tests may share test fixtures
      for (const spec of importSpecifiers(readFileSync(file, "utf8"))) {
        const target = resolveSpecifier(file, spec);
        if (target !== null && inside(target, forbidden)) offenders.push(`${relative(ROOT, file)}: ${spec}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it("the benchmark imports edge code from edge/core and the typed client only, never the worker (edge/src)", () => {
    const core = join(ROOT, "edge/core");
    // edge/client takes only types from edge/src (test/unit/openapi.test.ts checks that).
    const client = join(ROOT, "edge/client");
    const offenders: string[] = [];
    for (const file of sources(join(ROOT, "scripts/bench"))) {
      for (const spec of importSpecifiers(readFileSync(file, "utf8"))) {
        const target = resolveSpecifier(file, spec);
        if (target !== null && inside(target, join(ROOT, "edge")) && !inside(target, core) && !inside(target, client)) {
          offenders.push(`${relative(ROOT, file)}: ${spec}`);
        }
      }
    }
    expect(offenders).toEqual([]);
  });
});

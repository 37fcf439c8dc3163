import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { describe, expect, it } from "vitest";

// edge/core is shared by workerd and Node: it may import only itself and runtime-neutral
// pure libraries. A client library or a runtime module here would break one of the runtimes.
const CORE = join(import.meta.dirname, "../../edge/core");
const ALLOWED_BARE = new Set(["zod"]);

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sources(join(dir, e.name))
      : e.name.endsWith(".ts") && !e.name.endsWith(".test.ts")
        ? [join(dir, e.name)]
        : [],
  );
}

describe("edge/core stays runtime-neutral", () => {
  it("imports nothing from node:*, cloudflare:* or a client library", () => {
    const offenders: string[] = [];
    for (const file of sources(CORE)) {
      for (const m of readFileSync(file, "utf8").matchAll(/(?:import|export)[^'"]*?from\s+["']([^"']+)["']/g)) {
        const spec = m[1] as string;
        if (spec.startsWith(".")) continue;
        if (!ALLOWED_BARE.has(spec)) offenders.push(`${file}: ${spec}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it("keeps the pure ranking folder free of what orchestrates it: ranking/ imports only ranking/", () => {
    const ranking = join(CORE, "ranking");
    const offenders: string[] = [];
    for (const file of sources(ranking)) {
      for (const spec of relativeImports(file)) {
        const target = resolve(dirname(file), spec);
        if (!target.startsWith(ranking + sep)) offenders.push(`${file}: ${spec}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});

/** The relative module specifiers of a file (static imports and re-exports, types included). */
function relativeImports(file: string): string[] {
  return [...readFileSync(file, "utf8").matchAll(/(?:import|export)[^'"]*?from\s+["']([^"']+)["']/g)]
    .map((m) => m[1] as string)
    .filter((s) => s.startsWith("."));
}

describe("module graph", () => {
  it("has no import cycles in edge/ and origin/ (type-only imports count)", () => {
    const ROOT = join(import.meta.dirname, "../..");
    const all = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory()
          ? all(join(dir, e.name))
          : e.name.endsWith(".ts") && !e.name.endsWith(".test.ts") && !e.name.endsWith(".d.ts")
            ? [join(dir, e.name)]
            : [],
      );
    const files = [...all(join(ROOT, "edge")), ...all(join(ROOT, "origin"))];
    const deps = new Map<string, string[]>();
    for (const f of files) {
      const out: string[] = [];
      for (const m of readFileSync(f, "utf8").matchAll(/(?:import|export)[^'"]*?from\s+["']([^"']+)["']/g)) {
        const spec = m[1] as string;
        if (spec.startsWith(".")) out.push(resolve(dirname(f), spec));
        else if (spec.startsWith("#core/")) out.push(join(ROOT, "edge/core", spec.slice("#core/".length)));
      }
      deps.set(f, out);
    }
    const state = new Map<string, 1 | 2>();
    const stack: string[] = [];
    const cycles: string[] = [];
    const visit = (f: string) => {
      state.set(f, 1);
      stack.push(f);
      for (const d of deps.get(f) ?? []) {
        if (state.get(d) === 1)
          cycles.push(
            stack
              .slice(stack.indexOf(d))
              .map((x) => relative(ROOT, x))
              .join(" → "),
          );
        else if (!state.has(d)) visit(d);
      }
      stack.pop();
      state.set(f, 2);
    };
    for (const f of files) if (!state.has(f)) visit(f);
    expect(cycles).toEqual([]);
  });
});

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
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
});

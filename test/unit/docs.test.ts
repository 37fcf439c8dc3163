import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import type { z } from "zod";
import { INDEX_LAYOUT } from "../../edge/core/keys.ts";
import { schema as edgeSchema } from "../../edge/src/config.ts";
import { schema as originSchema } from "../../origin/src/config.ts";

// The README and docs/ describe the code; these tests keep them from drifting away from it:
// the configuration page lists exactly the keys of the two config schemas, every repo path the
// pages name exists, every npm script is in the command table, and no page cites issue numbers.
const ROOT = resolve(import.meta.dirname, "../..");
const read = (path: string) => readFileSync(join(ROOT, path), "utf8");
const PAGES = [
  "README.md",
  ...readdirSync(join(ROOT, "docs"))
    .filter((name) => name.endsWith(".md"))
    .map((name) => `docs/${name}`),
];

/** The page without its fenced code blocks (their text is code, not prose). */
const prose = (text: string) => text.replace(/^```[\s\S]*?^```/gm, "");

/** The sections of a page by `## ` heading (the text before the first one is ""). */
function sections(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let name = "";
  let lines: string[] = [];
  for (const line of text.split("\n")) {
    const h = /^## (.+)$/.exec(line);
    if (h) {
      out.set(name, lines.join("\n"));
      name = h[1] as string;
      lines = [];
    } else lines.push(line);
  }
  out.set(name, lines.join("\n"));
  return out;
}

/** The body rows of every Markdown table in `text`, as cells (header and separator rows left out). */
function tableRows(text: string): string[][] {
  const rows: string[][] = [];
  const lines = prose(text).split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (!line.startsWith("|")) continue;
    const isSeparator = (l: string | undefined) => l !== undefined && /^\|(\s*:?-+:?\s*\|)+\s*$/.test(l);
    if (isSeparator(line) || isSeparator(lines[i + 1])) continue;
    rows.push(
      line
        .replace(/^\||\|$/g, "")
        .split(/(?<!\\)\|/)
        .map((c) => c.trim()),
    );
  }
  return rows;
}

const VARIABLE = /\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b/g;
const backticked = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1] as string);

function keysOf(schema: z.ZodObject) {
  return Object.keys(schema.shape).sort();
}

/** A key's default as the page should print it, or null when it has none worth checking. */
function documentedDefault(schema: z.ZodObject, key: string): string | null {
  if (/SECRET|TOKEN/.test(key)) return null; // local defaults of secrets are not printed
  const parsed = (schema.shape[key] as z.ZodType).safeParse(undefined);
  if (!parsed.success || parsed.data === undefined || typeof parsed.data === "boolean") return null;
  if (parsed.data === "") return "empty";
  return Array.isArray(parsed.data) ? parsed.data.join(",") : String(parsed.data);
}

describe("docs/configuration.md", () => {
  const page = sections(read("docs/configuration.md"));
  const tables = [
    { name: "the worker", heading: "The worker (edge)", schema: edgeSchema },
    { name: "the origin", heading: "The origin", schema: originSchema },
  ] as const;
  const allKeys = new Set([...keysOf(edgeSchema), ...keysOf(originSchema)]);

  for (const { name, heading, schema } of tables) {
    const rows = tableRows(page.get(heading) ?? "");

    it(`has one row per variable of ${name}'s schema, with its default`, () => {
      expect(rows.length, `a table under "## ${heading}"`).toBeGreaterThan(0);
      const documented = rows.map((r) => backticked(r[0] ?? ""));
      for (const [i, names] of documented.entries()) {
        expect(names, `row ${i + 1} of ${name}: one variable in the first cell`).toHaveLength(1);
      }
      const listed = documented.map((n) => n[0] as string);
      expect(
        listed.filter((k, i) => listed.indexOf(k) !== i),
        "variables listed twice",
      ).toEqual([]);
      expect([...listed].sort()).toEqual(keysOf(schema));
      for (const row of rows) {
        const key = backticked(row[0] ?? "")[0] as string;
        const wanted = documentedDefault(schema, key);
        if (wanted === "empty") expect(row[1], `${key}: the default is empty`).toMatch(/\bempty\b/);
        else if (wanted !== null) expect(backticked(row[1] ?? ""), `${key}: the default`).toContain(wanted);
      }
    });

    it(`names only variables of the two schemas in ${name}'s table`, () => {
      const named = rows.flatMap((r) => r.flatMap((c) => c.match(VARIABLE) ?? []));
      expect(named.filter((v) => !allKeys.has(v))).toEqual([]);
    });
  }

  it("has no configuration table besides those two", () => {
    const elsewhere = [...page].filter(([h]) => !tables.some((t) => t.heading === h));
    expect(elsewhere.flatMap(([, text]) => tableRows(text))).toEqual([]);
  });
});

/** GitHub's anchor of a heading. */
const slug = (heading: string) =>
  heading
    .toLowerCase()
    .trim()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");

const anchorsOf = (text: string) =>
  new Set(
    prose(text)
      .split("\n")
      .flatMap((l) => /^#{1,6} (.+)$/.exec(l)?.[1] ?? [])
      .map(slug),
  );

const REPO_PATH = /^(?:edge|origin|scripts|test|clickhouse|connectors|docs)\/\S*$/;

/** The part of a path that must exist: all of it, or the folder before a placeholder (`<x>`, `{a,b}`, `*`). */
function fixedPart(path: string): string {
  const at = path.search(/[<{*]/);
  return at < 0 ? path : path.slice(0, path.lastIndexOf("/", at) + 1);
}

describe("paths in README.md and docs/", () => {
  it("finds the pages", () => {
    expect(PAGES).toContain("README.md");
    expect(PAGES).toContain("docs/configuration.md");
  });

  it("every repo path in backticks exists", () => {
    const missing: string[] = [];
    for (const page of PAGES) {
      for (const span of backticked(prose(read(page)))) {
        if (REPO_PATH.test(span) && !existsSync(join(ROOT, fixedPart(span)))) missing.push(`${page}: ${span}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it("every relative link leads to a file and, with an anchor, to a heading of it", () => {
    const broken: string[] = [];
    for (const page of PAGES) {
      for (const m of prose(read(page)).matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1] as string;
        if (/^[a-z]+:/i.test(target)) continue;
        const [file, anchor] = target.split("#") as [string, string | undefined];
        const path = file ? resolve(ROOT, dirname(page), file) : join(ROOT, page);
        if (!existsSync(path)) {
          broken.push(`${page}: ${target}`);
        } else if (anchor && path.endsWith(".md") && !anchorsOf(readFileSync(path, "utf8")).has(anchor)) {
          broken.push(`${page}: ${target} (no heading ${relative(ROOT, path)}#${anchor})`);
        }
      }
    }
    expect(broken).toEqual([]);
  });
});

describe("commands in README.md and docs/", () => {
  const scripts = Object.keys((JSON.parse(read("package.json")) as { scripts: Record<string, string> }).scripts);

  it("lists every npm script in the command table of docs/local-stack.md", () => {
    const commands = tableRows(sections(read("docs/local-stack.md")).get("Commands") ?? "").map((r) => r[0] ?? "");
    const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const absent = scripts.filter(
      (name) => !commands.some((c) => new RegExp(`(?<![\\w:-])${escapeRegExp(name)}(?![\\w:-])`).test(c)),
    );
    expect(absent).toEqual([]);
  });

  it("runs only scripts that exist", () => {
    const unknown = PAGES.flatMap((page) =>
      [...read(page).matchAll(/\bnpm run (?:-s )?([\w:-]+)/g)]
        .map((m) => m[1] as string)
        .filter((name) => !scripts.includes(name))
        .map((name) => `${page}: npm run ${name}`),
    );
    expect(unknown).toEqual([]);
  });
});

describe("key names in README.md and docs/", () => {
  it("name the serving index's ready key with the current layout version", () => {
    const stale = PAGES.flatMap((page) =>
      [...read(page).matchAll(/fi:ready(?::v(\d+))?/g)]
        .filter((m) => m[1] !== String(INDEX_LAYOUT))
        .map((m) => `${page}: ${m[0]} (INDEX_LAYOUT is ${INDEX_LAYOUT})`),
    );
    expect(stale).toEqual([]);
  });
});

describe("issue numbers", () => {
  it("README.md and docs/ name features, never issue numbers", () => {
    const cited = PAGES.flatMap((page) =>
      [...read(page).matchAll(/\bissues?\s*#?\d+|#\d{1,3}\b/gi)].map((m) => `${page}: ${m[0]}`),
    );
    expect(cited).toEqual([]);
  });
});

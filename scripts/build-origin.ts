/**
 * `npm run build:origin [-- --outdir DIR]`: bundles the origin and its two migration commands
 * into plain ES modules that run on Node >= 22.12 with the runtime dependencies only (no tsx,
 * no `node` package). Output, default `dist/origin/`:
 *
 *   main.js        the origin (origin/main.ts)
 *   db-migrate.js  PostgreSQL migrations (origin/cli/db-migrate.ts, `npm run db:migrate`)
 *   ch-migrate.js  ClickHouse DDL (origin/cli/ch-migrate.ts, `npm run ch:migrate`)
 *   *.js.map       source maps (run with `node --enable-source-maps`)
 *   connectors/, clickhouse/, origin/db/migrations/   the files those modules read at run time
 *
 * Packages stay external: they come from `npm install --omit=dev` next to the release's
 * package.json and package-lock.json, which is what `test/integration/origin-production-install.test.ts`
 * checks. The directory must sit two levels below that package.json (`<release>/dist/origin/`)
 * so that Node finds `<release>/node_modules` and `"type": "module"`.
 */
import { cpSync, existsSync, mkdirSync, rmSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { build, type Plugin } from "esbuild";

const ROOT = resolve(import.meta.dirname, "..");

/** Entry points and the file name each gets in the output directory. */
export const ORIGIN_ENTRIES: Record<string, string> = {
  main: "origin/main.ts",
  "db-migrate": "origin/cli/db-migrate.ts",
  "ch-migrate": "origin/cli/ch-migrate.ts",
};

/**
 * Files the bundled modules read through `import.meta.dirname` (the connector template, the
 * ClickHouse DDL, the PostgreSQL migrations), copied to the same path relative to the output
 * directory as they have relative to the repository.
 */
export const ORIGIN_ASSETS = ["connectors/debezium-postgres-connector.json", "clickhouse", "origin/db/migrations"];

/**
 * In a bundle every module shares the bundle's `import.meta.dirname`. This gives each module
 * back its own: `<output dir>/<the module's directory relative to the repository>`, so a
 * path such as `join(import.meta.dirname, "../../clickhouse")` lands on the copied assets.
 * `import.meta.url` and `import.meta.filename` would need the same care; nothing uses them,
 * and the build fails if a module starts to.
 */
function sourceDirs(): Plugin {
  return {
    name: "source-dirs",
    setup(b) {
      b.onLoad({ filter: /\.ts$/ }, async (args) => {
        if (args.path.includes("/node_modules/")) return undefined;
        const text = await readFile(args.path, "utf8");
        if (/import\.meta\.(url|filename)\b/.test(text)) {
          return {
            errors: [{ text: `${relative(ROOT, args.path)}: import.meta.url/filename is not mapped in the bundle` }],
          };
        }
        const dir = relative(ROOT, dirname(args.path));
        const contents = text.replaceAll("import.meta.dirname", `__originSourceDir(${JSON.stringify(dir)})`);
        return { contents, loader: "ts" };
      });
    },
  };
}

const BANNER = [
  'import { join as __originJoin } from "node:path";',
  "const __originSourceDir = (dir) => __originJoin(import.meta.dirname, dir);",
].join("\n");

export interface BuildOriginResult {
  outDir: string;
  files: { path: string; bytes: number }[];
}

export async function buildOrigin(outDir = join(ROOT, "dist/origin")): Promise<BuildOriginResult> {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: Object.entries(ORIGIN_ENTRIES).map(([out, entry]) => ({ in: entry, out })),
    outdir: outDir,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node22.12",
    packages: "external",
    sourcemap: "linked",
    banner: { js: BANNER },
    plugins: [sourceDirs()],
    logLevel: "warning",
    metafile: true,
  });
  for (const asset of ORIGIN_ASSETS) {
    const from = join(ROOT, asset);
    if (!existsSync(from)) throw new Error(`build:origin: asset ${asset} does not exist`);
    cpSync(from, join(outDir, asset), { recursive: true });
  }
  const files = Object.keys(result.metafile.outputs).map((p) => ({ path: p, bytes: statSync(join(ROOT, p)).size }));
  return { outDir, files };
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: { outdir: { type: "string" } },
    allowPositionals: false,
    strict: true,
  });
  const { outDir, files } = await buildOrigin(values.outdir ? resolve(values.outdir) : undefined);
  for (const f of files) console.log(`${f.path.padEnd(40)} ${(f.bytes / 1024).toFixed(1).padStart(8)} KiB`);
  console.log(`[build:origin] ${relative(process.cwd(), outDir) || "."}: ${ORIGIN_ASSETS.join(", ")} copied`);
}

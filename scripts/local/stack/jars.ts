/**
 * The JVM classpaths (Kafka broker; Kafka Connect + Debezium) come from Maven Central through
 * the poms in scripts/local/stack/jvm/. Jars are copied into a cache OUTSIDE the work tree,
 * `<cache>/jars/<kafka|connect>-<hash of the poms>`, so Maven runs only the first time and
 * again only after a pom changes. A directory is used only once it holds a `.complete` marker;
 * Maven writes into a temporary sibling that is renamed into place, so an interrupted run never
 * leaves a half-filled classpath behind.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { StackConfig } from "./config.ts";
import { logFile, say, seconds, tail } from "./proc.ts";

export type Classpath = "kafka" | "connect";

function poms(cfg: StackConfig, name: Classpath): string[] {
  const jvm = join(cfg.stackDir, "jvm");
  return [join(jvm, "pom.xml"), join(jvm, name, "pom.xml")];
}

export function jarsDir(cfg: StackConfig, name: Classpath): string {
  const hash = createHash("sha256");
  for (const pom of poms(cfg, name)) hash.update(readFileSync(pom));
  return join(cfg.cacheDir, "jars", `${name}-${hash.digest("hex").slice(0, 16)}`);
}

/** `<dir>/*`: the JVM expands a trailing `*` to every jar in the directory. */
export function classpathOf(dir: string): string {
  return join(dir, "*");
}

function runMaven(cfg: StackConfig, pom: string, outDir: string, label: string): Promise<void> {
  const log = logFile(cfg, "maven");
  mkdirSync(cfg.logsDir, { recursive: true });
  const fd = openSync(log, "a");
  const args = [
    "-B",
    "-q",
    "-f",
    pom,
    "dependency:copy-dependencies",
    "-DincludeScope=runtime",
    `-DoutputDirectory=${outDir}`,
  ];
  writeFileSync(fd, `\n===== ${new Date().toISOString()} mvn ${args.join(" ")}\n`);
  const t0 = Date.now();
  const timer = setInterval(
    () => say(`jars: Maven is resolving the ${label} classpath (${Math.round((Date.now() - t0) / 1000)}s)…`),
    10_000,
  );
  return new Promise<void>((resolve, reject) => {
    const child = spawn("mvn", args, { cwd: cfg.stackDir, stdio: ["ignore", fd, fd] });
    child.on("error", (err) => {
      reject(new Error(`jars: could not run mvn (${err.message}); Maven 3.8+ and Java 17 are required`));
    });
    child.on("exit", (code) => {
      if (code === 0) resolve();
      else reject(new Error(`jars: Maven failed for ${label} (exit ${code}); end of ${log}:\n${tail(log)}`));
    });
  }).finally(() => {
    clearInterval(timer);
    closeSync(fd);
  });
}

/** Returns the directory holding the classpath's jars, running Maven only when it is missing. */
export async function ensureJars(cfg: StackConfig, name: Classpath): Promise<string> {
  const dir = jarsDir(cfg, name);
  if (existsSync(join(dir, ".complete"))) return dir;
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const t0 = Date.now();
  say(`jars: resolving the ${name} classpath with Maven into ${dir} (first run only; may take minutes)`);
  try {
    await runMaven(cfg, poms(cfg, name)[1] as string, tmp, name);
    writeFileSync(join(tmp, ".complete"), `${new Date().toISOString()}\n`);
    if (existsSync(join(dir, ".complete"))) {
      rmSync(tmp, { recursive: true, force: true }); // a concurrent run won the race
    } else {
      rmSync(dir, { recursive: true, force: true });
      renameSync(tmp, dir);
    }
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  say(`jars: ${name} classpath ready (${seconds(Date.now() - t0)})`);
  return dir;
}

/**
 * `java` arguments for one of our JVMs: 512 MiB heap (two JVMs on a 2-core, shared machine),
 * log4j 2 configured from our .properties file, the cached classpath, then the main class.
 */
export function javaArgs(cfg: StackConfig, jars: string, mainClass: string, args: string[]): string[] {
  return [
    "-Xmx512m",
    "-XX:+UseG1GC",
    "-Djava.awt.headless=true",
    `-Dlog4j2.configurationFile=${join(cfg.stackDir, "templates", "log4j2.properties")}`,
    "-cp",
    classpathOf(jars),
    mainClass,
    ...args,
  ];
}

/**
 * Kafka Connect in distributed mode (one worker) with the Debezium PostgreSQL connector on its
 * classpath, REST on 127.0.0.1:CONNECT_PORT. Distributed mode keeps connector configs and
 * offsets in Kafka topics, so a connector registered through REST survives restarts of the
 * worker. Started only once Kafka is ready: the worker creates its topics at start.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Component, ensureProcess, type ProcessSpec, processStatus, stopProcess } from "./component.ts";
import type { StackConfig } from "./config.ts";
import { javaArgs } from "./jars.ts";
import { http200, ourPid, renderTemplate, say, waitFor } from "./proc.ts";

/** The project database whose slots `down` drops (see postgres.ts). */
const FEED_DB = "feed";

export function connect(cfg: StackConfig, jars: () => Promise<string>): Component {
  const dir = join(cfg.dataDir, "connect");
  const props = join(dir, "worker.properties");
  const base = `http://${cfg.host}:${cfg.ports.connect}`;
  let jarDir = "";

  const spec: ProcessSpec = {
    name: "connect",
    marker: props,
    ports: [["CONNECT_PORT", cfg.ports.connect]],
    // /connectors answers only once the worker has joined its group and read the config topic.
    healthy: () => http200(`${base}/connectors`),
    async prepare() {
      jarDir = await jars();
      mkdirSync(dir, { recursive: true });
      renderTemplate(cfg, "connect-distributed.properties", props, {
        HOST: cfg.host,
        PORT: String(cfg.ports.connect),
        KAFKA_PORT: String(cfg.ports.kafka),
        PLUGIN_DISCOVERY: "service_load",
      });
    },
    command: () => ({
      command: "java",
      args: javaArgs(cfg, jarDir, "org.apache.kafka.connect.cli.ConnectDistributed", [props]),
    }),
    startTimeoutMs: 120_000,
    stopTimeoutMs: 30_000,
  };

  const paused = join(dir, "paused-connectors.json");

  return {
    name: "connect",
    async up() {
      const outcome = await ensureProcess(cfg, spec);
      await resumePaused(base, paused);
      return outcome;
    },
    status: () => processStatus(cfg, spec),
    async down() {
      if (ourPid(cfg, spec.name, spec.marker) !== null && (await spec.healthy()))
        await pauseFeedConnectors(base, paused);
      await stopProcess(cfg, spec.name, spec.marker, spec.stopTimeoutMs);
    },
  };
}

async function rest(base: string, method: string, path: string): Promise<Response> {
  return fetch(`${base}${path}`, { method, signal: AbortSignal.timeout(10_000) });
}

/**
 * `down` drops the replication slots of the feed database, which makes the offsets a Debezium
 * connector keeps in Kafka point at WAL that no longer exists: on the next start its task would
 * fail ("…is no longer available on the server"). So before stopping the worker, every connector
 * reading `feed` is stopped (KIP-875 STOPPED state) and its offsets deleted, and its name noted;
 * the next `up` resumes it and it starts over with a fresh slot and snapshot. Connectors on other
 * databases are left as they are.
 */
async function pauseFeedConnectors(base: string, file: string): Promise<void> {
  const res = await rest(base, "GET", "/connectors?expand=info");
  if (!res.ok) return;
  const all = (await res.json()) as Record<string, { info: { config: Record<string, string> } }>;
  const names = Object.entries(all)
    .filter(([, c]) => c.info.config["database.dbname"] === FEED_DB)
    .map(([name]) => name);
  const done: string[] = [];
  for (const name of names) {
    const n = encodeURIComponent(name);
    await rest(base, "PUT", `/connectors/${n}/stop`);
    await waitFor(
      `connect: stopping connector ${name}`,
      async () => {
        const st = await rest(base, "GET", `/connectors/${n}/status`);
        return st.ok && ((await st.json()) as { connector: { state: string } }).connector.state === "STOPPED";
      },
      { timeoutMs: 30_000 },
    );
    const del = await rest(base, "DELETE", `/connectors/${n}/offsets`);
    if (!del.ok) say(`connect: could not reset offsets of ${name}: HTTP ${del.status} ${await del.text()}`);
    done.push(name);
  }
  if (done.length) {
    writeFileSync(file, JSON.stringify(done));
    say(`connect: stopped ${done.join(", ")} and reset its offsets (slots are dropped); the next up resumes it`);
  }
}

async function resumePaused(base: string, file: string): Promise<void> {
  if (!existsSync(file)) return;
  const names = JSON.parse(readFileSync(file, "utf8")) as string[];
  for (const name of names) {
    const res = await rest(base, "PUT", `/connectors/${encodeURIComponent(name)}/resume`);
    // 404: deleted meanwhile; nothing to resume.
    if (!res.ok && res.status !== 404) throw new Error(`connect: resuming ${name} failed: HTTP ${res.status}`);
  }
  if (names.length) say(`connect: resumed ${names.join(", ")}`);
  rmSync(file, { force: true });
}

/**
 * Kafka 4.3.1, one KRaft node acting as broker and controller, on 127.0.0.1:KAFKA_PORT
 * (controller on KAFKA_CONTROLLER_PORT). Data in .stack/data/kafka; the cluster id is generated
 * once and kept there, so the storage is formatted only on the first start.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { Kafka, logLevel } from "kafkajs";
import { type Component, ensureProcess, type ProcessSpec, processStatus, stopProcess } from "./component.ts";
import type { StackConfig } from "./config.ts";
import { javaArgs } from "./jars.ts";
import { logFile, renderTemplate } from "./proc.ts";

/** A Kafka cluster id: 16 random bytes, base64url without padding (what `random-uuid` prints). */
function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString("base64url");
    if (!id.startsWith("-")) return id; // a leading dash would read as a CLI flag
  }
}

/** True when the broker answers a metadata request (admin describeCluster) with a controller. */
export async function kafkaReady(brokers: string[], timeoutMs = 2000): Promise<boolean> {
  const kafka = new Kafka({
    clientId: "stack-health",
    brokers,
    connectionTimeout: timeoutMs,
    requestTimeout: timeoutMs,
    retry: { retries: 0 },
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length > 0 && cluster.controller !== null;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

export function kafka(cfg: StackConfig, jars: () => Promise<string>): Component {
  const dir = join(cfg.dataDir, "kafka");
  const props = join(dir, "server.properties");
  const logDirs = join(dir, "kraft-logs");
  const brokers = [`${cfg.host}:${cfg.ports.kafka}`];
  let jarDir = "";

  const spec: ProcessSpec = {
    name: "kafka",
    // Our server.properties path is unique to this checkout: it tells our broker from any other.
    marker: props,
    ports: [
      ["KAFKA_PORT", cfg.ports.kafka],
      ["KAFKA_CONTROLLER_PORT", cfg.ports.kafkaController],
    ],
    healthy: () => kafkaReady(brokers),
    async prepare() {
      jarDir = await jars();
      mkdirSync(dir, { recursive: true });
      const idFile = join(dir, "cluster-id");
      if (!existsSync(idFile)) writeFileSync(idFile, `${newClusterId()}\n`);
      const clusterId = readFileSync(idFile, "utf8").trim();
      // Ports may differ from the last run (env), so the config is rendered on every start.
      renderTemplate(cfg, "server.properties", props, {
        HOST: cfg.host,
        PORT: String(cfg.ports.kafka),
        CONTROLLER_PORT: String(cfg.ports.kafkaController),
        LOG_DIRS: logDirs,
      });
      if (!existsSync(join(logDirs, "meta.properties"))) {
        // Formatting costs a JVM start; only needed once per data dir.
        const args = javaArgs(cfg, jarDir, "kafka.tools.StorageTool", [
          "format",
          "--standalone",
          "-t",
          clusterId,
          "-c",
          props,
          "--ignore-formatted",
        ]);
        const { stdout } = await promisify(execFile)("java", args, { timeout: 120_000 });
        writeFileSync(logFile(cfg, "kafka"), `[stack] storage format: ${stdout}`, { flag: "a" });
      }
    },
    command: () => ({ command: "java", args: javaArgs(cfg, jarDir, "kafka.Kafka", [props]) }),
    startTimeoutMs: 120_000,
    stopTimeoutMs: 30_000,
  };

  return {
    name: "kafka",
    up: () => ensureProcess(cfg, spec),
    status: () => processStatus(cfg, spec),
    down: () => stopProcess(cfg, spec.name, spec.marker, spec.stopTimeoutMs),
  };
}

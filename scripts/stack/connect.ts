/**
 * Kafka Connect in distributed mode (one worker) with the Debezium PostgreSQL connector on its
 * classpath, REST on 127.0.0.1:CONNECT_PORT. Distributed mode keeps connector configs and
 * offsets in Kafka topics, so a connector registered through REST survives restarts of the
 * worker. Started only once Kafka is ready: the worker creates its topics at start.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { type Component, ensureProcess, type ProcessSpec, processStatus, stopProcess } from "./component.ts";
import type { StackConfig } from "./config.ts";
import { javaArgs } from "./jars.ts";
import { http200, renderTemplate } from "./proc.ts";

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

  return {
    name: "connect",
    up: () => ensureProcess(cfg, spec),
    status: () => processStatus(cfg, spec),
    down: () => stopProcess(cfg, spec.name, spec.marker, spec.stopTimeoutMs),
  };
}

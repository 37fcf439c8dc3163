/**
 * `npm run connect:apply`: creates the topics, grants the CDC role, registers or updates the
 * Debezium connector and waits until it and its tasks are RUNNING. Exit 1 otherwise.
 */
import { Kafka, logLevel } from "kafkajs";
import { pino } from "pino";
import { readConfig } from "../config.ts";
import { grantCdcAccess } from "./grant.ts";
import { ConnectClient, ConnectorManager } from "./manager.ts";

const cfg = readConfig();
const log = pino({ level: cfg.logLevel, base: { service: "connect:apply" } });
const kafka = new Kafka({ clientId: "connect-apply", brokers: cfg.kafka.brokers, logLevel: logLevel.NOTHING });
const admin = kafka.admin();
const t0 = Date.now();
try {
  await admin.connect();
  const manager = new ConnectorManager(cfg, {
    connect: new ConnectClient(cfg.cdc.connectUrl),
    admin,
    grantCdcAccess: () => grantCdcAccess(cfg.databaseUrl, cfg.cdc.dbUser),
    log,
  });
  const health = await manager.apply(cfg.startupTimeoutMs);
  log.info({ connector: manager.connectorName, health, ms: Date.now() - t0 }, "connector running");
} catch (err) {
  log.error({ err: (err as Error).message }, "connect:apply failed");
  process.exitCode = 1;
} finally {
  await admin.disconnect().catch(() => {});
}

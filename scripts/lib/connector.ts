/** Registers the Debezium connector for `cfg` and waits until it runs (as `npm run connect:apply`). */
import { Kafka, logLevel } from "kafkajs";
import { pino } from "pino";
import type { OriginConfig } from "../../origin/src/config.ts";
import { grantCdcAccess } from "../../origin/src/connect/grant.ts";
import { ConnectClient, ConnectorManager } from "../../origin/src/connect/manager.ts";

export async function applyConnector(cfg: OriginConfig, timeoutMs = 120_000): Promise<void> {
  const log = pino({ level: "warn", base: { service: "connect" } });
  const kafka = new Kafka({ clientId: "bulk-connect", brokers: cfg.kafka.brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const manager = new ConnectorManager(cfg, {
      connect: new ConnectClient(cfg.cdc.connectUrl),
      admin,
      grantCdcAccess: () => grantCdcAccess(cfg.databaseUrl, cfg.cdc.dbUser),
      log,
    });
    await manager.apply(timeoutMs);
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

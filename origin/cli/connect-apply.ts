/**
 * `npm run connect:apply`: creates the topics, grants the CDC role, registers or updates the
 * Debezium connector and waits until it and its tasks are RUNNING. Exit 1 otherwise.
 */
import { pino } from "pino";
import { clientFactory } from "../src/clients.ts";
import { readConfig } from "../src/config.ts";
import { grantCdcAccess } from "../src/connect/grant.ts";
import { ConnectorManager } from "../src/connect/manager.ts";

const cfg = readConfig();
// Its log is its report, on stdout.
const log = pino({ level: cfg.logLevel, base: { service: "connect:apply" } });
const clients = clientFactory(cfg, log);
const admin = clients.kafka("connect-apply").admin();
const t0 = Date.now();
try {
  await admin.connect();
  const manager = new ConnectorManager(cfg, {
    connect: clients.connect(),
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

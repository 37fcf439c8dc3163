/**
 * Entry of `npm run ch-gateway`: ClickHouse's HTTP interface on 127.0.0.1:8123 over embedded chDB,
 * the default ClickHouse of the local stack. Reads config once, serves until SIGTERM/SIGINT, then
 * drains in-flight queries and closes the chDB sessions.
 */
import { pino } from "pino";
import { createClickHouseGateway } from "./app.ts";
import { readGatewayConfig } from "./config.ts";

let config: ReturnType<typeof readGatewayConfig>;
try {
  config = readGatewayConfig();
} catch (err) {
  // A config error is the operator's to fix: one line, no stack.
  console.error((err as Error).message);
  process.exit(2);
}
const log = pino({ level: config.logLevel, base: { service: "clickhouse-gateway" } });
const gateway = createClickHouseGateway(config, log);

let shuttingDown = false;
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    if (shuttingDown) return;
    shuttingDown = true;
    log.info({ signal }, "shutting down");
    gateway.stop().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, "unclean shutdown");
        process.exit(1);
      },
    );
  });
}

try {
  await gateway.start();
} catch (err) {
  log.fatal({ err }, "clickhouse-gateway failed to start");
  process.exit(1);
}

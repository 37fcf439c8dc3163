/**
 * Entry of `npm run ch-gateway`: ClickHouse's HTTP interface on 127.0.0.1:8123 over embedded chDB,
 * the default ClickHouse of the local stack. Reads config once, serves until SIGTERM/SIGINT, then
 * drains in-flight queries and closes the chDB sessions.
 */
import { runProcess } from "../../../origin/src/lifecycle.ts";
import { createClickHouseGateway } from "./app.ts";
import { readGatewayConfig } from "./config.ts";

await runProcess(
  "clickhouse-gateway",
  () => readGatewayConfig(),
  (config, log, lifecycle) => {
    lifecycle.add(createClickHouseGateway(config, log));
  },
);

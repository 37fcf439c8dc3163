/**
 * Entry of `npm run redis-bridge`: an Upstash-compatible Redis REST API in front of a real Redis.
 * Reads config once, serves until SIGTERM/SIGINT, then drains in-flight requests and closes Redis.
 */
import { pino } from "pino";
import { createRedisBridge } from "./app.ts";
import { readBridgeConfig } from "./config.ts";

let config: ReturnType<typeof readBridgeConfig>;
try {
  config = readBridgeConfig();
} catch (err) {
  // A config error is the operator's to fix: one line, no stack.
  console.error((err as Error).message);
  process.exit(2);
}
const log = pino({ level: config.logLevel, base: { service: "redis-bridge" } });
const bridge = createRedisBridge(config, log);

let shuttingDown = false;
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    if (shuttingDown) return;
    shuttingDown = true;
    log.info({ signal }, "shutting down");
    bridge.stop().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, "unclean shutdown");
        process.exit(1);
      },
    );
  });
}

try {
  await bridge.start();
} catch (err) {
  log.fatal({ err }, "redis-bridge failed to start");
  process.exit(1);
}

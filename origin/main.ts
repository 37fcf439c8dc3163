/** Origin entry point: read config, start every part, drain on SIGTERM/SIGINT. */
import { pino } from "pino";
import { readConfig } from "./src/config.ts";
import { httpServerPart } from "./src/http.ts";
import { Lifecycle } from "./src/lifecycle.ts";

const config = readConfig();
const log = pino({ level: config.logLevel, base: { service: "origin" } });
const lifecycle = new Lifecycle([httpServerPart(config, log)], log);

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () => {
    log.info({ signal }, "shutting down");
    void lifecycle.stop(config.shutdownTimeoutMs).then(() => process.exit(0));
  });
}

lifecycle.start().catch((err: unknown) => {
  log.fatal({ err }, "origin failed to start");
  process.exit(1);
});

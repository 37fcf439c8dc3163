/**
 * The entry point shape of a standalone origin-side server (Redis bridge, ClickHouse gateway):
 * read config once (a config error is one line and exit 2), start, and on SIGTERM/SIGINT stop
 * draining in-flight work, exit 0 (1 if the stop was unclean).
 */
import { type Logger, pino } from "pino";

export interface Service {
  start(): Promise<unknown>;
  stop(): Promise<void>;
}

export async function runService<C extends { logLevel: string }>(
  name: string,
  readConfig: () => C,
  create: (config: C, log: Logger) => Service,
): Promise<void> {
  let config: C;
  try {
    config = readConfig();
  } catch (err) {
    // A config error is the operator's to fix: one line, no stack.
    console.error((err as Error).message);
    process.exit(2);
  }
  const log = pino({ level: config.logLevel, base: { service: name } });
  const service = create(config, log);
  let shuttingDown = false;
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.on(signal, () => {
      if (shuttingDown) return;
      shuttingDown = true;
      log.info({ signal }, "shutting down");
      service.stop().then(
        () => process.exit(0),
        (err) => {
          log.error({ err }, "unclean shutdown");
          process.exit(1);
        },
      );
    });
  }
  try {
    await service.start();
  } catch (err) {
    log.fatal({ err }, `${name} failed to start`);
    process.exit(1);
  }
}

/**
 * The one lifecycle of every long-running origin-side part (clients, HTTP server, relay, sink,
 * generators, watchers, and the local stand-ins): start, stop-and-drain, health, and the numbers
 * a part keeps. `Lifecycle` starts parts in the order they were added and stops them in reverse;
 * the metrics read its parts (metrics.ts); `runProcess` is the entry point around it.
 */
import { type Logger, pino } from "pino";

export interface PartHealth {
  ok: boolean;
  detail?: unknown;
}

export interface Part {
  readonly name: string;
  /** Resolves once the part runs (what it resolves with is not the lifecycle's business). */
  start(): Promise<unknown>;
  /** Stops taking new work and waits for in-flight work, within `deadline` (epoch ms). */
  stop(deadline: number): Promise<void>;
  health(): PartHealth | Promise<PartHealth>;
  /**
   * The part's running numbers (counters, last lags), read at scrape time by the metrics
   * (metrics.ts says which it reads, by part name). None for a part that counts nothing.
   */
  readonly stats?: object;
}

export class Lifecycle {
  private readonly added: Part[] = [];
  private readonly started: Part[] = [];
  private stopping: Promise<boolean> | null = null;

  constructor(private readonly log: Logger) {}

  /** Adds a part; it starts after the parts added before it and stops before them. */
  add<P extends Part>(part: P): P {
    if (this.started.length || this.stopping) throw new Error(`part ${part.name} added after start`);
    this.added.push(part);
    return part;
  }

  /** The parts in the order they were added (the metrics read their stats). */
  get parts(): readonly Part[] {
    return this.added;
  }

  async start(): Promise<void> {
    for (const part of this.added) {
      const t0 = Date.now();
      await part.start();
      this.started.push(part);
      this.log.info({ part: part.name, ms: Date.now() - t0 }, "part started");
    }
  }

  /** Stops every started part in reverse order; idempotent. Resolves to whether all stopped cleanly. */
  stop(timeoutMs: number): Promise<boolean> {
    this.stopping ??= (async () => {
      const deadline = Date.now() + timeoutMs;
      let clean = true;
      for (const part of [...this.started].reverse()) {
        try {
          await part.stop(deadline);
          this.log.info({ part: part.name }, "part stopped");
        } catch (err) {
          clean = false;
          this.log.error({ part: part.name, err }, "part failed to stop cleanly");
        }
      }
      return clean;
    })();
    return this.stopping;
  }

  /** Every part's health by name; a part whose check throws is not ok, with the reason. */
  async health(): Promise<Record<string, PartHealth>> {
    const out: Record<string, PartHealth> = {};
    for (const part of this.added) {
      try {
        out[part.name] = await part.health();
      } catch (err) {
        out[part.name] = { ok: false, detail: String(err) };
      }
    }
    return out;
  }
}

/**
 * The entry point of an origin-side process (the origin, the local stand-ins): reads the config
 * once (a config error is one line and exit 2), lets `wire` add the parts, starts them (a part
 * that fails to start stops the others: exit 1), and on SIGTERM/SIGINT stops them within
 * `shutdownTimeoutMs`: exit 0, or 1 if a part did not stop cleanly.
 */
export async function runProcess<C extends { logLevel: string; shutdownTimeoutMs: number }>(
  name: string,
  readConfig: () => C,
  wire: (config: C, log: Logger, lifecycle: Lifecycle) => void,
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
  const lifecycle = new Lifecycle(log);
  wire(config, log, lifecycle);
  const shutdown = async (exitCode: number) => {
    const clean = await lifecycle.stop(config.shutdownTimeoutMs);
    log.info("stopped");
    process.exit(clean ? exitCode : 1);
  };
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    // Once: a second signal of the same kind ends the process at once, the default action.
    process.once(signal, () => {
      log.info({ signal }, "shutting down");
      void shutdown(0);
    });
  }
  try {
    await lifecycle.start();
  } catch (err) {
    log.fatal({ err }, `${name} failed to start`);
    await shutdown(1);
  }
}

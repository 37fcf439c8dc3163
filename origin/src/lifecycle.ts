/**
 * One lifecycle for every long-running origin part (HTTP server, relay, generators, watchers):
 * start, stop-and-drain, health. `Lifecycle` starts parts in order and stops them in reverse.
 */
import type { Logger } from "pino";

export interface PartHealth {
  ok: boolean;
  detail?: unknown;
}

export interface Part {
  readonly name: string;
  start(): Promise<void>;
  /** Stops taking new work and waits for in-flight work, within `deadline` (epoch ms). */
  stop(deadline: number): Promise<void>;
  health(): PartHealth | Promise<PartHealth>;
}

export class Lifecycle {
  private readonly started: Part[] = [];
  private stopping: Promise<void> | null = null;

  constructor(
    private readonly parts: Part[],
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    for (const part of this.parts) {
      const t0 = Date.now();
      await part.start();
      this.started.push(part);
      this.log.info({ part: part.name, ms: Date.now() - t0 }, "part started");
    }
  }

  /** Stops every started part in reverse order; idempotent. */
  stop(timeoutMs: number): Promise<void> {
    this.stopping ??= (async () => {
      const deadline = Date.now() + timeoutMs;
      for (const part of [...this.started].reverse()) {
        try {
          await part.stop(deadline);
          this.log.info({ part: part.name }, "part stopped");
        } catch (err) {
          this.log.error({ part: part.name, err }, "part failed to stop cleanly");
        }
      }
    })();
    return this.stopping;
  }

  async health(): Promise<Record<string, PartHealth>> {
    const out: Record<string, PartHealth> = {};
    for (const part of this.parts) {
      try {
        out[part.name] = await part.health();
      } catch (err) {
        out[part.name] = { ok: false, detail: String(err) };
      }
    }
    return out;
  }
}

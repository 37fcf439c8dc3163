/**
 * A fixed set of engine sessions (one query at a time each) with a bounded FIFO of waiting
 * requests. Generic over the session type so the queueing rules are unit-tested with fakes.
 *
 * A session whose state is in doubt (a request changed its settings, or a query outlived its
 * deadline and may still be running inside the engine) is not returned but retired: the pool
 * drops it and creates a fresh one in its place, so the next request never sees leftovers.
 */
import { chError } from "./errors.ts";

export interface PoolOptions<S> {
  size: number;
  queueSize: number;
  create(): S;
  /** Releases a retired session; it may still be busy inside the engine. */
  retire(session: S): void;
}

export interface PoolStats {
  size: number;
  idle: number;
  busy: number;
  waiting: number;
  retired: number;
}

interface Waiter<S> {
  resolve(session: S): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout | undefined;
}

export class SessionPool<S> {
  private readonly idle: S[] = [];
  private readonly busy = new Set<S>();
  private readonly waiters: Waiter<S>[] = [];
  private retiredCount = 0;
  private closed = false;

  constructor(private readonly options: PoolOptions<S>) {
    for (let i = 0; i < options.size; i++) this.idle.push(options.create());
  }

  /**
   * A session for one request. Waits in line when all are busy; rejects at once with 503 when
   * the line is full, and with TIMEOUT_EXCEEDED when `waitMs` passes first.
   */
  acquire(waitMs: number): Promise<S> {
    if (this.closed) return Promise.reject(chError("CANNOT_SCHEDULE_TASK", "The gateway is shutting down"));
    const session = this.idle.pop();
    if (session !== undefined) {
      this.busy.add(session);
      return Promise.resolve(session);
    }
    if (this.waiters.length >= this.options.queueSize) {
      return Promise.reject(
        chError(
          "TOO_MANY_SIMULTANEOUS_QUERIES",
          `Too many simultaneous queries: all ${this.options.size} chDB sessions are busy and ${this.waiters.length} requests are already waiting (CH_GATEWAY_SESSIONS=${this.options.size}, CH_GATEWAY_QUEUE_SIZE=${this.options.queueSize}); retry later`,
          { status: 503 },
        ),
      );
    }
    return new Promise<S>((resolve, reject) => {
      const waiter: Waiter<S> = { resolve, reject, timer: undefined };
      waiter.timer = setTimeout(() => {
        const i = this.waiters.indexOf(waiter);
        if (i !== -1) this.waiters.splice(i, 1);
        reject(
          chError(
            "TIMEOUT_EXCEEDED",
            `Timeout exceeded: waited ${waitMs} ms for a free chDB session (all ${this.options.size} busy)`,
          ),
        );
      }, waitMs);
      this.waiters.push(waiter);
    });
  }

  /** Gives a session back clean (`retire: false`) or replaces it with a fresh one. */
  release(session: S, opts: { retire: boolean }): void {
    if (!this.busy.delete(session)) return;
    let next = session;
    if (opts.retire || this.closed) {
      this.retiredCount++;
      this.options.retire(session);
      if (this.closed) return;
      next = this.options.create();
    }
    const waiter = this.waiters.shift();
    if (waiter) {
      clearTimeout(waiter.timer);
      this.busy.add(next);
      waiter.resolve(next);
    } else {
      this.idle.push(next);
    }
  }

  stats(): PoolStats {
    return {
      size: this.options.size,
      idle: this.idle.length,
      busy: this.busy.size,
      waiting: this.waiters.length,
      retired: this.retiredCount,
    };
  }

  /** Refuses new work, fails the waiting line and retires idle sessions; busy ones retire on release. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(chError("CANNOT_SCHEDULE_TASK", "The gateway is shutting down"));
    }
    for (const s of this.idle.splice(0)) this.options.retire(s);
  }
}

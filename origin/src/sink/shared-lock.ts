/**
 * A readers-writer lock for one process: any number of `shared` holders at once, or one
 * `exclusive` holder alone. Waiting exclusive holders go first, so a steady stream of shared
 * holders cannot starve them.
 */
export class SharedLock {
  private readers = 0;
  private writer = false;
  private readonly waitingWriters: (() => void)[] = [];
  private readonly waitingReaders: (() => void)[] = [];

  async shared<T>(fn: () => Promise<T>): Promise<T> {
    if (this.writer || this.waitingWriters.length > 0) {
      await new Promise<void>((resolve) => this.waitingReaders.push(resolve));
    } else {
      this.readers++;
    }
    try {
      return await fn();
    } finally {
      this.readers--;
      this.next();
    }
  }

  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.writer || this.readers > 0) {
      await new Promise<void>((resolve) => this.waitingWriters.push(resolve));
    } else {
      this.writer = true;
    }
    try {
      return await fn();
    } finally {
      this.writer = false;
      this.next();
    }
  }

  /** Hands the lock on: to one waiting writer when free, else to every waiting reader. */
  private next(): void {
    if (this.writer || this.readers > 0) return;
    const w = this.waitingWriters.shift();
    if (w) {
      this.writer = true;
      w();
      return;
    }
    const rs = this.waitingReaders.splice(0);
    this.readers += rs.length;
    for (const r of rs) r();
  }
}

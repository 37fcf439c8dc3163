/**
 * Server-Timing at the edge: the stages a handler timed (each a Redis or ClickHouse round trip,
 * or the work between them) and the handler's total, in the header every timed route answers
 * with (the feed, suggestions, notifications). Under workerd the clock moves only across I/O,
 * so a stage's duration is the I/O it waited for; the benchmark reads these to say where a
 * request's time goes (docs/benchmark.md).
 */

export interface Timing {
  name: string;
  ms: number;
  desc?: string;
}

/** Runs `fn` and records how long it took under `name`. */
export async function timed<T>(timings: Timing[], name: string, fn: () => Promise<T>, desc?: string): Promise<T> {
  const t0 = performance.now();
  try {
    return await fn();
  } finally {
    timings.push({ name, ms: performance.now() - t0, ...(desc ? { desc } : {}) });
  }
}

/** The Server-Timing header value: each stage, then `total`. */
export function serverTiming(timings: Timing[], totalMs: number): string {
  return [
    ...timings.map((t) => `${t.name};dur=${t.ms.toFixed(1)}${t.desc ? `;desc="${t.desc}"` : ""}`),
    `total;dur=${totalMs.toFixed(1)}`,
  ].join(", ");
}

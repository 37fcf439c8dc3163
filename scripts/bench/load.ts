/**
 * A closed-loop HTTP load generator: `concurrency` workers, each sending its next request as
 * soon as the previous answer has been read, until `requests` were sent or `durationMs` passed.
 * Latency is measured per request from send to the last body byte.
 */

export interface Shot {
  ms: number;
  status: number;
  /** X-Cache of the answer, when there was one. */
  cache: string | null;
  /** Server-Timing of the answer, when there was one. */
  timing: string | null;
  body?: string;
}

export interface LoadResult {
  requests: number;
  errors: number;
  seconds: number;
  rps: number;
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
  max_ms: number;
  /** Count per X-Cache value (HIT, MISS, STALE, none). */
  cache: Record<string, number>;
  /** Count per HTTP status. */
  status: Record<string, number>;
}

export interface LoadSpec {
  concurrency: number;
  /** Stop after this many requests (all workers together)… */
  requests?: number;
  /** …or after this long, whichever comes first. */
  durationMs?: number;
  /** Builds request number i. */
  request: (i: number) => { url: string; init?: RequestInit };
  /** Keep the body of each answer (for checks); default false. */
  keepBody?: boolean;
  /** Called with every answer. */
  onShot?: (i: number, shot: Shot) => void;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[idx] as number;
}

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

export function summarize(shots: Shot[], seconds: number): LoadResult {
  const ms = shots.map((s) => s.ms).sort((a, b) => a - b);
  const cache: Record<string, number> = {};
  const status: Record<string, number> = {};
  for (const s of shots) {
    const c = s.cache ?? "none";
    cache[c] = (cache[c] ?? 0) + 1;
    status[String(s.status)] = (status[String(s.status)] ?? 0) + 1;
  }
  return {
    requests: shots.length,
    errors: shots.filter((s) => s.status === 0 || s.status >= 500).length,
    seconds: round(seconds),
    rps: round(shots.length / Math.max(seconds, 0.001), 1),
    p50_ms: round(percentile(ms, 0.5)),
    p95_ms: round(percentile(ms, 0.95)),
    p99_ms: round(percentile(ms, 0.99)),
    max_ms: round(ms[ms.length - 1] ?? 0),
    cache,
    status,
  };
}

export async function closedLoop(spec: LoadSpec): Promise<{ result: LoadResult; shots: Shot[] }> {
  if (!spec.requests && !spec.durationMs) throw new Error("closedLoop needs requests or durationMs");
  const shots: Shot[] = [];
  const t0 = performance.now();
  const until = spec.durationMs ? t0 + spec.durationMs : Number.POSITIVE_INFINITY;
  const max = spec.requests ?? Number.POSITIVE_INFINITY;
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= max || performance.now() >= until) return;
      const { url, init } = spec.request(i);
      const s = performance.now();
      let shot: Shot;
      try {
        const res = await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
        const body = await res.text();
        shot = {
          ms: performance.now() - s,
          status: res.status,
          cache: res.headers.get("x-cache"),
          timing: res.headers.get("server-timing"),
        };
        if (spec.keepBody) shot.body = body;
      } catch {
        shot = { ms: performance.now() - s, status: 0, cache: null, timing: null };
      }
      // In request order, not completion order: callers pair shots[i] with what request i asked
      // (with several clients, completion order differs, and a cursor would meet the wrong viewer).
      shots[i] = shot;
      spec.onShot?.(i, shot);
    }
  };
  await Promise.all(Array.from({ length: spec.concurrency }, worker));
  return { result: summarize(shots, (performance.now() - t0) / 1000), shots };
}

/** Draws ranks 0..n-1 with P(k) ∝ 1/(k+1)^s (Zipf), from a uniform generator. */
export function zipf(n: number, s: number, rand: () => number): () => number {
  const cdf = new Float64Array(n);
  let total = 0;
  for (let k = 0; k < n; k++) {
    total += 1 / (k + 1) ** s;
    cdf[k] = total;
  }
  return () => {
    const x = rand() * total;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((cdf[mid] as number) < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

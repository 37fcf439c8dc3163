/**
 * Feed sessions as the bench times them (phases/feed.ts, phases/distance.ts): for each viewer, in
 * order, a new session (no cursor: a MISS, built from the index), then the next pages of those
 * sessions (their cursors: HITs, read from the snapshot), and the X-Cache check that keeps only
 * the answers that were what they were meant to be.
 */
import { closedLoop, type LoadResult, type Shot, summarize } from "./load.ts";
import { only } from "./report.ts";
import { recording } from "./rounds.ts";

type Req = { url: string; init?: RequestInit };

export interface TimedRun {
  result: LoadResult;
  shots: Shot[];
}

export interface SessionsRun {
  /** New sessions, one per viewer, in the viewers' order. */
  miss: TimedRun;
  /** Their next pages, `hitPasses` times over, in the same order (the viewers with a next page). */
  hit: TimedRun;
  /** The viewers the new sessions were for, in request order (for assertSameInputs). */
  asked: string[];
  /** Viewers whose new session gave no next page (too few items, or an error). */
  noNextPage: number;
}

export function cursorOf(shot: Shot): string | null {
  try {
    return (JSON.parse(shot.body ?? "{}") as { next_cursor?: string | null }).next_cursor ?? null;
  } catch {
    return null;
  }
}

/** New sessions of `viewers` (in order), then `hitPasses` passes over their next pages. */
export async function feedSessions(opts: {
  viewers: readonly string[];
  clients: number;
  hitPasses: number;
  request: (viewer: string, cursor?: string) => Req;
}): Promise<SessionsRun> {
  const { viewers, clients } = opts;
  const rec = recording(
    (i) => viewers[i] as string,
    (i) => opts.request(viewers[i] as string),
  );
  const miss = await closedLoop({
    concurrency: clients,
    requests: viewers.length,
    keepBody: true,
    request: rec.request,
  });
  const pages: { viewer: string; cursor: string }[] = [];
  miss.shots.forEach((shot, i) => {
    const cursor = cursorOf(shot);
    if (cursor) pages.push({ viewer: viewers[i] as string, cursor });
    // The bodies were kept for their cursors only.
    delete shot.body;
  });
  const hit = pages.length
    ? await closedLoop({
        concurrency: clients,
        requests: pages.length * opts.hitPasses,
        request: (i) => {
          const p = pages[i % pages.length] as { viewer: string; cursor: string };
          return opts.request(p.viewer, p.cursor);
        },
      })
    : { result: summarize([], 0), shots: [] };
  return { miss, hit, asked: rec.asked, noNextPage: viewers.length - pages.length };
}

/**
 * A run's answers with X-Cache `cache` (the others, errors among them, are left out of its
 * figures and counted): their summary, over the run's whole time.
 */
export function byCache(run: TimedRun, cache: string): { kept: LoadResult; shots: Shot[]; leftOut: number } {
  const shots = only(run.shots, cache);
  return { kept: summarize(shots, run.result.seconds), shots, leftOut: run.shots.length - shots.length };
}

/** GET /api/v1/feed?limit=20&cursor=…&explain=1 */
import { ExperimentCopies } from "#core/experiments/assignment.ts";
import { encodeCursor } from "#core/feed/cursor.ts";
import { indexKeys } from "#core/keys.ts";
import { operations } from "../api/contract.ts";
import { getFeed } from "../feed/service.ts";
import { requireUser } from "../middleware.ts";
import { routeLimit } from "../ratelimit.ts";
import { serverTiming } from "../timing.ts";
import { apiRouter } from "../validation.ts";

/** The isolate's copies of the running experiments, one per index namespace. */
const experimentCopies = new ExperimentCopies();

export const feedRoutes = apiRouter().openapi(
  { ...operations.getFeed, middleware: [requireUser(), routeLimit("feed")] as const },
  async (c) => {
    const t0 = performance.now();
    const q = c.req.valid("query");
    const logFields = c.get("logFields");
    const { rawRedis: redis, clickhouse } = c.var.clients;
    const result = await getFeed(
      {
        redis,
        clickhouse,
        keys: indexKeys(c.var.config.index.namespace),
        ranking: c.var.config.ranking,
        experiments: experimentCopies.forNamespace(c.var.config.index.namespace),
        now: () => Date.now(),
        waitUntil: (p) => c.executionCtx.waitUntil(p),
        log: logFields,
      },
      c.get("userId"),
      q.cursor ?? null,
      q.limit,
      q.explain,
    );
    logFields.cache = result.cache;
    if (result.experiment) logFields.experiment = `${result.experiment.experiment}/${result.experiment.variant}`;
    c.header("X-Cache", result.cache);
    c.header("Server-Timing", serverTiming(result.timings, performance.now() - t0));
    c.header("Cache-Control", "private, no-store");
    return c.json(
      {
        items: result.items,
        next_cursor: result.next ? encodeCursor(result.next) : null,
        experiment: result.experiment
          ? { name: result.experiment.experiment, variant: result.experiment.variant }
          : null,
      },
      200,
    );
  },
);

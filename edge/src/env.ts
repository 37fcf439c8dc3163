/**
 * The Hono environment of the worker: its bindings (bindings.ts) and the per-request variables
 * the middleware sets.
 */
import type { Env } from "./bindings.ts";
import type { EdgeClients } from "./clients.ts";
import type { EdgeConfig } from "./config.ts";

export type { Env, RateLimitBinding } from "./bindings.ts";

export interface AppEnv {
  Bindings: Env;
  Variables: {
    /** Set first by the context middleware: the validated configuration. */
    config: EdgeConfig;
    /** Set with it: the isolate's clients for that configuration. */
    clients: EdgeClients;
    requestId: string;
    /** Set by the auth middleware: the caller's user id (JWT `sub`). */
    userId: string;
    /** Extra fields for this request's log line (cache outcome, fallbacks taken...). */
    logFields: Record<string, unknown>;
  };
}

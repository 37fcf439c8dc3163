/** The worker's bindings (wrangler.toml vars and secrets). Typed once, here. */
export interface Env {
  /** Base URL of the origin write API (default in wrangler.toml: http://127.0.0.1:8788). */
  ORIGIN_URL: string;
}

export interface AppEnv {
  Bindings: Env;
  Variables: { requestId: string };
}

/**
 * Entry of `npm run redis-bridge`: an Upstash-compatible Redis REST API in front of a real Redis.
 * Reads config once, serves until SIGTERM/SIGINT, then drains in-flight requests and closes Redis.
 */
import { runProcess } from "../../../origin/src/lifecycle.ts";
import { createRedisBridge } from "./app.ts";
import { readBridgeConfig } from "./config.ts";

await runProcess(
  "redis-bridge",
  () => readBridgeConfig(),
  (config, log, lifecycle) => {
    lifecycle.add(createRedisBridge(config, log));
  },
);

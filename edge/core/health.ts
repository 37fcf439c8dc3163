/**
 * Runtime-neutral facts about the service, shared by the edge worker and the origin.
 * Nothing in edge/core may import node:*, cloudflare:* or a client library.
 */

/** Product name reported by health endpoints. */
export const SERVICE_NAME = "edge-feed";

/** Which process answered a health check. */
export type Component = "edge" | "origin";

export interface HealthBody {
  status: "ok";
  service: typeof SERVICE_NAME;
  component: Component;
  /** Version of the shared contract both runtimes were built from. */
  version: string;
}

/** Contract version: bump when the public API or a Redis/Kafka/ClickHouse name changes. */
export const CONTRACT_VERSION = "1";

export function healthBody(component: Component): HealthBody {
  return { status: "ok", service: SERVICE_NAME, component, version: CONTRACT_VERSION };
}

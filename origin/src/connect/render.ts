/**
 * Pure helpers of the connector manager: rendering the connector template and judging a
 * Kafka Connect status document.
 */
import { CAPTURED_TABLES } from "#core/topics.ts";

export interface ConnectorTemplate {
  name: string;
  config: Record<string, string>;
}

/** Replaces every `${NAME}` with vars[NAME] (which may be ""); throws naming every missing one. */
export function renderConnector(
  template: ConnectorTemplate,
  vars: Record<string, string | undefined>,
): ConnectorTemplate {
  const missing = new Set<string>();
  const sub = (s: string) =>
    s.replace(/\$\{([A-Z0-9_]+)\}/g, (_m, name: string) => {
      const v = vars[name];
      if (v === undefined) {
        missing.add(name);
        return "";
      }
      return v;
    });
  const out: ConnectorTemplate = { name: sub(template.name), config: {} };
  for (const [k, v] of Object.entries(template.config)) out.config[k] = sub(v);
  if (missing.size) throw new Error(`connector template needs ${[...missing].sort().join(", ")}`);
  const include = out.config[TABLE_INCLUDE_LIST];
  if (include !== undefined) out.config[TABLE_INCLUDE_LIST] = withCapturedTables(include);
  return out;
}

const TABLE_INCLUDE_LIST = "table.include.list";

/**
 * The connector's table list with every table edge/core's CAPTURED_TABLES names (the
 * experiments tables of migration 0003 among them) appended when the template lacks it, so a
 * table added to the publication is captured without editing the template.
 */
export function withCapturedTables(list: string, tables: readonly string[] = CAPTURED_TABLES): string {
  const have = list
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean);
  for (const t of tables) if (!have.includes(`public.${t}`)) have.push(`public.${t}`);
  return have.join(",");
}

/** What Kafka Connect reports at GET /connectors/<name>/status. */
export interface ConnectorStatus {
  name: string;
  connector: { state: string; worker_id?: string; trace?: string };
  tasks: { id: number; state: string; worker_id?: string; trace?: string }[];
}

export type ConnectorHealth =
  | { kind: "running"; tasks: number }
  | { kind: "starting"; detail: string }
  | { kind: "failed"; failedTasks: number[]; connectorFailed: boolean; trace?: string }
  | { kind: "paused" | "missing" };

export function judgeStatus(status: ConnectorStatus | null): ConnectorHealth {
  if (!status) return { kind: "missing" };
  const failedTasks = status.tasks.filter((t) => t.state === "FAILED").map((t) => t.id);
  const connectorFailed = status.connector.state === "FAILED";
  if (connectorFailed || failedTasks.length) {
    const trace = status.connector.trace ?? status.tasks.find((t) => t.state === "FAILED")?.trace;
    return { kind: "failed", failedTasks, connectorFailed, ...(trace ? { trace: trace.split("\n")[0] } : {}) };
  }
  if (status.connector.state === "PAUSED") return { kind: "paused" };
  if (
    status.connector.state === "RUNNING" &&
    status.tasks.length > 0 &&
    status.tasks.every((t) => t.state === "RUNNING")
  ) {
    return { kind: "running", tasks: status.tasks.length };
  }
  const states = status.tasks.map((t) => `${t.id}:${t.state}`).join(",");
  return { kind: "starting", detail: `connector ${status.connector.state}, tasks [${states}]` };
}

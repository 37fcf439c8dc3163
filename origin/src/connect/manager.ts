/**
 * The Debezium connector manager: creates the Kafka topics the pipeline needs, renders the
 * connector config from connectors/debezium-postgres-connector.json, PUTs it to Kafka Connect
 * (idempotent: 201 created, 200 updated), waits until the connector and its tasks run, and
 * then keeps watching: failed tasks are restarted with capped, jittered backoff, and the last
 * known state is exposed for health checks and metrics.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Admin } from "kafkajs";
import type { Logger } from "pino";
import { ALL_TOPICS } from "#core/topics.ts";
import type { OriginConfig } from "../config.ts";
import type { Part, PartHealth } from "../lifecycle.ts";
import { backoffMs, retriable } from "../retry.ts";
import {
  type ConnectorHealth,
  type ConnectorStatus,
  type ConnectorTemplate,
  judgeStatus,
  renderConnector,
} from "./render.ts";

const CONNECTOR_TEMPLATE_PATH = join(import.meta.dirname, "../../../connectors/debezium-postgres-connector.json");
const REQUEST_TIMEOUT_MS = 10_000;

export class ConnectError extends Error {
  override readonly name = "ConnectError";
  constructor(
    message: string,
    readonly retriable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Renders the connector template from the origin's configuration. */
function connectorFromConfig(cdc: OriginConfig["cdc"], templatePath = CONNECTOR_TEMPLATE_PATH): ConnectorTemplate {
  const template = JSON.parse(readFileSync(templatePath, "utf8")) as ConnectorTemplate;
  return renderConnector(template, {
    CDC_CONNECTOR_NAME: cdc.connectorName,
    PG_HOST: cdc.dbHost,
    PG_PORT: String(cdc.dbPort),
    PG_DATABASE: cdc.dbName,
    CDC_DB_USER: cdc.dbUser,
    CDC_DB_PASSWORD: cdc.dbPassword,
    CDC_TOPIC_PREFIX: cdc.topicPrefix,
    CDC_SLOT_NAME: cdc.slotName,
    CDC_SNAPSHOT_MODE: cdc.snapshotMode,
    CDC_PUBLICATION: cdc.publication,
    KAFKA_TOPIC_NAMESPACE: cdc.topicNamespace,
  });
}

/** A small Kafka Connect REST client; every call has a timeout. */
export class ConnectClient {
  constructor(private readonly baseUrl: string) {}

  private async call(method: string, path: string, body?: unknown): Promise<Response> {
    try {
      return await fetch(this.baseUrl + path, {
        method,
        headers: body === undefined ? {} : { "content-type": "application/json" },
        body: body === undefined ? null : JSON.stringify(body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (err) {
      throw new ConnectError(`Kafka Connect unreachable at ${this.baseUrl}: ${(err as Error).message}`, true, {
        cause: err,
      });
    }
  }

  private async fail(res: Response, what: string): Promise<never> {
    const text = await res.text().catch(() => "");
    // 409 = a rebalance is in progress; 5xx = worker trouble: both worth retrying.
    throw new ConnectError(
      `${what}: HTTP ${res.status} ${text.slice(0, 500)}`,
      res.status === 409 || res.status >= 500,
    );
  }

  /** PUT /connectors/<name>/config; returns whether it was created (201) or updated (200). */
  async putConfig(c: ConnectorTemplate): Promise<"created" | "updated"> {
    const res = await this.call("PUT", `/connectors/${encodeURIComponent(c.name)}/config`, c.config);
    if (res.status === 201) return "created";
    if (res.status === 200) return "updated";
    return this.fail(res, `PUT connector ${c.name}`);
  }

  async status(name: string): Promise<ConnectorStatus | null> {
    const res = await this.call("GET", `/connectors/${encodeURIComponent(name)}/status`);
    if (res.status === 404) return null;
    if (!res.ok) return this.fail(res, `GET status of ${name}`);
    return (await res.json()) as ConnectorStatus;
  }

  async restartFailed(name: string): Promise<void> {
    const res = await this.call(
      "POST",
      `/connectors/${encodeURIComponent(name)}/restart?includeTasks=true&onlyFailed=true`,
    );
    if (!res.ok) await this.fail(res, `restart ${name}`);
  }

  async delete(name: string): Promise<void> {
    const res = await this.call("DELETE", `/connectors/${encodeURIComponent(name)}`);
    if (!res.ok && res.status !== 404) await this.fail(res, `delete ${name}`);
  }
}

/**
 * Creates missing topics; existing ones are left as they are, whatever their partition count:
 * adding partitions to a keyed topic moves keys to other partitions, so a user's events or a
 * row's changes could be consumed out of order across the move (docs/delivery-and-faults.md,
 * "Partitions and keys", has the procedure). `topicsShortOfPartitions` names those with fewer.
 */
export async function ensureTopics(
  admin: Admin,
  topics: readonly string[],
  partitions: number,
  replicationFactor: number,
): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const missing = topics.filter((t) => !existing.has(t));
  if (missing.length) {
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((topic) => ({ topic, numPartitions: partitions, replicationFactor })),
    });
  }
  return missing;
}

/** The existing topics among `topics` with fewer than `partitions` partitions, and their count. */
export async function topicsShortOfPartitions(
  admin: Admin,
  topics: readonly string[],
  partitions: number,
): Promise<{ topic: string; partitions: number }[]> {
  const { topics: meta } = await admin.fetchTopicMetadata({ topics: [...topics] });
  return meta.map((t) => ({ topic: t.name, partitions: t.partitions.length })).filter((t) => t.partitions < partitions);
}

/** Warns about topics with fewer partitions than configured (what a process more would not share). */
export async function warnShortOfPartitions(
  admin: Admin,
  topics: readonly string[],
  partitions: number,
  log: Logger,
): Promise<void> {
  const short = await topicsShortOfPartitions(admin, topics, partitions).catch(() => []);
  if (short.length) {
    log.warn(
      { topics: short, configured: partitions },
      "topics have fewer partitions than KAFKA_TOPIC_PARTITIONS; left as they are (adding partitions moves keys: see docs/delivery-and-faults.md, Partitions and keys)",
    );
  }
}

export interface ConnectorManagerDeps {
  connect: ConnectClient;
  admin: Admin;
  /** Grants the CDC role read access to the captured tables (runs as the tables' owner). */
  grantCdcAccess: () => Promise<void>;
  log: Logger;
}

export class ConnectorManager implements Part {
  readonly name = "connector";
  private state: ConnectorHealth | { kind: "unknown"; error?: string } = { kind: "unknown" };
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> | null = null;
  private restartAttempt = 0;
  private nextRestartAt = 0;
  private stopped = false;
  /** Counters for metrics. */
  readonly stats = { restarts: 0, checks: 0, checkErrors: 0 };

  constructor(
    private readonly cfg: OriginConfig,
    private readonly deps: ConnectorManagerDeps,
    private readonly connector: ConnectorTemplate = connectorFromConfig(cfg.cdc),
  ) {}

  /** Topics, grants, connector config; then waits (up to timeoutMs) for RUNNING. */
  async apply(timeoutMs: number): Promise<ConnectorHealth> {
    const { log } = this.deps;
    const topics = ALL_TOPICS.map((t) => this.cfg.kafka.topicNamespace + t);
    const created = await ensureTopics(
      this.deps.admin,
      topics,
      this.cfg.kafka.partitions,
      this.cfg.kafka.replicationFactor,
    );
    if (created.length) log.info({ topics: created, partitions: this.cfg.kafka.partitions }, "created topics");
    await warnShortOfPartitions(this.deps.admin, topics, this.cfg.kafka.partitions, log);
    await this.deps.grantCdcAccess();
    const how = await this.deps.connect.putConfig(this.connector);
    log.info({ connector: this.connector.name, how }, "connector config applied");
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      // Just after a PUT the status endpoint may still say 404: that is "starting", not "missing".
      const health = await this.check({ reapplyIfMissing: false });
      if (health.kind === "running") return health;
      if (Date.now() > deadline) {
        throw new ConnectError(
          `connector ${this.connector.name} not running after ${timeoutMs} ms: ${JSON.stringify(health)}`,
          true,
        );
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  /** One status check; restarts failed parts when their backoff has elapsed. */
  async check(opts: { reapplyIfMissing?: boolean } = {}): Promise<ConnectorHealth> {
    this.stats.checks++;
    const health = judgeStatus(await this.deps.connect.status(this.connector.name));
    this.state = health;
    if (health.kind === "running") {
      this.restartAttempt = 0;
    } else if (health.kind === "failed" && Date.now() >= this.nextRestartAt) {
      this.deps.log.warn({ connector: this.connector.name, ...health }, "connector failed; restarting");
      await this.deps.connect.restartFailed(this.connector.name);
      this.stats.restarts++;
      this.nextRestartAt = Date.now() + backoffMs(this.restartAttempt++);
    } else if (health.kind === "missing" && opts.reapplyIfMissing !== false) {
      // Someone deleted it: put it back.
      this.deps.log.warn({ connector: this.connector.name }, "connector missing; re-applying config");
      await this.deps.connect.putConfig(this.connector);
    }
    return health;
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.apply(this.cfg.startupTimeoutMs);
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.inFlight = this.check()
        .then((h) => {
          if (h.kind !== "running") this.deps.log.info({ connector: this.connector.name, state: h }, "connector state");
        })
        .catch((err: unknown) => {
          // The watcher checks again next interval either way; a failure no retry fixes (a
          // wrong URL, a refused request) is an operator's to see, so it is an error.
          this.stats.checkErrors++;
          const error = (err as Error).message;
          this.state = { kind: "unknown", error };
          if (retriable(err)) this.deps.log.warn({ err: error }, "connector check failed");
          else this.deps.log.error({ err: error }, "connector check failed; not retriable");
        })
        .finally(() => {
          this.inFlight = null;
          this.schedule();
        });
    }, this.cfg.cdc.watchIntervalMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.inFlight;
  }

  health(): PartHealth {
    return { ok: this.state.kind === "running", detail: this.state };
  }

  get connectorName(): string {
    return this.connector.name;
  }
}

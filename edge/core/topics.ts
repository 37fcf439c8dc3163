/** Kafka topic names: the contract between Debezium, the relay and the ClickHouse sink. */

/** The PostgreSQL tables captured by Debezium, each routed to `cdc.<table>`. */
export const CDC_TABLES = ["users", "posts", "follows", "likes", "comments", "blocks"] as const;
export type CdcTable = (typeof CDC_TABLES)[number];

/**
 * Tables Debezium also captures that are not mirrored into ClickHouse: the ranking experiments
 * (issue 17), projected into Redis by the origin (origin/src/experiments/), and their audit
 * trail. In the publication (migration 0003) and the connector's table list (connect/render.ts).
 */
export const EXPERIMENT_CDC_TABLES = ["experiments", "experiment_changes"] as const;
export type ExperimentCdcTable = (typeof EXPERIMENT_CDC_TABLES)[number];

/** Every table the connector captures, in its table.include.list order. */
export const CAPTURED_TABLES: readonly (CdcTable | ExperimentCdcTable)[] = [...CDC_TABLES, ...EXPERIMENT_CDC_TABLES];

export const cdcTopic = (table: CdcTable | ExperimentCdcTable): string => `cdc.${table}`;

/** User behaviour relayed from the edge's Redis stream; key = user id. */
export const EVENTS_TOPIC = "events";

/** The topics the ClickHouse sink and the serving index read (created by the connector manager). */
export const ALL_TOPICS: readonly string[] = [...CDC_TABLES.map(cdcTopic), EVENTS_TOPIC];

/**
 * The experiments tables' topics: created by the experiments projection at its start
 * (origin/src/experiments/projection.ts), apart from ALL_TOPICS so the sink's and the serving
 * index's offset handling stays on the topics they read.
 */
export const EXPERIMENT_TOPICS: readonly string[] = EXPERIMENT_CDC_TABLES.map(cdcTopic);

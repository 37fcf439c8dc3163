/** Kafka topic names: the contract between Debezium, the relay and the ClickHouse sink. */

/** The PostgreSQL tables captured by Debezium, each routed to `cdc.<table>`. */
export const CDC_TABLES = ["users", "posts", "follows", "likes", "comments", "blocks"] as const;
export type CdcTable = (typeof CDC_TABLES)[number];

export const cdcTopic = (table: CdcTable): string => `cdc.${table}`;

/** User behaviour relayed from the edge's Redis stream; key = user id. */
export const EVENTS_TOPIC = "events";

export const ALL_TOPICS: readonly string[] = [...CDC_TABLES.map(cdcTopic), EVENTS_TOPIC];

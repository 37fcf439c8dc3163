/**
 * What a Kafka client's consumers take from the config, set once per client (clients.ts):
 * - the consumer-group session (KAFKA_SESSION_TIMEOUT_MS): how long a killed consumer holds its
 *   partitions before a restarted or surviving one gets them; a client made elsewhere (a test's)
 *   gets the default, 6 s, the least a broker accepts by default (group.min.session.timeout.ms);
 * - how many partitions a consumer part works on at once (KAFKA_PARTITIONS_CONCURRENTLY), where
 *   the part does not say; default DEFAULT_PARTITIONS_CONCURRENTLY.
 */
import type { Kafka } from "kafkajs";

export interface ConsumerSession {
  sessionTimeout: number;
  heartbeatInterval: number;
}

export const DEFAULT_SESSION_TIMEOUT_MS = 6000;

/**
 * Partitions worked on at once by default: half of the topics' default 12 partitions, so each
 * of two processes works on all of the events partitions it holds, and one process on half of
 * them while the other half waits a batch (a choice, not a measured optimum: on 2 cores the
 * stores set the pace, docs/bench-results/consumers.md).
 */
export const DEFAULT_PARTITIONS_CONCURRENTLY = 6;

const sessions = new WeakMap<Kafka, ConsumerSession>();
const concurrency = new WeakMap<Kafka, number>();

/** A session of `sessionTimeoutMs` with heartbeats every third of it, at most every second. */
export function sessionOf(sessionTimeoutMs: number): ConsumerSession {
  return { sessionTimeout: sessionTimeoutMs, heartbeatInterval: Math.min(1000, Math.floor(sessionTimeoutMs / 3)) };
}

export function setConsumerSession(kafka: Kafka, sessionTimeoutMs: number): void {
  sessions.set(kafka, sessionOf(sessionTimeoutMs));
}

export function consumerSession(kafka: Kafka): ConsumerSession {
  return sessions.get(kafka) ?? sessionOf(DEFAULT_SESSION_TIMEOUT_MS);
}

export function setPartitionsConcurrently(kafka: Kafka, n: number): void {
  concurrency.set(kafka, n);
}

/** Partitions a consumer of this client works on at once unless its part says otherwise. */
export function partitionsConcurrently(kafka: Kafka): number {
  return concurrency.get(kafka) ?? DEFAULT_PARTITIONS_CONCURRENTLY;
}

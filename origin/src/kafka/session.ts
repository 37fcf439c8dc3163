/**
 * The consumer-group session a Kafka client's consumers use: how long a killed consumer holds
 * its partitions before a restarted or surviving one gets them. Set once per client from the
 * config (clients.ts: KAFKA_SESSION_TIMEOUT_MS); a client made elsewhere (a test's) gets the
 * default, 6 s, the least a broker accepts by default (group.min.session.timeout.ms).
 */
import type { Kafka } from "kafkajs";

export interface ConsumerSession {
  sessionTimeout: number;
  heartbeatInterval: number;
}

export const DEFAULT_SESSION_TIMEOUT_MS = 6000;

const sessions = new WeakMap<Kafka, ConsumerSession>();

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

/**
 * What the worker tells a user's live object about an upgrade it forwards (the object is
 * reachable only through the worker's binding, so it trusts these).
 */
export const LIVE_HEADERS = {
  /** The authenticated user (JWT `sub`, lowercased). */
  user: "x-live-user",
  /** The client's `last_event_id`, validated. */
  lastEventId: "x-live-last-event-id",
  /** The subprotocol to name in the answer (when the client offered any). */
  subprotocol: "x-live-subprotocol",
} as const;

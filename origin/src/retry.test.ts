import { ClickHouseError } from "@clickhouse/client";
import { ReplyError } from "ioredis";
import {
  KafkaJSConnectionError,
  KafkaJSNonRetriableError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSProtocolError,
} from "kafkajs";
import { describe, expect, it } from "vitest";
import { ConnectError } from "./connect/manager.ts";
import { backoffMs, retriable, retry } from "./retry.ts";

const withCode = (code: string) => Object.assign(new Error(code), { code });
const withStatus = (status: number) => Object.assign(new Error(`HTTP ${status}`), { status });

describe("backoffMs", () => {
  it("grows exponentially, is jittered into [ceiling/2, ceiling] and capped", () => {
    expect(backoffMs(0, 1000, 60_000, () => 0)).toBe(500);
    expect(backoffMs(3, 1000, 60_000, () => 1)).toBe(8000);
    expect(backoffMs(20, 1000, 60_000, () => 1)).toBe(60_000);
  });
});

describe("retriable", () => {
  it("retries network failures and timeouts, also behind a cause (fetch)", () => {
    for (const code of ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "UND_ERR_SOCKET"])
      expect(retriable(withCode(code)), code).toBe(true);
    expect(retriable(new TypeError("fetch failed", { cause: withCode("ECONNREFUSED") }))).toBe(true);
    expect(retriable(new DOMException("timed out", "TimeoutError"))).toBe(true);
    expect(retriable(new Error("Timeout error."))).toBe(true); // @clickhouse/client's request timeout
    expect(retriable(new Error("Connection is closed."))).toBe(true); // ioredis
  });

  it("follows the flag of errors that carry one", () => {
    expect(retriable(new ConnectError("rebalancing", true))).toBe(true);
    expect(retriable(new ConnectError("bad config", false))).toBe(false);
  });

  it("reads kafkajs errors as kafkajs does when it decides to restart a consumer", () => {
    expect(retriable(new KafkaJSConnectionError("Connection error: connect ECONNREFUSED"))).toBe(true);
    expect(retriable(new KafkaJSNonRetriableError("The producer is disconnected"))).toBe(false);
    expect(
      retriable(
        new KafkaJSNumberOfRetriesExceeded(new KafkaJSConnectionError("down"), { retryCount: 5, retryTime: 1 }),
      ),
    ).toBe(true);
    const tooLarge = new KafkaJSProtocolError({
      message: "too large",
      type: "MESSAGE_TOO_LARGE",
      retriable: false,
    } as unknown as Error);
    expect(retriable(tooLarge)).toBe(false);
    // A non-retriable wrapper around a retriable failure: the failure underneath decides.
    // (kafkajs's typings omit the options its retrier passes.)
    const Wrapper = KafkaJSNonRetriableError as unknown as new (e: Error, o: { cause: Error }) => Error;
    expect(retriable(new Wrapper(new Error("x"), { cause: new KafkaJSConnectionError("down") }))).toBe(true);
  });

  it("retries 408, 425, 429 and 5xx; not other 4xx", () => {
    for (const s of [408, 425, 429, 500, 502, 503]) expect(retriable(withStatus(s)), String(s)).toBe(true);
    for (const s of [400, 401, 403, 404, 409, 422]) expect(retriable(withStatus(s)), String(s)).toBe(false);
    expect(retriable(Object.assign(new Error("x"), { statusCode: 503 }))).toBe(true);
  });

  it("retries ClickHouse server trouble, not bad requests", () => {
    const ch = (code: string, type: string) => new ClickHouseError({ message: type, code, type });
    expect(retriable(ch("241", "MEMORY_LIMIT_EXCEEDED"))).toBe(true);
    expect(retriable(ch("202", "TOO_MANY_SIMULTANEOUS_QUERIES"))).toBe(true);
    expect(retriable(ch("252", "TOO_MANY_PARTS"))).toBe(true);
    expect(retriable(ch("62", "SYNTAX_ERROR"))).toBe(false);
    expect(retriable(ch("60", "UNKNOWN_TABLE"))).toBe(false);
    expect(retriable(ch("27", "CANNOT_PARSE_INPUT_ASSERTION_FAILED"))).toBe(false);
    expect(retriable(ch("516", "AUTHENTICATION_FAILED"))).toBe(false);
  });

  it("retries Redis replies that mean 'not now'", () => {
    expect(retriable(new ReplyError("LOADING Redis is loading the dataset in memory"))).toBe(true);
    expect(retriable(new ReplyError("NOGROUP No such key 'events:ingest' or consumer group"))).toBe(false);
    expect(retriable(new ReplyError("WRONGTYPE Operation against a key holding the wrong kind of value"))).toBe(false);
  });

  it("does not retry aborts, validation, bugs or non-errors", () => {
    expect(retriable(new DOMException("stopped", "AbortError"))).toBe(false);
    expect(retriable(new Error("events_raw.user_id: expected a UUID"))).toBe(false);
    expect(retriable(new TypeError("x is not a function"))).toBe(false);
    expect(retriable("ECONNREFUSED")).toBe(false);
    expect(retriable(undefined)).toBe(false);
  });
});

describe("retry", () => {
  const fast = { minMs: 1, maxMs: 4 };

  it("retries a retriable failure until it succeeds, telling each retry and its wait", async () => {
    const seen: { attempt: number; waitMs: number; message: string }[] = [];
    let calls = 0;
    const out = await retry(
      async (attempt) => {
        calls++;
        if (attempt < 3) throw withCode("ECONNREFUSED");
        return "done";
      },
      {
        ...fast,
        retries: Number.POSITIVE_INFINITY,
        onRetry: ({ error, attempt, waitMs }) => seen.push({ attempt, waitMs, message: error.message }),
      },
    );
    expect(out).toBe("done");
    expect(calls).toBe(3);
    expect(seen.map((s) => s.attempt)).toEqual([1, 2]);
    for (const s of seen) {
      expect(s.message).toBe("ECONNREFUSED");
      expect(s.waitMs).toBeGreaterThanOrEqual(1);
      expect(s.waitMs).toBeLessThanOrEqual(4);
    }
  });

  it("fails at once, without a retry, on a non-retriable error", async () => {
    let calls = 0;
    let retries = 0;
    const bad = withStatus(400);
    await expect(
      retry(
        async () => {
          calls++;
          throw bad;
        },
        { ...fast, retries: Number.POSITIVE_INFINITY, onRetry: () => retries++ },
      ),
    ).rejects.toBe(bad);
    expect([calls, retries]).toEqual([1, 0]);
  });

  it("gives up after the bound with the last failure", async () => {
    let calls = 0;
    await expect(
      retry(
        async () => {
          calls++;
          throw withCode(`ETIMEDOUT`);
        },
        { ...fast, retries: 2 },
      ),
    ).rejects.toThrow("ETIMEDOUT");
    expect(calls).toBe(3);
  });

  it("uses the caller's notion of retriable when given one", async () => {
    let calls = 0;
    await expect(
      retry(
        async () => {
          calls++;
          throw withCode("ECONNREFUSED");
        },
        { ...fast, retries: 5, retriable: () => calls < 2 },
      ),
    ).rejects.toThrow("ECONNREFUSED");
    expect(calls).toBe(2);
  });

  it("an abort ends a long wait at once, with the signal's reason, and nothing runs again", async () => {
    const stop = new AbortController();
    let calls = 0;
    const t0 = Date.now();
    const running = retry(
      async () => {
        calls++;
        throw withCode("ECONNREFUSED");
      },
      { minMs: 60_000, maxMs: 60_000, retries: Number.POSITIVE_INFINITY, signal: stop.signal },
    );
    setTimeout(() => stop.abort(new Error("stopping")), 20);
    await expect(running).rejects.toThrow("stopping");
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(calls).toBe(1);
  });

  it("an abort never discards an attempt in flight: one that succeeds still returns", async () => {
    const stop = new AbortController();
    const out = await retry(
      async () => {
        stop.abort();
        await new Promise((r) => setTimeout(r, 5));
        return "acked";
      },
      { ...fast, retries: 3, signal: stop.signal },
    );
    expect(out).toBe("acked");
  });

  it("an aborted signal runs nothing", async () => {
    const stop = new AbortController();
    stop.abort(new Error("stopped"));
    let calls = 0;
    await expect(retry(async () => calls++, { ...fast, retries: 3, signal: stop.signal })).rejects.toThrow("stopped");
    expect(calls).toBe(0);
  });
});

/**
 * The Upstash REST wire format, both directions. Pure: request bodies in, Redis argument lists
 * out; Redis replies (read as bytes) in, JSON-ready `{result}` / `{error}` entries out.
 */
import { ApiError } from "#core/errors.ts";

/** A RESP2 reply as ioredis hands it over in buffer mode; errors nested in arrays stay inline. */
export type RedisReply = Buffer | Uint8Array | string | number | null | Error | RedisReply[];

/**
 * One argument on its way to Redis: text from JSON bodies and URL segments, raw bytes from a
 * path-form request body (`POST /set/key` with a binary body; bodies are bytes, never decoded).
 */
export type RedisArg = string | Buffer;

/** `base64` when the client sent `Upstash-Encoding: base64` (the default of @upstash/redis). */
export type ResponseEncoding = "base64" | "utf8";

/** A single result on the wire: exactly one of the keys, never both (the client checks `error`). */
export type WireEntry = { result: unknown } | { error: string };

export function responseEncodingOf(header: string | undefined | null): ResponseEncoding {
  return header?.trim().toLowerCase() === "base64" ? "base64" : "utf8";
}

/**
 * Parses JSON keeping each number's source text: `["SET","k",12345678901234567890]` must reach
 * Redis as written, not as the nearest double.
 */
function parseJsonKeepingNumbers(text: string): unknown {
  // Node ≥ 21 passes the source text to revivers; TypeScript's lib does not declare it yet.
  const reviver = (_key: string, value: unknown, context?: { source?: string }) =>
    typeof value === "number" ? new NumberText(context?.source ?? String(value)) : value;
  return JSON.parse(text, reviver as (key: string, value: unknown) => unknown);
}

/** Marks a JSON number's literal text, so shape checks can tell numbers from strings. */
class NumberText {
  constructor(readonly text: string) {}
}

/** One JSON argument as Redis sees it: strings as-is, numbers as written, booleans as words. */
export function toRedisArgument(value: unknown, where: string): string {
  if (typeof value === "string") return value;
  if (value instanceof NumberText) return value.text;
  if (typeof value === "number") return String(value);
  if (typeof value === "boolean") return value ? "true" : "false";
  throw new ApiError("bad_request", `ERR ${where}: arguments must be strings, numbers or booleans`);
}

function toCommand(value: unknown, where: string): string[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new ApiError("bad_request", `ERR ${where} must be a non-empty array like ["SET","key","value"]`);
  }
  const args = value.map((v, i) => toRedisArgument(v, `${where} argument ${i}`));
  if (args[0] === "") throw new ApiError("bad_request", `ERR ${where}: the command name is empty`);
  return args;
}

function parseBody(text: string): unknown {
  if (text.trim() === "") throw new ApiError("bad_request", "ERR empty request body; expected a JSON array");
  try {
    return parseJsonKeepingNumbers(text);
  } catch (err) {
    throw new ApiError("bad_request", `ERR request body is not valid JSON: ${(err as Error).message}`);
  }
}

/** `POST /` body: `["CMD", ...args]`. */
export function parseCommandBody(text: string): string[] {
  return toCommand(parseBody(text), "the command");
}

/** `POST /pipeline` and `POST /multi-exec` bodies: `[["CMD", ...], ...]`. */
export function parseCommandListBody(text: string): string[][] {
  const body = parseBody(text);
  if (!Array.isArray(body) || body.length === 0) {
    throw new ApiError("bad_request", 'ERR expected a non-empty JSON array of commands like [["GET","k"]]');
  }
  return body.map((c, i) => toCommand(c, `command ${i + 1}`));
}

function encodeValue(reply: RedisReply, encoding: ResponseEncoding): unknown {
  if (reply === null || typeof reply === "number") return reply;
  if (Array.isArray(reply)) return reply.map((r) => encodeValue(r, encoding));
  // An error nested below the top level (a Lua table holding `redis.error_reply(...)`, or what
  // `pcall` caught): Redis marks it as an error, so it stays one, shaped like a failed entry.
  if (reply instanceof Error) return { error: reply.message };
  const bytes =
    typeof reply === "string" ? Buffer.from(reply) : Buffer.from(reply.buffer, reply.byteOffset, reply.byteLength);
  return encoding === "base64" ? bytes.toString("base64") : bytes.toString("utf8");
}

const OK = Buffer.from("OK");

function isOk(reply: RedisReply): boolean {
  return (reply instanceof Uint8Array && OK.equals(reply)) || reply === "OK";
}

/**
 * Encodes one reply: with base64 every string at any depth (status replies such as PONG and
 * QUEUED included) becomes base64 of its bytes, except a top-level `OK`, which Upstash leaves as
 * is (its documentation, and @upstash/redis's decoder, which passes a bare "OK" through);
 * integers and nulls pass through. Error text is never encoded: the client reads it as is.
 * Replies are read as bytes, so a bulk string `OK` is indistinguishable from the status and is
 * sent the same way (the client decodes both to "OK"). Inside arrays `OK` stays encoded: the
 * client base64-decodes every string there.
 */
export function toWireEntry(reply: RedisReply, encoding: ResponseEncoding): WireEntry {
  if (reply instanceof Error) return { error: reply.message };
  if (encoding === "base64" && isOk(reply)) return { result: "OK" };
  return { result: encodeValue(reply, encoding) };
}
